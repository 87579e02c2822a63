/* err -- error codes, their HTTP statuses and names (API.md, "Errors"). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    int status;
    const char *name;
    int retry_after;
} err_table[E__COUNT] = {
    [E_OK] = {200, "ok", 0},
    [E_BAD_JSON] = {400, "bad_json", 0},
    [E_VALIDATION] = {422, "validation_error", 0},
    [E_UNSAFE_SQL] = {400, "unsafe_sql", 0},
    [E_INVALID_SQL] = {400, "invalid_sql", 0},
    [E_QUERY_FAILED] = {400, "query_failed", 0},
    [E_UNAUTHORIZED] = {401, "unauthorized", 0},
    [E_FORBIDDEN] = {403, "forbidden", 0},
    [E_NOT_FOUND] = {404, "not_found", 0},
    [E_METHOD] = {405, "method_not_allowed", 0},
    [E_CONFLICT] = {409, "conflict", 0},
    [E_TOO_LARGE] = {413, "body_too_large", 0},
    [E_MEDIA_TYPE] = {415, "unsupported_media_type", 0},
    [E_RATE_LIMITED] = {429, "rate_limited", 1},
    [E_INTERNAL] = {500, "internal", 0},
    [E_LLM_ERROR] = {502, "llm_error", 0},
    [E_LLM_NOT_CONFIGURED] = {503, "llm_not_configured", 60},
    [E_DB_UNAVAILABLE] = {503, "db_unavailable", 5},
    [E_LLM_UNAVAILABLE] = {503, "llm_unavailable", 10},
    [E_QUERY_TIMEOUT] = {504, "query_timeout", 0},
    [E_LLM_TIMEOUT] = {504, "llm_timeout", 0},
    [E_CANNOT_ANSWER] = {422, "cannot_answer", 0},
    [E_OVERLOADED] = {503, "overloaded", 1},
};

static void err_vset(t2err *e, err_code code, const char *fmt, va_list ap)
{
    e->code = code;
    e->retry_after = 0;
    vsnprintf(e->detail, sizeof e->detail, fmt, ap);
}

int err_set(t2err *e, err_code code, const char *fmt, ...)
{
    va_list ap;

    if (!e) return -1;
    va_start(ap, fmt);
    err_vset(e, code, fmt, ap);
    va_end(ap);
    e->field[0] = '\0';
    return -1;
}

int err_field(t2err *e, const char *field, const char *fmt, ...)
{
    va_list ap;

    if (!e) return -1;
    va_start(ap, fmt);
    err_vset(e, E_VALIDATION, fmt, ap);
    va_end(ap);
    snprintf(e->field, sizeof e->field, "%s", field);
    return -1;
}

void err_clear(t2err *e)
{
    memset(e, 0, sizeof *e);
}

int err_status(err_code code)
{
    return code < E__COUNT ? err_table[code].status : 500;
}

const char *err_name(err_code code)
{
    return code < E__COUNT ? err_table[code].name : "internal";
}

int err_retry_after(err_code code)
{
    return code < E__COUNT ? err_table[code].retry_after : 0;
}
