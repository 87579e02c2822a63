/* exportd -- shared declarations of the export daemon: main.c hands export_concurrency
 * worker slots to the pre-fork master (core/master); each worker (worker.c) claims one job
 * at a time and runs it (export.c). The workers' signal flags live here; handlers only set
 * them. */
#ifndef T2_EXPORTD_H
#define T2_EXPORTD_H

#include "conf.h"
#include "jobs.h"

#include <libpq-fe.h>
#include <signal.h>

/* Set by a worker's SIGTERM: hand back the job in hand and exit. */
extern volatile sig_atomic_t exportd_term;
/* Set by a worker's SIGHUP (retired after a reload): finish the job in hand, then exit. */
extern volatile sig_atomic_t exportd_retire;

/* Runs worker slot `slot` until a SIGTERM or SIGHUP; returns the exit status (0). */
int worker_main(const conf *cf, int slot);
/* Runs the notification sender (notify.c), the slot after the workers, until a SIGTERM or
 * SIGHUP; returns the exit status (0). */
int notify_main(const conf *cf);

/* The worker processes' shared pieces (worker.c). exportd_signals: SIGTERM sets
 * exportd_term, SIGHUP exportd_retire, SIGINT ignored. exportd_nap: sleeps up to ms, waking
 * early on a signal or when fd (if >= 0) becomes readable. exportd_connect: a control
 * connection that ran listen_sql ("LISTEN <channel>"), or NULL (logged). exportd_drain:
 * reads and drops the notifications that arrived. */
void exportd_signals(void);
void exportd_nap(int fd, int ms);
PGconn *exportd_connect(const conf *cf, const char *listen_sql);
void exportd_drain(PGconn *c);

/* Runs one claimed job over ctl (the worker's control connection, used for heartbeats and
 * the outcome) and a COPY connection of its own. Returns 0 when the outcome was recorded
 * or the job was handed back, -1 when the control connection broke (the caller
 * reconnects; the job is then recovered by the next claim). */
int export_run(const conf *cf, PGconn *ctl, const char *worker, job *j);

/* Aborts a multipart upload left behind by an earlier attempt (logged, never fatal).
 * 0 if aborted (or gone already), -1 if the abort failed. */
int export_abort_stale(const conf *cf, const job *j);

/* Aborts the multipart uploads recorded on finished (CANCELLED/FAILED) jobs and clears them;
 * an upload whose abort failed EXPORT_SWEEP_TRIES times is logged and cleared anyway. */
void export_sweep(const conf *cf, PGconn *ctl);
#define EXPORT_SWEEP_TRIES 3

#endif
