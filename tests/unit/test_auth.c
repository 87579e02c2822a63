/* test_auth -- API key helpers and the per-process rate limit (core/auth), request bodies
 * (core/body) and configuration text (conf_load_buffer). No servers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "auth.h"
#include "buf.h"
#include "body.h"
#include "conf.h"

static void test_key_from_headers(void **state)
{
    (void)state;
    assert_string_equal(auth_key_from_headers("Bearer abc123xyz", NULL), "abc123xyz");
    assert_string_equal(auth_key_from_headers("bearer   abc123xyz", "other"), "abc123xyz");
    assert_string_equal(auth_key_from_headers(NULL, " k2k2k2k2k2"), "k2k2k2k2k2");
    assert_string_equal(auth_key_from_headers("Basic dXNlcjpwYXNz", "xkey1234"), "xkey1234");
    assert_null(auth_key_from_headers("Basic dXNlcjpwYXNz", NULL));
    assert_null(auth_key_from_headers("Bearer", NULL));
    assert_null(auth_key_from_headers("Bearer   ", ""));
    assert_null(auth_key_from_headers("Bearerabc", NULL));
    assert_null(auth_key_from_headers(NULL, NULL));
}

static void test_hash(void **state)
{
    char hex[65];

    (void)state;
    auth_hash_key("abc", hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_scopes(void **state)
{
    auth_ctx a;

    (void)state;
    memset(&a, 0, sizeof a);
    str_copy(a.scopes, sizeof a.scopes, "query,export");
    assert_true(auth_has_scope(&a, "query"));
    assert_true(auth_has_scope(&a, "export"));
    assert_false(auth_has_scope(&a, "admin"));
    assert_false(auth_has_scope(&a, "quer"));
    assert_false(auth_has_scope(&a, "export,"));
    assert_true(auth_has_scope(&a, NULL));
    assert_true(auth_has_scope(&a, ""));
}

static void test_check_refuses_without_lookup(void **state)
{
    auth_ctx a;
    t2err e;

    (void)state;
    err_clear(&e);
    assert_int_equal(auth_check(NULL, NULL, "query", &a, &e), -1);
    assert_int_equal(e.code, E_UNAUTHORIZED);
    assert_int_equal(auth_check(NULL, "short", "query", &a, &e), -1);
    assert_int_equal(e.code, E_UNAUTHORIZED);
    assert_int_equal(auth_check(NULL, "t2k_has space in it", "query", &a, &e), -1);
    assert_int_equal(e.code, E_UNAUTHORIZED);
    assert_null(strstr(e.detail, "space"));
}

static void test_local_rate_limit(void **state)
{
    auth_ctx a, b;
    long ra = 0;
    t2err e;
    int i;

    (void)state;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    str_copy(a.owner, sizeof a.owner, "key:unit-a");
    str_copy(b.owner, sizeof b.owner, "key:unit-b");
    a.limit_per_min = b.limit_per_min = 5;
    for (i = 0; i < 5; i++)
        assert_int_equal(auth_rate_limit(NULL, &a, &ra, &e), 0);
    assert_int_equal(auth_rate_limit(NULL, &a, &ra, &e), -1);
    assert_int_equal(e.code, E_RATE_LIMITED);
    assert_true(ra >= 1 && ra <= 13);
    assert_int_equal(e.retry_after, (int)ra);
    assert_int_equal(auth_rate_limit(NULL, &b, &ra, &e), 0); /* buckets are per owner */
    a.limit_per_min = 0;                                     /* unlimited */
    for (i = 0; i < 100; i++)
        assert_int_equal(auth_rate_limit(NULL, &a, &ra, &e), 0);
}

static int parse(const char *s, json_object **j, t2err *e)
{
    return body_parse(s, strlen(s), j, e);
}

static void test_body(void **state)
{
    json_object *j;
    t2err e;
    char deep[200], nul[] = "{\"a\":1}\0x";
    int i;

    (void)state;
    assert_int_equal(parse("{\"question\": \"hi\"}", &j, &e), 0);
    assert_non_null(j);
    json_object_put(j);
    assert_int_equal(parse(" {}\r\n ", &j, &e), 0);
    json_object_put(j);
    assert_int_equal(parse("", &j, &e), -1);
    assert_int_equal(e.code, E_BAD_JSON);
    assert_int_equal(parse("{} x", &j, &e), -1);
    assert_int_equal(e.code, E_BAD_JSON);
    assert_null(j);
    assert_int_equal(parse("{\"a\":", &j, &e), -1);
    assert_int_equal(e.code, E_BAD_JSON);
    assert_int_equal(parse("null", &j, &e), -1);
    assert_int_equal(e.code, E_VALIDATION);
    assert_string_equal(e.field, "body");
    assert_int_equal(parse("[1,2]", &j, &e), -1);
    assert_int_equal(e.code, E_VALIDATION);
    assert_int_equal(parse("42", &j, &e), -1);
    assert_int_equal(e.code, E_VALIDATION);
    assert_int_equal(parse("\"s\"", &j, &e), -1);
    assert_int_equal(e.code, E_VALIDATION);
    assert_int_equal(body_parse(nul, sizeof nul - 1, &j, &e), -1);
    assert_int_equal(e.code, E_BAD_JSON);
    for (i = 0; i < 40; i++)
        deep[i] = '[';
    deep[i] = '\0';
    assert_int_equal(parse(deep, &j, &e), -1);
    assert_int_equal(e.code, E_BAD_JSON);
}

static void test_conf_buffer(void **state)
{
    const char *t = "# comment\nworkers = 3\n db_name = \"a b\"\n[section]\n"
                    "llm_base_url = http://x/v1/chat/completions";
    char err[256];
    conf c;

    (void)state;
    assert_int_equal(conf_load_buffer(t, strlen(t), &c, err, sizeof err), 0);
    assert_int_equal(c.workers, 3);
    assert_string_equal(c.db_name, "a b");
    assert_string_equal(c.llm_base_url, "http://x/v1");
    assert_true(c.guard_enabled);
    conf_free(&c);
    assert_int_equal(conf_load_buffer("workers = -1\n", 13, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "buffer:1"));
    assert_int_equal(conf_load_buffer("nope\n", 5, &c, err, sizeof err), -1);
    assert_int_equal(conf_load_buffer("a = b", 5, &c, err, sizeof err), -1);
    assert_int_equal(conf_load_buffer("workers = 2\nworkers = 9", 11, &c, err, sizeof err), 0);
    assert_int_equal(c.workers, 2); /* len is respected */
    conf_free(&c);
    assert_int_equal(conf_load_buffer(NULL, 0, &c, err, sizeof err), 0);
    conf_free(&c);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_key_from_headers), cmocka_unit_test(test_hash),
             cmocka_unit_test(test_scopes), cmocka_unit_test(test_check_refuses_without_lookup),
             cmocka_unit_test(test_local_rate_limit), cmocka_unit_test(test_body),
             cmocka_unit_test(test_conf_buffer))
