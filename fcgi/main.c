/* t2sql-fcgi -- main: loads the configuration, opens the FastCGI socket and hands the
 * workers to the pre-fork master (core/master: spawn with backoff, reap, signals, reload).
 *
 * SIGTERM/SIGINT: stop gracefully (workers finish the request in hand; killed after 30 s),
 * a second one: at once. SIGHUP: reload the configuration, keeping the old one if the new one
 * is invalid, and replace the workers (the old ones finish their requests; killed after
 * 300 s). listen and pid_file changes need a restart. */
#include "conf.h"
#include "jwtauth.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "worker.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcgiapp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STOP_GRACE   30  /* s: a graceful stop kills workers still busy after this */
#define RETIRE_GRACE 300 /* s: workers of an older configuration are killed after this */

static void usage(void)
{
    fprintf(stderr, "usage: t2sql-fcgi [-c conf/t2sql.conf] [-t]\n"
                    "  -c FILE  configuration file (keys overridable by T2SQL_<KEY>)\n"
                    "  -t       check the configuration, print it with secrets masked, exit\n");
}

static int is_unix_path(const char *listen)
{
    return listen[0] != ':' && !strchr(listen, ':');
}

static int open_socket(const char *path)
{
    int fd;

    if (is_unix_path(path)) unlink(path);
    fd = FCGX_OpenSocket(path, 1024);
    if (fd < 0) return -1;
    if (is_unix_path(path)) chmod(path, 0666);
    return fd;
}

static int fcgi_slots(const conf *cf)
{
    return (int)cf->workers;
}

static int fcgi_run(const conf *cf, int slot, void *arg)
{
    (void)slot;
    return worker_run(cf, *(const int *)arg);
}

static void fcgi_died(void *arg)
{
    (void)arg;
    metrics_add(&metrics_get()->worker_restarts, 1);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int test = 0, opt, fd, rc;
    char err[512];
    conf cf;
    master_ops ops = {"t2sql-fcgi", NULL, fcgi_slots, fcgi_run,     NULL,
                      fcgi_died,    NULL, STOP_GRACE, RETIRE_GRACE, 0};

    while ((opt = getopt(argc, argv, "c:th")) != -1) {
        if (opt == 'c')
            path = optarg;
        else if (opt == 't')
            test = 1;
        else {
            usage();
            return opt == 'h' ? 0 : 2;
        }
    }
    if (conf_load(path, &cf, err, sizeof err) < 0) {
        fprintf(stderr, "t2sql-fcgi: configuration error: %s\n", err);
        return 1;
    }
    {
        jwtauth_keys *k = NULL;
        if (jwtauth_load(&cf, &k, err, sizeof err) < 0) {
            fprintf(stderr, "t2sql-fcgi: configuration error: %s\n", err);
            conf_free(&cf);
            return 1;
        }
        jwtauth_free(k);
    }
    if (test) {
        conf_print(&cf, stdout);
        printf("# configuration OK\n");
        conf_free(&cf);
        return 0;
    }
    conf_register_secrets(&cf);
    if (log_init(cf.log_file, log_level_parse(cf.log_level), "t2sql-fcgi") < 0)
        fprintf(stderr, "t2sql-fcgi: cannot open log file %s; logging to stderr\n", cf.log_file);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (metrics_init() < 0) {
        log_error("cannot map the shared metrics block");
        return 1;
    }
    if ((fd = open_socket(cf.listen)) < 0) {
        log_error("cannot listen on %s: %s", cf.listen, strerror(errno));
        return 1;
    }
    log_info("listening on %s with %ld workers; model %s; auth %s%s", cf.listen, cf.workers,
             *cf.llm_base_url ? "configured" : "not configured (offline planner)",
             cf.auth_required ? "required" : "off: anonymous requests are accepted",
             cf.auth_required && jwtauth_enabled(&cf) ? " (API keys and JWT)" : "");
    ops.conf_path = path;
    ops.arg = &fd;
    rc = master_run(&ops, &cf);
    if (is_unix_path(cf.listen)) unlink(cf.listen); /* listen is kept across reloads */
    conf_free(&cf);
    curl_global_cleanup();
    return rc;
}
