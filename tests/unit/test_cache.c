/* test_cache -- with no Redis listening every call is a fast miss (or -1), never an error or
 * a hang; cache_key_hash is a deterministic sha256 that keeps its parts apart; a key read
 * ahead is served once, in the same request, and dropped by a write or cache_ahead_drop()
 * (against the test stack's Redis, T2SQL_TEST_REDIS_PORT; skipped without it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "unit.h"

#include "cache.h"

#define NO_REDIS_PORT 27100 /* nothing listens here */

static cache *cache_at(const char *host, long port)
{
    conf c;
    char err[256];
    cache *k;

    assert_int_equal(conf_load(NULL, &c, err, sizeof err), 0);
    free(c.redis_host);
    c.redis_host = strdup(host);
    c.redis_port = port;
    c.redis_timeout_ms = 200;
    k = cache_new(&c);
    conf_free(&c);
    assert_non_null(k);
    return k;
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* 100 calls of every kind; returns the elapsed milliseconds. */
static double hammer(cache *k)
{
    buf out = BUF_INIT(0);
    double t0 = now_ms();
    int i;

    assert_int_equal(buf_adds(&out, "keep"), 0);
    for (i = 0; i < 20; i++) {
        assert_int_equal(cache_get(k, "t2sql:test:k", &out), 0);
        cache_set(k, "t2sql:test:k", "v", 1, 60);
        cache_set(k, "t2sql:test:k", "v", 1, 0);
        cache_del(k, "t2sql:test:k");
        assert_int_equal(cache_incr(k, "t2sql:test:n", 60), -1);
        assert_int_equal(cache_ping(k), 0);
    }
    assert_string_equal(buf_cstr(&out), "keep"); /* a miss appends nothing */
    buf_free(&out);
    return now_ms() - t0;
}

static void test_redis_down_is_fast_miss(void **state)
{
    cache *k = cache_at("127.0.0.1", NO_REDIS_PORT);

    (void)state;
    assert_true(hammer(k) < 1000);
    cache_free(k);
}

static void test_redis_disabled(void **state)
{
    cache *k = cache_at("127.0.0.1", 0); /* port 0: no Redis at all */

    (void)state;
    assert_true(hammer(k) < 1000);
    cache_free(k);
}

static void test_null_cache(void **state)
{
    buf out = BUF_INIT(0);

    (void)state;
    assert_int_equal(cache_get(NULL, "k", &out), 0);
    cache_set(NULL, "k", "v", 1, 1);
    cache_del(NULL, "k");
    assert_int_equal(cache_incr(NULL, "k", 1), -1);
    assert_int_equal(cache_ping(NULL), 0);
    cache_free(NULL);
    assert_int_equal(out.len, 0);
}

static void test_key_hash(void **state)
{
    static const struct {
        const char *a, *b; /* NULL ends the list early */
        const char *want;
    } vectors[] = {
        {NULL, NULL, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", NULL, "dc1114cd074914bd872cc1f9a23ec910ea2203bc79779ab2e17da25782a624fc"},
        {"gpt-4o-mini", "how many members",
         "40bca2d1e22ef9b80cf7020980e2b77a5566575b1a82a62905de13c7799aa315"},
    };
    char h1[65], h2[65];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        cache_key_hash(h1, vectors[i].a, vectors[i].b, (const char *)NULL);
        assert_string_equal(h1, vectors[i].want);
    }
    /* deterministic */
    cache_key_hash(h1, "fp", "question", (const char *)NULL);
    cache_key_hash(h2, "fp", "question", (const char *)NULL);
    assert_string_equal(h1, h2);
    assert_int_equal(strlen(h1), 64);
    /* part boundaries count */
    cache_key_hash(h1, "ab", "c", (const char *)NULL);
    cache_key_hash(h2, "a", "bc", (const char *)NULL);
    assert_string_not_equal(h1, h2);
    cache_key_hash(h1, "abc", (const char *)NULL);
    cache_key_hash(h2, "abc", "", (const char *)NULL);
    assert_string_not_equal(h1, h2);
    cache_key_hash(h1, "a", "b", (const char *)NULL);
    cache_key_hash(h2, "b", "a", (const char *)NULL);
    assert_string_not_equal(h1, h2);
}

/* The value of key read through k ("" on a miss). */
static void get_str(cache *k, const char *key, char *dst, size_t len)
{
    buf out = BUF_INIT(0);

    cache_get(k, key, &out);
    str_copy(dst, len, buf_cstr(&out));
    buf_free(&out);
}

static void test_read_ahead(void **state)
{
    const char *port = getenv("T2SQL_TEST_REDIS_PORT");
    cache *k, *other;
    char v[32];
    (void)state;

    if (!port || !*port) {
        skip(); /* no Redis to talk to */
        return;
    }
    k = cache_at("127.0.0.1", strtol(port, NULL, 10));
    other = cache_at("127.0.0.1", strtol(port, NULL, 10));
    if (!cache_ping(k)) {
        cache_free(k);
        cache_free(other);
        skip();
        return;
    }
    cache_set(other, "t2sql:test:a", "A1", 2, 60);
    cache_set(other, "t2sql:test:b", "B1", 2, 60);
    cache_read_ahead(k, "t2sql:test:b");
    get_str(k, "t2sql:test:a", v, sizeof v);
    assert_string_equal(v, "A1");
    /* b was read with a: a change made since is not seen by this one read */
    cache_set(other, "t2sql:test:b", "B2", 2, 60);
    get_str(k, "t2sql:test:b", v, sizeof v);
    assert_string_equal(v, "B1");
    get_str(k, "t2sql:test:b", v, sizeof v); /* served once: then Redis again */
    assert_string_equal(v, "B2");
    /* dropped at the request's end, and by a write of the key */
    cache_read_ahead(k, "t2sql:test:b");
    get_str(k, "t2sql:test:a", v, sizeof v);
    cache_set(other, "t2sql:test:b", "B3", 2, 60);
    cache_ahead_drop(k);
    get_str(k, "t2sql:test:b", v, sizeof v);
    assert_string_equal(v, "B3");
    cache_read_ahead(k, "t2sql:test:b");
    get_str(k, "t2sql:test:a", v, sizeof v);
    cache_set(k, "t2sql:test:b", "B4", 2, 60);
    get_str(k, "t2sql:test:b", v, sizeof v);
    assert_string_equal(v, "B4");
    /* a read ahead of a missing key is a miss */
    cache_del(other, "t2sql:test:b");
    cache_read_ahead(k, "t2sql:test:b");
    get_str(k, "t2sql:test:a", v, sizeof v);
    get_str(k, "t2sql:test:b", v, sizeof v);
    assert_string_equal(v, "");
    cache_del(other, "t2sql:test:a");
    cache_free(k);
    cache_free(other);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_redis_down_is_fast_miss),
             cmocka_unit_test(test_redis_disabled), cmocka_unit_test(test_null_cache),
             cmocka_unit_test(test_key_hash), cmocka_unit_test(test_read_ahead))
