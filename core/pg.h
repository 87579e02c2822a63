/* pg -- one lazily (re)connected PostgreSQL connection per process, and the service's
 * self-migration (conf/schema.sql, embedded at build time).
 *
 * A pgc owns its PGconn; pgc_close() releases it. pgc_get() never blocks longer than
 * db_connect_timeout, and after a failure refuses to retry for a second, so a database that
 * is down costs each request microseconds, not a connect timeout. */
#ifndef T2_PG_H
#define T2_PG_H

#include "buf.h"
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

/* Prepares (does not connect) a connection to the primary (db_host). 0 or -1 if the config
 * cannot make a conninfo. */
int pgc_init(pgc *p, const conf *cf, const char *appname, int migrate);
/* The same for the server `which` names (conf_pg_conninfo_at): the query workers' pooler or
 * the read replica. Every use of a pooled connection is a transaction or one autocommit
 * statement: nothing is left in the session (SET, LISTEN, session locks; named statements
 * only on a direct connection: core/prep asks pg_through_pooler()). */
int pgc_init_at(pgc *p, const conf *cf, conf_db which, const char *appname, int migrate);
/* Returns a healthy connection or NULL with E_DB_UNAVAILABLE in err. */
PGconn *pgc_get(pgc *p, t2err *err);
/* pgc_get for work between requests: a connect that fails does not start the one-second
 * refusal, which would turn the next requests away (one refusal already started holds). */
PGconn *pgc_get_between(pgc *p, t2err *err);
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
/* 1 if conn reaches PostgreSQL through a connection pooler (PgBouncer and its kind hand the
 * client a backend key of their own, so the pid libpq was given is not the server process's
 * pg_backend_pid()), 0 if it is a direct session, -1 if it cannot tell. One round trip. */
int pg_through_pooler(PGconn *conn);
/* A pg_lsn's text ("16/B374D848") as a number; 0 if it is not one. */
unsigned long long pg_lsn_parse(const char *s);
/* Executes a command that returns no rows; 0 or -1 with err. */
int pg_command(PGconn *conn, const char *sql, t2err *err);

/* Appends names v[0..n) to out as a PostgreSQL text[] literal, {"a","b"}: each element
 * quoted as a JSON string, which an array literal reads the same way. */
void pg_text_array(buf *out, char *const *v, int n);

#endif
