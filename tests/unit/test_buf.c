/* test_buf -- growable buffers: appends, growth, the hard maximum, JSON escaping, steal,
 * and the bounded string helpers str_copy and str_to_long. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "buf.h"

static void test_appends(void **state)
{
    buf b = BUF_INIT(0);

    (void)state;
    assert_string_equal(buf_cstr(&b), "");
    assert_int_equal(buf_adds(&b, "abc"), 0);
    assert_int_equal(buf_addc(&b, '-'), 0);
    assert_int_equal(buf_add(&b, "xyz\0q", 5), 0);
    assert_int_equal(b.len, 9);
    assert_memory_equal(b.p, "abc-xyz\0q", 10); /* content, then the terminating NUL */
    assert_int_equal(buf_add(&b, NULL, 0), 0);
    assert_int_equal(b.len, 9);
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(buf_cstr(&b), "");
    assert_non_null(b.p); /* reset keeps the allocation */
    buf_free(&b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
}

static void test_printf_growth(void **state)
{
    buf b = BUF_INIT(0);
    char want[1200];
    size_t i;

    (void)state;
    assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(buf_cstr(&b), "42-x");
    /* one formatted piece longer than the 256-byte stack buffer */
    for (i = 0; i < 1000; i++)
        want[i] = (char)('a' + i % 26);
    want[1000] = '\0';
    assert_int_equal(buf_printf(&b, "[%s]", want), 0);
    assert_int_equal(b.len, 4 + 1002);
    assert_memory_equal(b.p, "42-x[", 5);
    assert_memory_equal(b.p + 5, want, 1000);
    assert_string_equal(b.p + 1005, "]");
    /* exactly 255 and 256 characters: the boundary of the stack buffer */
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%.*s", 255, want), 0);
    assert_int_equal(b.len, 255);
    assert_int_equal(buf_printf(&b, "%.*s", 256, want), 0);
    assert_int_equal(b.len, 511);
    assert_memory_equal(b.p + 255, want, 256);
    assert_int_equal(b.p[511], '\0');
    buf_free(&b);
}

static void test_hard_max(void **state)
{
    buf b = BUF_INIT(10);
    char big[300];

    (void)state;
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(buf_adds(&b, "123456"), 0);
    assert_int_equal(buf_adds(&b, "78901"), -1); /* 11 > 10 */
    assert_int_equal(b.len, 6);
    assert_string_equal(buf_cstr(&b), "123456");
    assert_int_equal(buf_printf(&b, "%s", "abcde"), -1);
    assert_string_equal(buf_cstr(&b), "123456");
    assert_int_equal(buf_printf(&b, "%s", big), -1); /* the long printf path */
    assert_string_equal(buf_cstr(&b), "123456");
    assert_int_equal(buf_adds(&b, "7890"), 0); /* exactly max */
    assert_int_equal(b.len, 10);
    assert_int_equal(buf_addc(&b, 'x'), -1);
    assert_string_equal(buf_cstr(&b), "1234567890");
    assert_true(b.cap <= 11); /* never allocates past max + NUL */
    buf_free(&b);
}

static void test_json_escape_atomic_at_max(void **state)
{
    buf b = BUF_INIT(12);

    (void)state;
    assert_int_equal(buf_adds(&b, "k:"), 0);
    /* "\"abc\\ndef\\u0001\"" is 16 bytes: too much, and nothing of it may stay */
    assert_int_equal(buf_add_json_cstr(&b, "abc\ndef\001"), -1);
    assert_string_equal(buf_cstr(&b), "k:");
    assert_int_equal(buf_add_json_cstr(&b, "abc\n"), 0);
    assert_string_equal(buf_cstr(&b), "k:\"abc\\n\"");
    buf_free(&b);
}

static void test_json_escape(void **state)
{
    static const unit_text_num_text cases[] = {
        {"", 0, "\"\""},
        {"plain", 5, "\"plain\""},
        {"a\"b", 3, "\"a\\\"b\""},
        {"a\\b", 3, "\"a\\\\b\""},
        {"\n\r\t", 3, "\"\\n\\r\\t\""},
        {"\x01\x1f\x08\x0c", 4, "\"\\u0001\\u001f\\u0008\\u000c\""},
        {"\x7f", 1, "\"\x7f\""},
        {"a\0b", 3, "\"a\\u0000b\""},
        {"caf\xc3\xa9", 5, "\"caf\xc3\xa9\""},           /* é */
        {"\xe2\x82\xac", 3, "\"\xe2\x82\xac\""},         /* € */
        {"\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""}, /* 😀 */
        {"a\xff"
         "b",
         3,
         "\"a\xef\xbf\xbd"
         "b\""},                                                         /* never valid */
        {"\xc3", 1, "\"\xef\xbf\xbd\""},                                 /* truncated */
        {"\xc3(", 2, "\"\xef\xbf\xbd(\""},                               /* bad continuation */
        {"\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""},                 /* overlong */
        {"\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* surrogate */
        {"\xf4\x90\x80\x80", 4,
         "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* > U+10FFFF */
        {"\x80", 1, "\"\xef\xbf\xbd\""},                          /* lone continuation */
        {"x</script>", 10, "\"x</script>\""},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b = BUF_INIT(0);
        assert_int_equal(buf_add_json_str(&b, cases[i].text, cases[i].num), 0);
        assert_string_equal(buf_cstr(&b), cases[i].want);
        buf_free(&b);
    }
}

static void test_json_cstr_appends(void **state)
{
    buf b = BUF_INIT(0);

    (void)state;
    assert_int_equal(buf_adds(&b, "{\"k\":"), 0);
    assert_int_equal(buf_add_json_cstr(&b, "v\"1"), 0);
    assert_int_equal(buf_addc(&b, '}'), 0);
    assert_string_equal(buf_cstr(&b), "{\"k\":\"v\\\"1\"}");
    buf_free(&b);
}

static void test_steal(void **state)
{
    buf b = BUF_INIT(0);
    char *s;

    (void)state;
    s = buf_steal(&b); /* empty: still a string the caller frees */
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(buf_adds(&b, "owned"), 0);
    s = buf_steal(&b);
    assert_string_equal(s, "owned");
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_string_equal(buf_cstr(&b), "");
    free(s);
    assert_int_equal(buf_adds(&b, "again"), 0); /* usable after steal */
    assert_string_equal(buf_cstr(&b), "again");
    buf_free(&b);
}

static void test_str_copy(void **state)
{
    char d[6];

    (void)state;
    assert_int_equal(str_copy(d, sizeof d, "hello"), 0);
    assert_string_equal(d, "hello");
    assert_int_equal(str_copy(d, sizeof d, "hello!"), -1);
    assert_string_equal(d, "hello");
    assert_int_equal(str_copy(d, sizeof d, ""), 0);
    assert_string_equal(d, "");
    assert_int_equal(str_copy(d, 1, "x"), -1);
    assert_string_equal(d, "");
    d[0] = 'q';
    assert_int_equal(str_copy(d, 0, "x"), -1);
    assert_int_equal(d[0], 'q'); /* dstlen 0: nothing written */
}

static void test_str_to_long(void **state)
{
    static const struct {
        const char *s;
        long min, max;
        int rc;
        long v;
    } cases[] = {
        {"0", 0, 10, 0, 0},
        {"10", 0, 10, 0, 10},
        {"11", 0, 10, -1, 0},
        {"-1", 0, 10, -1, 0},
        {"-1", -1, 10, 0, -1},
        {"+7", 0, 10, 0, 7},
        {"", 0, 10, -1, 0},
        {"abc", 0, 10, -1, 0},
        {"12abc", 0, 100, -1, 0},
        {"1 ", 0, 10, -1, 0},
        {"1.5", 0, 10, -1, 0},
        {"0x10", 0, 100, -1, 0},
        {"-", -10, 10, -1, 0},
        {"9223372036854775807", 0, LONG_MAX, 0, LONG_MAX},
        {"9223372036854775808", 0, LONG_MAX, -1, 0},
        {"-9223372036854775809", LONG_MIN, 0, -1, 0},
        {"4294967296", 0, 4294967296L, 0, 4294967296L},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long v = 12345;
        int rc = str_to_long(cases[i].s, cases[i].min, cases[i].max, &v);
        assert_int_equal(rc, cases[i].rc);
        assert_int_equal(v, rc == 0 ? cases[i].v : 12345); /* untouched on failure */
    }
    assert_int_equal(str_to_long(NULL, 0, 10, &(long){0}), -1);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_appends), cmocka_unit_test(test_printf_growth),
             cmocka_unit_test(test_hard_max), cmocka_unit_test(test_json_escape_atomic_at_max),
             cmocka_unit_test(test_json_escape), cmocka_unit_test(test_json_cstr_appends),
             cmocka_unit_test(test_steal), cmocka_unit_test(test_str_copy),
             cmocka_unit_test(test_str_to_long))
