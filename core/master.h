/* master -- the pre-fork master of t2sql-fcgi and exportd: worker slots, spawn with backoff,
 * reap, a sigsuspend() loop whose signal handlers only set flags, graceful stop and SIGHUP
 * reload. Knows nothing of FastCGI, jobs or what a worker does: the daemon passes callbacks.
 *
 * Signals to the master:
 *   SIGTERM/SIGINT  stop: each worker gets SIGTERM (finish or hand back what it holds, then
 *                   exit); a second SIGTERM/SIGINT, or stop_grace_s passing, kills them.
 *   SIGHUP          reload: the configuration file and environment are read again. If that
 *                   fails, or the daemon's check refuses the result, the old configuration
 *                   stays and nothing changes. Else keys that need a restart keep their old
 *                   values (logged), new workers start at once, and the old ones get SIGHUP
 *                   (finish what they hold, then exit; killed after retire_grace_s if set).
 * A worker that exits unasked is respawned at once, or after a pause doubling from 1 s to
 * 30 s while workers of its slot die within 2 s of starting.
 *
 * Ownership: master_run() uses the caller's conf and replaces it on a reload (freeing the
 * old one); the caller frees the one left when master_run() returns. Worker slots are a
 * fixed table; nothing is allocated. One master per process. */
#ifndef T2_MASTER_H
#define T2_MASTER_H

#include "conf.h"

#include <stddef.h>
#include <sys/types.h>

#define MASTER_MAX_SLOTS 256

typedef struct master_ops {
    const char *prog;      /* the log's program name ("t2sql-fcgi", "exportd") */
    const char *conf_path; /* read again on SIGHUP; NULL = defaults and environment */
    /* The number of worker slots cf asks for (clamped to 1..MASTER_MAX_SLOTS). */
    int (*nslots)(const conf *cf);
    /* Runs in a new child for slot (0-based) with the configuration in force; the master's
     * handlers are back to their defaults and its signal mask restored. Returns the child's
     * exit status. */
    int (*run)(const conf *cf, int slot, void *arg);
    /* Optional: 0 if a loaded configuration can be used, else -1 with the reason in err.
     * The daemons call it at start-up too. */
    int (*check)(const conf *cf, char *err, size_t errlen);
    /* Optional: a worker exited unasked (it is about to be respawned). */
    void (*died)(void *arg);
    void *arg;           /* passed to run, died and reaped */
    int stop_grace_s;    /* kill the workers left this long after a stop; 0 = wait for them */
    int retire_grace_s;  /* kill retired workers still busy after this long; 0 = never */
    int die_with_master; /* workers are killed when the master dies (PR_SET_PDEATHSIG) */
    /* Optional: more lines for -t, after the configuration (never a secret). */
    void (*print_more)(const conf *cf);
    /* Optional: any worker (pid) was reaped, whether it was asked to exit or not. */
    void (*reaped)(void *arg, pid_t pid);
} master_ops;

/* A daemon's start, before master_run(): reads -c PATH (into ops->conf_path), -t and -h from
 * argv; loads the configuration into cf and runs ops->check on it; with -t prints it (secrets
 * masked) and "<prog>: configuration OK"; else registers its secrets and opens the log.
 * Returns -1 to go on (cf is the caller's to free), else the exit status for main() (usage,
 * printed on -h or a bad option, goes to stderr). */
int master_start(master_ops *ops, int argc, char **argv, const char *usage, conf *cf);
/* Writes cf->pid_file (if set), starts the workers and runs until stopped and every worker
 * has exited, then removes the pid file. Returns the exit status for main(): 0, or 1 if the
 * signal handlers cannot be installed. */
int master_run(const master_ops *ops, conf *cf);

#endif
