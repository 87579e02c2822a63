/* test_rag -- retrieval on a demo-like catalog and on a 1,000-table one: ranking, glossary
 * and example boosts, FK path tables, the token budget, and enterprise-style names:
 * abbreviations, copies of tables, naming-convention joins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "rag.h"
#include "text.h"

typedef struct demo {
    catalog *cat;
    glossary *g;
    int customers, events, sales, merch;
    buf out;           /* the last context asked for */
    rag_selection sel; /* and its tables */
} demo;

static const rag_example examples[] = {
    {"ticketing revenue by month",
     "SELECT date_trunc('month', sale_date) AS month, sum(price * quantity) FROM ticket_sales "
     "GROUP BY 1 ORDER BY 1"},
    {"number of members per city",
     "SELECT city, count(*) FROM customers WHERE is_member GROUP BY city"},
};

static int col(catalog *c, int t, const char *name, const char *type, const char *comment, int pk)
{
    int j = catalog_add_column(c, t, name, type, comment, pk, pk);
    assert_true(j >= 0);
    return j;
}

static void add_demo_tables(demo *d)
{
    catalog *c = d->cat;
    int city, cust_id, ev_id, s_cust, s_ev, m_cust, v;

    d->customers = catalog_add_table(c, "public", "customers", 'r', "people who bought", 5000);
    cust_id = col(c, d->customers, "id", "integer", NULL, 1);
    col(c, d->customers, "full_name", "text", NULL, 0);
    col(c, d->customers, "is_member", "boolean", "holds a membership card", 0);
    city = col(c, d->customers, "city", "text", NULL, 0);
    assert_int_equal(catalog_add_value(c, d->customers, city, "Pune"), 0);
    assert_int_equal(catalog_add_value(c, d->customers, city, "Mumbai"), 0);

    d->events = catalog_add_table(c, "public", "events", 'r', NULL, 300);
    ev_id = col(c, d->events, "id", "integer", NULL, 1);
    col(c, d->events, "title", "text", NULL, 0);
    v = col(c, d->events, "category", "text", NULL, 0);
    assert_int_equal(catalog_add_value(c, d->events, v, "concert"), 0);
    assert_int_equal(catalog_add_value(c, d->events, v, "theatre"), 0);

    d->sales = catalog_add_table(c, "public", "ticket_sales", 'r', NULL, 90000);
    col(c, d->sales, "id", "integer", NULL, 1);
    col(c, d->sales, "sale_date", "date", NULL, 0);
    col(c, d->sales, "status", "text", NULL, 0);
    col(c, d->sales, "payment_status", "text", NULL, 0);
    col(c, d->sales, "price", "numeric(10,2)", NULL, 0);
    col(c, d->sales, "quantity", "integer", NULL, 0);
    s_cust = col(c, d->sales, "customer_id", "integer", NULL, 0);
    s_ev = col(c, d->sales, "event_id", "integer", NULL, 0);

    d->merch = catalog_add_table(c, "public", "merch_orders", 'r', NULL, 20000);
    col(c, d->merch, "id", "integer", NULL, 1);
    col(c, d->merch, "product_category", "text", NULL, 0);
    col(c, d->merch, "revenue", "numeric(10,2)", NULL, 0);
    m_cust = col(c, d->merch, "customer_id", "integer", NULL, 0);

    assert_int_equal(catalog_add_fk(c, d->sales, s_cust, d->customers, cust_id), 0);
    assert_int_equal(catalog_add_fk(c, d->sales, s_ev, d->events, ev_id), 0);
    assert_int_equal(catalog_add_fk(c, d->merch, m_cust, d->customers, cust_id), 0);
}

static glossary *demo_glossary(void)
{
    glossary *g = glossary_new();

    assert_non_null(g);
    assert_int_equal(glossary_add(g, "membership holder", "customers.is_member = TRUE", "customers",
                                  "is_member"),
                     0);
    assert_int_equal(
        glossary_add(g, "active sales", "ticket_sales.status = 'active'", "ticket_sales", NULL), 0);
    assert_int_equal(glossary_add(g, "ticketing", "ticket revenue is sum(price * quantity)",
                                  "ticket_sales", NULL),
                     0);
    assert_int_equal(glossary_add(g, "merchandise", "merch_orders.revenue", "merch_orders", NULL),
                     0);
    return g;
}

/* Unrelated synthetic tables, chained by FKs, with words that never occur in the questions. */
static void add_noise_tables(catalog *c, int count)
{
    static const char *words[] = {
        "warehouse", "shipment", "supplier", "invoice", "ledger",    "account",  "vehicle",
        "driver",    "route",    "sensor",   "reading", "device",    "firmware", "patient",
        "doctor",    "ward",     "employee", "payroll", "project",   "task",     "sprint",
        "campaign",  "lead",     "contract", "asset",   "license",   "region",   "branch",
        "loan",      "deposit",  "course",   "student", "grade",     "library",  "book",
        "author",    "shelf",    "recipe",   "kitchen", "ingredient"};
    const int nw = (int)(sizeof words / sizeof words[0]);
    int i, prev = -1, prev_id = 0;

    for (i = 0; i < count; i++) {
        char name[96], colname[96];
        int t, id;
        snprintf(name, sizeof name, "%s_%s_%d", words[i % nw], words[(i / nw + 3) % nw], i);
        t = catalog_add_table(c, "public", name, 'r', NULL, 100);
        assert_true(t >= 0);
        id = col(c, t, "id", "bigint", NULL, 1);
        snprintf(colname, sizeof colname, "%s_code", words[(i + 7) % nw]);
        col(c, t, colname, "text", NULL, 0);
        col(c, t, "status", "text", NULL, 0);
        col(c, t, "amount", "numeric", NULL, 0);
        col(c, t, "created_at", "timestamp with time zone", NULL, 0);
        if (prev >= 0 && i % 10) {
            int fk = col(c, t, "parent_id", "bigint", NULL, 0);
            assert_int_equal(catalog_add_fk(c, t, fk, prev, prev_id), 0);
        }
        prev = t;
        prev_id = id;
    }
}

static int demo_setup(void **state)
{
    static demo d;

    d.cat = catalog_new();
    assert_non_null(d.cat);
    add_demo_tables(&d);
    d.g = demo_glossary();
    d.out = (buf)BUF_INIT(0);
    *state = &d;
    return 0;
}

static int big_setup(void **state)
{
    static demo d;

    d.cat = catalog_new();
    assert_non_null(d.cat);
    add_noise_tables(d.cat, 500); /* the demo tables sit in the middle, not first */
    add_demo_tables(&d);
    add_noise_tables(d.cat, 496);
    assert_int_equal(d.cat->ntables, 1000);
    d.g = demo_glossary();
    d.out = (buf)BUF_INIT(0);
    *state = &d;
    return 0;
}

static int teardown(void **state)
{
    demo *d = *state;

    catalog_free(d->cat);
    glossary_free(d->g);
    buf_free(&d->out);
    return 0;
}

static int position(const rag_selection *sel, int t)
{
    int i;

    for (i = 0; i < sel->ntables; i++)
        if (sel->tables[i] == t) return i;
    return -1;
}

/* Runs rag_context and checks the budget invariants every call must keep. */
static void run(const demo *d, const rag_example *ex, int nex, const char *q, long budget, buf *out,
                rag_selection *sel)
{
    buf_reset(out);
    assert_int_equal(rag_context(d->cat, d->g, ex, nex, q, budget, out, sel), 0);
    assert_true(sel->tokens <= budget);
    assert_int_equal(sel->tokens, rag_tokens(buf_cstr(out), out->len));
}

/* Asks d for question q's context (into d->out, d->sel); returns the context's text. */
static const char *ask(demo *d, const rag_example *ex, int nex, const char *q, long budget)
{
    run(d, ex, nex, q, budget, &d->out, &d->sel);
    return buf_cstr(&d->out);
}

static void test_membership_pune(void **state)
{
    demo *d = *state;

    ask(d, NULL, 0, "how many membership holders are in Pune", 3000);
    assert_true(d->sel.ntables >= 1);
    assert_int_equal(d->sel.tables[0], d->customers);
    assert_non_null(strstr(buf_cstr(&d->out), "'Pune'"));
    assert_non_null(strstr(buf_cstr(&d->out), "customers.is_member = TRUE"));
}

static void test_ticketing_by_category(void **state)
{
    demo *d = *state;

    ask(d, NULL, 0, "ticketing revenue by event category", 3000);
    assert_true(d->sel.ntables >= 2);
    assert_in_range(position(&d->sel, d->sales), 0, 1);
    assert_in_range(position(&d->sel, d->events), 0, 1);
}

static void test_merchandise(void **state)
{
    demo *d = *state;

    ask(d, NULL, 0, "merchandise revenue", 3000);
    assert_true(d->sel.ntables >= 1);
    assert_int_equal(d->sel.tables[0], d->merch);
}

static void test_glossary_and_examples_rendered(void **state)
{
    demo *d = *state;
    const char *s;

    s = ask(d, examples, 2, "active sales ticketing revenue by month", 3000);
    assert_non_null(strstr(s, "Glossary:"));
    assert_non_null(strstr(s, "ticket_sales.status = 'active'"));
    assert_non_null(strstr(s, "Verified examples:"));
    assert_non_null(strstr(s, "Q: ticketing revenue by month"));
    assert_non_null(strstr(s, "sum(price * quantity) FROM ticket_sales"));
    assert_null(strstr(s, "members per city")); /* shares no word with the question */
    assert_int_equal(d->sel.tables[0], d->sales);
    assert_non_null(strstr(s, "TABLE public.ticket_sales\n  id integer PRIMARY KEY\n"));
    assert_non_null(strstr(s, "customer_id integer REFERENCES customers(id)"));
}

static void test_example_boosts_its_tables(void **state)
{
    demo *d = *state;
    static const rag_example ex[] = {
        {"buyers per town", "SELECT city, count(*) FROM customers GROUP BY city"}};

    /* no word of the question names a table or column; the similar example does */
    ask(d, ex, 1, "number of buyers per town", 3000);
    assert_int_equal(d->sel.tables[0], d->customers);

    /* schema-qualified and column-qualified names count; names inside literals do not */
    static const rag_example ex2[] = {
        {"figures by genre",
         "SELECT e.title, public.events.category FROM events e WHERE e.title <> 'merch_orders'"}};
    ask(d, ex2, 1, "weekly figures by genre", 3000);
    assert_int_equal(d->sel.tables[0], d->events);
    assert_int_equal(position(&d->sel, d->merch), 3); /* after events' FK neighbours */
}

static void test_big_catalog_budget(void **state)
{
    demo *d = *state;
    static const long budgets[] = {3000, 1500, 400, 120, 30, 5};
    size_t i;

    for (i = 0; i < sizeof budgets / sizeof budgets[0]; i++) {
        ask(d, examples, 2, "how many membership holders are in Pune", budgets[i]);
        if (budgets[i] >= 120) {
            assert_true(d->sel.ntables >= 1);
            assert_int_equal(d->sel.tables[0], d->customers);
        }
        if (budgets[i] >= 1500) /* a thousand tables: the prompt is the budget's size */
            assert_true(d->sel.tokens >= budgets[i] * 9 / 10);
        assert_true(d->sel.ntables < 1000);
    }
    ask(d, NULL, 0, "merchandise revenue", 3000);
    assert_int_equal(d->sel.tables[0], d->merch);
    ask(d, NULL, 0, "ticketing revenue by event category", 3000);
    assert_in_range(position(&d->sel, d->sales), 0, 1);
    assert_in_range(position(&d->sel, d->events), 0, 1);
}

static void test_fk_path_added(void **state)
{
    demo *d = *state;
    int pc, pe, ps;

    /* customers and events are named; ticket_sales is not, but it is how they join */
    ask(d, NULL, 0, "customers from Mumbai and the category of each event", 600);
    pc = position(&d->sel, d->customers);
    pe = position(&d->sel, d->events);
    ps = position(&d->sel, d->sales);
    assert_in_range(pc, 0, 2);
    assert_in_range(pe, 0, 2);
    assert_in_range(ps, 0, 2);
}

/* The join table shares no word with the question; a distractor does, and touches one side. */
static void test_join_table_before_distractor(void **state)
{
    catalog *c = catalog_new();
    demo d = {.cat = c, .out = BUF_INIT(0)};
    int authors, papers, writes, awards, a_id, p_id, w_a, w_p, aw_a;

    (void)state;
    assert_non_null(c);
    add_noise_tables(c, 40);
    authors = catalog_add_table(c, "public", "authors", 'r', NULL, -1);
    a_id = col(c, authors, "id", "integer", NULL, 1);
    col(c, authors, "name", "text", NULL, 0);
    papers = catalog_add_table(c, "public", "papers", 'r', NULL, -1);
    p_id = col(c, papers, "id", "integer", NULL, 1);
    col(c, papers, "title", "text", NULL, 0);
    awards = catalog_add_table(c, "public", "author_awards", 'r', NULL, -1);
    col(c, awards, "id", "integer", NULL, 1);
    aw_a = col(c, awards, "author_id", "integer", NULL, 0);
    col(c, awards, "prize", "text", NULL, 0);
    writes = catalog_add_table(c, "public", "writes", 'r', NULL, -1);
    w_a = col(c, writes, "aid", "integer", NULL, 0);
    w_p = col(c, writes, "pid", "integer", NULL, 0);
    assert_int_equal(catalog_add_fk(c, writes, w_a, authors, a_id), 0);
    assert_int_equal(catalog_add_fk(c, writes, w_p, papers, p_id), 0);
    assert_int_equal(catalog_add_fk(c, awards, aw_a, authors, a_id), 0);

    ask(&d, NULL, 0, "names of authors and the titles of their papers", 3000);
    assert_in_range(position(&d.sel, authors), 0, 2);
    assert_in_range(position(&d.sel, papers), 0, 2);
    assert_in_range(position(&d.sel, writes), 0, 2);
    assert_true(position(&d.sel, awards) > position(&d.sel, writes));
    catalog_free(c);
    buf_free(&d.out);
}

/* An enterprise-style order module among 1,000 noise tables: abbreviated names, no
 * declared foreign keys, a history and a staging copy of the customer master. */
typedef struct erp {
    demo d;
    int cust, ord, ln, emp, quote, hist, stg;
} erp;

static int cols(catalog *c, const char *name, const char *const *names)
{
    int t = catalog_add_table(c, "public", name, 'r', NULL, -1), i;

    assert_true(t >= 0);
    for (i = 0; names[i]; i++)
        col(c, t, names[i] + (names[i][0] == '*'), "text", NULL, names[i][0] == '*');
    return t;
}

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

static int erp_setup(void **state)
{
    static erp e_static;
    erp *e = &e_static;
    catalog *c = catalog_new();

    assert_non_null(c);
    memset(e, 0, sizeof *e);
    e->d.cat = c;
    e->d.out = (buf)BUF_INIT(0);
    add_noise_tables(c, 600);
    e->cust = cols(c, "cust_mstr",
                   NAMES("*cust_id", "cust_nm", "crdt_lmt_amt", "rgn_cd", "crt_usr_id", "crt_ts"));
    e->ord = cols(c, "cust_ord_hdr",
                  NAMES("*ord_id", "cust_id", "ord_dt", "ord_tot_amt", "sls_rep_emp_id",
                        "crt_usr_id", "crt_ts"));
    e->ln = cols(c, "cust_ord_ln",
                 NAMES("*ord_ln_id", "ord_id", "item_id", "ord_qty", "ln_amt", "crt_usr_id"));
    e->emp = cols(c, "hr_emp_mstr",
                  NAMES("*emp_id", "emp_frst_nm", "emp_lst_nm", "hire_dt", "crt_usr_id"));
    e->quote = cols(c, "sls_quote_hdr",
                    NAMES("*quote_id", "cust_id", "quote_sts_cd", "sls_rep_emp_id", "crt_usr_id"));
    e->hist =
        cols(c, "cust_mstr_hist",
             NAMES("*hist_id", "cust_id", "cust_nm", "crdt_lmt_amt", "rgn_cd", "eff_strt_ts"));
    e->stg = cols(c, "stg_cust_mstr", NAMES("cust_id", "cust_nm", "crdt_lmt_amt", "rgn_cd"));
    add_noise_tables(c, 393);
    *state = e;
    return 0;
}

static int erp_teardown(void **state)
{
    erp *e = *state;

    catalog_free(e->d.cat);
    buf_free(&e->d.out);
    return 0;
}

/* Where table t ranks in the last answer (-1: not chosen). */
static int at(const erp *e, int t)
{
    return position(&e->d.sel, t);
}

/* Asks the order module q with the budget its tests use. */
static void erp_run(erp *e, const char *q)
{
    ask(&e->d, NULL, 0, q, 1500);
}

/* Abbreviated names answer plain words: "order lines" is cust_ord_ln, "quantity" its ord_qty. */
static void test_abbreviations(void **state)
{
    erp *e = *state;

    erp_run(e, "total quantity on customer order lines");
    assert_in_range(at(e, e->ln), 0, 1);
    erp_run(e, "customer credit limits by region");
    assert_int_equal(at(e, e->cust), 0);
}

/* Copies rank below the tables they copy and the tables those join, unless the question
 * asks for what they keep. */
static void test_copies_down_weighted(void **state)
{
    erp *e = *state;
    int last;

    erp_run(e, "customer credit limits and their order totals");
    assert_in_range(at(e, e->cust), 0, 1);
    assert_in_range(at(e, e->ord), 0, 1);
    last = at(e, e->quote) > at(e, e->emp) ? at(e, e->quote) : at(e, e->emp);
    assert_true(last > 1);
    assert_true(at(e, e->hist) < 0 || at(e, e->hist) > last);
    assert_true(at(e, e->stg) < 0 || at(e, e->stg) > last);
    erp_run(e, "history of customer credit limits");
    assert_int_equal(at(e, e->hist), 0);
}

/* No foreign key is declared: joins follow the key names, and "per sales rep" brings the
 * table behind sls_rep_emp_id although the question never says employee. */
static void test_naming_convention_joins(void **state)
{
    erp *e = *state;

    erp_run(e, "quote win rate per sales rep");
    assert_int_equal(at(e, e->quote), 0);
    assert_int_equal(at(e, e->emp), 1); /* before cust_mstr, joined by cust_id */
    /* the customer master and the order lines, with the header that joins them */
    erp_run(e, "customer names and the item quantities they ordered");
    assert_in_range(at(e, e->cust), 0, 2);
    assert_in_range(at(e, e->ln), 0, 2);
    assert_in_range(at(e, e->ord), 0, 2);
}

/* The stemmer retrieval relies on: a plural and its singular meet. */
static void test_stems_meet(void **state)
{
    static const char *pairs[][2] = {{"movies", "movie"},   {"categories", "category"},
                                     {"sales", "sale"},     {"countries", "country"},
                                     {"series", "series"},  {"singers", "singer"},
                                     {"cookies", "cookie"}, {"classes", "class"}};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char a[TEXT_WORD_MAX], b[TEXT_WORD_MAX], again[TEXT_WORD_MAX];
        str_copy(a, sizeof a, pairs[i][0]);
        str_copy(b, sizeof b, pairs[i][1]);
        text_stem(a);
        text_stem(b);
        assert_string_equal(a, b);
        str_copy(again, sizeof again, a);
        text_stem(again);
        assert_string_equal(again, a); /* idempotent */
    }
}

static void test_tokens_estimate(void **state)
{
    (void)state;
    assert_int_equal(rag_tokens("", 0), 0);
    assert_int_equal(rag_tokens("abcd", 4), 1);
    assert_int_equal(rag_tokens("abcde", 5), 2);
}

/* Appends after what out holds, counts only its own text, and undoes itself on failure. */
static void test_appends_and_rolls_back(void **state)
{
    demo *d = *state;
    buf out = BUF_INIT(0), tiny = BUF_INIT(32);
    rag_selection sel;

    assert_int_equal(buf_adds(&out, "You write PostgreSQL.\n"), 0);
    assert_int_equal(rag_context(d->cat, d->g, NULL, 0, "merchandise revenue", 3000, &out, &sel),
                     0);
    assert_int_equal(strncmp(buf_cstr(&out), "You write PostgreSQL.\nSchema:\n", 30), 0);
    assert_int_equal(sel.tokens, rag_tokens(out.p + 22, out.len - 22));

    assert_int_equal(buf_adds(&tiny, "keep"), 0);
    assert_int_equal(rag_context(d->cat, d->g, NULL, 0, "merchandise revenue", 3000, &tiny, &sel),
                     -1);
    assert_string_equal(buf_cstr(&tiny), "keep");
    buf_free(&out);
    buf_free(&tiny);
}

static void test_empty_catalog(void **state)
{
    catalog *c = catalog_new();
    buf out = BUF_INIT(0);
    rag_selection sel;

    (void)state;
    assert_int_equal(rag_context(c, NULL, NULL, 0, "anything at all", 100, &out, &sel), 0);
    assert_int_equal(sel.ntables, 0);
    assert_true(sel.tokens <= 100);
    assert_int_equal(rag_context(c, NULL, NULL, 0, "", 100, &out, &sel), 0);
    catalog_free(c);
    buf_free(&out);
}

T2_UNIT_MAIN(NULL, NULL,
             cmocka_unit_test_setup_teardown(test_membership_pune, demo_setup, teardown),
             cmocka_unit_test_setup_teardown(test_ticketing_by_category, demo_setup, teardown),
             cmocka_unit_test_setup_teardown(test_merchandise, demo_setup, teardown),
             cmocka_unit_test_setup_teardown(test_glossary_and_examples_rendered, demo_setup,
                                             teardown),
             cmocka_unit_test_setup_teardown(test_example_boosts_its_tables, demo_setup, teardown),
             cmocka_unit_test_setup_teardown(test_big_catalog_budget, big_setup, teardown),
             cmocka_unit_test_setup_teardown(test_fk_path_added, big_setup, teardown),
             cmocka_unit_test(test_join_table_before_distractor),
             cmocka_unit_test_setup_teardown(test_abbreviations, erp_setup, erp_teardown),
             cmocka_unit_test_setup_teardown(test_copies_down_weighted, erp_setup, erp_teardown),
             cmocka_unit_test_setup_teardown(test_naming_convention_joins, erp_setup, erp_teardown),
             cmocka_unit_test_setup_teardown(test_appends_and_rolls_back, demo_setup, teardown),
             cmocka_unit_test(test_stems_meet), cmocka_unit_test(test_tokens_estimate),
             cmocka_unit_test(test_empty_catalog))
