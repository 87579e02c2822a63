/* test_pg -- core/pg: the quoted search path, the per-process connection (made lazily, kept,
 * replaced when the server ended it or a transaction was left open, refused for a second
 * after a failed connect), the self-migration (idempotent), and how failed results are
 * classified. Against a scratch database of the test PostgreSQL (pgtest.h; skipped, saying
 * why, without one); the search path and the unreachable server need none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "log.h"
#include "pgtest.h"

static PGconn *db;

static int conf_for(conf *cf, const char *port, const char *dbname, const char *schemas)
{
    const char *ci = getenv("T2SQL_TEST_PG"); /* without it: the defaults below */
    PQconninfoOption *o = PQconninfoParse(ci ? ci : "", NULL), *i;
    char text[2048], err[256];
    const char *host = "127.0.0.1", *user = "postgres", *pass = "";
    int n;

    for (i = o; i && i->keyword; i++) {
        if (!i->val) continue;
        if (!strcmp(i->keyword, "host")) host = i->val;
        if (!strcmp(i->keyword, "port") && !port) port = i->val;
        if (!strcmp(i->keyword, "user")) user = i->val;
        if (!strcmp(i->keyword, "password")) pass = i->val;
    }
    n = snprintf(text, sizeof text,
                 "db_host = %s\ndb_port = %s\ndb_user = %s\ndb_pass = \"%s\"\ndb_name = %s\n"
                 "schemas = \"%s\"\ndb_connect_timeout = 5\n",
                 host, port ? port : "5432", user, pass, dbname, schemas);
    PQconninfoFree(o);
    return conf_load_buffer(text, (size_t)n, cf, err, sizeof err);
}

static int setup(void **state)
{
    (void)state;
    log_init(NULL, LOG_ERR, "t2sql-unit");
    db = pgtest_open("pg");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pgtest_close(db);
    return 0;
}

static void test_search_path_quoted(void **state)
{
    conf cf;
    pgc p;

    (void)state;
    assert_int_equal(conf_for(&cf, "5432", "x", "public, t2sql, Sales Data, we\"ird"), 0);
    assert_int_equal(pgc_init(&p, &cf, "unit", 0), 0);
    /* quoted identifiers; the service's own schema never on it */
    assert_string_equal(p.search_path, "\"public\", \"Sales Data\", \"we\"\"ird\"");
    pgc_close(&p);
    conf_free(&cf);
    assert_int_equal(conf_for(&cf, "5432", "x", "t2sql"), 0);
    assert_int_equal(pgc_init(&p, &cf, "unit", 0), 0);
    assert_string_equal(p.search_path, "\"public\"");
    conf_free(&cf);
}

static void test_unreachable_server(void **state)
{
    conf cf;
    pgc p;
    t2err e;

    (void)state;
    assert_int_equal(conf_for(&cf, "1", "x", "public"), 0); /* nothing listens on port 1 */
    assert_int_equal(pgc_init(&p, &cf, "unit", 0), 0);
    assert_null(pgc_get(&p, &e));
    assert_int_equal(e.code, E_DB_UNAVAILABLE);
    assert_true(p.retry_at.tv_sec > 0); /* the next second's requests are refused at once */
    assert_null(pgc_get(&p, &e));
    assert_int_equal(e.code, E_DB_UNAVAILABLE);
    assert_null(strstr(e.detail, "password"));
    pgc_close(&p);
    conf_free(&cf);
}

static int backend_pid(PGconn *c)
{
    return c ? PQbackendPID(c) : -1;
}

static void test_connection_kept_and_replaced(void **state)
{
    conf cf;
    pgc p;
    t2err e;
    PGconn *c;
    char sql[128];
    int pid, i;

    (void)state;
    PGTEST_NEED(db);
    assert_int_equal(conf_for(&cf, NULL, pgtest_db, "public"), 0);
    assert_int_equal(pgc_init(&p, &cf, "unit", 1), 0);
    assert_non_null(c = pgc_get(&p, &e));
    pid = backend_pid(c);
    assert_ptr_equal(pgc_get(&p, &e), c); /* kept */
    /* a transaction left open is never handed out: a new connection is */
    PQclear(PQexec(c, "BEGIN"));
    assert_non_null(c = pgc_get(&p, &e));
    assert_int_not_equal(backend_pid(c), pid);
    pid = backend_pid(c);
    /* the server ends the session (a restart, an administrator): noticed before use */
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)::int", pid);
    assert_int_equal(pgtest_num(db, sql), 1);
    for (i = 0; i < 200 && backend_pid(pgc_get(&p, &e)) == pid; i++)
        usleep(50000);
    assert_non_null(c = pgc_get(&p, &e));
    assert_int_not_equal(backend_pid(c), pid);
    assert_int_equal(pgtest_num(c, "SELECT 1"), 1);
    pgc_close(&p);
    assert_null(p.conn);
    conf_free(&cf);
}

static void test_migration_is_idempotent(void **state)
{
    (void)state;
    PGTEST_NEED(db);
    assert_int_equal(migrate_run(db), 0);
    assert_int_equal(migrate_run(db), 0);
    assert_int_equal(pgtest_num(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 't2sql'"
                                    " AND tablename IN ('queries', 'export_jobs', 'examples',"
                                    " 'glossary', 'api_keys')"),
                     5);
}

static void test_result_errors_classified(void **state)
{
    PGresult *r;
    t2err e;

    (void)state;
    PGTEST_NEED(db);
    assert_int_equal(pg_command(db, "SET statement_timeout = 50", &e), 0);
    r = PQexec(db, "SELECT pg_sleep(5)");
    assert_int_equal(pg_result_err(db, r, E_QUERY_FAILED, &e, "unit"), -1);
    assert_int_equal(e.code, E_QUERY_TIMEOUT);
    PQclear(r);
    assert_int_equal(pg_command(db, "RESET statement_timeout", &e), 0);
    r = PQexec(db, "SELECT no_such_column FROM t2sql.queries");
    assert_int_equal(pg_result_err(db, r, E_QUERY_FAILED, &e, "unit"), -1);
    assert_int_equal(e.code, E_QUERY_FAILED);
    assert_non_null(strstr(e.detail, "no_such_column"));
    PQclear(r);
    assert_int_equal(pg_command(db, "SELEC 1", &e), -1);
    assert_int_equal(e.code, E_INTERNAL);
    assert_int_equal(pg_command(db, "SELECT 1", &e), 0);
}

T2_UNIT_MAIN(setup, teardown, cmocka_unit_test(test_search_path_quoted),
             cmocka_unit_test(test_unreachable_server),
             cmocka_unit_test(test_connection_kept_and_replaced),
             cmocka_unit_test(test_migration_is_idempotent),
             cmocka_unit_test(test_result_errors_classified))
