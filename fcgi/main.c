/* t2sql-fcgi -- main: loads the configuration, opens the FastCGI socket and hands the
 * workers to the pre-fork master (core/master: spawn with backoff, reap, signals, reload).
 *
 * SIGTERM/SIGINT: stop gracefully (workers finish the request in hand; killed after 30 s),
 * a second one: at once. SIGHUP: reload the configuration, keeping the old one if the new one
 * (or its semantic layer) is invalid, and replace the workers (the old ones finish their requests;
 * killed after 300 s). listen and pid_file changes need a restart. */
#include "awscred.h"
#include "conf.h"
#include "jwtauth.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "pipeline.h"
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

/* The JWT settings must load (keys, issuer, audience), and the semantic layer must load and
 * check (pipeline_semantic_check): at start-up and on every reload. */
static int fcgi_check(const conf *cf, char *err, size_t errlen)
{
    jwtauth_keys *k = NULL;

    if (jwtauth_load(cf, &k, err, errlen) < 0) return -1;
    jwtauth_free(k);
    return pipeline_semantic_check(cf, err, errlen);
}

static int fcgi_fd = -1, health_fd = -1;

/* The query pool (workers + queue_workers processes on listen) and, with a health socket,
 * health_workers processes on it: slots [0, q) query, [q, q + h) health. */
static int fcgi_slots(const conf *cf)
{
    return (int)(cf->workers + cf->queue_workers + (health_fd >= 0 ? cf->health_workers : 0));
}

static int fcgi_run(const conf *cf, int slot, void *arg)
{
    (void)arg;
    if (slot >= cf->workers + cf->queue_workers) return worker_run(cf, health_fd, 0);
    return worker_run(cf, fcgi_fd, 1);
}

static void fcgi_died(void *arg)
{
    (void)arg;
    metrics_add(&metrics_get()->worker_restarts, 1);
}

static void fcgi_reaped(void *arg, pid_t pid)
{
    (void)arg;
    gate_reap(pid); /* a place it held at the gate is free again */
}

/* health_listen, or listen + ".health" for a socket path; "" = no health pool. */
static void health_path(const conf *cf, char *dst, size_t len)
{
    dst[0] = '\0';
    if (cf->health_workers <= 0 || strcmp(cf->health_listen, "off") == 0) return;
    if (*cf->health_listen)
        snprintf(dst, len, "%s", cf->health_listen);
    else if (is_unix_path(cf->listen))
        snprintf(dst, len, "%s.health", cf->listen);
}

int main(int argc, char **argv)
{
    int fd, rc;
    conf cf;
    master_ops ops = {"t2sql-fcgi",     NULL,       fcgi_slots, fcgi_run,     fcgi_check,
                      fcgi_died,        NULL,       STOP_GRACE, RETIRE_GRACE, 0,
                      print_aws_source, fcgi_reaped};
    char hpath[512];

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
    fcgi_fd = fd;
    health_path(&cf, hpath, sizeof hpath);
    if (*hpath && (health_fd = open_socket(hpath)) < 0) {
        log_error("cannot listen on %s (health_listen): %s", hpath, strerror(errno));
        return 1;
    }
    log_info("listening on %s with %ld query workers (+%ld waiting, %ld ms), health on %s; "
             "model %s; auth %s%s",
             cf.listen, cf.workers, cf.queue_workers, cf.queue_timeout_ms,
             *hpath ? hpath : "the query workers",
             *cf.llm_base_url ? "configured" : "not configured (offline planner)",
             cf.auth_required ? "required" : "off: anonymous requests are accepted",
             cf.auth_required && jwtauth_enabled(&cf) ? " (API keys and JWT)" : "");
    ops.arg = &fd;
    rc = master_run(&ops, &cf);
    if (is_unix_path(cf.listen)) unlink(cf.listen); /* listen is kept across reloads */
    if (*hpath && is_unix_path(hpath)) unlink(hpath);
    conf_free(&cf);
    curl_global_cleanup();
    return rc;
}
