/* worker -- one exportd worker process: control connection, LISTEN, claim, run, repeat.
 *
 * Between jobs it sleeps on the control connection's socket until a NOTIFY arrives or the
 * poll interval passes (which also finds jobs whose claimer died). A lost connection is
 * re-established with backoff; jobs waiting meanwhile stay in the table. Slot 0 also sweeps
 * multipart uploads left on finished jobs every export_sweep_s seconds (config). */
#include "exportd.h"
#include "xmetrics.h"

#include "buf.h"
#include "audit.h"
#include "log.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 2000

volatile sig_atomic_t exportd_term, exportd_retire;

static void on_term(int sig)
{
    (void)sig;
    exportd_term = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    exportd_retire = 1;
}

/* SIGTERM: hand back the job and leave (a signal to the whole process group reaches a worker
 * directly and again from the master: still one graceful stop; the master's answer to a
 * second one is SIGKILL). SIGHUP: retired after a reload, finish the job in hand first.
 * SIGINT is ignored: Ctrl-C reaches the master, which sends SIGTERM. */
void exportd_signals(void)
{
    struct sigaction sa;
    sigset_t none;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

void exportd_nap(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};

    if (fd >= 0)
        poll(&p, 1, ms);
    else
        poll(NULL, 0, ms);
}

PGconn *exportd_connect(const conf *cf, const char *listen_sql)
{
    char ci[2048];
    PGconn *c;
    PGresult *r;

    if (conf_pg_conninfo(cf, ci, sizeof ci, "exportd") < 0) {
        log_error("database connection settings too long");
        return NULL;
    }
    c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        log_warn("cannot connect to the database: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    r = PQexec(c, listen_sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        log_warn("LISTEN failed: %s", PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        return NULL;
    }
    PQclear(r);
    return c;
}

void exportd_drain(PGconn *c)
{
    PGnotify *n;

    PQconsumeInput(c);
    while ((n = PQnotifies(c)) != NULL)
        PQfreemem(n);
}

int worker_main(const conf *cf, int slot)
{
    char worker[300], host[256];
    PGconn *ctl = NULL;
    int backoff = 250;
    long sweep_s = cf->export_sweep_s;
    time_t next_sweep = 0;

    exportd_signals();
    srandom((unsigned)(getpid() ^ time(NULL)));
    if (gethostname(host, sizeof host) < 0) str_copy(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(worker, sizeof worker, "%s:%d:%d", host, (int)getpid(), slot);
    log_info("worker %s ready", worker);
    while (!exportd_term && !exportd_retire) {
        job j;
        t2err e;
        int rc;

        if (!ctl) {
            if (!(ctl = exportd_connect(cf, "LISTEN " JOBS_CHANNEL))) {
                exportd_nap(-1, backoff);
                backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
                continue;
            }
            backoff = 250;
        }
        /* slot 0 sweeps uploads left on finished jobs (a worker that died between a cancel
         * and its abort, aborts that failed) */
        if (slot == 0 && time(NULL) >= next_sweep) {
            export_sweep(cf, ctl);
            next_sweep = time(NULL) + sweep_s;
            if (PQstatus(ctl) != CONNECTION_OK) {
                PQfinish(ctl);
                ctl = NULL;
                continue;
            }
        }
        err_clear(&e);
        rc = jobs_claim(ctl, cf, worker, &j, &e);
        if (rc < 0) {
            log_warn("claim failed: %s", e.detail);
            if (PQstatus(ctl) != CONNECTION_OK) {
                PQfinish(ctl);
                ctl = NULL;
            }
            exportd_nap(-1, 1000);
            continue;
        }
        if (rc == 0) {
            if (slot == 0) xm_write(cf, ctl);
            exportd_nap(PQsocket(ctl),
                        slot == 0 && sweep_s * 1000 < POLL_MS ? (int)sweep_s * 1000 : POLL_MS);
            exportd_drain(ctl);
            if (PQstatus(ctl) != CONNECTION_OK) {
                PQfinish(ctl);
                ctl = NULL;
            }
            continue;
        }
        if (j.gave_up) {
            log_error("job %s: FAILED, gave up after %d attempts", j.id, j.attempt);
            if (j.old_upload_id && export_abort_stale(cf, &j) == 0)
                jobs_clear_upload(ctl, j.id, j.old_upload_id, &e); /* else: the sweeper */
        } else if (export_run(cf, ctl, worker, &j) < 0) {
            PQfinish(ctl);
            ctl = NULL;
        } else if (audit_job_end(ctl, j.id, cf->audit_retention_days, &e) < 0) {
            log_warn("job %s: audit row not written: %s", j.id, e.detail);
        }
        if (ctl) jobs_unlock_all(ctl);
        xm_write(cf, ctl);
        job_free(&j);
    }
    log_info("worker %s stopped", worker);
    PQfinish(ctl);
    return 0;
}
