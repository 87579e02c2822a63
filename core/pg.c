/* pg -- the process's PostgreSQL connection and self-migration; see pg.h. */
#include "pg.h"

#include "buf.h"
#include "log.h"
#include "txn.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char migrate_schema_sql[];

int pgc_init(pgc *p, const conf *cf, const char *appname, int migrate)
{
    return pgc_init_at(p, cf, CONF_DB_PRIMARY, appname, migrate);
}

int pgc_init_at(pgc *p, const conf *cf, conf_db which, const char *appname, int migrate)
{
    memset(p, 0, sizeof *p);
    p->migrate = migrate;
    p->query_role_set = cf->query_role[0] != '\0';
    if (conf_pg_conninfo_at(cf, which, p->conninfo, sizeof p->conninfo, appname) < 0) return -1;
    return txn_search_path(cf, p->search_path, sizeof p->search_path);
}

static int ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* What this login may do: SET temp_file_limit (a superuser, or GRANT SET ON PARAMETER in
 * PostgreSQL 15), and whether generated SQL would run as a superuser. */
static void pgc_inspect(pgc *p)
{
    int super = 0;

    p->temp_limit_ok = txn_temp_limit_allowed(p->conn, &super);
    if (super && !p->query_role_set)
        log_warn("generated SQL runs as a superuser: set query_role to a SELECT-only role "
                 "(conf/roles.sql creates t2sql_reader)");
}

/* 1 if p holds a connection that is open and idle; a dead one is dropped. Never connects. */
static int pgc_healthy(pgc *p)
{
    if (p->conn && PQstatus(p->conn) == CONNECTION_OK) {
        /* An idle connection with something to read has usually been told to go away (a
         * server restart); consuming it turns that into CONNECTION_BAD now, not mid-request. */
        struct pollfd pfd = {PQsocket(p->conn), POLLIN, 0};
        PGnotify *n;
        int i;
        for (i = 0; i < 4 && poll(&pfd, 1, 0) > 0; i++) { /* the notice, then the EOF */
            if (!PQconsumeInput(p->conn)) break;
            while ((n = PQnotifies(p->conn)) != NULL)
                PQfreemem(n);
        }
        if (PQstatus(p->conn) == CONNECTION_OK && PQtransactionStatus(p->conn) == PQTRANS_IDLE)
            return 1;
    }
    if (p->conn) {
        PQfinish(p->conn);
        p->conn = NULL;
    }
    return 0;
}

PGconn *pgc_peek(pgc *p)
{
    return pgc_healthy(p) ? p->conn : NULL;
}

/* pgc_get, and pgc_get_between when arm is 0: a failed connect then starts no refusal */
static PGconn *get_conn(pgc *p, int arm, t2err *err)
{
    struct timespec now;

    if (pgc_healthy(p)) return p->conn;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (ts_before(&now, &p->retry_at)) {
        err_set(err, E_DB_UNAVAILABLE, "the database is unavailable");
        return NULL;
    }
    p->conn = PQconnectdb(p->conninfo);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        log_warn("database connection failed: %s", PQerrorMessage(p->conn));
        PQfinish(p->conn);
        p->conn = NULL;
        if (arm) {
            p->retry_at = now;
            p->retry_at.tv_sec += 1;
        }
        err_set(err, E_DB_UNAVAILABLE, "the database is unavailable");
        return NULL;
    }
    if (p->migrate) migrate_run(p->conn);
    pgc_inspect(p);
    return p->conn;
}

PGconn *pgc_get(pgc *p, t2err *err)
{
    return get_conn(p, 1, err);
}

PGconn *pgc_get_between(pgc *p, t2err *err)
{
    return get_conn(p, 0, err);
}

void pgc_check(pgc *p)
{
    if (p->conn && PQstatus(p->conn) != CONNECTION_OK) {
        PQfinish(p->conn);
        p->conn = NULL;
    }
}

void pgc_close(pgc *p)
{
    if (p->conn) PQfinish(p->conn);
    p->conn = NULL;
}

int pg_command(PGconn *conn, const char *sql, t2err *err)
{
    PGresult *r = PQexec(conn, sql);
    int rc = 0;

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pg_result_err(conn, r, E_INTERNAL, err, "command");
    PQclear(r);
    return rc;
}

int migrate_run(PGconn *conn)
{
    PGresult *r;
    int rc = -1;

    r = PQexec(conn, "BEGIN; SELECT pg_advisory_xact_lock(7215620430);");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) goto done;
    PQclear(r);
    r = PQexec(conn, migrate_schema_sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) goto done;
    PQclear(r);
    r = PQexec(conn, "COMMIT");
    rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
done:
    if (rc < 0) {
        log_warn("schema migration failed: %s", PQresultErrorMessage(r));
        PQclear(r);
        r = PQexec(conn, "ROLLBACK");
    }
    PQclear(r);
    return rc;
}

int pg_result_err(PGconn *conn, const PGresult *r, err_code dflt, t2err *err, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    if (PQstatus(conn) != CONNECTION_OK || (state && strncmp(state, "08", 2) == 0) ||
        (state && strcmp(state, "57P01") == 0))
        return err_set(err, E_DB_UNAVAILABLE, "the database connection was lost");
    if (state && strcmp(state, "57014") == 0)
        return err_set(err, E_QUERY_TIMEOUT, "the query ran past its time limit");
    if (!msg) msg = PQerrorMessage(conn);
    log_info("%s failed: %s%s%s", what, state ? state : "", state ? " " : "", msg);
    return err_set(err, dflt, "%s", msg);
}

int pg_through_pooler(PGconn *conn)
{
    PGresult *r = PQexec(conn, "SELECT pg_backend_pid()");
    int rc = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        rc = atoi(PQgetvalue(r, 0, 0)) != PQbackendPID(conn);
    PQclear(r);
    return rc;
}

unsigned long long pg_lsn_parse(const char *s)
{
    unsigned hi, lo;

    if (!s || sscanf(s, "%X/%X", &hi, &lo) != 2) return 0;
    return ((unsigned long long)hi << 32) | lo;
}

void pg_text_array(buf *out, char *const *v, int n)
{
    int i;

    buf_addc(out, '{');
    for (i = 0; i < n; i++) {
        if (i) buf_addc(out, ',');
        buf_add_json_cstr(out, v[i]);
    }
    buf_addc(out, '}');
}
