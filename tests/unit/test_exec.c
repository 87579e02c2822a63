/* test_exec -- paged, streamed execution (core/exec) against the test PostgreSQL: the page's
 * document, pagination and counts, NDJSON, the read-only transaction it runs in (limits, role,
 * claims), errors before any output, and exec_check. Needs T2SQL_TEST_PG (see test_txn.c);
 * without a reachable database each test skips, saying why. */
#include "exec.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "pgtest.h"

PGTEST_LIVE_FIXTURE(db)

static int out_write(void *ctx, const char *p, size_t n)
{
    return buf_add(ctx, p, n);
}

/* Generous limits: these tests are about paging, not about the limits (test_txn is). */
static txn_limits limits(void)
{
    txn_limits l = {.search_path = "\"public\"",
                    .role = "t2sql_reader",
                    .statement_timeout_ms = 10000,
                    .lock_timeout_ms = 1000,
                    .idle_tx_timeout_ms = 60000,
                    .temp_file_limit_kb = 4096};
    return l;
}

/* Runs one page into out (held, as for "stream": false); returns exec_page's result. */
static int page(const char *sql, long pg, long size, count_mode cm, int ndjson,
                const txn_identity *id, buf *out, t2err *e)
{
    txn_limits l = limits();
    exec_req rq;
    sink s;
    int rc;

    memset(&rq, 0, sizeof rq);
    rq.sql = sql;
    rq.query_id = "q1";
    rq.page = pg;
    rq.page_size = size;
    rq.count = cm;
    rq.ndjson = ndjson;
    rq.id = id;
    err_clear(e);
    sink_init(&s, out_write, out, 1 << 14, 1 << 20, 1);
    rc = exec_page(db, &l, &rq, &s, e);
    if (rc == 0) sink_flush(&s);
    sink_free(&s);
    return rc;
}

static json_object *member(json_object *o, const char *path)
{
    char copy[128], *k, *save;

    snprintf(copy, sizeof copy, "%s", path);
    for (k = strtok_r(copy, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
        if (!json_object_object_get_ex(o, k, &o)) return NULL;
    return o;
}

static void test_page_and_pagination(void **state)
{
    buf out = BUF_INIT(0);
    t2err e;
    json_object *j, *rows;

    (void)state;
    need_db();
    assert_int_equal(page("SELECT g, 'x' || g AS s FROM generate_series(1, 25) g ORDER BY g", 2, 10,
                          COUNT_EXACT, 0, NULL, &out, &e),
                     0);
    assert_non_null(j = json_tokener_parse(buf_cstr(&out)));
    assert_string_equal(json_object_get_string(member(j, "query_id")), "q1");
    assert_string_equal(json_object_to_json_string(member(j, "columns")), "[ \"g\", \"s\" ]");
    assert_string_equal(json_object_to_json_string(member(j, "column_types")),
                        "[ \"int4\", \"text\" ]");
    rows = member(j, "rows");
    assert_int_equal(json_object_array_length(rows), 10);
    assert_int_equal(
        json_object_get_int(json_object_array_get_idx(json_object_array_get_idx(rows, 0), 0)), 11);
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(json_object_array_get_idx(rows, 9), 1)),
        "x20");
    assert_int_equal(json_object_get_int(member(j, "pagination.total_rows")), 25);
    assert_int_equal(json_object_get_int(member(j, "pagination.total_pages")), 3);
    assert_true(json_object_get_boolean(member(j, "pagination.has_more")));
    json_object_put(j);
    buf_free(&out);
    /* the last page: no more, and COUNT_NONE leaves the total unknown on a full page */
    assert_int_equal(
        page("SELECT g FROM generate_series(1, 25) g", 3, 10, COUNT_NONE, 0, NULL, &out, &e), 0);
    assert_non_null(j = json_tokener_parse(buf_cstr(&out)));
    assert_int_equal(json_object_array_length(member(j, "rows")), 5);
    assert_false(json_object_get_boolean(member(j, "pagination.has_more")));
    assert_true(json_object_is_type(member(j, "pagination.total_rows"), json_type_null));
    json_object_put(j);
    assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
    buf_free(&out);
}

static void test_ndjson(void **state)
{
    buf out = BUF_INIT(0);
    t2err e;
    int lines = 0;
    const char *p;

    (void)state;
    need_db();
    assert_int_equal(
        page("SELECT g FROM generate_series(1, 3) g", 1, 10, COUNT_EXACT, 1, NULL, &out, &e), 0);
    for (p = buf_cstr(&out); (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    assert_int_equal(lines, 5); /* head, 3 rows, tail */
    assert_non_null(strstr(buf_cstr(&out), "\n[1]\n[2]\n[3]\n"));
    buf_free(&out);
}

static void test_runs_in_the_transaction(void **state)
{
    txn_claim c[] = {{"tenant", "acme"}};
    txn_identity id = {NULL, c, 1, NULL};
    buf out = BUF_INIT(0);
    t2err e;
    json_object *j, *row;

    (void)state;
    need_db();
    assert_int_equal(
        page("SELECT current_user AS u, current_setting('transaction_read_only') AS ro,"
             " current_setting('temp_file_limit') AS t,"
             " current_setting('statement_timeout') AS st,"
             " current_setting('t2sql.claim.tenant', true) AS tenant",
             1, 10, COUNT_EXACT, 0, &id, &out, &e),
        0);
    assert_non_null(j = json_tokener_parse(buf_cstr(&out)));
    row = json_object_array_get_idx(member(j, "rows"), 0);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(row, 0)), "t2sql_reader");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(row, 1)), "on");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(row, 2)), "4MB");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(row, 3)), "10s");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(row, 4)), "acme");
    json_object_put(j);
    buf_free(&out);
}

static void test_errors_before_output(void **state)
{
    buf out = BUF_INIT(0);
    t2err e;

    (void)state;
    need_db();
    /* a query that fails before its first row: an error status, nothing written */
    assert_int_equal(
        page("SELECT nextval('t2sql_no_such_seq')", 1, 10, COUNT_EXACT, 0, NULL, &out, &e), -1);
    assert_int_equal(e.code, E_QUERY_FAILED);
    assert_int_equal(out.len, 0);
    /* past temp_file_limit (4 MB): a sort of 2M wide rows spills */
    assert_int_equal(page("SELECT md5(g::text) m FROM generate_series(1, 2000000) g ORDER BY 1", 1,
                          1, COUNT_NONE, 0, NULL, &out, &e),
                     -1);
    assert_int_equal(e.code, E_QUERY_FAILED);
    assert_non_null(strstr(e.detail, "temp_file_limit"));
    assert_int_equal(out.len, 0);
    assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
    buf_free(&out);
}

/* Runs sql (as page() does, a 10-row page) and returns its document's column names joined by
 * spaces, then its rows' first values, into out; -1 if the page failed. */
static int page_text(const char *sql, const txn_limits *l, const txn_identity *id, char *out,
                     size_t len, t2err *e)
{
    buf b = BUF_INIT(0);
    exec_req rq;
    sink s;
    json_object *j, *v;
    size_t i, at = 0;
    int rc;

    memset(&rq, 0, sizeof rq);
    rq.sql = sql;
    rq.query_id = "q1";
    rq.page = 1;
    rq.page_size = 10;
    rq.count = COUNT_NONE;
    rq.id = id;
    err_clear(e);
    sink_init(&s, out_write, &b, 1 << 14, 1 << 20, 1);
    rc = exec_page(db, l, &rq, &s, e);
    if (rc == 0) sink_flush(&s);
    sink_free(&s);
    out[0] = '\0';
    if (rc == 0 && (j = json_tokener_parse(buf_cstr(&b))) != NULL) {
        v = member(j, "columns");
        for (i = 0; i < json_object_array_length(v) && at < len; i++)
            at += (size_t)snprintf(out + at, len - at, "%s ",
                                   json_object_get_string(json_object_array_get_idx(v, i)));
        v = member(j, "rows");
        for (i = 0; i < json_object_array_length(v) && at < len; i++)
            at += (size_t)snprintf(out + at, len - at, "%s ",
                                   json_object_get_string(json_object_array_get_idx(
                                       json_object_array_get_idx(v, i), 0)));
        json_object_put(j);
    }
    buf_free(&b);
    return rc;
}

static int prepared_count(void)
{
    PGresult *r =
        PQexec(db, "SELECT count(*) FROM pg_prepared_statements WHERE name ~ '^t2sql_[0-9]+$'");
    int n = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;

    PQclear(r);
    return n;
}

/* "SELECT * FROM t" as page_text() answers it under l: the columns and first values want. */
static void sees(const txn_limits *l, const char *want)
{
    char got[512];
    t2err e;

    assert_int_equal(page_text("SELECT * FROM t", l, NULL, got, sizeof got, &e), 0);
    assert_string_equal(got, want);
}

/* A repeated page runs as the connection's prepared statements (the opening's and its own),
 * and answers as the text would: the rows of the moment, the columns of the table as it is now
 * (PostgreSQL's "cached plan must not change result type" is recovered from), the tables the
 * request's search path names, the request's own claims, the role's privileges at each run,
 * and statements dropped behind the service's back prepared again. */
static void test_prepared_pages(void **state)
{
    txn_limits l = limits();
    txn_claim c[] = {{"tenant", "acme"}};
    txn_identity id = {NULL, c, 1, NULL};
    char got[512];
    t2err e;
    int i;

    (void)state;
    need_db();
    PQclear(PQexec(db,
                   "DROP SCHEMA IF EXISTS t2sql_prep_a, t2sql_prep_b CASCADE;"
                   "CREATE SCHEMA t2sql_prep_a; CREATE SCHEMA t2sql_prep_b;"
                   "CREATE TABLE t2sql_prep_a.t (x int); CREATE TABLE t2sql_prep_b.t (x int);"
                   "INSERT INTO t2sql_prep_a.t VALUES (1); INSERT INTO t2sql_prep_b.t VALUES (2);"
                   "GRANT USAGE ON SCHEMA t2sql_prep_a, t2sql_prep_b TO t2sql_reader;"
                   "GRANT SELECT ON t2sql_prep_a.t, t2sql_prep_b.t TO t2sql_reader"));
    l.search_path = "\"t2sql_prep_a\"";
    for (i = 0; i < 4; i++) /* the order found, then prepared, then executed */
        sees(&l, "x 1 ");
    assert_true(prepared_count() >= 2); /* the opening and the page */
    PQclear(PQexec(db, "INSERT INTO t2sql_prep_a.t VALUES (3)"));
    sees(&l, "x 1 3 ");
    /* the table gains a column: the same text now has two */
    PQclear(PQexec(db, "ALTER TABLE t2sql_prep_a.t ADD COLUMN y int DEFAULT 7"));
    sees(&l, "x y 1 3 ");
    assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
    /* the same text under another search path reads the other schema's table */
    l.search_path = "\"t2sql_prep_b\"";
    sees(&l, "x 2 ");
    l.search_path = "\"t2sql_prep_a\"";
    /* privileges are the role's at each run */
    PQclear(PQexec(db, "REVOKE SELECT ON t2sql_prep_a.t FROM t2sql_reader"));
    assert_int_equal(page_text("SELECT * FROM t", &l, NULL, got, sizeof got, &e), -1);
    assert_int_equal(e.code, E_QUERY_FAILED);
    assert_non_null(strstr(e.detail, "permission denied"));
    PQclear(PQexec(db, "GRANT SELECT ON t2sql_prep_a.t TO t2sql_reader"));
    sees(&l, "x y 1 3 ");
    /* dropped behind the service's back: prepared again, the page still answers */
    PQclear(PQexec(db, "DEALLOCATE ALL"));
    sees(&l, "x y 1 3 ");
    sees(&l, "x y 1 3 ");
    assert_true(prepared_count() >= 2);
    /* each request's own claims, though the opening's statement is the same */
    for (i = 0; i < 3; i++) {
        c[0].value = i % 2 ? "globex" : "acme";
        assert_int_equal(page_text("SELECT current_setting('t2sql.claim.tenant') AS tenant", &l,
                                   &id, got, sizeof got, &e),
                         0);
        assert_string_equal(got, i % 2 ? "tenant globex " : "tenant acme ");
    }
    /* a page that fails at run time leaves the statements usable */
    assert_int_equal(page_text("SELECT 1 / (x - 1) AS d FROM t", &l, NULL, got, sizeof got, &e),
                     -1);
    assert_int_equal(page_text("SELECT 1 / (x - 1) AS d FROM t", &l, NULL, got, sizeof got, &e),
                     -1);
    assert_non_null(strstr(e.detail, "division by zero"));
    sees(&l, "x y 1 3 ");
    assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
    PQclear(PQexec(db, "DROP SCHEMA t2sql_prep_a, t2sql_prep_b CASCADE"));
}

static void test_check(void **state)
{
    txn_limits l = limits();
    t2err e;

    (void)state;
    need_db();
    err_clear(&e);
    assert_int_equal(exec_check(db, &l, NULL, "SELECT g FROM generate_series(1, 3) g", &e), 0);
    /* a statement that ends in a line comment: the check's own text after it still runs */
    assert_int_equal(exec_check(db, &l, NULL, "SELECT 1 AS one -- a note", &e), 0);
    assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
    assert_int_equal(
        exec_check(db, &l, NULL, "SELECT no_such_column FROM generate_series(1, 3) g", &e), -1);
    assert_int_equal(e.code, E_INVALID_SQL);
    assert_non_null(strstr(e.detail, "no_such_column"));
    /* the reader role sees nothing of t2sql: a planning error, not a leak */
    err_clear(&e);
    assert_int_equal(exec_check(db, &l, NULL, "SELECT * FROM t2sql.jobs", &e), -1);
    assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
    /* SQL the server cannot even parse (sent with the opening in one query, the whole string
     * is refused before BEGIN runs): still the SQL's error, not the transaction's */
    err_clear(&e);
    assert_int_equal(exec_check(db, &l, NULL, "SELECT g FROM generate_series(1, 3) g WHER", &e),
                     -1);
    assert_int_equal(e.code, E_INVALID_SQL);
    assert_non_null(strstr(e.detail, "syntax error"));
    assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
    /* a page whose SQL does not parse: a failed query, the transaction gone */
    {
        buf out = BUF_INIT(0);
        err_clear(&e);
        assert_int_equal(page("SELECT 1 AS x WHER", 1, 10, COUNT_EXACT, 0, NULL, &out, &e), -1);
        assert_int_equal(e.code, E_QUERY_FAILED);
        assert_int_equal(out.len, 0);
        assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
        buf_free(&out);
    }
    /* the page's query rolls back: the session carries none of the limits */
    {
        buf out = BUF_INIT(0);
        PGresult *r;
        assert_int_equal(page("SELECT g FROM generate_series(1, 30) g ORDER BY g", 2, 10,
                              COUNT_EXACT, 0, NULL, &out, &e),
                         0);
        assert_non_null(strstr(buf_cstr(&out), "\"total_rows\":30"));
        r = PQexec(db, "SELECT current_setting('statement_timeout') <> '10s'");
        assert_string_equal(PQgetvalue(r, 0, 0), "t");
        PQclear(r);
        buf_free(&out);
    }
}

T2_UNIT_MAIN(setup, teardown, cmocka_unit_test(test_page_and_pagination),
             cmocka_unit_test(test_ndjson), cmocka_unit_test(test_runs_in_the_transaction),
             cmocka_unit_test(test_errors_before_output), cmocka_unit_test(test_prepared_pages),
             cmocka_unit_test(test_check))
