/* test_abbrev -- the common abbreviation table and the abbreviation test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "abbrev.h"

static void test_expand(void **state)
{
    const char *w[4];

    (void)state;
    assert_int_equal(abbrev_expand("qty", w, 4), 1);
    assert_string_equal(w[0], "quantity");
    assert_int_equal(abbrev_expand("acct", w, 4), 1); /* first entry of the table */
    assert_int_equal(abbrev_expand("ytd", w, 4), 1);  /* last */
    assert_string_equal(w[0], "year to date");
    assert_int_equal(abbrev_expand("inv", w, 4), 2); /* both meanings */
    assert_true(strcmp(w[0], w[1]) != 0);
    assert_int_equal(abbrev_expand("inv", w, 1), 1); /* max is kept */
    assert_int_equal(abbrev_expand("zzz", w, 4), 0);
    assert_int_equal(abbrev_expand("", w, 4), 0);
    assert_int_equal(abbrev_expand("customer", w, 4), 0); /* a word, not an abbreviation */
}

static void test_abbrev_of(void **state)
{
    static const char *const yes[][2] = {
        {"cust", "customer"}, {"ord", "order"},    {"hdr", "header"},
        {"mstr", "master"},   {"qty", "quantity"}, {"amt", "amount"},
        {"crdt", "credit"},   {"sgnd", "signed"},  {"calib", "calibration"},
    };
    static const char *const no[][2] = {
        {"ab", "about"},      /* too short to tell */
        {"ord", "ords"},      /* w must be two letters longer */
        {"age", "average"},   /* a vowel after the first letter: not a skeleton, not a prefix */
        {"hdr", "hidden"},    /* no r after the d */
        {"mstr", "amster"},   /* another first letter */
        {"appl", "approval"}, /* would leave out both r and v */
        {"stg", "stillwaiting"}, {"dept", "department"}, {"Cust", "customer"}, /* lower-case only */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!abbrev_of(yes[i][0], yes[i][1]))
            fail_msg("%s should abbreviate %s", yes[i][0], yes[i][1]);
    for (i = 0; i < sizeof no / sizeof no[0]; i++)
        if (abbrev_of(no[i][0], no[i][1]))
            fail_msg("%s should not abbreviate %s", no[i][0], no[i][1]);
}

static void test_abbrev_like(void **state)
{
    (void)state;
    assert_int_equal(abbrev_like("hdr"), 1);
    assert_int_equal(abbrev_like("qty"), 1);
    assert_int_equal(abbrev_like("cust"), 1); /* vowels, but in the table */
    assert_int_equal(abbrev_like("name"), 0);
    assert_int_equal(abbrev_like("order"), 0);
    assert_int_equal(abbrev_like("x"), 0);
    assert_int_equal(abbrev_like("strngth"), 0); /* seven letters: a word */
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_expand), cmocka_unit_test(test_abbrev_of),
             cmocka_unit_test(test_abbrev_like))
