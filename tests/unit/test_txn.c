/* test_txn -- the read-only transaction (core/txn) against the test PostgreSQL: every limit,
 * the search path, the role, the claims, what is refused, and that nothing outlives it.
 * Needs T2SQL_TEST_PG (scripts/stack.sh test writes it to var/test/env.sh; scripts/test.sh
 * starts the stack before the unit tests); without a reachable database each test skips,
 * saying why. */
#include "buf.h"
#include "conf.h"
#include "prep.h"
#include "txn.h"

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

/* The first value of a one-row query, copied into out. */
static const char *one(const char *sql, char *out, size_t len)
{
    PGresult *r = PQexec(db, sql);

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        snprintf(out, len, "ERROR %s", PQresultErrorMessage(r));
    } else {
        snprintf(out, len, "%s", PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return out;
}

static txn_limits limits(void)
{
    static const int yes = 1;
    txn_limits l;

    memset(&l, 0, sizeof l);
    l.search_path = "\"public\", \"we\"\"ird\"";
    l.role = "t2sql_reader";
    l.statement_timeout_ms = 4321;
    l.lock_timeout_ms = 1234;
    l.idle_tx_timeout_ms = 56789;
    l.temp_file_limit_kb = 2048;
    l.temp_limit_ok = &yes;
    l.work_mem = "5MB";
    return l;
}

/* Begins the transaction with limits l (NULL: the test's) as id (NULL: no identity); skips
 * the test without a database. */
static void begin_with(const txn_limits *l, const txn_identity *id)
{
    txn_limits dflt = limits();
    t2err e;

    need_db();
    err_clear(&e);
    assert_int_equal(txn_begin(db, l ? l : &dflt, id, &e), 0);
}

static void begin_as(const txn_identity *id)
{
    begin_with(NULL, id);
}

/* sql, run in the open transaction, fails with SQLSTATE state. */
static void assert_fails_with(const char *sql, const char *state)
{
    PGresult *r = PQexec(db, sql);

    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), state);
    PQclear(r);
}

static void test_limits_applied(void **state)
{
    char v[512];

    (void)state;
    begin_as(NULL);
    assert_int_equal(PQtransactionStatus(db), PQTRANS_INTRANS);
    assert_string_equal(one("SELECT current_setting('transaction_read_only')", v, sizeof v), "on");
    assert_string_equal(one("SELECT current_setting('statement_timeout')", v, sizeof v), "4321ms");
    assert_string_equal(one("SELECT current_setting('lock_timeout')", v, sizeof v), "1234ms");
    assert_string_equal(
        one("SELECT current_setting('idle_in_transaction_session_timeout')", v, sizeof v),
        "56789ms");
    assert_string_equal(one("SELECT current_setting('temp_file_limit')", v, sizeof v), "2MB");
    assert_string_equal(one("SELECT current_setting('work_mem')", v, sizeof v), "5MB");
    assert_string_equal(one("SELECT current_setting('standard_conforming_strings')", v, sizeof v),
                        "on");
    /* as given (set_config keeps the text; PostgreSQL splits it the same way as SET does) */
    assert_string_equal(one("SELECT current_setting('search_path')", v, sizeof v),
                        "\"public\", \"we\"\"ird\"");
    assert_string_equal(one("SELECT current_user", v, sizeof v), "t2sql_reader");
    /* no claims given: none set */
    assert_string_equal(one("SELECT current_setting('t2sql.claims', true)", v, sizeof v), "NULL");
    txn_end(db);
    assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
    /* all of it was LOCAL: the session is as before */
    assert_string_not_equal(one("SELECT current_setting('statement_timeout')", v, sizeof v),
                            "4321ms");
    assert_string_not_equal(one("SELECT current_user", v, sizeof v), "t2sql_reader");
    assert_string_equal(one("SELECT current_setting('transaction_read_only')", v, sizeof v), "off");
}

static void test_writes_refused(void **state)
{
    txn_limits l = limits();

    (void)state;
    l.role = ""; /* even as the (super)user that connected */
    begin_with(&l, NULL);
    assert_fails_with("CREATE TABLE public.txn_must_not_exist (a int)", "25006"); /* read-only */
    txn_end(db);
    assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
}

static void test_statement_timeout_holds(void **state)
{
    txn_limits l = limits();

    (void)state;
    l.statement_timeout_ms = 50;
    begin_with(&l, NULL);
    assert_fails_with("SELECT pg_sleep(5)", "57014"); /* cancelled */
    txn_end(db);
}

static void test_temp_limit_only_when_allowed(void **state)
{
    static const int no = 0;
    txn_limits l = limits();
    t2err e;
    char before[64], v[64];

    (void)state;
    need_db();
    one("SELECT current_setting('temp_file_limit')", before, sizeof before);
    l.temp_limit_ok = &no;
    err_clear(&e);
    assert_int_equal(txn_begin(db, &l, NULL, &e), 0);
    assert_string_equal(one("SELECT current_setting('temp_file_limit')", v, sizeof v), before);
    txn_end(db);
    l = limits();
    l.temp_file_limit_kb = -1; /* -1: PostgreSQL's own */
    assert_int_equal(txn_begin(db, &l, NULL, &e), 0);
    assert_string_equal(one("SELECT current_setting('temp_file_limit')", v, sizeof v), before);
    txn_end(db);
    /* the test cluster connects as a superuser, who may */
    {
        int super = 0;
        assert_int_equal(txn_temp_limit_allowed(db, &super), 1);
        assert_int_equal(super, 1);
    }
}

static void test_claims(void **state)
{
    txn_claim c[] = {{"sub", "user-42"}, {"Tenant", "acme'; DROP TABLE x; --"}};
    txn_identity id = {NULL, c, 2, NULL};
    char v[512];

    (void)state;
    begin_as(&id);
    /* the reader role reads them (no privilege on set_config needed) */
    assert_string_equal(one("SELECT current_user", v, sizeof v), "t2sql_reader");
    assert_string_equal(one("SELECT current_setting('t2sql.claim.sub')", v, sizeof v), "user-42");
    assert_string_equal(one("SELECT current_setting('t2sql.claim.tenant')", v, sizeof v),
                        "acme'; DROP TABLE x; --");
    assert_string_equal(
        one("SELECT current_setting('t2sql.claims')::jsonb ->> 'Tenant'", v, sizeof v),
        "acme'; DROP TABLE x; --");
    assert_string_equal(one("SELECT current_setting('t2sql.claims')::jsonb ->> 'sub'", v, sizeof v),
                        "user-42");
    txn_end(db);
    assert_string_not_equal(one("SELECT current_setting('t2sql.claim.sub', true)", v, sizeof v),
                            "user-42");
}

static void test_claims_json_and_role(void **state)
{
    txn_claim c[] = {{"groups", "[\"a\",\"b\"]"}};
    txn_identity id = {"pg_read_all_settings", c, 1, "{\"groups\":[\"a\",\"b\"],\"n\":3}"};
    char v[512];

    (void)state;
    begin_as(&id);
    /* the identity's role replaces query_role */
    assert_string_equal(one("SELECT current_user", v, sizeof v), "pg_read_all_settings");
    assert_string_equal(one("SELECT current_setting('t2sql.claims')::jsonb ->> 'n'", v, sizeof v),
                        "3");
    assert_string_equal(
        one("SELECT current_setting('t2sql.claims')::jsonb -> 'groups' ->> 1", v, sizeof v), "b");
    assert_string_equal(one("SELECT current_setting('t2sql.claim.groups')", v, sizeof v),
                        "[\"a\",\"b\"]");
    txn_end(db);
}

static void test_bad_claims_refused(void **state)
{
    txn_limits l = limits();
    txn_claim bad[] = {{"sub", "x"}, {"a.b", "y"}};
    txn_claim inj[] = {{"x', 'y', true); SELECT 1; --", "z"}};
    txn_identity id = {NULL, bad, 2, NULL};
    t2err e;

    (void)state;
    need_db();
    err_clear(&e);
    assert_int_equal(txn_begin(db, &l, &id, &e), -1);
    assert_int_equal(e.code, E_FORBIDDEN);
    assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
    id.claims = inj;
    id.nclaims = 1;
    err_clear(&e);
    assert_int_equal(txn_begin(db, &l, &id, &e), -1);
    assert_int_equal(e.code, E_FORBIDDEN);
    assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
}

static void test_failure_leaves_no_transaction(void **state)
{
    txn_limits l = limits();
    t2err e;

    (void)state;
    need_db();
    l.role = "t2sql_no_such_role";
    err_clear(&e);
    assert_int_equal(txn_begin(db, &l, NULL, &e), -1);
    assert_int_not_equal(e.code, E_OK);
    assert_null(strstr(e.detail, "password"));
    assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
}

/* The opening as text (txn_begin_text) sent with a statement in one simple query: exactly
 * *n results come before the statement's, which runs with every setting, the claims and the
 * role; the ROLLBACK after it ends the transaction. The first time on a connection it prepares
 * its statement (DEALLOCATE ALL, PREPARE: two results more); once settled, the next opening
 * only executes it, with the values of its own request. Refused (0) when the session's
 * standard_conforming_strings is off (the string is lexed before its SET LOCAL runs). */
static void test_begin_as_text(void **state)
{
    txn_limits l = limits();
    txn_claim c[] = {{"sub", "user-7"}};
    txn_identity id = {NULL, c, 1, NULL};
    buf q = BUF_INIT(1u << 20);
    PGresult *r;
    t2err e;
    int n = -1, k, round;

    (void)state;
    need_db();
    err_clear(&e);
    for (round = 0; round < 2; round++) {
        c[0].value = round ? "user-8" : "user-7";
        buf_reset(&q);
        assert_int_equal(txn_begin_text(db, &l, &id, &q, &n, &e), 1);
        /* BEGIN, and the settings, claims and role in one (prepared) SELECT */
        assert_int_equal(n, round ? 2 : 4);
        assert_non_null(strstr(buf_cstr(&q), "EXECUTE t2sql_"));
        assert_true(round == 0 || strstr(buf_cstr(&q), "PREPARE") == NULL);
        buf_adds(&q, "SELECT current_user || ' ' || current_setting('statement_timeout') || ' ' ||"
                     " current_setting('t2sql.claim.sub') || ' ' ||"
                     " current_setting('transaction_read_only');\nROLLBACK");
        assert_int_equal(PQsendQuery(db, buf_cstr(&q)), 1);
        for (k = 0; (r = PQgetResult(db)) != NULL; k++) {
            ExecStatusType st = PQresultStatus(r);
            assert_true(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
            if (k == n)
                assert_string_equal(PQgetvalue(r, 0, 0), round ? "t2sql_reader 4321ms user-8 on"
                                                               : "t2sql_reader 4321ms user-7 on");
            PQclear(r);
        }
        assert_int_equal(k, n + 2);
        assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
        prep_settle(db, 1);
    }
    PQclear(PQexec(db, "SET standard_conforming_strings = off"));
    buf_reset(&q);
    assert_int_equal(txn_begin_text(db, &l, NULL, &q, &n, &e), 0);
    PQclear(PQexec(db, "RESET standard_conforming_strings"));
    buf_free(&q);
}

static void test_search_path_and_conf(void **state)
{
    static const char text[] = "schemas = sales, t2sql , we\"ird\n"
                               "statement_timeout_ms = 1111\nexport_statement_timeout_ms = 2222\n"
                               "work_mem = 64MB\nquery_role = r\n";
    conf cf;
    char err[256], sp[256];
    txn_limits l;
    int ok = 1;

    (void)state;
    assert_int_equal(conf_load_buffer(text, sizeof text - 1, &cf, err, sizeof err), 0);
    assert_int_equal(txn_search_path(&cf, sp, sizeof sp), 0);
    assert_string_equal(sp, "\"sales\", \"we\"\"ird\"");
    assert_int_equal(txn_search_path(&cf, sp, 8), -1); /* does not fit */
    txn_limits_from_conf(&l, &cf, sp, &ok, 0);
    assert_int_equal(l.statement_timeout_ms, 1111);
    assert_string_equal(l.work_mem, "64MB");
    assert_string_equal(l.role, "r");
    assert_ptr_equal(l.temp_limit_ok, &ok);
    txn_limits_from_conf(&l, &cf, sp, &ok, 1);
    assert_int_equal(l.statement_timeout_ms, 2222);
    conf_free(&cf);
    assert_int_equal(conf_load_buffer("schemas = t2sql\n", 16, &cf, err, sizeof err), 0);
    assert_int_equal(txn_search_path(&cf, sp, sizeof sp), 0);
    assert_string_equal(sp, "\"public\"");
    conf_free(&cf);
    assert_int_equal(conf_load_buffer("work_mem = 64 MB\n", 17, &cf, err, sizeof err), -1);
    assert_non_null(strstr(err, "work_mem"));
}

T2_UNIT_MAIN(setup, teardown, cmocka_unit_test(test_limits_applied),
             cmocka_unit_test(test_writes_refused), cmocka_unit_test(test_statement_timeout_holds),
             cmocka_unit_test(test_temp_limit_only_when_allowed), cmocka_unit_test(test_claims),
             cmocka_unit_test(test_claims_json_and_role), cmocka_unit_test(test_bad_claims_refused),
             cmocka_unit_test(test_failure_leaves_no_transaction),
             cmocka_unit_test(test_begin_as_text), cmocka_unit_test(test_search_path_and_conf))
