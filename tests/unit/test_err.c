/* test_err -- every error code against API.md's error table: status, stable name and
 * Retry-After; err_set / err_field / err_clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "err.h"

/* API.md, "Errors": one row per code. */
static const struct {
    err_code code;
    int status;
    const char *name;
} api_table[] = {
    {E_BAD_JSON, 400, "bad_json"},
    {E_UNSAFE_SQL, 400, "unsafe_sql"},
    {E_INVALID_SQL, 400, "invalid_sql"},
    {E_QUERY_FAILED, 400, "query_failed"},
    {E_UNAUTHORIZED, 401, "unauthorized"},
    {E_NOT_FOUND, 404, "not_found"},
    {E_METHOD, 405, "method_not_allowed"},
    {E_CONFLICT, 409, "conflict"},
    {E_TOO_LARGE, 413, "body_too_large"},
    {E_MEDIA_TYPE, 415, "unsupported_media_type"},
    {E_VALIDATION, 422, "validation_error"},
    {E_RATE_LIMITED, 429, "rate_limited"},
    {E_INTERNAL, 500, "internal"},
    {E_LLM_ERROR, 502, "llm_error"},
    {E_LLM_NOT_CONFIGURED, 503, "llm_not_configured"},
    {E_DB_UNAVAILABLE, 503, "db_unavailable"},
    {E_LLM_UNAVAILABLE, 503, "llm_unavailable"},
    {E_QUERY_TIMEOUT, 504, "query_timeout"},
    {E_LLM_TIMEOUT, 504, "llm_timeout"},
    {E_CANNOT_ANSWER, 422, "cannot_answer"},
    {E_OVERLOADED, 503, "overloaded"},
    /* not in API.md's table: used internally / for admin endpoints */
    {E_FORBIDDEN, 403, "forbidden"},
    {E_OK, 200, "ok"},
};

#define NROWS (sizeof api_table / sizeof api_table[0])

static void test_status_and_name(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < NROWS; i++) {
        assert_int_equal(err_status(api_table[i].code), api_table[i].status);
        assert_string_equal(err_name(api_table[i].code), api_table[i].name);
    }
}

static void test_every_code_listed_once(void **state)
{
    int seen[E__COUNT] = {0};
    size_t i, j;
    int c;

    (void)state;
    for (i = 0; i < NROWS; i++)
        seen[api_table[i].code]++;
    for (c = 0; c < E__COUNT; c++)
        assert_int_equal(seen[c], 1); /* a new code must be added to the table above */
    for (i = 0; i < NROWS; i++)       /* names are stable identifiers: no two alike */
        for (j = i + 1; j < NROWS; j++)
            assert_string_not_equal(api_table[i].name, api_table[j].name);
}

static void test_retry_after(void **state)
{
    int c;

    (void)state;
    for (c = 0; c < E__COUNT; c++) {
        int st = err_status((err_code)c);
        if (st == 429 || st == 503)
            assert_true(err_retry_after((err_code)c) > 0);
        else
            assert_int_equal(err_retry_after((err_code)c), 0);
    }
}

static void test_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(err_status(E__COUNT), 500);
    assert_string_equal(err_name(E__COUNT), "internal");
    assert_int_equal(err_retry_after(E__COUNT), 0);
}

static void test_set_field_clear(void **state)
{
    t2err e;

    (void)state;
    err_clear(&e);
    assert_int_equal(e.code, E_OK);
    assert_string_equal(e.detail, "");
    assert_string_equal(e.field, "");

    assert_int_equal(err_field(&e, "page_size", "must be between %d and %d", 1, 10000), -1);
    assert_int_equal(e.code, E_VALIDATION);
    assert_string_equal(e.field, "page_size");
    assert_string_equal(e.detail, "must be between 1 and 10000");

    /* a later err_set must not leave the previous field behind */
    assert_int_equal(err_set(&e, E_DB_UNAVAILABLE, "database %s", "down"), -1);
    assert_int_equal(e.code, E_DB_UNAVAILABLE);
    assert_string_equal(e.detail, "database down");
    assert_string_equal(e.field, "");

    err_clear(&e);
    assert_int_equal(e.code, E_OK);
    assert_string_equal(e.detail, "");
}

static void test_truncation_and_null(void **state)
{
    t2err e;
    char longf[200], longd[1000];

    (void)state;
    memset(longf, 'f', sizeof longf - 1);
    longf[sizeof longf - 1] = '\0';
    memset(longd, 'd', sizeof longd - 1);
    longd[sizeof longd - 1] = '\0';
    assert_int_equal(err_field(&e, longf, "%s", longd), -1);
    assert_int_equal(strlen(e.field), sizeof e.field - 1);
    assert_int_equal(strlen(e.detail), sizeof e.detail - 1);
    /* a NULL t2err is allowed: callers that don't care still get -1 */
    assert_int_equal(err_set(NULL, E_INTERNAL, "x"), -1);
    assert_int_equal(err_field(NULL, "f", "x"), -1);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_status_and_name),
             cmocka_unit_test(test_every_code_listed_once), cmocka_unit_test(test_retry_after),
             cmocka_unit_test(test_out_of_range), cmocka_unit_test(test_set_field_clear),
             cmocka_unit_test(test_truncation_and_null))
