/* test_planner -- the offline planner on the demo schema in miniature: the SQL it writes for
 * representative questions (each one must also parse as PostgreSQL) and the questions it
 * must decline. Table-driven; run from the worktree root as ./build/tests/test_planner. */
#include "buf.h"
#include "catalog.h"
#include "glossary.h"
#include "planner.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include <pg_query.h>

static catalog *demo;
static glossary *gloss;

/* Adds a table with columns given as "name:type" strings; the first column is the key when
 * keyed. */
static int table_keyed(catalog *c, const char *schema, const char *name, const char *const *cols,
                       int keyed)
{
    int t = catalog_add_table(c, schema, name, 'r', NULL, 1000);
    int i;

    assert_true(t >= 0);
    for (i = 0; cols[i]; i++) {
        char n[64], *colon;
        strncpy(n, cols[i], sizeof n - 1);
        n[sizeof n - 1] = '\0';
        colon = strchr(n, ':');
        assert_non_null(colon);
        *colon = '\0';
        assert_true(
            catalog_add_column(c, t, n, colon + 1, NULL, keyed && i == 0, keyed && i == 0) >= 0);
    }
    return t;
}

static int table(catalog *c, const char *schema, const char *name, const char *const *cols)
{
    return table_keyed(c, schema, name, cols, 1);
}

static void values(catalog *c, int t, const char *col, const char *const *v)
{
    int k = catalog_find_column(c, t, col), i;

    assert_true(k >= 0);
    for (i = 0; v[i]; i++)
        assert_int_equal(catalog_add_value(c, t, k, v[i]), 0);
}

static void fk(catalog *c, int t, const char *col, int rt, const char *rcol)
{
    assert_int_equal(
        catalog_add_fk(c, t, catalog_find_column(c, t, col), rt, catalog_find_column(c, rt, rcol)),
        0);
}

static int setup(void **state)
{
    static const char *const customers[] = {"customer_id:integer",
                                            "name:text",
                                            "email:text",
                                            "city:text",
                                            "is_member:boolean",
                                            "signup_date:date",
                                            "loyalty_points:integer",
                                            NULL};
    static const char *const venues[] = {"venue_id:integer",
                                         "name:text",
                                         "city:text",
                                         "seats:integer",
                                         "opened_at:timestamp with time zone",
                                         NULL};
    static const char *const events[] = {
        "event_id:integer", "name:text", "category:text", "venue_id:integer", "event_date:date",
        "capacity:integer", NULL};
    static const char *const sales[] = {"sale_id:bigint",      "event_id:integer",
                                        "customer_id:integer", "sale_date:date",
                                        "channel:text",        "status:text",
                                        "payment_status:text", "price:numeric(10,2)",
                                        "quantity:integer",    NULL};
    static const char *const merch[] = {
        "order_id:bigint",       "customer_id:integer", "event_id:integer",      "order_date:date",
        "product_category:text", "quantity:integer",    "revenue:numeric(10,2)", NULL};
    static const char *const cities[] = {"Mumbai", "Pune", "London", "New York", NULL};
    static const char *const cats[] = {"Concert", "Comedy", "Sports", NULL};
    static const char *const chans[] = {"online", "box office", NULL};
    static const char *const stat[] = {"active", "refunded", "cancelled", NULL};
    static const char *const pay[] = {"paid", "pending", "failed", NULL};
    static const char *const prods[] = {"Apparel", "Food & Drink", NULL};
    int c, v, e, s, m;

    (void)state;
    demo = catalog_new();
    c = table(demo, "public", "customers", customers);
    e = table(demo, "public", "events", events);
    m = table(demo, "public", "merch_orders", merch);
    s = table(demo, "public", "ticket_sales", sales);
    v = table(demo, "public", "venues", venues);
    values(demo, c, "city", cities);
    values(demo, v, "city", cities);
    values(demo, e, "category", cats);
    values(demo, s, "channel", chans);
    values(demo, s, "status", stat);
    values(demo, s, "payment_status", pay);
    values(demo, m, "product_category", prods);
    fk(demo, e, "venue_id", v, "venue_id");
    fk(demo, s, "event_id", e, "event_id");
    fk(demo, s, "customer_id", c, "customer_id");
    fk(demo, m, "customer_id", c, "customer_id");
    fk(demo, m, "event_id", e, "event_id");
    gloss = glossary_new();
    assert_int_equal(
        glossary_add(gloss, "membership holder", "", "customers", "customers.is_member = TRUE"), 0);
    assert_int_equal(glossary_add(gloss, "member", "", "customers", "customers.is_member = TRUE"),
                     0);
    assert_int_equal(glossary_add(gloss, "active sales", "", "ticket_sales",
                                  "(ticket_sales.status = 'active' OR ticket_sales.payment_status"
                                  " = 'paid')"),
                     0);
    assert_int_equal(
        glossary_add(gloss, "ticket revenue",
                     "ticket revenue is SUM(ticket_sales.price * ticket_sales.quantity)",
                     "ticket_sales", NULL),
        0);
    assert_int_equal(glossary_add(gloss, "merch", "merch means merch_orders", "merch_orders", NULL),
                     0);
    assert_int_equal(
        glossary_add(gloss, "refunded", "", "ticket_sales", "ticket_sales.status = 'refunded'"), 0);
    assert_int_equal(glossary_add(gloss, "vip", "", "no_such_table", "no_such_table.vip"), 0);
    assert_int_equal(glossary_add(gloss, "loyal", "", "", "customers.loyalty_points > 100"), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    catalog_free(demo);
    glossary_free(gloss);
    return 0;
}

static void assert_parses(const char *sql)
{
    PgQueryParseResult r = pg_query_parse(sql);

    if (r.error) fail_msg("does not parse (%s): %s", r.error->message, sql);
    pg_query_free_parse_result(r);
}

/* Plans q on catalog cat with glossary g; every needle in want must occur in the SQL, none
 * in not. */
static void plans_on(const catalog *cat, const glossary *g, const char *q, const char *const *want,
                     const char *const * not )
{
    buf sql = BUF_INIT(1 << 16);
    char why[1024] = "";
    int i;

    if (planner_plan(cat, g, q, &sql, why, sizeof why) != 0)
        fail_msg("declined \"%s\": %s", q, why);
    assert_parses(buf_cstr(&sql));
    for (i = 0; want && want[i]; i++)
        if (!strstr(buf_cstr(&sql), want[i]))
            fail_msg("\"%s\": missing [%s] in %s", q, want[i], buf_cstr(&sql));
    for (i = 0; not &&not [i]; i++)
        if (strstr(buf_cstr(&sql), not [i]))
            fail_msg("\"%s\": unexpected [%s] in %s", q, not [i], buf_cstr(&sql));
    buf_free(&sql);
}

static void plans(const char *q, const char *const *want, const char *const * not )
{
    plans_on(demo, gloss, q, want, not );
}

static void declines(const catalog *cat, const char *q, const char *why_has)
{
    buf sql = BUF_INIT(1 << 16);
    char why[1024] = "";

    if (planner_plan(cat, gloss, q, &sql, why, sizeof why) == 0)
        fail_msg("answered \"%s\" with %s", q, buf_cstr(&sql));
    assert_int_equal(sql.len, 0);
    if (why_has && !strstr(why, why_has)) fail_msg("\"%s\": why lacks [%s]: %s", q, why_has, why);
    if (!strstr(why, "I can answer questions like"))
        fail_msg("\"%s\": why has no example: %s", q, why);
    buf_free(&sql);
}

#define W(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_measures(void **state)
{
    (void)state;
    plans("how many tickets", W("count(*)", "FROM public.ticket_sales"), W("WHERE"));
    plans("How many customers are there?", W("count(*)", "FROM public.customers"), NULL);
    plans("total revenue of merch orders", W("sum(merch_orders.revenue)"), NULL);
    plans("average price", W("avg(ticket_sales.price)", "FROM public.ticket_sales"), NULL);
    plans("what is the highest ticket price", W("max(ticket_sales.price)"), W("GROUP BY"));
    plans("minimum capacity of events", W("min(events.capacity)"), NULL);
    plans("total ticket revenue", W("sum(ticket_sales.price * ticket_sales.quantity)"), NULL);
    plans("how many distinct cities of customers", W("count(DISTINCT customers.city)"), NULL);
}

static void test_dimensions(void **state)
{
    (void)state;
    plans("ticket revenue by event category",
          W("events.category", "sum(ticket_sales.price * ticket_sales.quantity)",
            "JOIN public.events ON events.event_id = ticket_sales.event_id",
            "GROUP BY events.category"),
          NULL);
    plans("number of customers per city",
          W("customers.city", "count(*)", "GROUP BY customers.city"), NULL);
    plans("average price for each channel",
          W("avg(ticket_sales.price)", "GROUP BY ticket_sales.channel"), NULL);
    plans("payment status breakdown of ticket sales", W("GROUP BY ticket_sales.payment_status"),
          NULL);
    plans("number of events by venue city",
          W("venues.city", "JOIN public.venues ON venues.venue_id = events.venue_id"), NULL);
    plans("merch revenue by customer city",
          W("JOIN public.customers ON customers.customer_id = merch_orders.customer_id",
            "GROUP BY customers.city"),
          NULL);
    plans("monthly ticket revenue", W("date_trunc('month', ticket_sales.sale_date)"), NULL);
    plans("number of events per year", W("extract(year FROM events.event_date)"), NULL);
    plans("ticket sales by venue city",
          W("JOIN public.events ON", "JOIN public.venues ON venues.venue_id = events.venue_id"),
          NULL);
}

static void test_filters(void **state)
{
    (void)state;
    plans("how many customers in Pune", W("customers.city = 'Pune'"), NULL);
    plans("how many customers in Pune or New York", W("customers.city IN ('Pune', 'New York')"),
          NULL);
    plans("customers not in London", W("customers.city <> 'London'"), NULL);
    plans("refunded sales", W("ticket_sales.status = 'refunded'"), NULL);
    plans("how many membership holders", W("(customers.is_member = TRUE)", "count(*)"), NULL);
    plans("how many non-members", W("NOT (customers.is_member = TRUE)"), NULL);
    plans("number of active sales", W("ticket_sales.status = 'active' OR"), NULL);
    plans("how many tickets bought by members",
          W("JOIN public.customers", "(customers.is_member = TRUE)"), NULL);
    plans("ticket sales with price over 100", W("ticket_sales.price > 100"), NULL);
    plans("merch orders with revenue of at least 50.5", W("merch_orders.revenue >= 50.5"), NULL);
    plans("customers with more than 1,000 loyalty points", W("customers.loyalty_points > 1000"),
          NULL);
    plans("events with capacity between 100 and 200", W("events.capacity BETWEEN 100 AND 200"),
          NULL);
    plans("sales with a failed payment", W("ticket_sales.payment_status = 'failed'"), NULL);
    plans("how many ticket sales to loyal customers",
          W("JOIN public.customers ON customers.customer_id = ticket_sales.customer_id",
            "(customers.loyalty_points > 100)"),
          NULL);
    plans("Food & Drink merch orders", W("merch_orders.product_category = 'Food & Drink'"), NULL);
    plans("ticket sales for events in Pune or London",
          W("JOIN public.venues", "venues.city IN ('Pune', 'London')"), W("customers"));
    plans("ticket sales to customers in Pune", W("customers.city = 'Pune'"), W("venues"));
    plans("how many Comedy events in Mumbai",
          W("events.category = 'Comedy'", "venues.city = 'Mumbai'"), NULL);
}

static void test_time(void **state)
{
    (void)state;
    plans("ticket sales in 2023",
          W("ticket_sales.sale_date >= DATE '2023-01-01'",
            "ticket_sales.sale_date < DATE '2024-01-01'"),
          NULL);
    plans("merch orders in the last 30 days", W("merch_orders.order_date >= CURRENT_DATE - 30"),
          NULL);
    plans("how many events this month", W("date_trunc('month', CURRENT_DATE)"), NULL);
    plans("ticket sales since March 2024", W(">= DATE '2024-03-01'"), W(" < "));
    plans("ticket sales between January 2024 and March 2024",
          W(">= DATE '2024-01-01'", "< DATE '2024-04-01'"), NULL);
    plans("ticket sales on 2024-02-29", W(">= DATE '2024-02-29'", "< DATE '2024-03-01'"), NULL);
    plans("ticket sales in December 2024", W("< DATE '2025-01-01'"), NULL);
    plans("ticket sales for events in 2025", W("events.event_date >= DATE '2025-01-01'"), NULL);
    plans("how many venues in 2020", W("venues.opened_at >= DATE '2020-01-01'"), NULL);
    plans("ticket revenue last year", W("date_trunc('year', CURRENT_DATE) - INTERVAL '1 year'"),
          NULL);
}

static void test_ranking_and_listing(void **state)
{
    (void)state;
    plans("top 5 events by ticket revenue",
          W("events.name", "GROUP BY events.event_id, events.name", "DESC", "LIMIT 5"), NULL);
    plans("bottom 3 event categories by average ticket price",
          W("avg(ticket_sales.price)", "ASC", "LIMIT 3"), NULL);
    plans("which city has the most customers", W("GROUP BY customers.city", "DESC", "LIMIT 1"),
          NULL);
    plans("the 10 most recent ticket sales", W("ORDER BY ticket_sales.sale_date DESC", "LIMIT 10"),
          NULL);
    plans("top 5 customers by loyalty points",
          W("customers.*", "ORDER BY customers.loyalty_points DESC", "LIMIT 5"), W("GROUP BY"));
    plans("list refunded ticket sales where price over 100",
          W("SELECT ticket_sales.*", "ticket_sales.price > 100", "status = 'refunded'"), NULL);
    plans("show the name and email of members",
          W("SELECT customers.name, customers.email", "is_member"), NULL);
    plans("list the event categories", W("SELECT DISTINCT events.category"), NULL);
    plans("cities with more than 100 customers", W("HAVING count(*) > 100"), NULL);
    plans("list events named \"Golden Gala 17\"", W("events.name = 'Golden Gala 17'"), NULL);
    plans("how many tickets for the event called 'Neon Jam'",
          W("JOIN public.events", "events.name = 'Neon Jam'"), NULL);
    plans("customers with email \"o'hara@example.com\"",
          W("customers.email = 'o''hara@example.com'"), NULL);
}

static void test_declines(void **state)
{
    (void)state;
    declines(demo, "what is the weather", "\"weather\"");
    declines(demo, "What is the capital of France?", "\"capital\"");
    declines(demo, "how many tickets in Paris", "\"paris\"");
    declines(demo, "ticket sales by name", "could mean");
    declines(demo, "average quantity", "fits both merch_orders and ticket_sales");
    declines(demo, "list cities", "fits both customers and venues");
    declines(demo, "list customers named Priya", "\"priya\"");
    declines(demo, "total revenue of ticket sales by product category", NULL);
    declines(demo, "how many vip customers", "\"vip\"");
    declines(demo, "average", NULL);
    declines(demo, "", NULL);
    declines(demo, "the 2023", NULL);
    declines(demo, "what is \"foo\"", NULL);
    declines(demo, "ticket sales with price \"12\"", "which column");
}

/* Ordinary-English forms: shares, money spent, size rankings, relating verbs, and the
 * declines that keep them from guessing. */
static void test_english_forms(void **state)
{
    (void)state;
    plans("What share of ticket sales were refunded?",
          W("avg(CASE WHEN (ticket_sales.status = 'refunded') THEN 1 ELSE 0 END)",
            "FROM public.ticket_sales"),
          W("WHERE"));
    plans("percentage of customers who are members",
          W("100.0 * avg(CASE WHEN (customers.is_member = TRUE) THEN 1 ELSE 0 END)"), W("WHERE"));
    declines(demo, "share of ticket sales in 2024 that were refunded", "time range");
    declines(demo, "what share of ticket sales", "one condition");
    plans("Show me the 3 largest merch orders",
          W("SELECT merch_orders.*", "ORDER BY merch_orders.revenue DESC", "LIMIT 3"), NULL);
    declines(demo, "the 3 largest customers", "rank");
    plans("Which customers spent the most on merch?",
          W("sum(merch_orders.revenue)", "GROUP BY customers.customer_id, customers.name", "DESC",
            "LIMIT 10"),
          NULL);
    declines(demo, "which customers spent the most on events", "money");
    plans("how many ticket sales were located in Pune", W("count(*)", "customers.city = 'Pune'"),
          NULL);
    plans("top 3 customers by loyalty points with city Pune",
          W("ORDER BY customers.loyalty_points DESC", "LIMIT 3"), W("DISTINCT"));
}

/* Analytical forms on a catalog that declares no keys (as many do): a year number as the
 * year, order phrases, size superlatives, ratios, stored counts, comparison signs, units. */
static void test_analytical_forms(void **state)
{
    static const char *const papers[] = {
        "paper_id:bigint",     "title:text", "year:bigint", "citation_num:bigint",
        "num_authors:integer", "venue:text", NULL};
    static const char *const rivers[] = {"river_id:integer",
                                         "river_name:text",
                                         "length:integer",
                                         "width:integer",
                                         "country:text",
                                         "nation_id:integer",
                                         NULL};
    static const char *const nations[] = {"nation_id:integer", "nation_name:text", "continent:text",
                                          NULL};
    static const char *const venues[] = {"Nature", "Science", NULL};
    catalog *c = catalog_new();
    int p;

    (void)state;
    p = table_keyed(c, "public", "paper", papers, 0);
    table_keyed(c, "public", "river", rivers, 0);
    table_keyed(c, "public", "nation", nations, 0);
    values(c, p, "venue", venues);
    /* no foreign keys declared: river.nation_id names nation's key, so it joins */
    plans_on(
        c, NULL, "How many rivers are there in each continent?",
        W("JOIN public.nation ON nation.nation_id = river.nation_id", "GROUP BY nation.continent"),
        NULL);
    /* a year number is the year grain and takes whole-year ranges */
    plans_on(c, NULL, "What is the total number of papers published in each year?",
             W("SELECT paper.year, count(*)", "GROUP BY paper.year"), W("extract"));
    plans_on(c, NULL, "How many papers were published in 2020?",
             W("paper.year >= 2020 AND paper.year < 2021"), NULL);
    declines(c, "How many papers in March 2020?", "holds years");
    /* order phrases */
    plans_on(c, NULL, "What are the titles of the papers in 2021, ordered alphabetically?",
             W("paper.title FROM", "ORDER BY paper.title ASC"), NULL);
    plans_on(c, NULL, "List the papers ordered by the citation num in descending order",
             W("ORDER BY paper.citation_num DESC"), W("LIMIT"));
    plans_on(c, NULL, "How many papers are there in each venue, sorted in descending order?",
             W("GROUP BY paper.venue", "ORDER BY count(*) DESC"), NULL);
    plans_on(c, NULL, "sort the river names in ascending order", W("ORDER BY river.river_name ASC"),
             NULL);
    plans_on(c, NULL, "List the rivers starting from the longest lengths to the shortest",
             W("ORDER BY river.length DESC"), NULL);
    plans_on(c, NULL, "rivers from the lowest width to the highest", W("ORDER BY river.width ASC"),
             NULL);
    declines(c, "papers by venue ordered by year", "order groups");
    declines(c, "list the papers ordered by title in ascending order sorted by year", NULL);
    /* size superlatives: the column the adjective is about; an order phrase asks for all */
    plans_on(c, NULL, "What are the 3 longest rivers?", W("ORDER BY river.length DESC", "LIMIT 3"),
             NULL);
    plans_on(c, NULL,
             "What are the longest rivers in kilometers, ordered from longest to shortest?",
             W("ORDER BY river.length DESC"), W("LIMIT"));
    /* ratios: of totals, per group, row by row, of rows counted on conditions */
    plans_on(
        c, NULL, "What is the ratio of length to width for each river?",
        W("river.river_name", "river.river_id", "(river.length)::float / NULLIF((river.width), 0)"),
        W("sum(", "GROUP BY"));
    plans_on(c, NULL, "ratio of length to width by country",
             W("sum(river.length)::float / NULLIF(sum(river.width), 0)", "GROUP BY river.country"),
             NULL);
    plans_on(c, NULL, "What is the ratio of rivers with length > 1000 to rivers with length < 100?",
             W("count(*) FILTER (WHERE river.length > 1000)",
               "NULLIF(count(*) FILTER (WHERE river.length < 100), 0)"),
             W("public.river WHERE"));
    plans_on(c, NULL, "How does the average length of rivers vary across different countries?",
             W("avg(river.length)", "GROUP BY river.country"), NULL);
    plans_on(c, NULL, "How many rivers flow through each country?",
             W("count(*)", "GROUP BY river.country"), NULL);
    plans_on(c, NULL, "how many papers in Nature", W("Nature"), NULL);
    plans_on(c, NULL, "how many papers in 2020", W("2020"), NULL);
    plans_on(c, NULL, "ratio of papers in Nature out of all papers in 2020",
             W("FILTER (WHERE paper.venue = 'Nature')", "NULLIF(count(*), 0)",
               "WHERE (paper.year >= 2020"),
             NULL);
    declines(c, "ratio of rivers with length > 1000 to rivers in Nature with width < 5", NULL);
    declines(c, "ratio of length to river name", "river name");
    /* a column that stores a number of things, and a first <table>_id column as the key */
    plans_on(c, NULL, "What is the average number of citations of papers in each year?",
             W("avg(paper.citation_num)", "GROUP BY paper.year"), NULL);
    plans_on(c, NULL, "total number of authors in each paper",
             W("sum(paper.num_authors)", "GROUP BY paper.paper_id, paper.title"), NULL);
    plans_on(c, NULL, "rivers with width >= 10 and length <= 50",
             W("river.width >= 10", "river.length <= 50"), NULL);
    catalog_free(c);
}

/* Links a catalog without declared keys implies by its names: an <initial>id key of a
 * one-word table ("cid" of conference), <table>_id referring to a first column named id; the
 * passive "by" of an agent; a joined table's name grouped by with its key. */
static void test_implied_links(void **state)
{
    static const char *const pubs[] = {
        "abstract:text",        "cid:bigint",          "pid:bigint", "title:text",
        "reference_num:bigint", "citation_num:bigint", NULL};
    static const char *const confs[] = {"cid:bigint", "name:text", NULL};
    static const char *const doms[] = {"did:bigint", "name:text", NULL};
    static const char *const dpub[] = {"did:bigint", "pid:bigint", NULL};
    static const char *const rests[] = {"id:bigint", "name:text", "city_name:text", "rating:real",
                                        NULL};
    static const char *const geo[] = {"city_name:text", "region:text", NULL};
    static const char *const states[] = {"state_name:text", "population:bigint", "area:real",
                                         "density:real", NULL};
    static const char *const lakes[] = {"lake_name:text", "area:real", "state_name:text", NULL};
    static const char *const locs[] = {"restaurant_id:bigint", "street_name:text", NULL};
    static const char *const cites[] = {"cited:bigint", "citing:bigint", NULL};
    static const char *const authors[] = {"aid:bigint", "name:text", "oid:bigint", NULL};
    static const char *const orgs[] = {"oid:bigint", "name:text", "continent:text", NULL};
    static const char *const writes[] = {"aid:bigint", "pid:bigint", NULL};
    static const char *const keyphr[] = {"keyphraseid:bigint", "keyphrasename:text", NULL};
    static const char *const pkey[] = {"pid:bigint", "keyphraseid:bigint", NULL};
    static const char *const students[] = {"student_id:bigint", "declare_major:text", "minor:text",
                                           "program_id:bigint", NULL};
    static const char *const programs[] = {"program_id:bigint", "name:text", NULL};
    static const char *const offers[] = {"offering_id:bigint", "course_id:bigint", NULL};
    static const char *const courses[] = {"course_id:bigint", "name:text", "clarity:real",
                                          "num_enrolled:bigint", NULL};
    static const char *const tags[] = {"course_id:bigint", "cares_for_students:bigint", NULL};
    static const char *const remarks[] = {"instructor_id:bigint", "score:real", NULL};
    static const char *const teach[] = {"offering_instructor_id:bigint", "offering_id:bigint",
                                        "instructor_id:bigint", NULL};
    static const char *const instr[] = {"instructor_id:bigint", "name:text", NULL};
    catalog *c = catalog_new();

    (void)state;
    table_keyed(c, "public", "publication", pubs, 0);
    table_keyed(c, "public", "conference", confs, 0);
    table_keyed(c, "public", "domain", doms, 0);
    table_keyed(c, "public", "domain_publication", dpub, 0);
    table_keyed(c, "public", "restaurant", rests, 0);
    table_keyed(c, "public", "location", locs, 0);
    table_keyed(c, "public", "cite", cites, 0);
    table_keyed(c, "public", "author", authors, 0);
    table_keyed(c, "public", "organization", orgs, 0);
    table_keyed(c, "public", "writes", writes, 0);
    table_keyed(c, "public", "keyphrase", keyphr, 0);
    table_keyed(c, "public", "keyphrase_publication", pkey, 0);
    table_keyed(c, "public", "geographic", geo, 0);
    table_keyed(c, "public", "state", states, 0);
    table_keyed(c, "public", "lake", lakes, 0);
    table_keyed(c, "public", "student", students, 0);
    table_keyed(c, "public", "program", programs, 0);
    table_keyed(c, "public", "course_offering", offers, 0);
    table_keyed(c, "public", "course", courses, 0);
    table_keyed(c, "public", "offering_instructor", teach, 0);
    table_keyed(c, "public", "instructor", instr, 0);
    table_keyed(c, "public", "course_tags_count", tags, 0);
    table_keyed(c, "public", "comment_instructor", remarks, 0);
    plans_on(c, NULL, "How many publications are there in each conference?",
             W("JOIN public.conference ON conference.cid = publication.cid",
               "GROUP BY conference.cid, conference.name"),
             NULL);
    plans_on(c, NULL,
             "What is the average number of references cited by publications in each domain name?",
             W("avg(publication.reference_num)",
               "JOIN public.domain ON domain.did = domain_publication.did",
               "GROUP BY domain.did, domain.name"),
             W("GROUP BY publication"));
    plans_on(c, NULL, "average rating of restaurants by street name",
             W("JOIN public.restaurant ON restaurant.id = location.restaurant_id",
               "GROUP BY location.street_name"),
             NULL);
    /* a table of links only joins the two sides: measured on one, grouped by the other */
    plans_on(c, NULL, "What is the total number of citations received by each author?",
             W("sum(publication.citation_num)", "FROM public.writes",
               "GROUP BY author.aid, author.name"),
             NULL);
    plans_on(c, NULL, "number of publications for each author",
             W("count(DISTINCT writes.pid)", "GROUP BY author.aid, author.name"), NULL);
    plans_on(c, NULL, "How many publications are there?", W("count(*)", "FROM public.publication"),
             W("writes"));
    /* a <table>name column is the table's label */
    plans_on(c, NULL, "number of publications for each keyphrase",
             W("count(DISTINCT keyphrase_publication.pid)",
               "GROUP BY keyphrase.keyphraseid, keyphrase.keyphrasename"),
             NULL);
    /* tables keyed by a name: a first column <table>_name, or one only that table starts with */
    plans_on(c, NULL, "What is the average rating of restaurants in each region?",
             W("JOIN public.geographic ON geographic.city_name = restaurant.city_name",
               "GROUP BY geographic.region"),
             NULL);
    plans_on(c, NULL, "How many lakes are there in each state?", W("GROUP BY lake.state_name"),
             W("JOIN"));
    plans_on(c, NULL, "lakes in states with a population above 1000000",
             W("JOIN public.state ON state.state_name = lake.state_name", "state.population >"),
             NULL);
    /* a quoted value beside the table or column it is of, compared but for case */
    plans_on(c, NULL, "How many publications are in the conference \"NeurIPS 50%_x\"?",
             W("conference.name ILIKE 'NeurIPS 50\\%\\_x'"), NULL);
    plans_on(c, NULL, "How many publications have the \"Deep Nets\" title?",
             W("publication.title ILIKE 'Deep Nets'"), NULL);
    /* the two parts of one column's name are one mention; "have a X" is X IS NOT NULL */
    plans_on(c, NULL, "How many students have declared a major in each program?",
             W("WHERE student.declare_major IS NOT NULL", "GROUP BY program.program_id"), NULL);
    plans_on(c, NULL, "Which students have a minor?", W("WHERE student.minor IS NOT NULL"), NULL);
    /* <last word>_id keys course_offering; a clause ends the list of groupings */
    plans_on(c, NULL, "What is the average clarity for each instructor who taught a course?",
             W("avg(course.clarity)", "FROM public.offering_instructor",
               "JOIN public.course_offering ON course_offering.offering_id = "
               "offering_instructor.offering_id",
               "GROUP BY instructor.instructor_id, instructor.name"),
             W("GROUP BY instructor.instructor_id, instructor.name, course"));
    /* rows of a table the main one refers to are counted through its references, when
     * that table cannot be the main one; "the most number of" ranks from the most */
    plans_on(c, NULL, "Which street has the most number of restaurants?",
             W("count(DISTINCT location.restaurant_id)", "DESC", "LIMIT 1"), NULL);
    plans_on(c, NULL, "How many restaurants are there in each city?",
             W("count(*)", "FROM public.restaurant", "GROUP BY restaurant.city_name"),
             W("location"));
    plans_on(c, NULL, "Which city has the most number of restaurants?", W("ORDER BY count(*) DESC"),
             NULL);
    /* a main table nothing in the question is about is not joined in ("students" is only a
     * part of cares_for_students) */
    plans_on(c, NULL, "What is the total number of students enrolled in each course?",
             W("sum(course.num_enrolled)", "FROM public.course GROUP BY"), W("course_tags_count"));
    /* groups by a table are ordered by its name; "the region name" is the column region */
    plans_on(c, NULL,
             "How many publications are there in each conference, ordered by the conference name?",
             W("GROUP BY conference.cid, conference.name", "ORDER BY conference.name"), NULL);
    plans_on(c, NULL, "average rating of restaurants in each region, ordered by the region name",
             W("GROUP BY geographic.region", "ORDER BY geographic.region"), NULL);
    /* "name" alone of a keyphrasename column; groups ordered by the key of their table */
    plans_on(c, NULL, "list the names of the keyphrases", W("keyphrase.keyphrasename"), NULL);
    plans_on(c, NULL, "number of publications for each keyphrase, ordered by the keyphrase id",
             W("GROUP BY keyphrase.keyphraseid, keyphrase.keyphrasename",
               "ORDER BY keyphrase.keyphraseid"),
             NULL);
    /* the last word of a table's name is what its rows are: "offerings" of course_offering;
     * "the names of the X" lists X's rows, their key beside the name */
    plans_on(c, NULL, "number of offerings per course",
             W("FROM public.course_offering", "GROUP BY course.course_id"),
             W("offering_instructor"));
    plans_on(c, NULL, "What are the names of the conferences?",
             W("conference.cid", "conference.name"), W("DISTINCT"));
    /* "the names of the conferences": of that table, and shown by the grouping already */
    plans_on(c, NULL,
             "How many publications are there in each conference? Give the names of the "
             "conferences.",
             W("GROUP BY conference.cid, conference.name"), NULL);
    /* a column of the table named right before it; matches by start and by part */
    plans_on(c, NULL, "lakes in states with an area greater than 1000", W("state.area > 1000"),
             W("lake.area >"));
    plans_on(c, NULL, "How many publications are in conferences whose names start with \"Neu\"?",
             W("conference.name ILIKE 'Neu%'"), NULL);
    plans_on(c, NULL, "publications with a title containing the word \"deep\"",
             W("publication.title ILIKE '%deep%'"), NULL);
    plans_on(c, NULL, "How many publications are in the conference with \"IPS\" in its name?",
             W("conference.name ILIKE '%IPS%'"), NULL);
    plans_on(c, NULL, "number of unique keyphrases of publications in the conference \"X\"",
             W("count(DISTINCT keyphrase_publication.keyphraseid)"), NULL);
    /* the second of two column phrases of one table is the one meant; units of people */
    plans_on(c, NULL,
             "Which states have the highest population density in people per square kilometer?",
             W("ORDER BY state.density DESC"), W("ORDER BY state.population"));
    /* "which X have no Y": by X's reference to Y, Y's references to X, or a link table */
    plans_on(c, NULL, "Which authors are not part of any organization?",
             W("WHERE author.oid IS NULL"), NULL);
    plans_on(c, NULL, "authors without publications",
             W("WHERE NOT EXISTS (SELECT 1 FROM public.writes WHERE writes.aid = author.aid)"),
             NULL);
    plans_on(c, NULL, "How many conferences have no publications?",
             W("count(*)", "FROM public.conference WHERE NOT EXISTS (SELECT 1 FROM "
                           "public.publication WHERE publication.cid = conference.cid)"),
             NULL);
    plans("customers without ticket sales",
          W("NOT EXISTS (SELECT 1 FROM public.ticket_sales WHERE ticket_sales.customer_id = "
            "customers.customer_id)"),
          NULL);
    /* a ratio of all rows of two tables, never per group */
    plans_on(c, NULL, "What is the ratio of publications to authors in the database?",
             W("SELECT count(*)::float / NULLIF((SELECT count(*) FROM public.author), 0) AS ratio "
               "FROM public.publication"),
             NULL);
    declines(c, "ratio of publications to authors for each conference", NULL);
    /* a value of two columns after a word of one's name; the first table named is listed */
    {
        static const char *const flights[] = {"flight_id:bigint", "from_airport:text",
                                              "to_airport:text", "airline_code:text", NULL};
        static const char *const airlines[] = {"airline_code:text", "airline_name:text", NULL};
        static const char *const codes[] = {"LAX", "ORD", NULL};
        int f = table_keyed(c, "public", "flight", flights, 0);
        table_keyed(c, "public", "airline", airlines, 0);
        values(c, f, "from_airport", codes);
        values(c, f, "to_airport", codes);
        plans_on(c, NULL, "Which airlines offer flights from LAX to ORD?",
                 W("SELECT DISTINCT airline.*", "flight.from_airport = 'LAX'",
                   "flight.to_airport = 'ORD'"),
                 W("IN ("));
    }
    /* "have a X" of a number is no IS NOT NULL (it may mean more than none) */
    declines(demo, "How many customers have loyalty points?", NULL);
    plans("events with no merch orders",
          W("NOT EXISTS (SELECT 1 FROM public.merch_orders WHERE merch_orders.event_id = "
            "events.event_id)"),
          NULL);
    /* a filter after the measured column is no second column of it */
    plans("top 3 city by average loyalty points members",
          W("avg(customers.loyalty_points)", "customers.is_member = TRUE", "LIMIT 3"), NULL);
    /* "or" between conditions of two columns is not read as "and" */
    declines(demo, "How many customers are members or in Pune?", "\"or\"");
    plans("How many customers in Pune or Mumbai?", W("Pune", "Mumbai"), NULL);
    catalog_free(c);
}

static void test_quoting(void **state)
{
    static const char *const cols[] = {"id:integer", "user:text", "Amount:numeric", NULL};
    static const char *const users[] = {"o'brien", "ann", NULL};
    catalog *c = catalog_new();
    buf sql = BUF_INIT(4096);
    char why[512];
    int t;

    (void)state;
    t = table(c, "Sales", "order", cols);
    values(c, t, "user", users);
    assert_int_equal(planner_plan(c, NULL, "total amount by user", &sql, why, sizeof why), 0);
    assert_parses(buf_cstr(&sql));
    assert_non_null(strstr(buf_cstr(&sql), "sum(\"order\".\"Amount\")"));
    assert_non_null(strstr(buf_cstr(&sql), "FROM \"Sales\".\"order\""));
    buf_reset(&sql);
    assert_int_equal(planner_plan(c, NULL, "how many orders for o'brien", &sql, why, sizeof why),
                     0);
    assert_parses(buf_cstr(&sql));
    assert_non_null(strstr(buf_cstr(&sql), "'o''brien'"));
    buf_free(&sql);
    catalog_free(c);
}

static void test_empty_catalog(void **state)
{
    catalog *c = catalog_new();

    (void)state;
    declines(c, "how many tickets", NULL);
    catalog_free(c);
}

T2_UNIT_MAIN(setup, teardown, cmocka_unit_test(test_measures), cmocka_unit_test(test_dimensions),
             cmocka_unit_test(test_filters), cmocka_unit_test(test_time),
             cmocka_unit_test(test_ranking_and_listing), cmocka_unit_test(test_declines),
             cmocka_unit_test(test_quoting), cmocka_unit_test(test_empty_catalog),
             cmocka_unit_test(test_english_forms), cmocka_unit_test(test_analytical_forms),
             cmocka_unit_test(test_implied_links))
