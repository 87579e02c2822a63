/* err -- the service's error vocabulary: one code per row of API.md's error table.
 *
 * Core functions report failure by filling a caller-owned t2err and returning -1; the HTTP
 * layer turns it into a status and a JSON body. `detail` is shown to clients, so it must
 * never hold a secret, a connection string or a stack. */
#ifndef T2_ERR_H
#define T2_ERR_H

#include <stddef.h>

typedef enum {
    E_OK = 0,
    E_BAD_JSON,
    E_VALIDATION,
    E_UNSAFE_SQL,
    E_INVALID_SQL,
    E_QUERY_FAILED,
    E_UNAUTHORIZED,
    E_FORBIDDEN,
    E_NOT_FOUND,
    E_METHOD,
    E_CONFLICT,
    E_TOO_LARGE,
    E_MEDIA_TYPE,
    E_RATE_LIMITED,
    E_INTERNAL,
    E_LLM_ERROR,
    E_LLM_NOT_CONFIGURED,
    E_DB_UNAVAILABLE,
    E_LLM_UNAVAILABLE,
    E_QUERY_TIMEOUT,
    E_LLM_TIMEOUT,
    E_CANNOT_ANSWER, /* 422: the question cannot be answered from this data */
    E_OVERLOADED,    /* 503: every query worker stayed busy past queue_timeout_ms */
    E__COUNT
} err_code;

typedef struct t2err {
    err_code code;
    char detail[512];
    char field[64];  /* for E_VALIDATION: the offending request field */
    int retry_after; /* seconds for Retry-After when > 0 (e.g. E_RATE_LIMITED), overriding
                        err_retry_after(code); err_set() and err_field() reset it to 0 */
} t2err;

/* Sets e (if not NULL) and returns -1, so `return err_set(...)` reads naturally. */
int err_set(t2err *e, err_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int err_field(t2err *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void err_clear(t2err *e);
int err_status(err_code code);       /* HTTP status */
const char *err_name(err_code code); /* stable machine-readable code */
int err_retry_after(err_code code);  /* seconds for Retry-After, 0 = none */

#endif
