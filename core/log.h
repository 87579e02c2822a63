/* log -- one-line structured log records with the request id, and secret redaction.
 *
 * Text format (log_format = text): "time prog[pid] LEVEL [req=<id>] message [k=v ...]".
 * JSON format (log_format = json): one object per line, {"time", "level", "prog", "pid",
 * "request_id" (when set), "msg", and the record's fields}. Secrets registered with
 * log_add_secret() are replaced by "***" in every line, as a second line of defence behind
 * the rule that callers never log them. Not thread-safe (workers are processes). */
#ifndef T2_LOG_H
#define T2_LOG_H

#include <sys/types.h>

enum { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* path NULL or "" = stderr. Re-opening (SIGHUP) is allowed. Returns -1 if the file cannot
 * be opened (logging then goes to stderr). */
int log_init(const char *path, int level, const char *prog);
int log_level_parse(const char *s);
void log_set_reqid(const char *id); /* copied; NULL clears */
const char *log_reqid(void);
void log_add_secret(const char *secret); /* copied; ignored if shorter than 4 bytes */
void log_clear_secrets(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_set_json(int on); /* the format of the lines that follow */
int log_is_json(void);
/* This process's id, read once (a child made by fork() reads its own): the log lines and the
 * workers' bookkeeping ask for it on every request. */
pid_t log_pid(void);

/* One field of a structured record: a string (s, NULL = left out), an integer or a number. */
typedef enum { LOG_STR, LOG_INT, LOG_NUM } log_type;
typedef struct log_kv {
    const char *k;
    log_type t;
    const char *s;
    long i;
    double d;
} log_kv;
#define LOG_S(k, v) ((log_kv){(k), LOG_STR, (v), 0, 0})
#define LOG_I(k, v) ((log_kv){(k), LOG_INT, NULL, (long)(v), 0})
#define LOG_N(k, v) ((log_kv){(k), LOG_NUM, NULL, 0, (double)(v)})
/* A record with fields: in text, "msg k=v ..." (values with spaces quoted); in JSON, the
 * fields are members. String values longer than 2000 bytes are cut. */
void log_fields(int level, const char *msg, const log_kv *kv, int n);

#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
