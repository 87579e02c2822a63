/* log -- one-line structured log records with the request id, and secret redaction.
 *
 * Every line is "time pid level [req=<id>] message". Secrets registered with
 * log_add_secret() are replaced by "***" in every line, as a second line of defence behind
 * the rule that callers never log them. Not thread-safe (workers are processes). */
#ifndef T2_LOG_H
#define T2_LOG_H

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

#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
