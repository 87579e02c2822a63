/* test_fwd -- path prefixes (base_path, X-Forwarded-Prefix) and forwarded values for logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "fwd.h"

static void test_strip(void **state)
{
    static const struct {
        const char *path, *base, *hdr, *want;
    } cases[] = {
        {"/prod/query", "/prod", NULL, "/query"},
        {"/prod/export/status/x", "/prod", NULL, "/export/status/x"},
        {"/prod", "/prod", NULL, "/"},
        {"/query", "/prod", NULL, "/query"}, /* without the prefix: as it is */
        {"/production/query", "/prod", NULL, "/production/query"}, /* whole segments only */
        {"/prodquery", "/prod", NULL, "/prodquery"},
        {"/a/b/query", "/a/b", NULL, "/query"},
        {"/query", "", NULL, "/query"},
        {"/stage/query", "", "/stage", "/query"},      /* the header, when base_path is not set */
        {"/stage/query", "", "/stage/", "/query"},     /* trailing '/' ignored */
        {"/stage/query", "/prod", "/stage", "/query"}, /* base_path first, then the header */
        {"/prod/query", "/prod", "/prod", "/query"},   /* stripped once, not twice */
        {"/query", "", "/stage", "/query"},            /* a proxy that stripped it already */
        {"/stage/query", "", "stage", "/stage/query"}, /* not a path */
        {"/st age/query", "", "/st age", "/st age/query"},
        {"/s%2f/query", "", "/s%2f", "/s%2f/query"},
        {"/../query", "", "/..", "/../query"},
        {"//query", "", "//", "//query"},
        {"/x/query", "", "", "/x/query"},
        {"/x/query", "", "/", "/x/query"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = fwd_strip(cases[i].path, cases[i].base, cases[i].hdr);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: %s (base %s, header %s) -> %s, want %s", i, cases[i].path,
                     cases[i].base, cases[i].hdr ? cases[i].hdr : "none", got, cases[i].want);
    }
}

static void test_strip_long_header(void **state)
{
    char hdr[300], path[320];

    (void)state;
    memset(hdr, 'a', sizeof hdr - 1);
    hdr[0] = '/';
    hdr[sizeof hdr - 1] = '\0';
    snprintf(path, sizeof path, "%s/query", hdr);
    assert_string_equal(fwd_strip(path, "", hdr), path); /* over 256 bytes: not used */
    hdr[200] = '\0';
    snprintf(path, sizeof path, "%s/query", hdr);
    assert_string_equal(fwd_strip(path, "", hdr), "/query");
}

static void test_log_value(void **state)
{
    char out[32];

    (void)state;
    fwd_log_value(out, sizeof out, "203.0.113.7, 10.0.0.1");
    assert_string_equal(out, "203.0.113.7, 10.0.0.1");
    fwd_log_value(out, sizeof out, "[2001:db8::1]:443");
    assert_string_equal(out, "[2001:db8::1]:443");
    fwd_log_value(out, sizeof out, "x\" req=forged\n\x01");
    assert_string_equal(out, "x? req?forged??");
    fwd_log_value(out, sizeof out, NULL);
    assert_string_equal(out, "-");
    fwd_log_value(out, sizeof out, "");
    assert_string_equal(out, "-");
    fwd_log_value(out, 8, "https-and-more");
    assert_string_equal(out, "https-a");
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_strip), cmocka_unit_test(test_strip_long_header),
             cmocka_unit_test(test_log_value))
