/* test_rcache -- which SQL the result cache refuses by its words (volatile and clock
 * functions), and that nothing is cacheable with the cache off. Keys, versions and the
 * entries in Redis are tested end to end in tests/integration/test_result_cache.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "rcache.h"

static void test_volatile_words(void **state)
{
    static const unit_text_num cases[] = {
        {"SELECT id FROM t", 0},
        {"SELECT random() FROM t", 1},
        {"SELECT RANDOM ( ) FROM t", 1},
        {"SELECT * FROM t WHERE d > now() - interval '1 day'", 1},
        {"SELECT * FROM t WHERE d = CURRENT_DATE", 1},
        {"SELECT clock_timestamp()", 1},
        {"SELECT nextval('s')", 1},
        {"SELECT gen_random_uuid()", 1},
        {"SELECT age(d) FROM t", 1},
        {"SELECT randomness, nowhere, current_dates FROM t", 0}, /* whole words only */
        {"SELECT count(*), sum(x), max(d) FROM t GROUP BY 1", 0},
        {"SELECT \"Now\" FROM t", 1}, /* a column of that name too: only less caching */
        {"", 0},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (rcache_volatile_words(cases[i].text) != cases[i].want)
            fail_msg("%s: expected %d", cases[i].text, cases[i].want);
    }
}

static void test_off_means_never(void **state)
{
    conf cf;
    guard_policy p;
    rcache *rc;
    rc_req q = {"SELECT id FROM t", 1, 10, 0, 0, ""};
    char key[80] = "";
    (void)state;
    memset(&cf, 0, sizeof cf);
    memset(&p, 0, sizeof p);
    cf.result_cache = 0;
    rc = rcache_new(&cf, &p);
    assert_non_null(rc);
    /* no connection is touched when the cache is off */
    assert_int_equal(rcache_key(rc, (pgc *)(uintptr_t)1, &q, key), 0);
    assert_string_equal(key, "");
    rcache_free(rc);
}

static void test_entry_misses_without_redis(void **state)
{
    rc_entry e;
    (void)state;
    rc_entry_init(&e);
    assert_int_equal(rcache_get(NULL, "t2:rc:x", -1, &e), 0);
    rcache_put(NULL, "t2:rc:x", &e, 10, 100); /* dropped, no crash */
    assert_int_equal(e.total, -1);
    rc_entry_free(&e);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_volatile_words),
             cmocka_unit_test(test_off_means_never),
             cmocka_unit_test(test_entry_misses_without_redis))
