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

#include "body.h"

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

/* The policy variants' names in the case files, in the enum's order. */
static const char *const policy_names[] = {"base",        "catalogs",     "no_allowlist",
                                           "two_schemas", "t2sql_listed", "nesting2",
                                           "joins3",      "bytes32",      "session"};

/* Checks one case: {"sql", "policy" (a name above), "rc" (0 accepted, -1 rejected), "why"
 * (what the reason must say; any reason when absent)}. 1 if it went wrong, printed. */
static int check_case(const char *where, json_object *o)
{
    const char *sql = body_str(o, "sql"), *pol = body_str(o, "policy"), *why = body_str(o, "why");
    json_object *want;
    guard_policy p;
    guard_result r;
    size_t k;
    int rc;

    for (k = 0; pol && k < sizeof policy_names / sizeof policy_names[0]; k++)
        if (strcmp(pol, policy_names[k]) == 0) break;
    if (!sql || !pol || k == sizeof policy_names / sizeof policy_names[0] ||
        !json_object_object_get_ex(o, "rc", &want)) {
        print_message("%s: needs sql, a known policy and rc\n", where);
        return 1;
    }
    p = policy((int)k);
    rc = guard_check(sql, &p, &r);
    if (rc != json_object_get_int(want)) {
        print_message("%s: want %s, got %s (%s)\n  sql: %s\n", where,
                      json_object_get_int(want) ? "reject" : "accept", rc ? "reject" : "accept",
                      r.why, sql);
        return 1;
    }
    if (rc && (r.why[0] == '\0' || (why && !strstr(r.why, why)))) {
        print_message("%s: reason \"%s\" does not say \"%s\"\n  sql: %s\n", where, r.why,
                      why ? why : "(anything)", sql);
        return 1;
    }
    if (rc && r.is_parse_error) {
        print_message("%s: flagged as a parse error: %s\n", where, r.why);
        return 1;
    }
    return 0;
}

static void test_cases(void **state)
{
    (void)state;
    unit_case_file("guard.jsonl", check_case);
}

/* Size caps hold for any constant form: the guard folds operators, casts, nested calls,
 * scalar subqueries, timestamps and intervals before comparing with its limit of 10000000
 * characters, elements or rows. What depends on data (a column, a subquery reading a table,
 * a WHERE before an aggregate) is not proven and is accepted: statement_timeout,
 * temp_file_limit and the response size cap bound it. */
static void test_folded(void **state)
{
    (void)state;
    unit_case_file("guard_folded.jsonl", check_case);
}

/* Session facts: refused in allowlist mode, allowed with allow_session; current_setting()
 * and txid_current() stay on the denylist; clock keywords are fine. */
static void test_session(void **state)
{
    (void)state;
    unit_case_file("guard_session.jsonl", check_case);
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

#define RELS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* sql is accepted under p and reads exactly the relations want names ("schema.name", or
 * "name" when unqualified; names here hold no dot). */
static void rels_are(const guard_policy *p, const char *sql, const char *const *want)
{
    guard_result r;
    char schema[64];
    int n;

    assert_int_equal(guard_check(sql, p, &r), 0);
    for (n = 0; want[n]; n++) {
        const char *dot = strchr(want[n], '.');
        snprintf(schema, sizeof schema, "%.*s", dot ? (int)(dot - want[n]) : 0, want[n]);
        if (!has_rel(&r, schema, dot ? dot + 1 : want[n]))
            fail_msg("%s: %s is not among its %d relations", sql, want[n], r.nrels);
    }
    assert_int_equal(r.nrels, n);
}

static void test_rels(void **state)
{
    guard_policy p = policy(P_TWO_SCHEMAS);
    guard_result r;

    (void)state;
    rels_are(&p,
             "WITH recent AS (SELECT * FROM orders WHERE d > now() - interval '7 days') SELECT "
             "c.name, r.total FROM customers c JOIN recent r USING (customer_id) JOIN orders o ON "
             "true JOIN sales.orders so ON true WHERE c.id IN (SELECT id FROM public.customers) "
             "AND EXISTS (SELECT 1 FROM recent)",
             RELS("orders", "customers", "sales.orders", "public.customers"));
    /* A CTE name is a relation again outside the query that defines it. */
    rels_are(&p, "SELECT * FROM (WITH t AS (SELECT 1) SELECT * FROM t) x, t", RELS("t"));
    rels_are(&p, "TABLE events", RELS("events"));
    /* Names arrive JSON-escaped from the parser: quotes, control characters, Unicode. */
    rels_are(&p,
             "SELECT * FROM \"we\"\"ird\tname\", \"na\xc3\xafve\", U&\"d\\0061t\\+000061\", "
             "\"back\\slash\"",
             RELS("we\"ird\tname", "na\xc3\xafve", "data", "back\\slash"));
    rels_are(&p, "VALUES (1), (2)", (const char *const[]){NULL});
    assert_int_equal(guard_check("SELECT * FROM U&\"pg_auth\\0069d\"", &p, &r), -1);
    assert_non_null(strstr(r.why, "pg_authid is not allowed: it is a protected"));
    /* Rejected: no relations reported. */
    assert_int_equal(guard_check("SELECT * FROM customers, pg_authid", &p, &r), -1);
    assert_int_equal(r.nrels, 0);
}

/* "SELECT 1 FROM " and GUARD_MAX_RELS + 1 items written by fmt (with their number), joined by
 * commas, into sql. */
static void many_from(char sql[8192], const char *fmt)
{
    size_t len = 0;
    int i, n;

    for (i = 0; i <= GUARD_MAX_RELS; i++) {
        n = snprintf(sql + len, 8192 - len, "%s", i ? ", " : "SELECT 1 FROM ");
        assert_true(n > 0 && (size_t)n < 8192 - len);
        len += (size_t)n;
        n = snprintf(sql + len, 8192 - len, fmt, i);
        assert_true(n > 0 && (size_t)n < 8192 - len);
        len += (size_t)n;
    }
}

static void test_rels_cap(void **state)
{
    guard_policy p = base_policy();
    guard_result r;
    char sql[8192];

    (void)state;
    p.max_joins = 0;
    many_from(sql, "t%d");
    assert_int_equal(guard_check(sql, &p, &r), -1);
    assert_non_null(strstr(r.why, "more than 128 relations"));
    /* The same relation many times is one relation. */
    many_from(sql, "t t%d");
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
