/* test_clarify -- the planner's questions back (planner_clarify()) on small catalogs built
 * here: a table referring to another twice, two paths of two steps, a value in two columns,
 * rows that may be counted or totalled, and a phrase naming two columns. Each clarification
 * has the {"question", "options": [{"label", "question"}]} shape, each option's question
 * plans, the options plan to different SQL, and a decline that is no ambiguity asks nothing.
 * Run from the worktree root as ./build/tests/test_clarify. */
#include "buf.h"
#include "catalog.h"
#include "glossary.h"
#include "planner.h"
#include "semantic.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

static glossary *gloss;
static const semantic *layer; /* NULL but in test_count_or_sum */

/* A table of "name:type" columns, the first one its key. */
static int table(catalog *c, const char *name, const char *const *cols)
{
    int t = catalog_add_table(c, "public", name, 'r', NULL, 1000), i;

    assert_true(t >= 0);
    for (i = 0; cols[i]; i++) {
        char n[64], *colon;
        str_copy(n, sizeof n, cols[i]);
        colon = strchr(n, ':');
        assert_non_null(colon);
        *colon = '\0';
        assert_true(catalog_add_column(c, t, n, colon + 1, NULL, i == 0, i == 0) >= 0);
    }
    return t;
}

static void values(catalog *c, int t, const char *col, const char *const *v)
{
    int k = catalog_find_column(c, t, col), i;

    assert_true(k >= 0);
    for (i = 0; v[i]; i++)
        assert_int_equal(catalog_add_value(c, t, k, v[i]), 0);
}

static void fk(catalog *c, int t, const char *col, int rt)
{
    assert_int_equal(catalog_add_fk(c, t, catalog_find_column(c, t, col), rt, 0), 0);
}

#define W(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The SQL of q (which must plan; in the words of the semantic layer, or the planner's). */
static void plan(const catalog *cat, const char *q, buf *sql)
{
    buf ex = BUF_INIT(1 << 16), ms = BUF_INIT(1 << 12);
    char why[1024] = "";
    int nm = 0, rc = layer ? planner_semantic(cat, layer, q, sql, &ex, &ms, &nm) : 1;

    buf_free(&ex);
    buf_free(&ms);
    if (rc == 0) return;
    buf_reset(sql);
    if (planner_plan(cat, gloss, q, sql, why, sizeof why) != 0)
        fail_msg("declined \"%s\": %s", q, why);
}

static void plans(const catalog *cat, const char *q)
{
    buf sql = BUF_INIT(1 << 16);

    plan(cat, q, &sql);
    buf_free(&sql);
}

/* q is declined and asked back with nopt options, whose labels hold labels[i] (in order)
 * and whose questions plan to SQL holding want[i], each different. */
static void asks(const catalog *cat, const char *q, int nopt, const char *const *labels,
                 const char *const *want)
{
    buf json = BUF_INIT(1 << 16), sql = BUF_INIT(1 << 16), first = BUF_INIT(1 << 16);
    char why[1024];
    json_object *j, *v, *opts;
    int i;

    if (planner_plan(cat, gloss, q, &sql, why, sizeof why) == 0)
        fail_msg("answered \"%s\" with %s", q, buf_cstr(&sql));
    if (!planner_clarify(cat, gloss, layer, q, &json))
        fail_msg("\"%s\" is not asked back: %s", q, why);
    j = json_tokener_parse(buf_cstr(&json));
    assert_non_null(j);
    assert_true(json_object_object_get_ex(j, "question", &v));
    assert_true(strlen(json_object_get_string(v)) > 10);
    assert_true(json_object_object_get_ex(j, "options", &opts));
    if ((int)json_object_array_length(opts) != nopt)
        fail_msg("\"%s\": %d options, not %d: %s", q, (int)json_object_array_length(opts), nopt,
                 buf_cstr(&json));
    for (i = 0; i < nopt; i++) {
        json_object *o = json_object_array_get_idx(opts, (size_t)i), *l, *oq;
        assert_true(json_object_object_get_ex(o, "label", &l));
        assert_true(json_object_object_get_ex(o, "question", &oq));
        if (!strstr(json_object_get_string(l), labels[i]))
            fail_msg("\"%s\": option %d lacks [%s]: %s", q, i, labels[i], buf_cstr(&json));
        plan(cat, json_object_get_string(oq), &sql);
        if (!strstr(buf_cstr(&sql), want[i]))
            fail_msg("\"%s\" -> \"%s\": missing [%s] in %s", q, json_object_get_string(oq), want[i],
                     buf_cstr(&sql));
        if (i == 0)
            assert_int_equal(buf_adds(&first, buf_cstr(&sql)), 0);
        else
            assert_string_not_equal(buf_cstr(&first), buf_cstr(&sql));
    }
    json_object_put(j);
    buf_free(&json);
    buf_free(&sql);
    buf_free(&first);
}

static void declines(const catalog *cat, const char *q)
{
    buf sql = BUF_INIT(1 << 16);
    char why[1024];

    if (planner_plan(cat, gloss, q, &sql, why, sizeof why) == 0)
        fail_msg("answered \"%s\" with %s", q, buf_cstr(&sql));
    buf_free(&sql);
}

static void asks_nothing(const catalog *cat, const char *q)
{
    buf json = BUF_INIT(1 << 16);

    if (planner_clarify(cat, gloss, layer, q, &json))
        fail_msg("\"%s\" asked %s", q, buf_cstr(&json));
    buf_free(&json);
}

/* orders refer to users twice: as their buyer and as their seller */
static void test_two_keys_to_one_table(void **state)
{
    catalog *c = catalog_new();
    int u, o, r, t;

    (void)state;
    u = table(c, "users", W("user_id:integer", "name:text", "city:text"));
    o = table(c, "orders",
              W("order_id:integer", "buyer_id:integer", "seller_id:integer", "amount:numeric",
                "order_date:date"));
    fk(c, o, "buyer_id", u);
    fk(c, o, "seller_id", u);
    asks(c, "number of orders by city", 2, W("buyer city", "seller city"),
         W("users.user_id = orders.buyer_id", "users.user_id = orders.seller_id"));
    asks(c, "total amount of orders by name", 2, W("buyer name", "seller name"),
         W("orders.buyer_id", "orders.seller_id"));
    asks(c, "number of orders per user", 2, W("buyer", "seller"),
         W("users.user_id = orders.buyer_id", "users.user_id = orders.seller_id"));
    /* the path phrases plan on their own */
    plans(c, "number of orders by seller city");
    asks_nothing(c, "number of orders by flux capacitor");
    asks_nothing(c, "number of orders by seller city");
    /* a path phrase is that join or none: two of them in one question, or one that cannot be
     * joined from the rows asked about, decline */
    r = table(c, "reviews", W("review_id:integer", "user_id:integer", "stars:integer"));
    fk(c, r, "user_id", u);
    declines(c, "number of orders by buyer city and seller city");
    declines(c, "number of reviews by buyer city");
    plans(c, "number of reviews by city");
    /* a role named as the table ("user" of user_id) names no path: "user city" stays the
     * users' city however they are joined */
    t = table(c, "tasks", W("task_id:integer", "user_id:integer", "approver_id:integer"));
    fk(c, t, "user_id", u);
    fk(c, t, "approver_id", u);
    plans(c, "number of reviews by user city");
    asks_nothing(c, "number of reviews by user city");
    plans(c, "number of tasks by approver city");
    catalog_free(c);
}

/* shipments reach regions through their warehouse and through their customer */
static void test_two_paths_of_two_steps(void **state)
{
    catalog *c = catalog_new();
    int r, w, cu, s;

    (void)state;
    r = table(c, "regions", W("region_id:integer", "region_name:text"));
    w = table(c, "warehouses", W("warehouse_id:integer", "name:text", "region_id:integer"));
    cu = table(c, "customers", W("customer_id:integer", "name:text", "region_id:integer"));
    s = table(
        c, "shipments",
        W("shipment_id:integer", "warehouse_id:integer", "customer_id:integer", "weight:numeric"));
    fk(c, w, "region_id", r);
    fk(c, cu, "region_id", r);
    fk(c, s, "warehouse_id", w);
    fk(c, s, "customer_id", cu);
    asks(c, "number of shipments by region name", 2,
         W("warehouses region name", "customers region name"),
         W("regions.region_id = warehouses.region_id", "regions.region_id = customers.region_id"));
    catalog_free(c);
}

/* a city in both the venue's and the customer's city column, one step away each */
static void test_value_in_two_columns(void **state)
{
    catalog *c = catalog_new();
    int v, cu, b;

    (void)state;
    v = table(c, "venues", W("venue_id:integer", "name:text", "city:text"));
    cu = table(c, "customers", W("customer_id:integer", "name:text", "city:text"));
    b = table(c, "bookings",
              W("booking_id:integer", "venue_id:integer", "customer_id:integer", "seats:integer"));
    values(c, v, "city", W("Mumbai", "Pune"));
    values(c, cu, "city", W("Mumbai", "Delhi"));
    fk(c, b, "venue_id", v);
    fk(c, b, "customer_id", cu);
    asks(c, "how many bookings in Mumbai", 2, W("city Mumbai", "city Mumbai"),
         W("city = 'Mumbai'", "city = 'Mumbai'"));
    /* a value of one column only is no question */
    plans(c, "how many bookings in Delhi");
    asks_nothing(c, "how many bookings in Delhi");
    catalog_free(c);
    /* two columns of one table */
    c = catalog_new();
    b = table(c, "orders", W("order_id:integer", "ship_city:text", "bill_city:text"));
    values(c, b, "ship_city", W("Pune", "Goa"));
    values(c, b, "bill_city", W("Pune", "Agra"));
    asks(c, "how many orders in Pune", 2, W("ship city Pune", "bill city Pune"),
         W("orders.ship_city = 'Pune'", "orders.bill_city = 'Pune'"));
    plans(c, "how many orders in Goa");
    catalog_free(c);
}

/* "sales" of ticket_sales grouped: their number, or a total of their price or quantity */
static void test_count_or_sum(void **state)
{
    catalog *c = catalog_new();
    int e, s;

    (void)state;
    e = table(c, "events", W("event_id:integer", "name:text", "category:text"));
    s = table(c, "ticket_sales",
              W("sale_id:integer", "event_id:integer", "channel:text", "price:numeric",
                "quantity:integer"));
    values(c, s, "channel", W("online", "box office"));
    fk(c, s, "event_id", e);
    asks(c, "sales by category", 3,
         W("number of ticket sales", "total price of ticket sales",
           "total quantity of ticket sales"),
         W("count(*)", "sum(ticket_sales.price)", "sum(ticket_sales.quantity)"));
    /* a semantic layer's total of those rows named with the word is one more reading */
    {
        static const char yaml[] =
            "version: 1\nmeasures:\n"
            "  - name: ticket revenue\n    synonyms: [ticket sales revenue]\n"
            "    table: ticket_sales\n    expr: sum(ticket_sales.price * ticket_sales.quantity)\n"
            "  - name: ticket sales count\n    table: ticket_sales\n    expr: count(*)\n"
            "dimensions:\n  - name: category\n    table: events\n    expr: events.category\n";
        t2err err;
        semantic *sem = semantic_parse("test.yaml", yaml, sizeof yaml - 1, &err);
        assert_non_null(sem);
        layer = sem;
        asks(c, "sales by category", 4,
             W("number of ticket sales", "ticket revenue", "total price", "total quantity"),
             W("count(*)", "ticket_sales.price * ticket_sales.quantity", "sum(ticket_sales.price)",
               "sum(ticket_sales.quantity)"));
        layer = NULL;
        semantic_free(sem);
    }
    /* said: no question */
    plans(c, "number of ticket sales by category");
    plans(c, "ticket sales by category");
    plans(c, "events by category");
    catalog_free(c);
}

/* a word naming columns of two tables (the kind asked before the others) */
static void test_word_naming_two_columns(void **state)
{
    catalog *c = catalog_new();
    int cu, e, s;

    (void)state;
    cu = table(c, "customers", W("customer_id:integer", "name:text"));
    e = table(c, "events", W("event_id:integer", "name:text"));
    s = table(c, "ticket_sales", W("sale_id:integer", "event_id:integer", "customer_id:integer"));
    fk(c, s, "event_id", e);
    fk(c, s, "customer_id", cu);
    asks(c, "number of ticket sales by name", 2, W("customers name", "events name"),
         W("customers.name", "events.name"));
    catalog_free(c);
}

static int setup(void **state)
{
    (void)state;
    gloss = glossary_new();
    return gloss ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    glossary_free(gloss);
    return 0;
}

T2_UNIT_MAIN(setup, teardown, cmocka_unit_test(test_two_keys_to_one_table),
             cmocka_unit_test(test_two_paths_of_two_steps),
             cmocka_unit_test(test_value_in_two_columns), cmocka_unit_test(test_count_or_sum),
             cmocka_unit_test(test_word_naming_two_columns))
