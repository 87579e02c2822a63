/* main -- exportd's master: config (-c, -t), logging, pid file, and the worker processes.
 *
 * The master forks export_concurrency workers and respawns the ones that die (with a pause
 * if they die young; a failed fork() is retried every second). SIGTERM/SIGINT are
 * forwarded as SIGTERM: the first makes workers hand back their jobs and exit, the second
 * makes them exit at once. Workers ignore SIGINT and count only the master's SIGTERMs, so a
 * signal to the whole process group (Ctrl-C, systemd) is still a graceful stop. Workers die with
 * the master (PR_SET_PDEATHSIG), so a killed master never leaves jobs half-owned by orphans. */
#include "exportd.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SLOTS 64

volatile sig_atomic_t exportd_term;
static volatile sig_atomic_t master_chld, master_alrm;

static void on_alrm(int sig)
{
    (void)sig;
    master_alrm = 1;
}

static void on_term(int sig)
{
    (void)sig;
    exportd_term++;
}

static void on_chld(int sig)
{
    (void)sig;
    master_chld = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: exportd [-c conf/t2sql.conf] [-t]\n"
                    "  -c PATH  configuration file (environment overrides it)\n"
                    "  -t       check the configuration, print it (secrets masked), exit\n");
}

static pid_t spawn(const conf *cf, int slot)
{
    pid_t master = getpid(), pid = fork();

    if (pid != 0) return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != master) _exit(1);
    worker_main(cf, slot);
}

static int write_pid(const char *path)
{
    char tmp[4096], line[32];
    int fd, n;

    if (!path || !*path) return 0;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    n = snprintf(line, sizeof line, "%d\n", (int)getpid());
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) return -1;
    if (write(fd, line, (size_t)n) != n || close(fd) < 0 || rename(tmp, path) < 0) return -1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int test = 0, opt, i, nslots, live = 0, forwarded = 0;
    pid_t pids[MAX_SLOTS];
    time_t born[MAX_SLOTS];
    char err[512];
    conf cf;
    struct sigaction sa;
    sigset_t block, old;

    while ((opt = getopt(argc, argv, "c:th")) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 't':
            test = 1;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (conf_load(path, &cf, err, sizeof err) < 0) {
        fprintf(stderr, "exportd: %s\n", err);
        return 1;
    }
    if (!*cf.export_bucket) {
        fprintf(stderr, "exportd: export_bucket is empty\n");
        return 1;
    }
    if (test) {
        conf_print(&cf, stdout);
        printf("exportd: configuration OK\n");
        conf_free(&cf);
        return 0;
    }
    if (log_init(cf.log_file, log_level_parse(cf.log_level), "exportd") < 0)
        fprintf(stderr, "exportd: cannot open log file %s; logging to stderr\n", cf.log_file);
    conf_register_secrets(&cf);
    if (write_pid(cf.pid_file) < 0)
        log_warn("cannot write pid file %s: %s", cf.pid_file, strerror(errno));
    if (!*cf.aws_access_key_id)
        log_warn("AWS_ACCESS_KEY_ID is not set; S3 requests will be refused by AWS");

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_chld;
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = on_alrm;
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, &old);

    nslots = (int)(cf.export_concurrency > MAX_SLOTS ? MAX_SLOTS : cf.export_concurrency);
    log_info("exportd starting: %d workers, bucket %s, endpoint %s, part %ld MiB, lease %ld s",
             nslots, cf.export_bucket, *cf.s3_endpoint ? cf.s3_endpoint : "AWS", cf.export_part_mb,
             cf.export_lease_s);
    for (i = 0; i < nslots; i++) {
        pids[i] = spawn(&cf, i);
        born[i] = time(NULL);
        live += pids[i] > 0;
    }
    for (;;) {
        pid_t pid;
        int st;

        if (exportd_term > forwarded) {
            forwarded = exportd_term;
            log_info("exportd: %s; stopping workers", forwarded > 1 ? "second signal" : "signal");
            for (i = 0; i < nslots; i++)
                if (pids[i] > 0) kill(pids[i], SIGTERM);
        }
        master_chld = 0;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            for (i = 0; i < nslots; i++) {
                if (pids[i] != pid) continue;
                pids[i] = -1;
                live--;
                if (exportd_term) break;
                log_warn("worker %d (pid %d) exited with %s %d; respawning", i, (int)pid,
                         WIFSIGNALED(st) ? "signal" : "status",
                         WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
                if (time(NULL) - born[i] < 2) {
                    sigprocmask(SIG_SETMASK, &old, NULL);
                    sleep(1);
                    sigprocmask(SIG_BLOCK, &block, NULL);
                }
                if (!exportd_term) {
                    pids[i] = spawn(&cf, i);
                    born[i] = time(NULL);
                    live += pids[i] > 0;
                    if (pids[i] < 0)
                        log_warn("worker %d: fork failed: %s; retrying", i, strerror(errno));
                }
            }
        }
        /* a failed fork() leaves its slot empty: retry it every second */
        if (master_alrm) {
            master_alrm = 0;
            for (i = 0; i < nslots && !exportd_term; i++) {
                if (pids[i] > 0) continue;
                pids[i] = spawn(&cf, i);
                born[i] = time(NULL);
                live += pids[i] > 0;
                if (pids[i] > 0) log_info("worker %d respawned", i);
            }
        }
        for (i = 0; i < nslots && !exportd_term; i++)
            if (pids[i] <= 0) {
                alarm(1);
                break;
            }
        if (exportd_term && live <= 0) break;
        if (!master_chld && !master_alrm && exportd_term <= forwarded) sigsuspend(&old);
    }
    log_info("exportd stopped");
    if (*cf.pid_file) unlink(cf.pid_file);
    conf_free(&cf);
    return 0;
}
