/* pgtest -- a scratch database on the test PostgreSQL for the unit tests that need one.
 *
 * pgtest_live() connects to T2SQL_TEST_PG itself (for tests that read the stack's data);
 * pgtest_open() connects to T2SQL_TEST_PG (scripts/stack.sh test sets it; `make test` starts
 * the stack before the unit tests), creates a database of its own (t2sql_unit_<tag>_<pid>)
 * holding the demo-free service schema (conf/schema.sql, by migrate_run) and returns a
 * connection to it; pgtest_close() drops it again. Nothing the running stack serves is
 * touched: exportd never sees these jobs, workers never see these examples. Without the
 * variable, or with the server unreachable, pgtest_open() returns NULL and PGTEST_NEED()
 * skips the test, saying why. Header-only: each test program includes it once. */
#ifndef T2_PGTEST_H
#define T2_PGTEST_H

#include "pg.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static PGconn *pgtest_admin;
static char pgtest_db[64];
static char pgtest_ci[2048]; /* conninfo of the scratch database */
static const char *pgtest_why = "not opened";

static inline void pgtest_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* A new connection to the scratch database (NULL if it cannot be had). */
static inline PGconn *pgtest_connect(void)
{
    PGconn *c = PQconnectdb(pgtest_ci);

    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, pgtest_quiet, NULL);
    return c;
}

/* A connection to the test PostgreSQL's own database (T2SQL_TEST_PG: the stack's demo data,
 * roles and service schema), or NULL with pgtest_why set. The caller PQfinish()es it. */
static inline PGconn *pgtest_live(void)
{
    const char *ci = getenv("T2SQL_TEST_PG");
    PGconn *c;

    if (!ci || !*ci) {
        pgtest_why = "T2SQL_TEST_PG is not set (start the test stack: scripts/stack.sh test, "
                     "then . var/test/env.sh)";
        return NULL;
    }
    c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        pgtest_why = "the test PostgreSQL (T2SQL_TEST_PG) is not reachable";
        PQfinish(c);
        return NULL;
    }
    return c;
}

static inline PGconn *pgtest_open(const char *tag)
{
    const char *ci = getenv("T2SQL_TEST_PG");
    char sql[160];
    PGresult *r;
    PGconn *c;

    if (!(pgtest_admin = pgtest_live())) return NULL;
    PQsetNoticeProcessor(pgtest_admin, pgtest_quiet, NULL);
    snprintf(pgtest_db, sizeof pgtest_db, "t2sql_unit_%s_%d", tag, (int)getpid());
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", pgtest_db);
    PQclear(PQexec(pgtest_admin, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", pgtest_db);
    r = PQexec(pgtest_admin, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        pgtest_why = "cannot create a scratch database on the test PostgreSQL";
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    snprintf(pgtest_ci, sizeof pgtest_ci, "%s dbname=%s", ci, pgtest_db);
    if (!(c = pgtest_connect())) {
        pgtest_why = "cannot connect to the scratch database";
        return NULL;
    }
    if (migrate_run(c) < 0) {
        pgtest_why = "conf/schema.sql failed on the scratch database";
        PQfinish(c);
        return NULL;
    }
    return c;
}

static inline void pgtest_close(PGconn *c)
{
    char sql[160];

    PQfinish(c);
    if (!pgtest_admin) return;
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", pgtest_db);
    PQclear(PQexec(pgtest_admin, sql));
    PQfinish(pgtest_admin);
    pgtest_admin = NULL;
}

/* Runs sql (no parameters) on c and returns the first value as a number (-1 on error). */
static inline long pgtest_num(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long n = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) ? atol(PQgetvalue(r, 0, 0)) : -1;

    PQclear(r);
    return n;
}

#define PGTEST_NEED(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            print_message("skipped: %s\n", pgtest_why);                                            \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* PGTEST_LIVE_FIXTURE(conn): for a program whose tests read the live database (pgtest_live):
 * the connection conn, its cmocka group setup()/teardown(), and need_db(), which skips a test
 * when there is no database. */
#define PGTEST_LIVE_FIXTURE(conn)                                                                  \
    static PGconn *conn;                                                                           \
    static int setup(void **state)                                                                 \
    {                                                                                              \
        (void)state;                                                                               \
        conn = pgtest_live();                                                                      \
        return 0;                                                                                  \
    }                                                                                              \
    static int teardown(void **state)                                                              \
    {                                                                                              \
        (void)state;                                                                               \
        PQfinish(conn);                                                                            \
        return 0;                                                                                  \
    }                                                                                              \
    static void need_db(void)                                                                      \
    {                                                                                              \
        PGTEST_NEED(conn);                                                                         \
    }

#endif
