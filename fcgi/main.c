/* t2sql-fcgi -- main: loads the configuration, opens the FastCGI socket and hands the
 * workers to the pre-fork master (core/master: spawn with backoff, reap, signals, reload).
 *
 * SIGTERM/SIGINT: stop gracefully (workers finish the request in hand; killed after 30 s),
 * a second one: at once. SIGHUP: reload the configuration, keeping the old one if the new one
 * is invalid, and replace the workers (the old ones finish their requests; killed after
 * 300 s). listen and pid_file changes need a restart. */
#include "awscred.h"
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

/* -t: where the AWS credentials (S3, Bedrock) come from; never the keys themselves. */
static void print_aws_source(const conf *cf)
{
    awscred c;
    t2err e;

    if (*cf->aws_access_key_id) {
        printf("# aws credentials: configuration (aws_access_key_id%s)\n",
               *cf->aws_session_token ? ", with a session token" : "");
        return;
    }
    memset(&e, 0, sizeof e);
    if (awscred_get(cf->aws_region, &c, &e) == 0)
        printf("# aws credentials: %s%s\n", c.source, c.expires ? " (temporary)" : "");
    else
        printf("# aws credentials: none (%s)\n", e.detail);
    awscred_wipe(&c);
}

static const char USAGE[] =
    "usage: t2sql-fcgi [-c conf/t2sql.conf] [-t]\n"
    "  -c FILE  configuration file (keys overridable by T2SQL_<KEY>)\n"
    "  -t       check the configuration, print it with secrets masked, exit\n";

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

/* The JWT settings must load (keys, issuer, audience): at start-up and on every reload. */
static int fcgi_check(const conf *cf, char *err, size_t errlen)
{
    jwtauth_keys *k = NULL;

    if (jwtauth_load(cf, &k, err, errlen) < 0) return -1;
    jwtauth_free(k);
    return 0;
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
    int fd, rc;
    conf cf;
    master_ops ops = {"t2sql-fcgi", NULL,       fcgi_slots,   fcgi_run, fcgi_check,      fcgi_died,
                      NULL,         STOP_GRACE, RETIRE_GRACE, 0,        print_aws_source};

    if ((rc = master_start(&ops, argc, argv, USAGE, &cf)) >= 0) return rc;
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
    ops.arg = &fd;
    rc = master_run(&ops, &cf);
    if (is_unix_path(cf.listen)) unlink(cf.listen); /* listen is kept across reloads */
    conf_free(&cf);
    curl_global_cleanup();
    return rc;
}
