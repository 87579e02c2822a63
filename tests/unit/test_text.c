/* test_text -- tokenizing identifiers and questions, the stemmer, stop words, normalising,
 * similarity and the capped edit distance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "text.h"

/* Splits s and compares with the space-joined words in want. */
static void assert_split(const char *s, int stem, const char *want)
{
    text_words tw;
    char got[512] = "";
    size_t pos = 0;
    int i;

    text_split(s, stem, &tw);
    for (i = 0; i < tw.n; i++)
        pos += (size_t)snprintf(got + pos, sizeof got - pos, "%s%s", i ? " " : "", tw.w[i]);
    assert_string_equal(got, want);
}

static void test_split(void **state)
{
    static const unit_text_num_text cases[] = {
        {"ticket_sales", 1, "ticket sale"},
        {"ticketSales", 1, "ticket sale"},
        {"ticket-sales", 1, "ticket sale"},
        {"Ticket Sales", 1, "ticket sale"},
        {"ticket_sales", 0, "ticket sales"},
        {"TicketSalesByCity", 0, "ticket sales by city"},
        {"HTTPServer", 0, "http server"}, /* an acronym ends before its last capital */
        {"UOMCode", 0, "uom code"},
        {"ItemID", 0, "item id"},
        {"tblXMLParserV2", 0, "tbl xml parser v2"},
        {"ABC", 0, "abc"},
        {"DRGs and KPIs", 0, "drgs and kpis"}, /* a plural acronym stays one word */
        {"order_2023_total", 0, "order 2023 total"},
        {"  What's the total?? ", 0, "what s the total"},
        {"", 1, ""},
        {"---___ ...", 1, ""},
        {"caf\xc3\xa9 orders", 1, "caf\xc3\xa9 order"}, /* UTF-8 bytes stay in the word */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_split(cases[i].text, (int)cases[i].num, cases[i].want);
}

static void test_split_limits(void **state)
{
    text_words tw;
    char many[1024] = "", longw[100];
    size_t pos = 0;
    int i;

    (void)state;
    for (i = 0; i < 200; i++)
        pos += (size_t)snprintf(many + pos, sizeof many - pos, "w%d ", i);
    text_split(many, 0, &tw);
    assert_int_equal(tw.n, 128); /* capacity: the rest is dropped */
    assert_string_equal(tw.w[0], "w0");
    assert_string_equal(tw.w[127], "w127");

    memset(longw, 'a', sizeof longw - 1);
    longw[sizeof longw - 1] = '\0';
    text_split(longw, 0, &tw);
    assert_int_equal(tw.n, 1);
    assert_int_equal(strlen(tw.w[0]), TEXT_WORD_MAX - 1);
}

/* Snowball English stems, as PostgreSQL's english_stem dictionary gives them
 * (SELECT ts_lexize('english_stem', w)). */
static const unit_text_text stems[] = {
    {"sales", "sale"},
    {"sale", "sale"},
    {"categories", "categori"},
    {"category", "categori"},
    {"classes", "class"},
    {"class", "class"},
    {"boxes", "box"},
    {"matches", "match"},
    {"dishes", "dish"},
    {"running", "run"},
    {"ordered", "order"},
    {"order", "order"},
    {"orders", "order"},
    {"status", "status"},
    {"analysis", "analysi"},
    {"address", "address"},
    {"addresses", "address"},
    {"customers", "custom"},
    {"booking", "book"},
    {"bookings", "book"},
    {"meetings", "meet"},
    {"stopped", "stop"},
    {"selling", "sell"},
    {"passing", "pass"},
    {"bus", "bus"},
    {"ties", "tie"},
    {"things", "thing"},
    {"cities", "citi"},
    {"months", "month"},
    {"university", "univers"},
    {"generously", "generous"},
    {"movies", "movi"},
    {"series", "seri"},
    {"news", "news"},
    {"quantity", "quantiti"},
    {"employees", "employe"},
    {"departments", "depart"},
    {"happiness", "happi"},
};

static void test_stem_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof stems / sizeof stems[0]; i++) {
        char w[TEXT_WORD_MAX];
        snprintf(w, sizeof w, "%s", stems[i].text);
        text_stem(w);
        assert_string_equal(w, stems[i].want);
    }
}

/* The memo answers as the stemmer does: a word stemmed again, after other words took slots,
 * gets the same stem; long words (past the memo's key size) and the empty word too. */
static void test_stem_memo(void **state)
{
    char w[TEXT_WORD_MAX], filler[TEXT_WORD_MAX];
    size_t i;
    int k;

    (void)state;
    for (k = 0; k < 2; k++)
        for (i = 0; i < sizeof stems / sizeof stems[0]; i++) {
            snprintf(w, sizeof w, "%s", stems[i].text);
            text_stem(w);
            assert_string_equal(w, stems[i].want);
            for (int f = 0; f < 50; f++) { /* other words between the two rounds */
                snprintf(filler, sizeof filler, "filler%zuwords%d", i, f);
                text_stem(filler);
            }
        }
    snprintf(w, sizeof w, "%s", "internationalizations");
    text_stem(w);
    assert_string_equal(w, "internation");
    snprintf(w, sizeof w, "%s", "counterrevolutionaries_and_departments");
    text_stem(w);
    assert_string_equal(w, "counterrevolutionaries_and_depart");
    w[0] = '\0';
    text_stem(w);
    assert_string_equal(w, "");
}

static void test_plural(void **state)
{
    static const char *const yes[] = {"sales", "cities", "boxes", "customers", "orders", "movies"};
    static const char *const no[] = {"sale", "city", "status", "class", "news", "bus", "s", ""};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_int_equal(text_is_plural(yes[i]), 1);
    for (i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_int_equal(text_is_plural(no[i]), 0);
}

/* A word list matched by stem: any inflection finds the word. */
static void test_wordset(void **state)
{
    static const char *const list[] = {"average", "category", "order", NULL};
    static text_wordset ws = {.words = list};
    char w[TEXT_WORD_MAX];

    (void)state;
    snprintf(w, sizeof w, "%s", "averages");
    text_stem(w);
    assert_int_equal(text_wordset_find(&ws, w), 0);
    snprintf(w, sizeof w, "%s", "categories");
    text_stem(w);
    assert_int_equal(text_wordset_find(&ws, w), 1);
    snprintf(w, sizeof w, "%s", "ordering");
    text_stem(w);
    assert_int_equal(text_wordset_find(&ws, w), 2);
    assert_int_equal(text_wordset_find(&ws, "averag"), 0);
    assert_int_equal(text_wordset_find(&ws, "average"), -1); /* a stem, not a word, is asked */
    assert_string_equal(text_wordset_stem(&ws, 1), "categori");
    assert_null(text_wordset_stem(&ws, 3));
}

static void test_stem_plural_meets_singular(void **state)
{
    static const char *const pairs[][2] = {
        {"meetings", "meeting"}, {"bookings", "booking"},    {"listings", "listing"},
        {"sales", "sale"},       {"categories", "category"}, {"orders", "ordered"},
        {"boxes", "box"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char a[TEXT_WORD_MAX], b[TEXT_WORD_MAX];
        snprintf(a, sizeof a, "%s", pairs[i][0]);
        snprintf(b, sizeof b, "%s", pairs[i][1]);
        text_stem(a);
        text_stem(b);
        assert_string_equal(a, b);
    }
}

static void test_stop_words(void **state)
{
    static const char *const stop[] = {"the", "of", "show", "what", "list", "per", "doe", "pleas"};
    static const char *const keep[] = {"sale", "city", "revenue", "member", "", "shows", "The"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof stop / sizeof stop[0]; i++)
        assert_int_equal(text_is_stop(stop[i]), 1);
    for (i = 0; i < sizeof keep / sizeof keep[0]; i++)
        assert_int_equal(text_is_stop(keep[i]), 0);
}

static void test_normalize(void **state)
{
    static const unit_text_num_text cases[] = {
        {"  What's the TOTAL, of sales?? ", 64, "what s the total of sales"},
        {"ticketSales\tby\ncity", 64, "ticket sales by city"},
        {"", 64, ""},
        {"?!", 64, ""},
        {"alpha beta gamma", 11, "alpha beta"}, /* whole words only */
        {"alpha beta gamma", 10, "alpha"},
        {"alpha", 5, ""},
        {"alpha", 6, "alpha"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dst[64];
        memset(dst, 'X', sizeof dst);
        text_normalize(cases[i].text, dst, cases[i].num);
        assert_string_equal(dst, cases[i].want);
    }
    {
        char d = 'X';
        text_normalize("abc", &d, 0); /* len 0: nothing written */
        assert_int_equal(d, 'X');
    }
}

static void test_similarity(void **state)
{
    static const struct {
        const char *a, *b;
        double want; /* < 0: only check the range */
    } cases[] = {
        {"ticket sales by city", "ticketSales per city", 1.0},
        {"show the sales", "sales", 1.0},
        {"revenue by month", "members per city", 0.0},
        {"the of and", "what is the", 0.0}, /* nothing but stop words */
        {"", "", 0.0},
        {"sales by city", "sales by month", 1.0 / 3}, /* {sale, city} vs {sale, month} */
        {"sales sales city", "sales city", 1.0},      /* a set: repeats don't count */
        {"number of members per city", "members in each city with count", -1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double ab = text_similarity(cases[i].a, cases[i].b);
        double ba = text_similarity(cases[i].b, cases[i].a);
        assert_true(ab >= 0.0 && ab <= 1.0);
        assert_true(ab == ba);
        if (cases[i].want >= 0) assert_true(ab > cases[i].want - 1e-9 && ab < cases[i].want + 1e-9);
    }
}

static void test_edit_distance(void **state)
{
    static const struct {
        const char *a, *b;
        int cap, want;
    } cases[] = {
        {"kitten", "sitting", 10, 3},
        {"kitten", "sitting", 3, 3},
        {"kitten", "sitting", 2, 2},
        {"", "", 5, 0},
        {"", "abc", 5, 3},
        {"abc", "", 2, 2},
        {"Customers", "customers", 3, 0}, /* case-insensitive */
        {"custmer", "customer", 3, 1},
        {"flaw", "lawn", 5, 2},
        {"abcdef", "abc", 3, 3}, /* length difference alone reaches the cap */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(text_edit_distance(cases[i].a, cases[i].b, cases[i].cap), cases[i].want);
        assert_int_equal(text_edit_distance(cases[i].b, cases[i].a, cases[i].cap), cases[i].want);
    }
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_split), cmocka_unit_test(test_split_limits),
             cmocka_unit_test(test_stem_table), cmocka_unit_test(test_stem_memo),
             cmocka_unit_test(test_plural), cmocka_unit_test(test_wordset),
             cmocka_unit_test(test_stem_plural_meets_singular), cmocka_unit_test(test_stop_words),
             cmocka_unit_test(test_normalize), cmocka_unit_test(test_similarity),
             cmocka_unit_test(test_edit_distance))
