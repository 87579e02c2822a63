/* test_sqlguard -- the SQL guard against the shared corpora (accept, reject, spider) and
 * targeted cases. Run from the project root: the data is read from ../shared/data/. */
#include "sqlguard.h"

#include <json-c/json.h>
#include <pg_query.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"

#define DATA "../shared/data/"

/* The shared corpora are beside a CI checkout but not beside a plain clone: without the
 * directory the test is skipped, saying so; with it, a missing file is a failure. */
static void need_shared(const char *path)
{
    if (access(DATA, F_OK) != 0) {
        print_message("skipped: needs %s, and ../shared/data is not beside this checkout\n", path);
        skip();
    }
}

/* guard_policy.schemas is char **: writable copies of the names. */
static char s_public[] = "public", s_sales[] = "sales", s_t2sql[] = "t2sql";
static char *public_schema[] = {s_public};
static char *two_schemas[] = {s_public, s_sales};
static char *t2sql_listed[] = {s_public, s_t2sql};

/* The policy the corpora are checked with: public only, allowlist on, no catalogs, generous
 * limits. */
static guard_policy base_policy(void)
{
    guard_policy p;

    memset(&p, 0, sizeof p);
    p.schemas = public_schema;
    p.nschemas = 1;
    p.allowlist = 1;
    p.allow_catalogs = 0;
    p.max_bytes = 1 << 20;
    p.max_nesting = 64;
    p.max_joins = 64;
    return p;
}

/* Calls fn(line number, sql, why-or-NULL, arg) for each {"sql", "why"} line of a JSONL
 * file; returns the number of lines, -1 if the file cannot be read. */
static int each_jsonl(const char *path, void (*fn)(int, const char *, const char *, int *),
                      int *failures)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    json_object *o, *sql, *why;

    if (!f) return -1;
    while (getline(&line, &cap, f) > 0) {
        n++;
        o = json_tokener_parse(line);
        if (!o || !json_object_object_get_ex(o, "sql", &sql)) {
            print_message("%s:%d: unreadable line\n", path, n);
            (*failures)++;
            json_object_put(o);
            continue;
        }
        if (!json_object_object_get_ex(o, "why", &why)) why = NULL;
        fn(n, json_object_get_string(sql), why ? json_object_get_string(why) : NULL, failures);
        json_object_put(o);
    }
    free(line);
    fclose(f);
    return n;
}

static void accept_line(int n, const char *sql, const char *why, int *failures)
{
    guard_policy p = base_policy();
    guard_result r;

    (void)why;
    if (guard_check(sql, &p, &r) != 0) {
        print_message("sql-accept.jsonl:%d: rejected: %s\n  sql: %s\n", n, r.why, sql);
        (*failures)++;
    }
}

/* Runs fn over every line of the shared corpus file name; none may fail. */
static void corpus(const char *name, void (*fn)(int, const char *, const char *, int *))
{
    char path[256];
    int failures = 0, n;

    snprintf(path, sizeof path, DATA "%s", name);
    need_shared(path);
    n = each_jsonl(path, fn, &failures);
    if (n < 0) fail_msg("cannot read %s (run from the project root)", path);
    print_message("%s: %d lines, %d failures\n", name, n, failures);
    assert_true(n > 0);
    assert_int_equal(failures, 0);
}

static void test_accept_corpus(void **state)
{
    (void)state;
    corpus("sql-accept.jsonl", accept_line);
}

/* What the reason must mention, for the corpus's own words about a line. */
static const unit_text_text why_map[] = {
    /* the corpus's words, what the reason says */
    {"second statement", "only one statement"},
    {"DML", "only a SELECT"},
    {"DDL", "only a SELECT"},
    {"data-modifying CTE", "inside WITH"},
    {"SELECT INTO", "SELECT INTO"},
    {"row locks", "row locks"},
    {"password hashes", "relation"},
    {"server file read", "function"},
    {"empty", "no statement"},
    {"unterminated literal", "unterminated"},
};

static void reject_line(int n, const char *sql, const char *why, int *failures)
{
    guard_policy p = base_policy();
    guard_result r;
    size_t i;

    if (guard_check(sql, &p, &r) == 0) {
        print_message("sql-reject.jsonl:%d: accepted (%s)\n  sql: %s\n", n, why ? why : "", sql);
        (*failures)++;
        return;
    }
    if (r.why[0] == '\0') {
        print_message("sql-reject.jsonl:%d: rejected without a reason\n", n);
        (*failures)++;
        return;
    }
    for (i = 0; why && i < sizeof why_map / sizeof why_map[0]; i++) {
        if (strstr(why, why_map[i].text) && !strstr(r.why, why_map[i].want)) {
            print_message("sql-reject.jsonl:%d: reason \"%s\" does not say \"%s\"\n", n, r.why,
                          why_map[i].want);
            (*failures)++;
        }
    }
}

static void test_reject_corpus(void **state)
{
    (void)state;
    corpus("sql-reject.jsonl", reject_line);
}

/* Every spider query PostgreSQL's parser accepts must pass, unless the guard names a denied
 * function (those are counted apart; "not on the list of allowed functions" is a failure). */
static void test_spider(void **state)
{
    FILE *f;
    char *line = NULL, *tab;
    size_t cap = 0;
    int lines = 0, parsed = 0, accepted = 0, denied_fn = 0, wrong = 0;
    guard_policy p = base_policy();
    guard_result r;
    PgQueryParseResult pr;

    (void)state;
    need_shared(DATA "spider/train_gold.sql");
    f = fopen(DATA "spider/train_gold.sql", "r");
    if (!f) fail_msg("cannot read %s (run from the project root)", DATA "spider/train_gold.sql");
    p.max_nesting = 32;
    p.max_joins = 24;
    p.max_bytes = 65536;
    while (getline(&line, &cap, f) > 0) {
        lines++;
        tab = strchr(line, '\t');
        if (tab) *tab = '\0';
        pr = pg_query_parse(line);
        if (pr.error) {
            pg_query_free_parse_result(pr);
            continue;
        }
        pg_query_free_parse_result(pr);
        parsed++;
        if (guard_check(line, &p, &r) == 0) {
            accepted++;
        } else if (strncmp(r.why, "function ", 9) == 0 && strstr(r.why, "is not allowed")) {
            denied_fn++;
        } else {
            if (wrong < 5)
                print_message("spider:%d: wrongly rejected: %s\n  sql: %s\n", lines, r.why, line);
            wrong++;
        }
    }
    free(line);
    fclose(f);
    print_message("spider: %d queries, %d parse as PostgreSQL, %d accepted, %d use a denied "
                  "function, %d wrongly rejected\n",
                  lines, parsed, accepted, denied_fn, wrong);
    assert_true(parsed > 8000);
    assert_int_equal(wrong, 0);
}

/* Policy variants for the targeted cases. */
enum {
    P_BASE,
    P_CATALOGS,
    P_NO_ALLOWLIST,
    P_TWO_SCHEMAS,
    P_T2SQL_LISTED,
    P_NESTING2,
    P_JOINS3,
    P_BYTES32,
    P_SESSION
};

static guard_policy policy(int which)
{
    guard_policy p = base_policy();

    switch (which) {
    case P_CATALOGS:
        p.allow_catalogs = 1;
        break;
    case P_NO_ALLOWLIST:
        p.allowlist = 0;
        break;
    case P_TWO_SCHEMAS:
        p.schemas = two_schemas;
        p.nschemas = 2;
        break;
    case P_T2SQL_LISTED:
        p.schemas = t2sql_listed;
        p.nschemas = 2;
        break;
    case P_NESTING2:
        p.max_nesting = 2;
        break;
    case P_JOINS3:
        p.max_joins = 3;
        break;
    case P_BYTES32:
        p.max_bytes = 32;
        break;
    case P_SESSION:
        p.allow_session = 1;
        break;
    default:
        break;
    }
    return p;
}

typedef struct gcase {
    const char *sql;
    int policy;
    int rc;          /* 0 accepted, -1 rejected */
    const char *why; /* substring of the reason when rejected */
} gcase;

static const gcase cases[] = {
    /* CTE names shadow tables, and are only in scope where SQL says they are. */
    {"WITH customers AS (SELECT 1 AS id) SELECT * FROM customers", P_BASE, 0, NULL},
    {"WITH pg_authid AS (SELECT 1 AS x) SELECT * FROM pg_authid", P_BASE, 0, NULL},
    {"WITH pg_authid AS (SELECT * FROM pg_authid) SELECT * FROM pg_authid", P_BASE, -1,
     "pg_authid"},
    {"SELECT * FROM (WITH pg_authid AS (SELECT 1) SELECT * FROM pg_authid) x, pg_authid", P_BASE,
     -1, "pg_authid"},
    {"WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", P_BASE, 0, NULL},
    {"WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", P_BASE, 0, NULL},
    /* Data-modifying CTEs, however deep. */
    {"WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d", P_BASE, -1,
     "DELETE inside WITH"},
    {"WITH u AS (UPDATE customers SET name = 'x' RETURNING 1) SELECT 1", P_BASE, -1,
     "UPDATE inside WITH"},
    {"SELECT * FROM (WITH x AS (WITH y AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT * "
     "FROM y) SELECT * FROM x) z",
     P_BASE, -1, "INSERT inside WITH"},
    {"SELECT (SELECT count(*) FROM (WITH m AS (MERGE INTO t USING s ON true WHEN MATCHED THEN "
     "DELETE) SELECT 1) q)",
     P_BASE, -1, NULL},
    /* Row locks and SELECT INTO anywhere. */
    {"SELECT * FROM customers WHERE id IN (SELECT customer_id FROM orders FOR UPDATE)", P_BASE, -1,
     "row locks (FOR UPDATE)"},
    {"SELECT * FROM (SELECT * FROM orders FOR NO KEY UPDATE) o", P_BASE, -1, "FOR NO KEY UPDATE"},
    {"SELECT 1 UNION (SELECT 2 FOR KEY SHARE)", P_BASE, -1, "FOR KEY SHARE"},
    {"WITH x AS (SELECT * FROM orders FOR SHARE) SELECT * FROM x", P_BASE, -1, "FOR SHARE"},
    {"SELECT * INTO stolen FROM customers", P_BASE, -1, "SELECT INTO"},
    /* Catalogs and schemas. */
    {"SELECT * FROM pg_authid", P_CATALOGS, -1, "pg_authid"},
    {"SELECT * FROM PG_AUTHID", P_BASE, -1, "pg_authid"},
    {"SELECT * FROM pg_class", P_BASE, -1, "system catalogs are not enabled"},
    {"SELECT * FROM pg_class", P_CATALOGS, 0, NULL},
    {"SELECT relname FROM pg_catalog.pg_class", P_BASE, -1, "pg_catalog.pg_class"},
    {"SELECT relname FROM pg_catalog.pg_class", P_CATALOGS, 0, NULL},
    {"SELECT * FROM pg_catalog.pg_shadow", P_CATALOGS, -1, "protected"},
    {"SELECT * FROM pg_catalog.pg_stat_activity", P_CATALOGS, -1, "protected"},
    {"SELECT * FROM pg_catalog.pg_replication_slots", P_CATALOGS, -1, "protected"},
    {"SELECT * FROM information_schema.tables", P_BASE, -1, "information_schema.tables"},
    {"SELECT * FROM information_schema.tables", P_CATALOGS, 0, NULL},
    {"SELECT * FROM information_schema.user_mapping_options", P_CATALOGS, -1, "protected"},
    {"SELECT * FROM t2sql.queries", P_BASE, -1, "t2sql"},
    {"SELECT * FROM t2sql.api_keys", P_T2SQL_LISTED, -1, "t2sql"},
    {"SELECT * FROM sales.orders", P_BASE, -1, "schema sales is not one of the allowed"},
    {"SELECT * FROM sales.orders", P_TWO_SCHEMAS, 0, NULL},
    {"SELECT * FROM public.customers", P_BASE, 0, NULL},
    {"SELECT * FROM otherdb.public.customers", P_BASE, -1, "cross-database"},
    {"SELECT * FROM \"Public\".customers", P_BASE, -1, "not one of the allowed"},
    /* Functions: the denylist everywhere, the allowlist and schemas. */
    {"SELECT myschema.fn(1)", P_BASE, -1, "only pg_catalog functions"},
    {"SELECT public.fn(1)", P_BASE, -1, "only pg_catalog functions"},
    {"SELECT pg_catalog.lower('A')", P_BASE, 0, NULL},
    {"SELECT myschema.fn(1)", P_NO_ALLOWLIST, 0, NULL},
    {"SELECT xpath('/a', '<a/>'::xml)", P_BASE, -1, "not on the list"},
    {"SELECT xpath('/a', '<a/>'::xml)", P_NO_ALLOWLIST, 0, NULL},
    {"SELECT pg_sleep(1)", P_NO_ALLOWLIST, -1, "function pg_sleep is not allowed"},
    {"SELECT PG_SLEEP(1)", P_BASE, -1, "is not allowed"},
    {"SELECT pg_catalog.pg_sleep(1)", P_BASE, -1, "pg_catalog.pg_sleep"},
    {"SELECT c.name FROM customers c CROSS JOIN LATERAL (SELECT (SELECT CASE WHEN c.id > 0 "
     "THEN pg_sleep(10) END) AS s FROM orders o WHERE o.customer_id = c.id) x",
     P_BASE, -1, "pg_sleep"},
    {"SELECT c.name FROM customers c CROSS JOIN LATERAL (SELECT (SELECT CASE WHEN c.id > 0 "
     "THEN pg_sleep(10) END) AS s FROM orders o WHERE o.customer_id = c.id) x",
     P_NO_ALLOWLIST, -1, "pg_sleep"},
    {"SELECT * FROM ROWS FROM (generate_series(1, 3), pg_ls_dir('.')) AS t(a, b)", P_BASE, -1,
     "pg_ls_dir"},
    {"SELECT count(*) FILTER (WHERE lo_get(1) IS NULL) FROM customers", P_BASE, -1, "lo_get"},
    {"SELECT sum(x) OVER (ORDER BY nextval('s')) FROM t", P_BASE, -1, "nextval"},
    {"SELECT current_setting('search_path')", P_NO_ALLOWLIST, -1, "current_setting"},
    {"SELECT pg_try_advisory_lock(1)", P_NO_ALLOWLIST, -1, "pg_try_advisory_lock"},
    {"SELECT ts_stat('SELECT 1')", P_NO_ALLOWLIST, -1, "ts_stat"},
    {"SELECT 1 OPERATOR(myschema.+) 2", P_BASE, -1, "operator myschema.+"},
    {"SELECT 1 OPERATOR(pg_catalog.+) 2", P_BASE, 0, NULL},
    /* Attribute-call syntax: x.fn and (expr).fn are fn(x) when x has no such column. */
    {"SELECT (10::float8).pg_sleep", P_BASE, -1, "pg_sleep"},
    {"SELECT (10::float8).pg_sleep", P_NO_ALLOWLIST, -1, "function pg_sleep is not allowed"},
    {"SELECT ('search_path'::text).current_setting", P_BASE, -1, "current_setting"},
    {"SELECT ('search_path'::text).current_setting", P_NO_ALLOWLIST, -1, "current_setting"},
    {"SELECT ('SELECT to_tsvector(setting) FROM pg_settings'::text).ts_stat", P_BASE, -1,
     "ts_stat"},
    {"SELECT ('SELECT to_tsvector(setting) FROM pg_settings'::text).ts_stat", P_NO_ALLOWLIST, -1,
     "ts_stat"},
    {"SELECT ('/etc/hostname'::text).pg_read_file", P_BASE, -1, "pg_read_file"},
    {"SELECT ('/etc/hostname'::text).pg_read_file", P_NO_ALLOWLIST, -1, "pg_read_file"},
    {"SELECT ('.'::text).pg_ls_dir", P_BASE, -1, "pg_ls_dir"},
    {"SELECT ('.'::text).pg_ls_dir", P_NO_ALLOWLIST, -1, "pg_ls_dir"},
    {"SELECT (x).PG_SLEEP FROM t", P_NO_ALLOWLIST, -1, "pg_sleep"},
    {"SELECT t.pg_sleep FROM t", P_NO_ALLOWLIST, -1, "pg_sleep"},
    {"SELECT t.current_setting FROM t", P_BASE, -1, "current_setting"},
    {"SELECT public.t.ts_stat FROM t", P_NO_ALLOWLIST, -1, "ts_stat"},
    {"SELECT (t.c).pg_read_file FROM t", P_NO_ALLOWLIST, -1, "pg_read_file"},
    {"SELECT (t.c).x.pg_ls_dir FROM t", P_NO_ALLOWLIST, -1, "pg_ls_dir"},
    {"SELECT 1 FROM t WHERE ((SELECT 'search_path'::text)).current_setting > ''", P_BASE, -1,
     "current_setting"},
    /* In allowlist mode: built-ins not on the allowlist, and (expr).name. */
    {"SELECT c.pg_get_viewdef FROM c", P_BASE, -1, "built-in function"},
    {"SELECT c.pg_get_viewdef FROM c", P_NO_ALLOWLIST, 0, NULL},
    {"SELECT ('pg_class'::text).to_regclass", P_BASE, -1, "to_regclass"},
    {"SELECT ('pg_class'::text).f_udf", P_BASE, -1, "field selection (expr).f_udf"},
    {"SELECT ('pg_class'::text).f_udf", P_NO_ALLOWLIST, 0, NULL},
    {"SELECT ('pg_class'::text).to_regclass", P_NO_ALLOWLIST, 0, NULL},
    {"SELECT (ROW(1, 2)).f1", P_BASE, -1, "field selection (expr).f1"},
    {"SELECT (ROW(1, 2)).f1", P_NO_ALLOWLIST, 0, NULL},
    {"SELECT (c).obj_description FROM c", P_BASE, -1, "built-in function"},
    {"SELECT s.total FROM (SELECT sum(x) AS total FROM t) s", P_BASE, 0, NULL},
    /* User-defined functions through attribute syntax stay possible (no catalog here). */
    {"SELECT o.f_orders FROM orders o", P_BASE, 0, NULL},
    /* Legitimate column and field references. */
    {"SELECT c.name FROM customers c", P_BASE, 0, NULL},
    /* only the last name of a column reference can be a call: a table named like one is fine */
    {"SELECT lo_orders.id, dblink_log.at FROM lo_orders JOIN dblink_log USING (id)", P_BASE, 0,
     NULL},
    {"SELECT t.lo_import FROM t", P_BASE, -1, "lo_import"},
    {"SELECT (c).name FROM customers c", P_BASE, 0, NULL},
    {"SELECT (c.addr).city, (c.addr).* FROM customers c", P_BASE, 0, NULL},
    {"SELECT t.length, t.version, t.format, t.position, t.date_part, t.abs, t.money, t.xml, "
     "t.width, t.height, t.radius, t.path, t.point, t.system, t.user_id FROM t",
     P_BASE, 0, NULL},
    {"SELECT public.customers.name, public.customers.* FROM public.customers", P_BASE, 0, NULL},
    {"SELECT (ARRAY[1, 2])[1], (x).*, (string_to_array(s, ','))[2:3] FROM t", P_BASE, 0, NULL},
    {"SELECT doc -> 'a' ->> 'b', doc #> '{a,b}', (doc -> 'a')['b'] FROM t", P_BASE, 0, NULL},
    /* Constant sizes: repeat, lpad, rpad, array_fill, generate_series. */
    {"SELECT repeat('x', 1000000000)", P_BASE, -1, "repeat() would produce at least"},
    {"SELECT repeat('x', 1000000000)", P_NO_ALLOWLIST, -1, "limit is 10000000"},
    {"SELECT repeat('x', '1000000000')", P_BASE, -1, "repeat()"},
    {"SELECT repeat('x', 100000 * 100000)", P_BASE, -1, "repeat()"},
    {"SELECT repeat(repeat('xy', 10000), 10000)", P_BASE, -1, "200000000 characters"},
    {"SELECT repeat('x', 10000000), repeat('-', 40), repeat(name, n), repeat('x', -5) FROM t",
     P_BASE, 0, NULL},
    {"SELECT lpad('a', 1e12::int)", P_BASE, -1, "lpad()"},
    {"SELECT rpad(name, 20000000) FROM t", P_BASE, -1, "rpad()"},
    {"SELECT lpad(name, 10, '0'), rpad(name, n) FROM t", P_BASE, 0, NULL},
    {"SELECT array_fill(1, ARRAY[100000000])", P_BASE, -1, "array_fill()"},
    {"SELECT array_fill(1, ARRAY[10000, 10000])", P_BASE, -1, "100000000 array elements"},
    {"SELECT array_fill(0, '{10000,10000}'::int[])", P_BASE, -1, "array_fill()"},
    {"SELECT array_fill(0, ARRAY[3, 4], ARRAY[1, 1]), array_fill(0, ARRAY[n]) FROM t", P_BASE, 0,
     NULL},
    {"SELECT generate_series(1, 1e12)", P_BASE, -1, "generate_series()"},
    {"SELECT generate_series(-9000000, 9000000)", P_BASE, -1, "18000001 rows"},
    {"SELECT generate_series(- 9000000, 2000000, 1)", P_BASE, -1, "11000001 rows"},
    {"SELECT generate_series(9000000, -9000000, -1)", P_BASE, -1, "18000001 rows"},
    {"SELECT generate_series(9000000, -9000000), generate_series(-3, 3)", P_BASE, 0, NULL},
    {"SELECT * FROM generate_series(-5000000000, 5000000000) g", P_NO_ALLOWLIST, -1, "rows"},
    {"SELECT generate_series(1, 1000000000, 1000), generate_series(1, n) FROM t", P_BASE, 0, NULL},
    {"SELECT * FROM generate_series('2024-01-01'::date, '2024-12-31', '1 day') d", P_BASE, 0, NULL},
    /* Syntax the grammar turns into pg_catalog calls. */
    {"SELECT extract(year FROM now()), substring('abc' FROM 1 FOR 2), position('b' IN 'abc'), "
     "trim(both ' ' FROM ' a '), now() AT TIME ZONE 'UTC', 'a' LIKE 'b' ESCAPE '!', "
     "'a' SIMILAR TO 'b', overlay('abc' PLACING 'x' FROM 2), (1, 2) OVERLAPS (3, 4)",
     P_BASE, 0, NULL},
    {"SELECT count(*), lower(name), date_trunc('month', d), coalesce(a, 0)::numeric(10, 2), "
     "percentile_cont(0.5) WITHIN GROUP (ORDER BY x), jsonb_build_object('a', 1) FROM t "
     "GROUP BY 2, 3, 4",
     P_BASE, 0, NULL},
    /* Words in literals and quoted identifiers are only words. */
    {"SELECT * FROM customers WHERE note = 'delete'", P_BASE, 0, NULL},
    {"SELECT * FROM customers WHERE note = 'x''; DROP TABLE customers; --'", P_BASE, 0, NULL},
    {"SELECT \"update\" FROM customers", P_BASE, 0, NULL},
    {"SELECT 1 AS \"pg_sleep\"", P_BASE, 0, NULL},
    /* Statements that are not one SELECT. */
    {"EXPLAIN ANALYZE SELECT 1", P_BASE, -1, "EXPLAIN"},
    {"SELECT 1; SELECT 2", P_BASE, -1, "statement 2 of 2"},
    {";", P_BASE, -1, "no statement"},
    {"/* only */ -- comments", P_BASE, -1, "no statement"},
    {"DECLARE c CURSOR FOR SELECT 1", P_BASE, -1, "DECLARE CURSOR"},
    /* Limits. */
    {"SELECT 1 FROM customers WHERE id = 1", P_BYTES32, -1, "limit is 32"},
    {"SELECT 1", P_BYTES32, 0, NULL},
    {"SELECT (SELECT 1)", P_NESTING2, 0, NULL},
    {"SELECT (SELECT (SELECT 1))", P_NESTING2, -1, "nested more than 2"},
    {"SELECT * FROM (SELECT * FROM (SELECT 1) a) b", P_NESTING2, -1, "nested more than 2"},
    {"SELECT 1 UNION SELECT 2 UNION SELECT 3 UNION SELECT 4", P_NESTING2, 0, NULL},
    {"SELECT * FROM a JOIN b ON true JOIN c ON true", P_JOINS3, 0, NULL},
    {"SELECT * FROM a JOIN b ON true JOIN c ON true, d", P_JOINS3, -1, "more than 3"},
    {"SELECT * FROM a, b, c WHERE EXISTS (SELECT 1 FROM d, e, f)", P_JOINS3, 0, NULL},
};

/* Runs a case table; returns the number of cases that went wrong, each printed. */
static int run_cases(const char *table, const gcase *tc, size_t n)
{
    guard_policy p;
    guard_result r;
    size_t i;
    int rc, failures = 0;

    for (i = 0; i < n; i++) {
        p = policy(tc[i].policy);
        rc = guard_check(tc[i].sql, &p, &r);
        if (rc != tc[i].rc) {
            print_message("%s %zu: want %s, got %s (%s)\n  sql: %s\n", table, i,
                          tc[i].rc ? "reject" : "accept", rc ? "reject" : "accept", r.why,
                          tc[i].sql);
            failures++;
        } else if (rc && (r.why[0] == '\0' || (tc[i].why && !strstr(r.why, tc[i].why)))) {
            print_message("%s %zu: reason \"%s\" does not say \"%s\"\n  sql: %s\n", table, i, r.why,
                          tc[i].why ? tc[i].why : "(anything)", tc[i].sql);
            failures++;
        } else if (rc && r.is_parse_error) {
            print_message("%s %zu: flagged as a parse error: %s\n", table, i, r.why);
            failures++;
        }
    }
    return failures;
}

static void test_cases(void **state)
{
    (void)state;
    assert_int_equal(run_cases("case", cases, sizeof cases / sizeof cases[0]), 0);
}

/* Size caps hold for any constant form: the guard folds operators, casts, nested calls,
 * scalar subqueries, timestamps and intervals before comparing with its limit of 10000000
 * characters, elements or rows. What depends on data (a column, a subquery reading a table,
 * a WHERE before an aggregate) is not proven and is accepted: statement_timeout,
 * temp_file_limit and the response size cap bound it. */
static const gcase folded[] = {
    /* the examples */
    {"SELECT repeat('x', (10^9)::int)", P_BASE, -1, "repeat() would produce at least 1000000000"},
    {"SELECT repeat(repeat('ab', 5000) || '', 100000)", P_BASE, -1, "1000000000 characters"},
    {"SELECT repeat($$z$$, (9*10^8)::int) AS blob", P_BASE, -1, "900000000 characters"},
    {"SELECT count(*) FROM generate_series(1, (10^12)::bigint) g", P_BASE, -1,
     "1000000000000 rows"},
    /* casts, literals, operators, parentheses */
    {"SELECT repeat('x', CAST('1000000000' AS int))", P_BASE, -1, "repeat()"},
    {"SELECT repeat('x', '1000000000'::int)", P_BASE, -1, "repeat()"},
    {"SELECT repeat('x', 9e8::int)", P_BASE, -1, "900000000 characters"},
    {"SELECT repeat('x', ((((10)))) ^ (9))", P_BASE, -1, "repeat()"},
    {"SELECT repeat('x', 10 * 10 ^ 8)", P_BASE, -1, "repeat()"},
    {"SELECT repeat('x', 2100000000 % 1100000000)", P_BASE, -1, "1000000000 characters"},
    {"SELECT repeat('x', -(-1000000000))", P_BASE, -1, "repeat()"},
    {"SELECT repeat('x', 2000000000 / 2 + 1)", P_BASE, -1, "1000000001 characters"},
    {"SELECT repeat('x', 100000 OPERATOR(pg_catalog.*) 100000)", P_BASE, -1, "repeat()"},
    /* numeric functions, GREATEST, COALESCE, a scalar subquery of a constant */
    {"SELECT repeat('x', power(10, 9)::int)", P_BASE, -1, "repeat()"},
    {"SELECT repeat('x', pow(10, 9)::int)", P_BASE, -1, "repeat()"},
    {"SELECT repeat('x', abs(-1000000000))", P_BASE, -1, "repeat()"},
    {"SELECT repeat('x', round(1e9 + 0.4)::int)", P_BASE, -1, "repeat()"},
    {"SELECT repeat('x', greatest(1, 1000000000))", P_BASE, -1, "repeat()"},
    {"SELECT repeat('x', coalesce(NULL, 1000000000))", P_BASE, -1, "repeat()"},
    {"SELECT repeat('x', (SELECT 1000000000))", P_BASE, -1, "repeat()"},
    {"SELECT repeat('x', (SELECT (10^9)::int))", P_NO_ALLOWLIST, -1, "repeat()"},
    /* pads, concatenation, format widths, text functions that keep the length */
    {"SELECT lpad('', (10^9)::int, 'x')", P_BASE, -1, "lpad()"},
    {"SELECT rpad('a', CAST(10^9 AS bigint))", P_BASE, -1, "rpad()"},
    {"SELECT repeat('x', 6000000) || repeat('y', 6000000)", P_BASE, -1,
     "the || operator would produce at least 12000000 characters"},
    {"SELECT 'a' || repeat('x', 4000000) || repeat('y', 4000000) || repeat('z', 4000000)", P_BASE,
     -1, "12000001 characters"},
    {"SELECT concat(repeat('x', 6000000), 'y', repeat('z', 6000000))", P_BASE, -1, "concat()"},
    {"SELECT concat_ws(repeat('-', 3000000), 'a', 'b', 'c', 'd', 'e')", P_BASE, -1, "concat_ws()"},
    {"SELECT format('%1000000000s', 'x')", P_BASE, -1, "format()"},
    {"SELECT format('%-*s|', 1000000000, 'x')", P_BASE, -1, "format()"},
    {"SELECT format('%2$*1$s', 1000000000, 'x')", P_BASE, -1, "format()"},
    {"SELECT format('%s%s', repeat('x', 6000000), repeat('y', 6000000))", P_BASE, -1, "format()"},
    {"SELECT upper(repeat('x', 6000000)) || lower(repeat('y', 6000000))", P_BASE, -1,
     "the || operator"},
    {"SELECT encode(convert_to(repeat('x', 6000000), 'UTF8'), 'hex')", P_BASE, -1, "encode()"},
    /* arrays */
    {"SELECT array_fill(0, ARRAY[(10^8)::int])", P_BASE, -1, "array_fill()"},
    {"SELECT array_fill(repeat('x', 1000), ARRAY[1000000])", P_BASE, -1,
     "1000000000 array elements"},
    /* series over timestamps, intervals in every spelling */
    {"SELECT * FROM generate_series('2000-01-01'::timestamp, '2030-01-01', '1 second') s", P_BASE,
     -1, "generate_series()"},
    {"SELECT generate_series(timestamp '2000-01-01', timestamp '2100-01-01', interval '1' minute)",
     P_BASE, -1, "generate_series()"},
    {"SELECT generate_series(now(), now() + interval '100 years', '1 minute')", P_BASE, -1,
     "generate_series()"},
    {"SELECT generate_series(current_date, current_date + 36500, '1 min')", P_BASE, -1,
     "generate_series()"},
    {"SELECT generate_series(DATE '2024-01-01', 'infinity', '1 day')", P_BASE, -1, "inf rows"},
    {"SELECT generate_series('2024-01-01 00:00'::timestamptz, '2024-12-31', 'PT1S')", P_BASE, -1,
     "generate_series()"},
    {"SELECT generate_series('2024-01-01'::date, '2025-01-01'::date, '00:00:01'::interval)", P_BASE,
     -1, "generate_series()"},
    /* a FROM of generate_series: its rows, and aggregates over them */
    {"SELECT count(*) FROM generate_series(1, 10000) a CROSS JOIN generate_series(1, 10000) b, "
     "generate_series(1, 10) c",
     P_BASE, 0, NULL}, /* rows of a join are produced lazily: not capped */
    {"SELECT string_agg(repeat('x', 100), '') FROM generate_series(1, 10000) a, "
     "generate_series(1, 100) b",
     P_BASE, -1, "100000000 characters"},
    {"SELECT string_agg(repeat('x', 1000), ',') FROM generate_series(1, 1000000) g", P_BASE, -1,
     "string_agg() would produce at least 1001000000 characters"},
    {"SELECT array_agg(repeat('x', 100)) FROM generate_series(1, 1000000) g", P_BASE, -1,
     "array_agg()"},
    {"SELECT length(string_agg(md5(g::text) || repeat('-', 100), '')) FROM "
     "generate_series(1, 200000) g",
     P_BASE, -1, "string_agg()"},
    {"SELECT (SELECT json_agg(repeat('x', 1000)) FROM generate_series(1, 100000) g)", P_BASE, -1,
     "json_agg()"},
    /* under the limits: accepted */
    {"SELECT repeat('x', (10^6)::int), lpad('a', 10 * 100), format('%10s|%-5s', 'a', 'b'), "
     "concat(repeat('x', 1000), 'y'), repeat('x', 10000000) || '', 10^9, (10^9)::bigint",
     P_BASE, 0, NULL},
    {"SELECT count(*) FROM generate_series(1, 3000) a, generate_series(1, 3000) b", P_BASE, 0,
     NULL},
    {"SELECT array_agg(g), string_agg(g::text, ',') FROM generate_series(1, 5000000) g", P_BASE, 0,
     NULL},
    {"SELECT * FROM generate_series('2024-01-01'::timestamp, '2024-12-31', interval '1 hour')",
     P_BASE, 0, NULL},
    {"SELECT generate_series(now() - interval '30 days', now(), '1 day'), "
     "generate_series(1, 10, 0.5)",
     P_BASE, 0, NULL},
    /* what depends on data is not proven, and is accepted (the transaction's limits remain) */
    {"SELECT repeat('x', n * 1000000000) FROM t", P_BASE, 0, NULL},
    {"SELECT repeat('x', (SELECT max(n) FROM t) * 1000000000)", P_BASE, 0, NULL},
    {"SELECT string_agg(repeat('x', 1000), ',') FROM generate_series(1, 1000000) g WHERE g > 0",
     P_BASE, 0, NULL},
    {"SELECT string_agg(repeat('x', 1000), ',') FROM t", P_BASE, 0, NULL},
    {"SELECT generate_series(1, n * 1000000000) FROM t", P_BASE, 0, NULL},
};

static void test_folded(void **state)
{
    (void)state;
    assert_int_equal(run_cases("folded", folded, sizeof folded / sizeof folded[0]), 0);
}

/* Session facts: refused in allowlist mode, allowed with allow_session; current_setting()
 * and txid_current() stay on the denylist; clock keywords are fine. */
static const gcase session[] = {
    {"SELECT current_user, session_user, current_catalog, current_schema", P_BASE, -1,
     "function current_user is not allowed: it discloses"},
    {"SELECT session_user", P_BASE, -1, "session_user"},
    {"SELECT current_role", P_BASE, -1, "current_role"},
    {"SELECT user", P_BASE, -1, "function user is not allowed"},
    {"SELECT 1 FROM t WHERE owner = current_user", P_BASE, -1, "current_user"},
    {"SELECT current_catalog", P_BASE, -1, "current_catalog"},
    {"SELECT current_schema", P_BASE, -1, "current_schema"},
    {"SELECT current_schema()", P_BASE, -1, "current_schema"},
    {"SELECT current_schemas(true)", P_BASE, -1, "current_schemas"},
    {"SELECT current_database()", P_BASE, -1, "current_database"},
    {"SELECT \"current_user\"()", P_BASE, -1, "current_user"},
    {"SELECT inet_server_addr(), inet_server_port()", P_BASE, -1, "inet_server_addr"},
    {"SELECT inet_client_addr()", P_BASE, -1, "inet_client_addr"},
    {"SELECT inet_client_port()", P_BASE, -1, "inet_client_port"},
    {"SELECT pg_backend_pid()", P_BASE, -1, "pg_backend_pid"},
    {"SELECT version()", P_BASE, -1, "version"},
    {"SELECT pg_postmaster_start_time(), pg_conf_load_time()", P_BASE, -1,
     "pg_postmaster_start_time"},
    {"SELECT * FROM user", P_BASE, -1, "\"user\""},
    {"SELECT current_setting('server_version')", P_BASE, -1, "current_setting"},
    {"SELECT txid_current()", P_BASE, -1, "txid_current"},
    {"SELECT \"user\".name, t.current_user_id FROM \"user\" JOIN t USING (id)", P_BASE, 0, NULL},
    {"SELECT current_date, current_timestamp, localtimestamp, current_time, now()", P_BASE, 0,
     NULL},
    /* allowed when configured */
    {"SELECT current_user, session_user, current_role, user, current_catalog, current_schema",
     P_SESSION, 0, NULL},
    {"SELECT current_database(), current_schemas(false), version(), pg_backend_pid(), "
     "inet_server_addr(), inet_server_port(), inet_client_addr(), inet_client_port(), "
     "pg_postmaster_start_time()",
     P_SESSION, 0, NULL},
    {"SELECT current_setting('server_version')", P_SESSION, -1, "current_setting"},
    {"SELECT txid_current()", P_SESSION, -1, "txid_current"},
    /* without the allowlist only the denylist applies */
    {"SELECT current_user, version()", P_NO_ALLOWLIST, 0, NULL},
};

static void test_session(void **state)
{
    (void)state;
    assert_int_equal(run_cases("session", session, sizeof session / sizeof session[0]), 0);
}

/* Every name in core/guardfn.c's attr_funcs table is refused as t.name in allowlist mode
 * (which also proves the table is sorted for bsearch); without the allowlist, only names on
 * the denylist are. */
static void test_attr_funcs(void **state)
{
    FILE *f = fopen("core/guardfn.c", "r");
    char line[512], sql[256], *q, *e;
    guard_policy p = base_policy(), open_p = policy(P_NO_ALLOWLIST);
    guard_result r;
    int in = 0, names = 0, failures = 0;

    (void)state;
    if (!f) fail_msg("cannot read core/guardfn.c (run from the project root)");
    while (fgets(line, sizeof line, f)) {
        if (!in) {
            in = strstr(line, "attr_funcs[] = {") != NULL;
            continue;
        }
        if (strncmp(line, "};", 2) == 0) break;
        for (q = strchr(line, '"'); q && (e = strchr(q + 1, '"')); q = strchr(e + 1, '"')) {
            snprintf(sql, sizeof sql, "SELECT t.%.*s FROM t", (int)(e - q - 1), q + 1);
            names++;
            /* Without the allowlist only the denylist refuses ("function ... is not allowed"). */
            if (guard_check(sql, &p, &r) == 0 ||
                (guard_check(sql, &open_p, &r) != 0 && strncmp(r.why, "function ", 9) != 0)) {
                print_message("attr_funcs: %s\n", sql);
                failures++;
            }
        }
    }
    fclose(f);
    print_message("attr_funcs: %d names, %d failures\n", names, failures);
    assert_true(names > 200);
    assert_int_equal(failures, 0);
}

static int has_rel(const guard_result *r, const char *schema, const char *name)
{
    int i;

    for (i = 0; i < r->nrels; i++)
        if (strcmp(r->rels[i].schema, schema) == 0 && strcmp(r->rels[i].name, name) == 0) return 1;
    return 0;
}

static void test_rels(void **state)
{
    guard_policy p = policy(P_TWO_SCHEMAS);
    guard_result r;

    (void)state;
    assert_int_equal(guard_check("WITH recent AS (SELECT * FROM orders WHERE d > now() - "
                                 "interval '7 days') SELECT c.name, r.total FROM customers c "
                                 "JOIN recent r USING (customer_id) JOIN orders o ON true "
                                 "JOIN sales.orders so ON true WHERE c.id IN (SELECT id FROM "
                                 "public.customers) AND EXISTS (SELECT 1 FROM recent)",
                                 &p, &r),
                     0);
    assert_int_equal(r.nrels, 4);
    assert_true(has_rel(&r, "", "orders"));
    assert_true(has_rel(&r, "", "customers"));
    assert_true(has_rel(&r, "sales", "orders"));
    assert_true(has_rel(&r, "public", "customers"));
    assert_false(has_rel(&r, "", "recent"));

    /* A CTE name is a relation again outside the query that defines it. */
    assert_int_equal(
        guard_check("SELECT * FROM (WITH t AS (SELECT 1) SELECT * FROM t) x, t", &p, &r), 0);
    assert_int_equal(r.nrels, 1);
    assert_true(has_rel(&r, "", "t"));

    assert_int_equal(guard_check("TABLE events", &p, &r), 0);
    assert_int_equal(r.nrels, 1);
    assert_true(has_rel(&r, "", "events"));

    /* Names arrive JSON-escaped from the parser: quotes, control characters, Unicode. */
    assert_int_equal(guard_check("SELECT * FROM \"we\"\"ird\tname\", \"na\xc3\xafve\", "
                                 "U&\"d\\0061t\\+000061\", \"back\\slash\"",
                                 &p, &r),
                     0);
    assert_int_equal(r.nrels, 4);
    assert_true(has_rel(&r, "", "we\"ird\tname"));
    assert_true(has_rel(&r, "", "na\xc3\xafve"));
    assert_true(has_rel(&r, "", "data"));
    assert_true(has_rel(&r, "", "back\\slash"));
    assert_int_equal(guard_check("SELECT * FROM U&\"pg_auth\\0069d\"", &p, &r), -1);
    assert_non_null(strstr(r.why, "pg_authid is not allowed: it is a protected"));

    assert_int_equal(guard_check("VALUES (1), (2)", &p, &r), 0);
    assert_int_equal(r.nrels, 0);

    /* Rejected: no relations reported. */
    assert_int_equal(guard_check("SELECT * FROM customers, pg_authid", &p, &r), -1);
    assert_int_equal(r.nrels, 0);
}

static void test_rels_cap(void **state)
{
    guard_policy p = base_policy();
    guard_result r;
    char sql[8192];
    size_t len = 0;
    int i, n;

    (void)state;
    p.max_joins = 0;
    for (i = 0; i <= GUARD_MAX_RELS; i++) {
        n = snprintf(sql + len, sizeof sql - len, "%s t%d", i ? "," : "SELECT 1 FROM", i);
        assert_true(n > 0 && (size_t)n < sizeof sql - len);
        len += (size_t)n;
    }
    assert_int_equal(guard_check(sql, &p, &r), -1);
    assert_non_null(strstr(r.why, "more than 128 relations"));
    /* The same relation many times is one relation. */
    len = 0;
    for (i = 0; i <= GUARD_MAX_RELS; i++) {
        n = snprintf(sql + len, sizeof sql - len, "%s t t%d", i ? "," : "SELECT 1 FROM", i);
        assert_true(n > 0 && (size_t)n < sizeof sql - len);
        len += (size_t)n;
    }
    assert_int_equal(guard_check(sql, &p, &r), 0);
    assert_int_equal(r.nrels, 1);
}

static void test_parse_errors_and_null(void **state)
{
    guard_policy p = base_policy();
    guard_result r;
    char deep[8000];
    size_t i;

    (void)state;
    assert_int_equal(guard_check("SELEC 1", &p, &r), -1);
    assert_int_equal(r.is_parse_error, 1);
    assert_non_null(strstr(r.why, "syntax error"));

    assert_int_equal(guard_check("DELETE FROM customers", &p, &r), -1);
    assert_int_equal(r.is_parse_error, 0);

    assert_int_equal(guard_check(NULL, &p, &r), -1);
    assert_true(r.why[0] != '\0');
    assert_int_equal(guard_check("SELECT 1", NULL, &r), -1);
    assert_true(r.why[0] != '\0');
    assert_int_equal(guard_check("SELECT 1", &p, NULL), -1);

    /* An expression nested past the tree limit is refused, not a crash. */
    memcpy(deep, "SELECT ", 7);
    for (i = 7; i + 3 < sizeof deep; i += 2) {
        deep[i] = '-';
        deep[i + 1] = ' ';
    }
    deep[i++] = 'x';
    deep[i] = '\0';
    assert_int_equal(guard_check(deep, &p, &r), -1);
    assert_true(r.why[0] != '\0');
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_accept_corpus), cmocka_unit_test(test_reject_corpus),
             cmocka_unit_test(test_spider), cmocka_unit_test(test_cases),
             cmocka_unit_test(test_folded), cmocka_unit_test(test_session),
             cmocka_unit_test(test_rels), cmocka_unit_test(test_rels_cap),
             cmocka_unit_test(test_parse_errors_and_null), cmocka_unit_test(test_attr_funcs))
