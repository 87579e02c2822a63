/* rcache -- the result cache (off by default, result_cache = true): a page's encoded bytes in
 * Redis, so that the same page of the same validated SQL for the same identity is answered
 * without running it while the data it reads has not changed.
 *
 * Key: sha256 of the SQL, page, page size, count mode, output format (JSON or NDJSON, and
 * numeric_as_string), the
 * identity (role and claims) and the data version of every relation the SQL reads. A table's
 * data version is its storage (pg_relation_filenode of it and of its partitions: TRUNCATE,
 * VACUUM FULL, CLUSTER and REFRESH MATERIALIZED VIEW change it) and its modification counters
 * (n_tup_ins + n_tup_upd + n_tup_del of pg_stat_all_tables, which a committing backend
 * publishes within about a second). The map of versions of every table, partitioned table
 * and materialized view in the allowed schemas is read in one query, at most every
 * result_cache_version_ms, by each process.
 *
 * Cacheable is SQL that passes the guard in allowlist mode (only built-in functions, so no
 * user function reads a table behind the versions' back), reads only relations of the map
 * (no views, foreign tables or catalogs), and names no volatile or clock function (random(),
 * now(), current_date, clock_timestamp(), nextval(), ... -- found by a word scan of the text,
 * so a column of that name also disables caching). Pages larger than result_cache_max_bytes
 * are not stored.
 *
 * Ownership: an rcache (per process) owns its version map and its memo of decisions per SQL;
 * rcache_free() releases them. An rc_entry owns its body buffer (rc_entry_free()). Redis down
 * means every lookup misses and every store is dropped: never an error. */
#ifndef T2_RCACHE_H
#define T2_RCACHE_H

#include "buf.h"
#include "cache.h"
#include "conf.h"
#include "pg.h"
#include "sqlguard.h"

#include <libpq-fe.h>

typedef struct rcache rcache;

typedef struct rc_req {
    const char *sql; /* validated */
    long page, page_size;
    int count; /* count_mode */
    int ndjson;
    const char *identity; /* role and claims the SQL runs with; "" = the service's reader */
} rc_req;

/* What a stored page holds: the document's body from "columns" to the end of the rows, and
 * what its tail needs. */
typedef struct rc_entry {
    long long stored_ms; /* wall clock, ms since 1970 */
    long long total;     /* total_rows, or -1 when unknown (null) */
    int more;            /* has_more */
    double execute_ms;   /* what the miss took */
    buf body;
} rc_entry;

rcache *rcache_new(const conf *cf, const guard_policy *policy);
void rcache_free(rcache *rc);

/* 1 when q's page is cacheable, with its key in key[80] ("t2:rc:<sha256>"); 0 when not (the
 * cache is off, the SQL is not cacheable, or the versions cannot be read). Reads the version
 * map over db's connection (autocommit, outside any transaction) when it is older than
 * result_cache_version_ms; between those reads it touches no connection. */
int rcache_key(rcache *rc, pgc *db, const rc_req *q, char key[80]);

/* The primary's WAL position (pg_lsn_parse) read with the versions rcache_key() last used;
 * 0 = unknown. A page read on a replica may be stored under such a key only when the replica
 * had replayed at least this far before the page's query began (its rows are then no older
 * than the versions say). */
unsigned long long rcache_versions_lsn(const rcache *rc);

void rc_entry_init(rc_entry *e);
void rc_entry_free(rc_entry *e);
/* 1 = hit (e filled) when the entry exists and is at most max_age_s old (-1 = any age);
 * 0 = miss. */
int rcache_get(cache *c, const char *key, long max_age_s, rc_entry *e);
/* Stores e under key for ttl_s seconds; nothing when e->body is over max_bytes. */
void rcache_put(cache *c, const char *key, const rc_entry *e, long ttl_s, size_t max_bytes);

/* Wall clock in ms since 1970, as stored_ms. */
long long rcache_now_ms(void);

/* Exposed for the unit tests: 1 when sql names a volatile or clock function. */
int rcache_volatile_words(const char *sql);

#endif
