/* test_glossary -- the glossary file format (conf/glossary) and matching of terms against
 * questions: stemming, multi-word terms, longer terms first, whole words only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"

#include "glossary.h"

static int find_term(const glossary *g, const char *term)
{
    int i;

    for (i = 0; i < g->n; i++)
        if (strcmp(g->e[i].term, term) == 0) return i;
    return -1;
}

static void test_shipped_file(void **state)
{
    glossary *g = glossary_new();
    t2err err;
    int i;

    (void)state;
    assert_int_equal(glossary_load_file(g, "conf/glossary", &err), 0);
    assert_true(g->n >= 8); /* the shipped terms below, and whatever is added later */
    i = find_term(g, "active sales");
    assert_true(i >= 0);
    assert_string_equal(g->e[i].tables, "ticket_sales");
    assert_string_equal(g->e[i].filter,
                        "(ticket_sales.status = 'active' OR ticket_sales.payment_status = 'paid')");
    i = find_term(g, "ticketing");
    assert_true(i >= 0);
    assert_null(g->e[i].filter); /* empty fourth field */
    assert_non_null(strstr(g->e[i].hint, "sale_date"));
    glossary_free(g);
}

static void test_file_format(void **state)
{
    glossary *g = glossary_new();
    t2err err;
    char path[64];

    (void)state;
    unit_write_tmp(path, "gloss",
                   "# comment line\n"
                   "\n"
                   "   # indented comment\n"
                   "  vip  |  customers , orders |  big spenders  |  customers.tier = 'vip'  \n"
                   "three | t | just a hint\n"
                   "no tables |  | hint without tables\n"
                   "concat | t | hint | a || b\n");
    assert_int_equal(glossary_load_file(g, path, &err), 0);
    unlink(path);
    assert_int_equal(g->n, 4);
    assert_string_equal(g->e[0].term, "vip");
    assert_string_equal(g->e[0].tables, "customers , orders");
    assert_string_equal(g->e[0].hint, "big spenders");
    assert_string_equal(g->e[0].filter, "customers.tier = 'vip'");
    assert_string_equal(g->e[1].hint, "just a hint");
    assert_null(g->e[1].filter);
    assert_string_equal(g->e[2].tables, "");
    assert_string_equal(g->e[3].filter, "a || b"); /* the filter is the rest of the line */
    glossary_free(g);
}

static void test_file_errors(void **state)
{
    static const unit_text_num cases[] = {
        {"ok | t | h\nonly | two\n", 2},
        {"# c\n\njust a term\n", 3},
        {" | t | hint without a term\n", 1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        glossary *g = glossary_new();
        t2err err;
        char path[64], where[96];
        unit_write_tmp(path, "gloss", cases[i].text);
        err_clear(&err);
        assert_int_equal(glossary_load_file(g, path, &err), -1);
        snprintf(where, sizeof where, "%s:%d:", path, cases[i].want);
        assert_non_null(strstr(err.detail, where));
        unlink(path);
        glossary_free(g);
    }
}

static void test_long_line(void **state)
{
    static char text[6000];
    glossary *g = glossary_new();
    t2err err;
    char path[64], where[96];
    size_t i = (size_t)snprintf(text, sizeof text, "ok | t | h\nlong | t | ");

    (void)state;
    memset(text + i, 'h', 5000);
    snprintf(text + i + 5000, sizeof text - i - 5000, " | x | y\n");
    unit_write_tmp(path, "gloss", text);
    err_clear(&err);
    assert_int_equal(glossary_load_file(g, path, &err), -1);
    snprintf(where, sizeof where, "%s:2:", path);
    assert_non_null(strstr(err.detail, where));
    assert_non_null(strstr(err.detail, "too long"));
    unlink(path);
    glossary_free(g);
}

static void test_missing_file(void **state)
{
    glossary *g = glossary_new();
    t2err err;

    (void)state;
    assert_int_equal(glossary_load_file(g, "/nonexistent/glossary", &err), 0);
    assert_int_equal(glossary_load_file(g, "", &err), 0);
    assert_int_equal(glossary_load_file(g, NULL, &err), 0);
    assert_int_equal(g->n, 0);
    glossary_free(g);
}

static glossary *demo(void)
{
    glossary *g = glossary_new();

    assert_int_equal(glossary_add(g, "member", "h", "customers", NULL), 0);            /* 0 */
    assert_int_equal(glossary_add(g, "membership holder", "h", "customers", ""), 0);   /* 1 */
    assert_int_equal(glossary_add(g, "ticketing", "h", "ticket_sales", NULL), 0);      /* 2 */
    assert_int_equal(glossary_add(g, "ticket revenue", "h", "ticket_sales", NULL), 0); /* 3 */
    assert_int_equal(glossary_add(g, "active sales", "h", "ticket_sales", "x"), 0);    /* 4 */
    assert_int_equal(glossary_add(g, "merch", "h", "merch_orders", NULL), 0);          /* 5 */
    assert_int_equal(glossary_add(g, "year over year growth", "h", NULL, NULL), 0);    /* 6 */
    assert_null(g->e[1].filter); /* "" filter is no filter */
    assert_string_equal(g->e[6].tables, "");
    return g;
}

static void test_match(void **state)
{
    static const struct {
        const char *q;
        int n;
        int idx[4];
    } cases[] = {
        {"how many membership holders live in Pune", 1, {1}},
        {"Membership-Holders by city", 1, {1}},
        {"list members", 1, {0}},
        {"memberships sold", 0, {0}}, /* no partial words */
        {"who should I remember", 0, {0}},
        {"holder of a membership", 0, {0}},     /* words must be consecutive */
        {"ticket revenue by month", 2, {3, 2}}, /* longer term first */
        {"active sales of members", 2, {4, 0}},
        {"merchandise totals", 0, {0}},
        {"Year-over-year growth of merch", 2, {6, 5}},
        {"", 0, {0}},
    };
    glossary *g = demo();
    size_t i;
    int j;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int idx[8];
        int n = glossary_match(g, cases[i].q, idx, 8);
        assert_int_equal(n, cases[i].n);
        for (j = 0; j < n; j++)
            assert_int_equal(idx[j], cases[i].idx[j]);
    }
    glossary_free(g);
}

static void test_match_max_keeps_best(void **state)
{
    glossary *g = demo();
    int idx[2] = {-1, -1};

    (void)state;
    /* max 1: the longest matching term wins even though a shorter one comes first */
    assert_int_equal(glossary_match(g, "ticket revenue by month", idx, 1), 1);
    assert_int_equal(idx[0], 3);
    assert_int_equal(idx[1], -1); /* nothing written past max */
    assert_int_equal(glossary_match(g, "year over year growth of ticketing and merch", idx, 2), 2);
    assert_int_equal(idx[0], 6);
    assert_int_equal(idx[1], 2); /* ties keep file order */
    assert_int_equal(glossary_match(g, "ticket revenue", idx, 0), 0);
    glossary_free(g);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_shipped_file), cmocka_unit_test(test_file_format),
             cmocka_unit_test(test_file_errors), cmocka_unit_test(test_long_line),
             cmocka_unit_test(test_missing_file), cmocka_unit_test(test_match),
             cmocka_unit_test(test_match_max_keeps_best))
