/* replica -- the read replica's connection and state; see replica.h. */
#include "replica.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

int replica_init(replica *rp, const conf *cf, const char *appname)
{
    memset(rp, 0, sizeof *rp);
    rp->lag_ms = -1;
    if (!*cf->db_replica_host) return 0;
    rp->state = REPLICA_UNKNOWN;
    return pgc_init_at(&rp->db, cf, CONF_DB_REPLICA, appname, 0);
}

void replica_close(replica *rp)
{
    pgc_close(&rp->db);
}

const char *replica_state_name(replica_state st)
{
    static const char *const names[] = {"none", "unknown", "ok", "down", "lagging"};
    return names[st];
}

static long long ms_since(const struct timespec *a)
{
    struct timespec b;

    clock_gettime(CLOCK_MONOTONIC, &b);
    return (long long)(b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

/* One round trip: how far behind the replica's replay is, in ms (never below 0); -1 if it
 * cannot say. */
static long long measure_lag(PGconn *conn)
{
    static const char sql[] =
        "SELECT coalesce(CASE WHEN pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn() "
        "THEN (extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)"
        "::int8 END, 0)";
    PGresult *r = PQexec(conn, sql);
    long long lag = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        lag = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        if (lag < 0) lag = 0; /* the clocks of two hosts */
    } else
        log_warn("read replica: cannot read its replay lag: %s", PQerrorMessage(conn));
    PQclear(r);
    return lag;
}

replica_state replica_status(replica *rp, const conf *cf)
{
    replica_state was = rp->state;
    PGconn *conn;
    t2err err;

    if (rp->state == REPLICA_NONE) return REPLICA_NONE;
    if (rp->state != REPLICA_UNKNOWN && ms_since(&rp->checked) < cf->replica_check_ms)
        return rp->state;
    clock_gettime(CLOCK_MONOTONIC, &rp->checked);
    err_clear(&err);
    if (!(conn = pgc_get(&rp->db, &err)) || (rp->lag_ms = measure_lag(conn)) < 0) {
        if (conn) pgc_check(&rp->db);
        rp->lag_ms = -1;
        rp->state = REPLICA_DOWN;
    } else {
        rp->state = cf->replica_max_lag_ms > 0 && rp->lag_ms > cf->replica_max_lag_ms
                        ? REPLICA_LAGGING
                        : REPLICA_OK;
    }
    if (rp->state != was && was != REPLICA_UNKNOWN)
        log_warn("read replica: %s -> %s (lag %lld ms)", replica_state_name(was),
                 replica_state_name(rp->state), rp->lag_ms);
    return rp->state;
}

PGconn *replica_read_conn(replica *rp, pgc *primary, const conf *cf, int *on_replica, t2err *err)
{
    replica_state st = replica_status(rp, cf);
    PGconn *conn;

    *on_replica = 0;
    if (st == REPLICA_OK) {
        if ((conn = pgc_get(&rp->db, err)) != NULL) {
            *on_replica = 1;
            return conn;
        }
        rp->state = st = REPLICA_DOWN; /* went away since the last check */
        err_clear(err);
    }
    if (st == REPLICA_NONE || strcmp(cf->replica_fallback, "primary") == 0)
        return pgc_get(primary, err);
    if (st == REPLICA_LAGGING)
        err_set(err, E_DB_UNAVAILABLE,
                "the read replica is %lld ms behind the primary (at most %ld)", rp->lag_ms,
                cf->replica_max_lag_ms);
    else
        err_set(err, E_DB_UNAVAILABLE, "the read replica is unavailable");
    return NULL;
}

void replica_failed(replica *rp)
{
    if (rp->state == REPLICA_NONE) return;
    pgc_check(&rp->db);
    rp->state = REPLICA_UNKNOWN; /* asked again at the next read */
}

int replica_replayed_past(PGconn *conn, unsigned long long lsn)
{
    PGresult *r;
    int ok;

    if (lsn == 0) return 0;
    r = PQexec(conn, "SELECT pg_last_wal_replay_lsn()::text");
    ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
         pg_lsn_parse(PQgetvalue(r, 0, 0)) >= lsn;
    PQclear(r);
    return ok;
}
