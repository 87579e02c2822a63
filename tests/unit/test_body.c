/* test_body -- body_parse() against bodies that are not strict JSON (each refused as
 * bad_json, saying why) and strict edge cases (accepted with the values they spell), and
 * body_text() against question text. Table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "body.h"

/* A body with its length (some hold NUL bytes) and what the refusal must say. */
typedef struct bcase {
    const char *body;
    size_t len; /* 0: strlen(body) */
    const char *why;
} bcase;

#define B(s, why)                                                                                  \
    {                                                                                              \
        s, sizeof(s) - 1, why                                                                      \
    }

static const bcase refused[] = {
    B("{'question':'x'}", "single quotes"),
    B("{\"question\":'x'}", "single quotes"),
    B("{\"question\":\"x\" /* comment */}", "comments"),
    B("{\"question\":\"x\"} // comment", "comments"),
    B("{\"question\":\"x\",}", "not valid JSON"),
    B("{\"question\":[1,2,],\"page\":1}", "not valid JSON"),
    B("{question:\"x\"}", "bare word"),
    B("{\"page\":NaN}", "bare word"),
    B("{\"page\":Infinity}", "bare word"),
    B("{\"page\":-Infinity}", "must start with a digit"),
    B("{\"page\":012}", "leading zero"),
    B("{\"page\":00}", "leading zero"),
    B("{\"page\":-01}", "leading zero"),
    B("{\"page\":0x1f}", "hex"),
    B("{\"page\":1.}", "after its decimal point"),
    B("{\"page\":.5}", "unexpected character"),
    B("{\"page\":+1}", "unexpected character"),
    B("{\"page\":1e}", "exponent"),
    B("{\"page\":True}", "bare word"),
    B("{\"question\":\"a\tb\"}", "control character"),
    B("{\"question\":\"a\nb\"}", "control character"),
    B("{\"question\":\"a\x01"
      "b\"}",
      "control character"),
    B("{\"a\":{\"q\":\"\xff\"}}", "UTF-8"),
    B("{\"a\":{\"q\":\"\xc0\xaf\"}}", "UTF-8"),         /* overlong '/' */
    B("{\"a\":{\"q\":\"\xed\xa0\x80\"}}", "UTF-8"),     /* a surrogate, encoded */
    B("{\"a\":{\"q\":\"\xf4\x90\x80\x80\"}}", "UTF-8"), /* past U+10FFFF */
    B("{\"a\":{\"q\":\"\xe2\x82\"}}", "UTF-8"),         /* truncated */
    B("{\"a\":{\"q\":\"\\ud800\"}}", "unpaired surrogate"),
    B("{\"a\":{\"q\":\"\\udc00x\"}}", "unpaired surrogate"),
    B("{\"question\":\"\\u0000\"}", "\\u0000"),
    B("{\"question\":\"\\x41\"}", "invalid escape"),
    B("{\"question\":\"\\'\"}", "invalid escape"),
    B("{\"question\":\"x\",\"question\":\"y\"}", "repeats a key"),
    B("{\"a\":{\"k\":1,\"k\":2}}", "repeats a key"),
    B("{\"question\":\"x\"} x", "bare word"),
    B("{\"question\":\"x\"}{}", "not valid JSON"),
    B("{\"question\":\"x\"}\x00", "unexpected character"),
    B("{\"question\":\"x\x00y\"}", "control character"),
    B("\xef\xbb\xbf\xef\xbb\xbf{}", "byte order mark"),
    B("{\"question\":\"x\"}\xef\xbb\xbf", "byte order mark"),
    B("{\"question\":\"unterminated}", "not terminated"),
    B("{\"question\" \"x\"}", "not valid JSON"),
    B("", "empty"),
    B("\xef\xbb\xbf", "empty"),
};

/* body_parse refuses body[0..len) (case i of table), leaving *out NULL, with e saying why;
 * 0 (printed) if it accepted it or set *out. */
static int refuses(const char *table, size_t i, const char *body, size_t len, t2err *e)
{
    json_object *j = (json_object *)1;

    memset(e, 0, sizeof *e);
    if (body_parse(body, len, &j, e) == 0) {
        print_message("%s %zu: accepted: %s\n", table, i, body);
        json_object_put(j);
        return 0;
    }
    if (j) print_message("%s %zu: refused, but the object was set\n", table, i);
    return j == NULL;
}

/* A top-level member whose string is not Unicode text is the client's field, sent wrongly:
 * 422 naming it. Deeper, or in a key, the body itself is refused (400). */
static const struct {
    const char *body, *field; /* field NULL: E_BAD_JSON */
} not_text[] = {
    {"{\"question\":\"caf\xe9\"}", "question"},
    {"{\"page\":1, \"question\" : \"\xff\xfe x\"}", "question"},
    {"{\"question\":\"\xed\xb2\x80\"}", "question"},
    {"{\"question\":\"x \\udc80\"}", "question"},
    {"{\"question\":\"\\ud800 x\"}", "question"},
    {"{\"sql\":\"SELECT \xc0\xaf\"}", "sql"},
    {"{\"q\xff\":\"x\"}", NULL},
    {"{\"a\":[\"\xff\"]}", NULL},
    {"[\"\xff\"]", NULL},
    {"{\"a\":{\"question\":\"\xff\"}}", NULL},
};

/* Both tables refused, each as it says. */
static void test_refused(void **state)
{
    t2err e;
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (!refuses("refused", i, refused[i].body, refused[i].len, &e)) {
            failures++;
        } else if (e.code != E_BAD_JSON || !strstr(e.detail, refused[i].why)) {
            print_message("refused %zu: code %d, \"%s\" does not say \"%s\"\n", i, (int)e.code,
                          e.detail, refused[i].why);
            failures++;
        }
    }
    /* a member whose string is not Unicode text */
    for (i = 0; i < sizeof not_text / sizeof not_text[0]; i++) {
        if (!refuses("not_text", i, not_text[i].body, strlen(not_text[i].body), &e)) {
            failures++;
        } else if (not_text[i].field
                       ? e.code != E_VALIDATION || strcmp(e.field, not_text[i].field) != 0
                       : e.code != E_BAD_JSON) {
            print_message("not_text %zu: code %d field \"%s\": %s\n", i, (int)e.code, e.field,
                          e.detail);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* Strict edge cases: accepted, and the value of "v" is what the text spells. */
static const struct {
    const char *body;
    const char *v; /* "v" as json-c writes it back (JSON_C_TO_STRING_PLAIN) */
} accepted[] = {
    {"{\"v\":\"\\u00e9\\u20ac\\ud83d\\ude00\"}", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
    {"{\"v\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
     "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
    {"{\"v\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""},
    {"{\"v\":\"\\u001f\\u007f\"}", "\"\\u001f\x7f\""},
    {" \t\r\n{ \"v\" : [ 1 , 2 ] } \r\n\t ", "[1,2]"},
    {"{\"v\":123456789012345678901234567890}", "18446744073709551615"},
    {"{\"v\":-9223372036854775808}", "-9223372036854775808"},
    {"{\"v\":1e400}", "1e400"},
    {"{\"v\":-0.5E-3}", "-0.5E-3"},
    {"{\"v\":0}", "0"},
    {"{\"v\":-0}", "0"},
    {"{\"v\":[true,false,null]}", "[true,false,null]"},
    {"{\"v\":{\"a\":{\"a\":1},\"b\":{\"a\":2}}}", "{\"a\":{\"a\":1},\"b\":{\"a\":2}}"},
    {"{\"v\":\"' /* not a comment */ NaN,\"}", "\"' \\/* not a comment *\\/ NaN,\""},
    {"\xef\xbb\xbf{\"v\":1}", "1"},
    {"{\"v\":\"\xef\xbb\xbf\"}", "\"\xef\xbb\xbf\""},
    {"{\"\":1,\"v\":\"\"}", "\"\""},
};

static void test_accepted(void **state)
{
    json_object *j, *v;
    t2err e;
    size_t i;
    int failures = 0;
    const char *got;

    (void)state;
    for (i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        memset(&e, 0, sizeof e);
        if (body_parse(accepted[i].body, strlen(accepted[i].body), &j, &e) != 0) {
            print_message("accepted %zu: refused (%s): %s\n", i, e.detail, accepted[i].body);
            failures++;
            continue;
        }
        got = json_object_object_get_ex(j, "v", &v)
                  ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)
                  : "(none)";
        if (strcmp(got, accepted[i].v) != 0) {
            print_message("accepted %zu: v is %s, not %s\n", i, got, accepted[i].v);
            failures++;
        }
        json_object_put(j);
    }
    assert_int_equal(failures, 0);
}

/* Nesting: BODY_MAX_DEPTH levels of brackets (the body's object and arrays in it) parse,
 * one more does not. */
static void test_depth(void **state)
{
    char deep[2 * BODY_MAX_DEPTH + 16];
    json_object *j;
    t2err e;
    int d, i;

    (void)state;
    for (d = BODY_MAX_DEPTH; d <= BODY_MAX_DEPTH + 1; d++) {
        deep[0] = '{';
        memcpy(deep + 1, "\"a\":", 4);
        for (i = 0; i < d - 1; i++)
            deep[5 + i] = '[';
        deep[5 + i] = '1';
        for (i = 0; i < d - 1; i++)
            deep[6 + d - 1 + i] = ']';
        deep[6 + 2 * (d - 1)] = '}';
        deep[7 + 2 * (d - 1)] = '\0';
        memset(&e, 0, sizeof e);
        if (d == BODY_MAX_DEPTH) {
            assert_int_equal(body_parse(deep, strlen(deep), &j, &e), 0);
            json_object_put(j);
        } else {
            assert_int_equal(body_parse(deep, strlen(deep), &j, &e), -1);
            assert_int_equal(e.code, E_BAD_JSON);
            assert_non_null(strstr(e.detail, "nest deeper than"));
        }
    }
}

static const struct {
    const char *text;
    size_t len; /* 0: strlen */
    int ok;
} texts[] = {
    {"How many members joined in 2024?", 0, 1},
    {"  spaces,\ttabs,\r\nnew lines  ", 0, 1},
    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad\xe6\x96\x87", 0, 1},
    {"a\x01"
     "b",
     0, 0},
    {"bell\a", 0, 0},
    {"escape \x1b[31m red", 0, 0},
    {"form\ffeed", 0, 0},
    {"vertical\vtab", 0, 0},
    {"delete\x7f", 0, 0},
    {"c1 \xc2\x85 next line", 0, 0},
    {"c1 \xc2\x9f", 0, 0},
    {"nbsp\xc2\xa0ok", 0, 1},
    {"nul\0inside", 11, 0},
    {"bad \xff byte", 0, 0},
    {"overlong \xc0\xaf", 0, 0},
    {"surrogate \xed\xa0\x80", 0, 0},
    {"truncated \xe2\x82", 0, 0},
};

static void test_text(void **state)
{
    t2err e;
    size_t i, n;
    int rc, failures = 0;

    (void)state;
    for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        memset(&e, 0, sizeof e);
        n = texts[i].len ? texts[i].len : strlen(texts[i].text);
        rc = body_text("question", texts[i].text, n, &e);
        if ((rc == 0) != texts[i].ok ||
            (rc && (e.code != E_VALIDATION || strcmp(e.field, "question") != 0))) {
            print_message("text %zu: rc %d code %d field %s (%s)\n", i, rc, (int)e.code, e.field,
                          e.detail);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_refused), cmocka_unit_test(test_accepted),
             cmocka_unit_test(test_depth), cmocka_unit_test(test_text))
