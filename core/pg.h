/* pg -- one lazily (re)connected PostgreSQL connection per process, and the service's
 * self-migration (conf/schema.sql, embedded at build time).
 *
 * A pgc owns its PGconn; pgc_close() releases it. pgc_get() never blocks longer than
 * db_connect_timeout, and after a failure refuses to retry for a second, so a database that
 * is down costs each request microseconds, not a connect timeout. */
#ifndef T2_PG_H
#define T2_PG_H

#include "conf.h"
#include "err.h"

#include <libpq-fe.h>
#include <time.h>

typedef struct pgc {
    PGconn *conn;
    char conninfo[2048];
    char search_path[1024]; /* quoted allowed schemas, "a", "b" */
    struct timespec retry_at;
    int migrate;        /* run migrations on each new connection */
    int temp_limit_ok;  /* this login may SET temp_file_limit (superuser or granted) */
    int query_role_set; /* generated SQL runs as a configured role, not the login */
} pgc;

/* Prepares (does not connect). 0 or -1 if the config cannot make a conninfo. */
int pgc_init(pgc *p, const conf *cf, const char *appname, int migrate);
/* Returns a healthy connection or NULL with E_DB_UNAVAILABLE in err. */
PGconn *pgc_get(pgc *p, t2err *err);
/* The connection if one is open and healthy, else NULL; never connects, so it neither waits
 * nor starts the one-second refusal (for work between requests). */
PGconn *pgc_peek(pgc *p);
/* After an error: drops the connection if it is broken (next pgc_get reconnects). */
void pgc_check(pgc *p);
void pgc_close(pgc *p);
/* Runs conf/schema.sql under an advisory lock; 0 or -1 (logged). */
int migrate_run(PGconn *conn);
/* Classifies a failed result into err: statement timeout -> E_QUERY_TIMEOUT, connection
 * loss -> E_DB_UNAVAILABLE, else dflt. Returns -1. */
int pg_result_err(PGconn *conn, const PGresult *r, err_code dflt, t2err *err, const char *what);
/* Executes a command that returns no rows; 0 or -1 with err. */
int pg_command(PGconn *conn, const char *sql, t2err *err);

#endif
