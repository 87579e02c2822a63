/* replica -- the read replica generated SQL reads from (db_replica_host): its connection, its
 * state (reachable, how far its replay is behind) and, per request, the choice between it and
 * the primary. A page read on the replica is stored in the result cache only when the replica
 * had replayed, before the page's query, the WAL the cache key's versions were read at
 * (rcache_versions_lsn, replica_replayed_past).
 *
 * The state is asked of the replica at most every replica_check_ms, in one round trip:
 *   lag = 0 when it has replayed all the WAL it received, else the time since the last
 *         transaction it replayed (pg_last_xact_replay_timestamp()); a paused replay whose
 *         primary keeps writing therefore falls behind by the second.
 * A replica that cannot be reached is down; one further behind than replica_max_lag_ms (when
 * not 0) is lagging. Either way replica_fallback says what a read does: "primary" reads from
 * the primary, "error" answers 503 db_unavailable. Only generated SQL's reads (pages and
 * counts, each in core/txn.c's read-only transaction) go to the replica; the t2sql schema
 * (queries, jobs, audit, examples, keys), the catalog and the result cache's versions stay on
 * the primary. A page read on the replica is stored in the result cache only when the replica
 * had replayed, before the page's query, the WAL the cache key's versions were read at
 * (rcache_versions_lsn, replica_replayed_past).
 *
 * A replica owns its pgc; replica_close() releases it. */
#ifndef T2_REPLICA_H
#define T2_REPLICA_H

#include "conf.h"
#include "err.h"
#include "pg.h"

#include <time.h>

typedef enum {
    REPLICA_NONE,
    REPLICA_UNKNOWN,
    REPLICA_OK,
    REPLICA_DOWN,
    REPLICA_LAGGING
} replica_state;

typedef struct replica {
    pgc db;
    replica_state state;
    long long lag_ms; /* as last measured; -1 = unknown */
    struct timespec checked;
} replica;

/* Prepares (does not connect); state REPLICA_NONE when db_replica_host is empty. 0 or -1. */
int replica_init(replica *rp, const conf *cf, const char *appname);
void replica_close(replica *rp);
/* The state, asked again first when the last answer is older than replica_check_ms. */
replica_state replica_status(replica *rp, const conf *cf);
/* The connection generated SQL reads over: the replica's when it is up and close enough
 * (*on_replica = 1), else the primary's from `primary` when replica_fallback = primary (also
 * when no replica is configured), else NULL with E_DB_UNAVAILABLE in err. */
PGconn *replica_read_conn(replica *rp, pgc *primary, const conf *cf, int *on_replica, t2err *err);
/* After a read on the replica's connection failed: drops it if broken, asks again next time. */
void replica_failed(replica *rp);
/* 1 if the replica behind conn has replayed the primary's WAL up to lsn (0 = unknown: no),
 * else 0. One round trip. */
int replica_replayed_past(PGconn *conn, unsigned long long lsn);
/* "none", "unknown", "ok", "down" or "lagging" */
const char *replica_state_name(replica_state st);

#endif
