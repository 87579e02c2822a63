/* t2sql-fcgi -- the master: loads the configuration, opens the FastCGI socket, pre-forks
 * the workers, and then only reaps, respawns (with backoff), reloads and stops them.
 *
 * Signals only set flags; the work happens in the sigsuspend() loop. SIGTERM/SIGINT: stop
 * gracefully (workers finish the request in hand), a second one: at once. SIGHUP: reload the
 * configuration, keeping the old one if the new one is invalid, and replace the workers. */
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "worker.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 256

static volatile sig_atomic_t got_term, got_hup, got_chld, got_alarm;

static struct slot {
    pid_t pid;
    time_t started;
    time_t respawn_at; /* when a dead slot may be refilled */
    int backoff;       /* seconds, doubled on fast deaths */
} slots[MAX_WORKERS];

static void on_signal(int sig)
{
    if (sig == SIGTERM || sig == SIGINT)
        got_term++;
    else if (sig == SIGHUP)
        got_hup = 1;
    else if (sig == SIGCHLD)
        got_chld = 1;
    else if (sig == SIGALRM)
        got_alarm = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: t2sql-fcgi [-c conf/t2sql.conf] [-t]\n"
                    "  -c FILE  configuration file (keys overridable by T2SQL_<KEY>)\n"
                    "  -t       check the configuration, print it with secrets masked, exit\n");
}

static pid_t spawn(const conf *cf, int fd, const sigset_t *orig)
{
    pid_t pid = fork();

    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL; /* before unmasking: a pending SIGTERM must stop this child */
        sigaction(SIGCHLD, &sa, NULL);
        sigaction(SIGALRM, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        sigprocmask(SIG_SETMASK, orig, NULL);
        _exit(worker_run(cf, fd));
    }
    if (pid < 0) log_error("fork failed: %s", strerror(errno));
    return pid;
}

/* Workers of an older configuration finishing their requests after a reload; killed at
 * their deadline. */
#define RETIRE_GRACE 300
static struct retiree {
    pid_t pid;
    time_t deadline;
} retiring[MAX_WORKERS * 4];
static int nretiring;

static void retire_all(int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (slots[i].pid <= 0) continue;
        kill(slots[i].pid, SIGTERM); /* it finishes the request in hand, then exits */
        if (nretiring < (int)(sizeof retiring / sizeof retiring[0]))
            retiring[nretiring++] = (struct retiree){slots[i].pid, time(NULL) + RETIRE_GRACE};
        else
            kill(slots[i].pid, SIGKILL);
        slots[i].pid = 0;
    }
}

/* Kills retiring workers past their deadline; 1 if any are left (wake up again later). */
static int retire_check(void)
{
    time_t now = time(NULL);
    int i;

    for (i = 0; i < nretiring; i++)
        if (retiring[i].deadline <= now) {
            log_warn("worker %d still busy %d s after the reload: killed", (int)retiring[i].pid,
                     RETIRE_GRACE);
            kill(retiring[i].pid, SIGKILL);
            retiring[i].deadline = now + 3600;
        }
    return nretiring > 0;
}

static void signal_workers(int sig, int n)
{
    int i;

    for (i = 0; i < n; i++)
        if (slots[i].pid > 0) kill(slots[i].pid, sig);
    for (i = 0; i < nretiring; i++)
        kill(retiring[i].pid, sig);
}

static int live_workers(int n)
{
    int i, k = 0;

    for (i = 0; i < n; i++)
        k += slots[i].pid > 0;
    return k + nretiring;
}

static void reap(int n, int stopping)
{
    pid_t pid;
    int st, i;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (i = 0; i < nretiring; i++)
            if (retiring[i].pid == pid) {
                retiring[i] = retiring[--nretiring];
                break;
            }
        for (i = 0; i < n; i++) {
            time_t now = time(NULL);
            if (slots[i].pid != pid) continue;
            slots[i].pid = 0;
            if (stopping) break;
            if (WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0))
                log_warn("worker %d %s %d", (int)pid,
                         WIFSIGNALED(st) ? "killed by signal" : "exited with status",
                         WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            /* a worker that dies young is respawned with growing backoff */
            if (now - slots[i].started < 2)
                slots[i].backoff =
                    slots[i].backoff ? (slots[i].backoff * 2 > 30 ? 30 : slots[i].backoff * 2) : 1;
            else
                slots[i].backoff = 0;
            slots[i].respawn_at = now + slots[i].backoff;
            metrics_add(&metrics_get()->worker_restarts, 1);
            break;
        }
    }
}

static void fill(const conf *cf, int fd, int n, const sigset_t *orig)
{
    time_t now = time(NULL);
    int i, pending = 0;

    for (i = 0; i < n; i++) {
        if (slots[i].pid > 0) continue;
        if (slots[i].respawn_at > now) {
            pending = 1;
            continue;
        }
        slots[i].pid = spawn(cf, fd, orig);
        slots[i].started = now;
        if (slots[i].pid < 0) {
            slots[i].pid = 0;
            slots[i].respawn_at = now + 1;
            pending = 1;
        }
    }
    if (pending) alarm(1);
}

static int open_socket(const char *path)
{
    int fd;

    if (path[0] != ':' && !strchr(path, ':')) unlink(path);
    fd = FCGX_OpenSocket(path, 1024);
    if (fd < 0) return -1;
    if (path[0] != ':' && !strchr(path, ':')) chmod(path, 0666);
    return fd;
}

static void write_pid(const char *path)
{
    FILE *f;

    if (!*path || !(f = fopen(path, "w"))) return;
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int test = 0, opt, fd, n, i;
    char err[512];
    conf cf;
    sigset_t block, orig, empty;
    struct sigaction sa;

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
    write_pid(cf.pid_file);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, &orig);
    sigemptyset(&empty);

    n = (int)cf.workers;
    log_info("listening on %s with %d workers; model %s; auth %s", cf.listen, n,
             *cf.llm_base_url ? "configured" : "not configured (offline planner)",
             cf.auth_required ? "required" : "off: anonymous requests are accepted");
    fill(&cf, fd, n, &orig);

    while (!got_term) {
        sigsuspend(&empty);
        if (got_chld) {
            got_chld = 0;
            reap(n, 0);
        }
        if (got_hup) {
            conf ncf;
            got_hup = 0;
            if (conf_load(path, &ncf, err, sizeof err) < 0) {
                log_error("reload failed, keeping the old configuration: %s", err);
            } else {
                if (strcmp(ncf.listen, cf.listen) != 0)
                    log_warn("listen changes need a restart; keeping %s", cf.listen);
                retire_all(n); /* new workers start now; the old ones drain meanwhile */
                conf_free(&cf);
                cf = ncf;
                log_clear_secrets();
                conf_register_secrets(&cf);
                log_init(cf.log_file, log_level_parse(cf.log_level), "t2sql-fcgi");
                n = (int)(cf.workers > MAX_WORKERS ? MAX_WORKERS : cf.workers);
                for (i = 0; i < MAX_WORKERS; i++)
                    slots[i].respawn_at = 0, slots[i].backoff = 0;
                log_info("configuration reloaded; %d workers", n);
            }
        }
        if (!got_term) fill(&cf, fd, n, &orig);
        if (retire_check()) alarm(1);
        got_alarm = 0;
    }

    log_info("stopping: waiting for workers to finish their requests");
    signal_workers(SIGTERM, n);
    alarm(30);
    while (live_workers(n) > 0) {
        if (got_term > 1 || got_alarm) {
            log_warn("stopping now");
            signal_workers(SIGKILL, n);
        }
        sigsuspend(&empty);
        reap(n, 1);
    }
    if (cf.listen[0] != ':' && !strchr(cf.listen, ':')) unlink(cf.listen);
    if (*cf.pid_file) unlink(cf.pid_file);
    conf_free(&cf);
    curl_global_cleanup();
    log_info("stopped");
    return 0;
}
