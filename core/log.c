/* log -- log lines with request ids; secrets are masked before anything is written. */
#include "log.h"

#include <fcntl.h>
#include <pthread.h>
#include <json-c/json.h>
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
static pid_t log_pid_v; /* 0 = not read yet (or forgotten in a forked child) */

static void log_pid_forget(void)
{
    log_pid_v = 0;
}

pid_t log_pid(void)
{
    static int registered;

    if (!registered) {
        registered = 1;
        pthread_atfork(NULL, NULL, log_pid_forget);
    }
    if (!log_pid_v) log_pid_v = getpid();
    return log_pid_v;
}
static char log_req[80];
static char *log_secrets[LOG_MAX_SECRETS];
static int log_nsecrets;
static int log_json;

void log_set_json(int on)
{
    log_json = on;
}

int log_is_json(void)
{
    return log_json;
}

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

static const char *const log_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

static void log_write(char *line, size_t n)
{
    line[n++] = '\n';
    if (write(log_fd, line, n) < 0) {
        /* nowhere left to report it */
    }
}

static void log_time(char *dst, size_t len)
{
    struct timeval tv;
    struct tm tm;
    size_t n;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(dst, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(dst + n, len - n, ".%03ldZ", (long)tv.tv_usec / 1000);
}

/* A string value, redacted and cut to max bytes (on a UTF-8 character boundary). */
static json_object *log_str(const char *v, size_t max)
{
    char tmp[LOG_LINE_MAX + 1];
    size_t n = strlen(v);

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
            n--;
    }
    if (n > LOG_LINE_MAX) n = LOG_LINE_MAX;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    log_redact(tmp, sizeof tmp);
    return json_object_new_string(tmp);
}

static void log_json_line(int level, const char *msg, const log_kv *kv, int n)
{
    json_object *j = json_object_new_object();
    char t[40], names[8];
    const char *s;
    size_t len;
    int i;

    log_time(t, sizeof t);
    for (i = 0; i < 8 && log_names[level][i]; i++)
        names[i] = (char)(log_names[level][i] | 0x20);
    names[i] = '\0';
    json_object_object_add(j, "time", json_object_new_string(t));
    json_object_object_add(j, "level", json_object_new_string(names));
    json_object_object_add(j, "prog", json_object_new_string(log_prog));
    json_object_object_add(j, "pid", json_object_new_int((int)log_pid()));
    if (log_req[0]) json_object_object_add(j, "request_id", json_object_new_string(log_req));
    json_object_object_add(j, "msg", log_str(msg, 2000));
    for (i = 0; i < n; i++) {
        if (kv[i].t == LOG_STR && !kv[i].s) continue;
        json_object_object_add(j, kv[i].k,
                               kv[i].t == LOG_STR   ? log_str(kv[i].s, 2000)
                               : kv[i].t == LOG_INT ? json_object_new_int64(kv[i].i)
                                                    : json_object_new_double(kv[i].d));
    }
    s = json_object_to_json_string_length(
        j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (s && len < 16000) {
        char line[16384];
        memcpy(line, s, len);
        log_write(line, len);
    }
    json_object_put(j);
}

static void log_text_line(int level, const char *text)
{
    char line[16384]; /* formatted and redacted whole, then cut to LOG_LINE_MAX */
    size_t n;
    int k;

    log_time(line, 40);
    n = strlen(line);
    k = snprintf(line + n, sizeof line - n, " %s[%d] %s ", log_prog, (int)log_pid(),
                 log_names[level]);
    n += k > 0 ? (size_t)k : 0;
    if (log_req[0] && n < sizeof line) {
        k = snprintf(line + n, sizeof line - n, "req=%s ", log_req);
        n += k > 0 ? (size_t)k : 0;
    }
    if (n < sizeof line) snprintf(line + n, sizeof line - n, "%s", text);
    line[sizeof line - 2] = '\0';
    for (char *c = line; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    log_redact(line, sizeof line);
    if (strlen(line) > LOG_LINE_MAX)
        line[LOG_LINE_MAX] = '\0'; /* after redaction: no secret is half-cut */
    log_write(line, strlen(line));
}

void log_msg(int level, const char *fmt, ...)
{
    char text[16384];
    va_list ap;

    if (level > log_lvl) return;
    if (level < 0 || level > 3) level = 0;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (log_json)
        log_json_line(level, text, NULL, 0);
    else
        log_text_line(level, text);
}

void log_fields(int level, const char *msg, const log_kv *kv, int n)
{
    char text[16384];
    size_t len;
    int i;

    if (level > log_lvl) return;
    if (level < 0 || level > 3) level = 0;
    if (log_json) {
        log_json_line(level, msg, kv, n);
        return;
    }
    snprintf(text, sizeof text, "%s", msg);
    for (i = 0; i < n && (len = strlen(text)) < sizeof text - 1; i++) {
        if (kv[i].t == LOG_STR && !kv[i].s) continue;
        if (kv[i].t == LOG_INT)
            snprintf(text + len, sizeof text - len, " %s=%ld", kv[i].k, kv[i].i);
        else if (kv[i].t == LOG_NUM)
            snprintf(text + len, sizeof text - len, " %s=%.1f", kv[i].k, kv[i].d);
        else
            snprintf(text + len, sizeof text - len,
                     strpbrk(kv[i].s, " \t\"=") || !*kv[i].s ? " %s=\"%.2000s\"" : " %s=%.2000s",
                     kv[i].k, kv[i].s);
    }
    log_text_line(level, text);
}
