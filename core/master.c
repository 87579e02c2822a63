/* master -- slots, spawn with backoff, reap, the sigsuspend() loop, stop and reload; see
 * master.h. All state is file-static: one master per process. */
#include "master.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define MASTER_BACKOFF_MAX 30 /* seconds */
#define MASTER_YOUNG       2  /* a worker dying younger than this (s) backs its slot off */

static volatile sig_atomic_t m_term, m_hup, m_chld;

static struct m_slot {
    pid_t pid;
    time_t started;
    time_t respawn_at; /* when an empty slot may be filled again */
    int backoff;       /* seconds; doubled on young deaths */
} m_slots[MASTER_MAX_SLOTS];
static int m_n; /* slots in use */

/* Workers of an older configuration finishing what they hold after a reload. */
static struct m_retiree {
    pid_t pid;
    time_t deadline; /* 0 = none */
} m_retiring[MASTER_MAX_SLOTS * 4];
static int m_nretiring;

static sigset_t m_orig; /* the signal mask before master_run(), restored in children */

/* Only sets flags; SIGALRM (respawn pauses, deadlines) just ends the sigsuspend(). */
static void m_on_signal(int sig)
{
    if (sig == SIGTERM || sig == SIGINT)
        m_term++;
    else if (sig == SIGHUP)
        m_hup = 1;
    else if (sig == SIGCHLD)
        m_chld = 1;
}

static const int m_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGALRM};
#define M_NSIGNALS ((int)(sizeof m_signals / sizeof m_signals[0]))

static int m_slot_count(const master_ops *ops, const conf *cf)
{
    int n = ops->nslots(cf);

    return n < 1 ? 1 : n > MASTER_MAX_SLOTS ? MASTER_MAX_SLOTS : n;
}

/* Writes our pid to path through a temporary file and rename(), so a reader never sees a
 * partial file. 0 or -1 (errno set). */
static int m_write_pid(const char *path)
{
    char tmp[4096], line[32];
    int fd, n;

    if (!path || !*path) return 0;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    n = snprintf(line, sizeof line, "%d\n", (int)getpid());
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) return -1;
    if (write(fd, line, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) return -1;
    return 0;
}

/* Forks a worker for slot; in the child the handlers are reset before the mask is restored,
 * so a signal already pending acts on the child as on any process that has not set up yet. */
static pid_t m_spawn(const master_ops *ops, const conf *cf, int slot)
{
    pid_t parent = getpid(), pid = fork();
    struct sigaction sa;
    int i, rc;

    if (pid < 0) log_error("worker %d: fork failed: %s", slot, strerror(errno));
    if (pid != 0) return pid;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (i = 0; i < M_NSIGNALS; i++)
        sigaction(m_signals[i], &sa, NULL);
    if (ops->die_with_master) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1); /* the master died before prctl() */
    }
    sigprocmask(SIG_SETMASK, &m_orig, NULL);
    rc = ops->run(cf, slot, ops->arg);
#ifdef __SANITIZE_ADDRESS__
    __lsan_do_leak_check(); /* _exit() skips the sanitizer's own check at exit */
#endif
    _exit(rc);
}

/* Starts the workers of empty slots whose pause is over; arms a 1 s alarm if some wait. */
static void m_fill(const master_ops *ops, const conf *cf)
{
    time_t now = time(NULL);
    int i, pending = 0;

    for (i = 0; i < m_n; i++) {
        if (m_slots[i].pid > 0) continue;
        if (m_slots[i].respawn_at > now) {
            pending = 1;
            continue;
        }
        m_slots[i].pid = m_spawn(ops, cf, i);
        m_slots[i].started = now;
        if (m_slots[i].pid < 0) {
            m_slots[i].pid = 0;
            m_slots[i].respawn_at = now + 1;
            pending = 1;
        }
    }
    if (pending) alarm(1);
}

/* A slot's worker exited with status st, unasked: log it and set the slot's pause. */
static void m_slot_died(const master_ops *ops, int i, pid_t pid, int st)
{
    time_t now = time(NULL);
    struct m_slot *s = &m_slots[i];

    if (WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0))
        log_warn("worker %d (pid %d) %s %d", i, (int)pid,
                 WIFSIGNALED(st) ? "killed by signal" : "exited with status",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    if (now - s->started < MASTER_YOUNG)
        s->backoff =
            s->backoff ? (s->backoff * 2 > MASTER_BACKOFF_MAX ? MASTER_BACKOFF_MAX : s->backoff * 2)
                       : 1;
    else
        s->backoff = 0;
    s->respawn_at = now + s->backoff;
    if (s->backoff) log_info("worker %d: respawning in %d s", i, s->backoff);
    if (ops->died) ops->died(ops->arg);
}

/* Collects every exited child; slot workers are marked for respawn unless stopping. */
static void m_reap(const master_ops *ops, int stopping)
{
    pid_t pid;
    int st, i;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        if (ops->reaped) ops->reaped(ops->arg, pid);
        for (i = 0; i < m_nretiring; i++)
            if (m_retiring[i].pid == pid) {
                m_retiring[i] = m_retiring[--m_nretiring];
                break;
            }
        for (i = 0; i < m_n; i++) {
            if (m_slots[i].pid != pid) continue;
            m_slots[i].pid = 0;
            if (!stopping) m_slot_died(ops, i, pid, st);
            break;
        }
    }
}

static void m_signal_all(int sig)
{
    int i;

    for (i = 0; i < m_n; i++)
        if (m_slots[i].pid > 0) kill(m_slots[i].pid, sig);
    for (i = 0; i < m_nretiring; i++)
        kill(m_retiring[i].pid, sig);
}

static int m_live(void)
{
    int i, k = 0;

    for (i = 0; i < m_n; i++)
        k += m_slots[i].pid > 0;
    return k + m_nretiring;
}

/* Sends every slot's worker SIGHUP (finish what you hold, then exit) and empties the slots. */
static void m_retire_all(const master_ops *ops)
{
    time_t deadline = ops->retire_grace_s > 0 ? time(NULL) + ops->retire_grace_s : 0;
    int i;

    for (i = 0; i < m_n; i++) {
        if (m_slots[i].pid <= 0) continue;
        kill(m_slots[i].pid, SIGHUP);
        if (m_nretiring < (int)(sizeof m_retiring / sizeof m_retiring[0]))
            m_retiring[m_nretiring++] = (struct m_retiree){m_slots[i].pid, deadline};
        else
            kill(m_slots[i].pid, SIGKILL);
        m_slots[i].pid = 0;
    }
}

/* Kills retired workers past their deadline; 1 if some with a deadline are left (wake up
 * again later). */
static int m_retire_check(const master_ops *ops)
{
    time_t now = time(NULL);
    int i, waiting = 0;

    for (i = 0; i < m_nretiring; i++) {
        if (!m_retiring[i].deadline) continue;
        if (m_retiring[i].deadline <= now) {
            log_warn("worker (pid %d) still busy %d s after the reload: killed",
                     (int)m_retiring[i].pid, ops->retire_grace_s);
            kill(m_retiring[i].pid, SIGKILL);
            m_retiring[i].deadline = 0;
        } else {
            waiting = 1;
        }
    }
    return waiting;
}

/* SIGHUP: load, check, keep what needs a restart, then replace the workers. */
static void m_reload(const master_ops *ops, conf *cf)
{
    char err[512];
    conf ncf;
    int i;

    if (conf_load(ops->conf_path, &ncf, err, sizeof err) < 0) {
        log_error("reload failed, keeping the old configuration: %s", err);
        return;
    }
    if (ops->check && ops->check(&ncf, err, sizeof err) < 0) {
        log_error("reload refused, keeping the old configuration: %s", err);
        conf_free(&ncf);
        return;
    }
    if (conf_keep_fixed(&ncf, cf) < 0) {
        log_error("reload failed, keeping the old configuration: out of memory");
        conf_free(&ncf);
        return;
    }
    m_retire_all(ops); /* new workers start now; the old ones finish meanwhile */
    conf_free(cf);
    *cf = ncf;
    log_clear_secrets();
    conf_register_secrets(cf);
    log_set_json(strcmp(cf->log_format, "json") == 0);
    if (log_init(cf->log_file, log_level_parse(cf->log_level), ops->prog) < 0)
        log_warn("cannot open log file %s; logging to stderr", cf->log_file);
    m_n = m_slot_count(ops, cf);
    for (i = 0; i < MASTER_MAX_SLOTS; i++)
        m_slots[i].respawn_at = 0, m_slots[i].backoff = 0;
    log_info("configuration reloaded; %d workers", m_n);
}

/* SIGTERM: ask every worker to stop, kill them on a second signal or at the grace limit. */
static void m_stop(const master_ops *ops)
{
    time_t deadline = ops->stop_grace_s > 0 ? time(NULL) + ops->stop_grace_s : 0;
    sigset_t empty;
    int killed = 0;

    sigemptyset(&empty);
    log_info("stopping: waiting for the workers to finish");
    m_signal_all(SIGTERM);
    alarm(ops->stop_grace_s > 0 ? (unsigned)ops->stop_grace_s : 0); /* only wakes us */
    while (m_live() > 0) {
        if (!killed && (m_term > 1 || (deadline && time(NULL) >= deadline))) {
            log_warn("stopping now: killing %d workers", m_live());
            m_signal_all(SIGKILL);
            killed = 1;
        }
        sigsuspend(&empty);
        m_reap(ops, 1);
    }
    alarm(0);
}

int master_run(const master_ops *ops, conf *cf)
{
    struct sigaction sa;
    sigset_t block, empty;
    int i;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = m_on_signal;
    sigemptyset(&block);
    for (i = 0; i < M_NSIGNALS; i++) {
        sigaddset(&block, m_signals[i]);
        if (sigaction(m_signals[i], &sa, NULL) < 0) {
            log_error("sigaction: %s", strerror(errno));
            return 1;
        }
    }
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigprocmask(SIG_BLOCK, &block, &m_orig);
    sigemptyset(&empty);
    if (m_write_pid(cf->pid_file) < 0)
        log_warn("cannot write pid file %s: %s", cf->pid_file, strerror(errno));
    m_n = m_slot_count(ops, cf);
    m_fill(ops, cf);
    while (!m_term) {
        sigsuspend(&empty);
        if (m_chld) {
            m_chld = 0;
            m_reap(ops, 0);
        }
        if (m_hup && !m_term) {
            m_hup = 0;
            m_reload(ops, cf);
        }
        if (!m_term) m_fill(ops, cf);
        if (m_retire_check(ops)) alarm(1);
    }
    m_stop(ops);
    if (*cf->pid_file) unlink(cf->pid_file);
    log_info("stopped");
    sigprocmask(SIG_SETMASK, &m_orig, NULL);
    return 0;
}

int master_start(master_ops *ops, int argc, char **argv, const char *usage, conf *cf)
{
    char err[512];
    int opt, test = 0;

    while ((opt = getopt(argc, argv, "c:th")) != -1) {
        if (opt == 'c') {
            ops->conf_path = optarg;
        } else if (opt == 't') {
            test = 1;
        } else {
            fputs(usage, stderr);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (conf_load(ops->conf_path, cf, err, sizeof err) < 0 ||
        (ops->check && ops->check(cf, err, sizeof err) < 0)) {
        fprintf(stderr, "%s: configuration error: %s\n", ops->prog, err);
        return 1;
    }
    if (test) {
        conf_print(cf, stdout);
        if (ops->print_more) ops->print_more(cf);
        printf("%s: configuration OK\n", ops->prog);
        conf_free(cf);
        return 0;
    }
    conf_register_secrets(cf);
    log_set_json(strcmp(cf->log_format, "json") == 0);
    if (log_init(cf->log_file, log_level_parse(cf->log_level), ops->prog) < 0)
        fprintf(stderr, "%s: cannot open log file %s; logging to stderr\n", ops->prog,
                cf->log_file);
    return -1;
}
