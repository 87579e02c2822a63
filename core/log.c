/* log -- log lines with request ids; secrets are masked before anything is written. */
#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX_SECRETS 32
#define LOG_LINE_MAX    4094

static int log_fd = 2;
static int log_lvl = LOG_INFO;
static char log_prog[32] = "t2sql";
static char log_req[80];
static char *log_secrets[LOG_MAX_SECRETS];
static int log_nsecrets;

int log_init(const char *path, int level, const char *prog)
{
    int fd;

    log_lvl = level;
    if (prog) snprintf(log_prog, sizeof log_prog, "%s", prog);
    if (log_fd > 2) close(log_fd);
    log_fd = 2;
    if (!path || !*path) return 0;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return -1;
    log_fd = fd;
    return 0;
}

int log_level_parse(const char *s)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    int i;

    for (i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0) return i;
    return -1;
}

void log_set_reqid(const char *id)
{
    snprintf(log_req, sizeof log_req, "%s", id ? id : "");
}

const char *log_reqid(void)
{
    return log_req;
}

void log_add_secret(const char *secret)
{
    int i;

    if (!secret || strlen(secret) < 4 || log_nsecrets == LOG_MAX_SECRETS) return;
    for (i = 0; i < log_nsecrets; i++)
        if (strcmp(log_secrets[i], secret) == 0) return;
    log_secrets[log_nsecrets] = strdup(secret);
    if (log_secrets[log_nsecrets]) log_nsecrets++;
}

void log_clear_secrets(void)
{
    while (log_nsecrets > 0)
        free(log_secrets[--log_nsecrets]);
}

/* Replaces every registered secret in line (NUL-terminated, capacity cap) by "***". */
static void log_redact(char *line, size_t cap)
{
    int i;

    for (i = 0; i < log_nsecrets; i++) {
        size_t slen = strlen(log_secrets[i]);
        char *hit;

        while ((hit = strstr(line, log_secrets[i])) != NULL) {
            size_t tail = strlen(hit + slen);
            memcpy(hit, "***", 3);
            memmove(hit + 3, hit + slen, tail + 1);
        }
        (void)cap;
    }
}

void log_msg(int level, const char *fmt, ...)
{
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char line[16384]; /* formatted and redacted whole, then cut to LOG_LINE_MAX */
    struct timeval tv;
    struct tm tm;
    size_t n;
    int k;
    va_list ap;

    if (level > log_lvl) return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    k = snprintf(line + n, sizeof line - n, ".%03ldZ %s[%d] %s ", (long)tv.tv_usec / 1000, log_prog,
                 (int)getpid(), names[level < 0 || level > 3 ? 0 : level]);
    n += k > 0 ? (size_t)k : 0;
    if (log_req[0] && n < sizeof line) {
        k = snprintf(line + n, sizeof line - n, "req=%s ", log_req);
        n += k > 0 ? (size_t)k : 0;
    }
    if (n < sizeof line) {
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof line - n, fmt, ap);
        va_end(ap);
    }
    line[sizeof line - 2] = '\0';
    for (char *c = line; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    log_redact(line, sizeof line);
    if (strlen(line) > LOG_LINE_MAX)
        line[LOG_LINE_MAX] = '\0'; /* after redaction: no secret is half-cut */
    n = strlen(line);
    line[n++] = '\n';
    if (write(log_fd, line, n) < 0) {
        /* nowhere left to report it */
    }
}
