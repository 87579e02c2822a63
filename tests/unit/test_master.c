/* test_master -- the pre-fork master with real processes: a reload replaces the workers with
 * the new configuration, an invalid or refused one keeps the old workers and configuration,
 * a worker dying at once is respawned with backoff (not in a loop), a second SIGTERM kills
 * workers that do not stop, stop_grace_s does the same on its own, and the pid file is
 * written and removed.
 *
 * Each test forks a process that runs master_run(); its workers report "slot pid workers"
 * lines on a pipe the test reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "log.h"
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { RUN_WAIT, RUN_EXIT, RUN_STUBBORN };

static int report_fd = -1; /* the pipe's write end, inherited by the workers */
static int run_mode;
static pid_t master_pid; /* killed by teardown if a test failed midway */
static char dir[64], conf_path[128], log_path[128], pid_path[128];
static char pending[4096]; /* report bytes read but not yet a whole line */
static size_t plen;

static int t_slots(const conf *cf)
{
    return (int)cf->workers;
}

/* The worker: reports itself, then waits for a signal (RUN_WAIT: SIGTERM and SIGHUP end it),
 * exits at once (RUN_EXIT) or ignores SIGTERM and SIGHUP (RUN_STUBBORN). */
static int t_run(const conf *cf, int slot, void *arg)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%d %d %ld\n", slot, (int)getpid(), cf->workers);

    (void)arg;
    if (write(report_fd, line, (size_t)n) != n) return 3;
    if (run_mode == RUN_EXIT) return 1;
    if (run_mode == RUN_STUBBORN) {
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
    }
    for (;;)
        pause();
}

/* Refuses any configuration with max_requests = 7. */
static int t_check(const conf *cf, char *err, size_t errlen)
{
    if (cf->max_requests != 7) return 0;
    snprintf(err, errlen, "max_requests 7 is refused");
    return -1;
}

/* Replaces the configuration file at once (a reload never reads half a file); the log
 * stays in log_path. */
static void write_conf(const char *text)
{
    char tmp[160];
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s.tmp", conf_path);
    assert_non_null(f = fopen(tmp, "w"));
    fprintf(f, "log_file = %s\n", log_path);
    fputs(text, f);
    fclose(f);
    assert_int_equal(rename(tmp, conf_path), 0);
}

static int setup(void **state)
{
    int p[2];

    (void)state;
    snprintf(dir, sizeof dir, "/tmp/t2sql-test-master-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(conf_path, sizeof conf_path, "%s/t2sql.conf", dir);
    snprintf(log_path, sizeof log_path, "%s/master.log", dir);
    snprintf(pid_path, sizeof pid_path, "%s/master.pid", dir);
    assert_int_equal(pipe(p), 0);
    *state = (void *)(intptr_t)p[0];
    report_fd = p[1];
    plen = 0;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    return 0;
}

static int teardown(void **state)
{
    if (master_pid > 0 && kill(master_pid, SIGKILL) == 0) /* its workers die with it */
        waitpid(master_pid, NULL, 0);
    master_pid = 0;
    close((int)(intptr_t)*state);
    close(report_fd);
    unlink(conf_path);
    unlink(log_path);
    unlink(pid_path);
    rmdir(dir);
    return 0;
}

/* Forks the master over conf_path (the environment cannot change it: T2SQL_* variables are
 * removed in the child). Returns its pid. */
static pid_t start_master(int mode, int stop_grace_s)
{
    static const char *const vars[] = {"T2SQL_WORKERS",  "T2SQL_MAX_REQUESTS", "T2SQL_LISTEN",
                                       "T2SQL_LOG_FILE", "T2SQL_PID_FILE",     NULL};
    master_ops ops = {"test-master", conf_path,    t_slots, t_run, t_check, NULL,
                      NULL,          stop_grace_s, 0,       1,     NULL,    NULL};
    char err[256];
    pid_t pid;
    conf cf;
    int i;

    run_mode = mode;
    pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) return master_pid = pid;
    for (i = 0; vars[i]; i++)
        unsetenv(vars[i]);
    if (conf_load(conf_path, &cf, err, sizeof err) < 0) _exit(90);
    log_init(log_path, LOG_INFO, "test-master");
    _exit(master_run(&ops, &cf));
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads worker reports for up to secs seconds or until want lines came (want < 0: the whole
 * time); fills pids[] (up to max) and the workers value of the last one. Returns the count. */
static int read_reports(int fd, double secs, int want, int *pids, int max, long *workers)
{
    double end = now_s() + secs;
    int n = 0;

    while (want < 0 || n < want) {
        struct pollfd p = {fd, POLLIN, 0};
        char *nl;
        double left = end - now_s();
        ssize_t k;

        while ((nl = memchr(pending, '\n', plen)) != NULL && (want < 0 || n < want)) {
            int slot, pid;
            long w;
            *nl = '\0';
            if (sscanf(pending, "%d %d %ld", &slot, &pid, &w) == 3) {
                if (n < max) pids[n] = pid;
                if (workers) *workers = w;
                n++;
            }
            plen -= (size_t)(nl + 1 - pending);
            memmove(pending, nl + 1, plen);
        }
        if ((want >= 0 && n >= want) || left <= 0) break;
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0) continue;
        k = read(fd, pending + plen, sizeof pending - plen);
        if (k > 0) plen += (size_t)k;
    }
    return n;
}

/* Waits up to secs for pid (our child) to exit; its wait status, or -1 if still running. */
static int wait_exit(pid_t pid, double secs)
{
    double end = now_s() + secs;
    int st;

    do {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            if (pid == master_pid) master_pid = 0;
            return st;
        }
        usleep(20000);
    } while (now_s() < end);
    return -1;
}

static int alive(int pid)
{
    return kill(pid, 0) == 0;
}

/* Waits up to secs for pid (not our child) to be gone. */
static int gone_within(int pid, double secs)
{
    double end = now_s() + secs;

    while (alive(pid) && now_s() < end)
        usleep(20000);
    return !alive(pid);
}

/* 1 once the master's log contains needle (waiting up to secs), else 0. */
static int log_has(const char *needle, double secs)
{
    double end = now_s() + secs;
    char text[65536];

    do {
        FILE *f = fopen(log_path, "r");
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f) fclose(f);
        text[n] = '\0';
        if (strstr(text, needle)) return 1;
        usleep(20000);
    } while (now_s() < end);
    return 0;
}

static void test_reload(void **state)
{
    int fd = (int)(intptr_t)*state, old[4], nw[4], i, st;
    long workers = 0;
    char text[256];
    pid_t m;

    snprintf(text, sizeof text, "workers = 2\npid_file = %s\n", pid_path);
    write_conf(text);
    m = start_master(RUN_WAIT, 0);
    assert_int_equal(read_reports(fd, 10, 2, old, 4, &workers), 2);
    assert_int_equal(workers, 2);
    assert_int_equal(access(pid_path, F_OK), 0);

    /* a valid new configuration: new workers with it, the old ones retired */
    snprintf(text, sizeof text, "workers = 3\npid_file = %s\n", pid_path);
    write_conf(text);
    kill(m, SIGHUP);
    assert_int_equal(read_reports(fd, 10, 3, nw, 4, &workers), 3);
    assert_int_equal(workers, 3);
    for (i = 0; i < 2; i++) {
        assert_true(gone_within(old[i], 5));
        assert_true(nw[0] != old[i] && nw[1] != old[i] && nw[2] != old[i]);
    }

    /* not loadable, then refused by the daemon's check: nothing changes */
    write_conf("workers = lots\n");
    kill(m, SIGHUP);
    assert_true(log_has("reload failed, keeping the old configuration", 10));
    snprintf(text, sizeof text, "workers = 1\nmax_requests = 7\npid_file = %s\n", pid_path);
    write_conf(text);
    kill(m, SIGHUP);
    assert_true(log_has("reload refused, keeping the old configuration: max_requests 7", 10));
    assert_int_equal(read_reports(fd, 0.5, -1, old, 4, NULL), 0);
    for (i = 0; i < 3; i++)
        assert_true(alive(nw[i]));

    kill(m, SIGTERM);
    st = wait_exit(m, 10);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (i = 0; i < 3; i++)
        assert_false(alive(nw[i]));
    assert_int_equal(access(pid_path, F_OK), -1); /* removed */
}

static void test_backoff(void **state)
{
    int fd = (int)(intptr_t)*state, pids[16], n, st;
    pid_t m;

    write_conf("workers = 1\n");
    m = start_master(RUN_EXIT, 0);
    /* without backoff a worker exiting at once would be respawned hundreds of times */
    n = read_reports(fd, 2.5, -1, pids, 16, NULL);
    assert_true(n >= 2); /* respawned */
    assert_true(n <= 4); /* after pauses of 1 s, then 2 s */
    assert_true(log_has("worker 0 (pid ", 1));
    assert_true(log_has("respawning in 2 s", 1));
    kill(m, SIGTERM);
    st = wait_exit(m, 10);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Starts a master over one worker that ignores SIGTERM and sends the master one SIGTERM.
 * Returns the worker's pid; *m is the master. */
static int stubborn_stopped(int fd, int stop_grace_s, pid_t *m)
{
    int pid;

    write_conf("workers = 1\n");
    *m = start_master(RUN_STUBBORN, stop_grace_s);
    assert_int_equal(read_reports(fd, 10, 1, &pid, 1, NULL), 1);
    usleep(200000); /* the worker ignores SIGTERM by now */
    kill(*m, SIGTERM);
    return pid;
}

/* The master m exits with 0 within 10 s and its worker pid is gone. */
static void assert_stopped(pid_t m, int pid)
{
    int st = wait_exit(m, 10);

    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_false(alive(pid));
}

static void test_second_sigterm_kills(void **state)
{
    pid_t m;
    int pid = stubborn_stopped((int)(intptr_t)*state, 0, &m);

    assert_int_equal(wait_exit(m, 1.0), -1); /* the master waits for its worker */
    assert_true(alive(pid));
    kill(m, SIGTERM);
    assert_stopped(m, pid);
    assert_true(log_has("stopping now", 1));
}

static void test_stop_grace(void **state)
{
    pid_t m;
    int pid = stubborn_stopped((int)(intptr_t)*state, 1, &m);

    assert_stopped(m, pid); /* one SIGTERM: killed after stop_grace_s */
}

static int refuse_all(const conf *cf, char *err, size_t errlen)
{
    (void)cf;
    snprintf(err, errlen, "refused by the daemon's check");
    return -1;
}

/* master_start with argv; stdout and stderr (the printed configuration, usage) go nowhere. */
static int start(master_ops *ops, conf *cf, int argc, char **argv)
{
    int out = dup(1), errfd = dup(2), null = open("/dev/null", O_WRONLY), rc;

    fflush(NULL);
    dup2(null, 1);
    dup2(null, 2);
    optind = 1;
    rc = master_start(ops, argc, argv, "usage: unit\n", cf);
    fflush(NULL);
    dup2(out, 1);
    dup2(errfd, 2);
    close(out);
    close(errfd);
    close(null);
    return rc;
}

static void test_start_options(void **state)
{
    char tmp[64], a0[] = "unit", c[] = "-c", t[] = "-t", h[] = "-h", x[] = "-x";
    char *check[] = {a0, c, tmp, t}, *help[] = {a0, h}, *bad[] = {a0, x}, *run[] = {a0, c, tmp};
    master_ops ops = {"unit", NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL};
    conf cf;

    (void)state;
    unit_write_tmp(tmp, "master", "workers = 3\nlog_file =\n");
    assert_int_equal(start(&ops, &cf, 4, check), 0); /* -t: printed, freed, exit 0 */
    assert_string_equal(ops.conf_path, tmp);
    assert_int_equal(start(&ops, &cf, 2, help), 0);
    assert_int_equal(start(&ops, &cf, 2, bad), 2);
    ops.check = refuse_all;
    assert_int_equal(start(&ops, &cf, 4, check), 1);
    ops.check = NULL;
    assert_int_equal(start(&ops, &cf, 3, run), -1); /* go on: the configuration is loaded */
    assert_int_equal(cf.workers, 3);
    conf_free(&cf);
    unlink(tmp);
    unit_write_tmp(tmp, "master", "workers = -1\n"); /* out of range (0 = two per core) */
    assert_int_equal(start(&ops, &cf, 3, run), 1);
    unlink(tmp);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
             cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
             cmocka_unit_test_setup_teardown(test_second_sigterm_kills, setup, teardown),
             cmocka_unit_test_setup_teardown(test_stop_grace, setup, teardown),
             cmocka_unit_test(test_start_options))
