#include "rcache.h"

#include "pg.h"

#include "log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RC_MEMO 256

typedef struct rc_table {
    char *name; /* "schema.relation" */
    char *ver;
} rc_table;

typedef struct rc_memo {
    char hash[65]; /* sha256 of the SQL; "" = empty slot */
    int cacheable;
    int nrels;
    guard_rel *rels;
} rc_memo;

struct rcache {
    const conf *cf;
    guard_policy policy; /* the caller's, in allowlist mode */
    char **schemas;      /* of policy, in search-path order */
    int nschemas;
    rc_table *tab; /* open addressing, ntab slots (a power of two) */
    size_t ntab;
    struct timespec loaded; /* when tab was read; 0 = never */
    unsigned long long lsn; /* the primary's WAL position as tab was read; 0 = unknown */
    rc_memo memo[RC_MEMO];
};

/* Functions whose value changes between two runs over the same data. */
static const char *const volatile_words[] = {"random",
                                             "setseed",
                                             "gen_random_uuid",
                                             "uuid_generate_v4",
                                             "clock_timestamp",
                                             "timeofday",
                                             "now",
                                             "current_timestamp",
                                             "current_date",
                                             "current_time",
                                             "localtime",
                                             "localtimestamp",
                                             "statement_timestamp",
                                             "transaction_timestamp",
                                             "nextval",
                                             "currval",
                                             "lastval",
                                             "txid_current",
                                             "pg_current_xact_id",
                                             "pg_backend_pid",
                                             "age",
                                             "pg_postmaster_start_time",
                                             "pg_conf_load_time",
                                             "inet_client_addr",
                                             "pg_sleep",
                                             NULL};

int rcache_volatile_words(const char *sql)
{
    const char *p = sql;
    char w[40];
    size_t n;
    int i;

    while (*p) {
        if (!isalpha((unsigned char)*p) && *p != '_') {
            p++;
            continue;
        }
        for (n = 0; isalnum((unsigned char)*p) || *p == '_'; p++)
            if (n + 1 < sizeof w) w[n++] = (char)tolower((unsigned char)*p);
        w[n] = '\0';
        for (i = 0; volatile_words[i]; i++)
            if (strcmp(w, volatile_words[i]) == 0) return 1;
    }
    return 0;
}

static unsigned long name_hash(const char *s)
{
    unsigned long h = 1469598103934665603UL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211UL;
    return h;
}

static void tab_clear(rcache *rc)
{
    size_t i;
    for (i = 0; i < rc->ntab; i++) {
        free(rc->tab[i].name);
        free(rc->tab[i].ver);
    }
    free(rc->tab);
    rc->tab = NULL;
    rc->ntab = 0;
}

static const char *tab_find(const rcache *rc, const char *name)
{
    size_t i;
    if (!rc->ntab) return NULL;
    for (i = name_hash(name) & (rc->ntab - 1); rc->tab[i].name; i = (i + 1) & (rc->ntab - 1))
        if (strcmp(rc->tab[i].name, name) == 0) return rc->tab[i].ver;
    return NULL;
}

static double ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) * 1e3 + (double)(now.tv_nsec - t->tv_nsec) / 1e6;
}

/* One query for the versions of every table, partitioned table (with its partitions) and
 * materialized view in the allowed schemas. The counters are the functions behind
 * pg_stat_all_tables' n_tup_ins, n_tup_upd and n_tup_del (0 for a relation without stats),
 * called for these relations only: the view, joined per relation, computes every one of its
 * columns for every relation in the database, some 20 times the cost. */
static int tab_load(rcache *rc, PGconn *conn)
{
    static const char sql[] =
        "SELECT n.nspname || '.' || c.relname, (SELECT string_agg(pg_relation_filenode(t.relid)"
        "::text || ':' || (pg_stat_get_tuples_inserted(t.relid) + "
        "pg_stat_get_tuples_updated(t.relid) + pg_stat_get_tuples_deleted(t.relid))::text, ',' "
        "ORDER BY t.relid) FROM (SELECT c.oid AS relid WHERE c.relkind <> 'p' UNION ALL "
        "SELECT p.relid FROM pg_partition_tree(c.oid) p WHERE c.relkind = 'p') t), "
        "pg_current_wal_lsn()::text "
        "FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition AND n.nspname = ANY($1)";
    buf arr = BUF_INIT(0);
    const char *params[1];
    PGresult *r;
    size_t want = 16, i, k;
    int n, row;

    pg_text_array(&arr, rc->schemas, rc->nschemas);
    params[0] = buf_cstr(&arr);
    if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
        buf_free(&arr);
        return -1;
    }
    r = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
    buf_free(&arr);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_warn("result cache: cannot read the tables' versions: %s", PQerrorMessage(conn));
        PQclear(r);
        return -1;
    }
    tab_clear(rc);
    n = PQntuples(r);
    while (want < (size_t)n * 2)
        want *= 2;
    if (!(rc->tab = calloc(want, sizeof *rc->tab))) {
        PQclear(r);
        return -1;
    }
    rc->ntab = want;
    for (row = 0; row < n; row++) {
        const char *name = PQgetvalue(r, row, 0);
        for (i = name_hash(name) & (want - 1), k = 0; rc->tab[i].name && k < want;
             i = (i + 1) & (want - 1), k++) {
        }
        rc->tab[i].name = strdup(name);
        rc->tab[i].ver = strdup(PQgetisnull(r, row, 1) ? "" : PQgetvalue(r, row, 1));
        if (!rc->tab[i].name || !rc->tab[i].ver) {
            PQclear(r);
            tab_clear(rc);
            return -1;
        }
    }
    rc->lsn = n > 0 ? pg_lsn_parse(PQgetvalue(r, 0, 2)) : 0;
    PQclear(r);
    clock_gettime(CLOCK_MONOTONIC, &rc->loaded);
    return 0;
}

unsigned long long rcache_versions_lsn(const rcache *rc)
{
    return rc ? rc->lsn : 0;
}

rcache *rcache_new(const conf *cf, const guard_policy *policy)
{
    rcache *rc = calloc(1, sizeof *rc);
    if (!rc) return NULL;
    rc->cf = cf;
    rc->policy = *policy;
    rc->policy.allowlist = 1;
    rc->policy.allow_catalogs = 0;
    rc->schemas = policy->schemas;
    rc->nschemas = policy->nschemas;
    return rc;
}

static void memo_clear(rc_memo *m)
{
    free(m->rels);
    memset(m, 0, sizeof *m);
}

void rcache_free(rcache *rc)
{
    int i;
    if (!rc) return;
    tab_clear(rc);
    for (i = 0; i < RC_MEMO; i++)
        memo_clear(&rc->memo[i]);
    free(rc);
}

/* The decision for sql, made once per process and SQL text. */
static const rc_memo *decide(rcache *rc, const char *sql)
{
    char h[65];
    rc_memo *m;
    guard_result *gr;

    cache_key_hash(h, "rc-sql", sql, (const char *)NULL);
    m = &rc->memo[strtoul(h + 56, NULL, 16) % RC_MEMO];
    if (strcmp(m->hash, h) == 0) return m;
    memo_clear(m);
    memcpy(m->hash, h, sizeof h);
    if (rcache_volatile_words(sql) || !(gr = calloc(1, sizeof *gr))) return m;
    if (guard_check(sql, &rc->policy, gr) == 0 && gr->nrels > 0 &&
        (m->rels = malloc((size_t)gr->nrels * sizeof *m->rels))) {
        memcpy(m->rels, gr->rels, (size_t)gr->nrels * sizeof *m->rels);
        m->nrels = gr->nrels;
        m->cacheable = 1;
    }
    free(gr);
    return m;
}

/* The version of relation r: qualified as written, or the first allowed schema holding it
 * (search_path order). */
static const char *rel_version(const rcache *rc, const guard_rel *r, char *name, size_t len)
{
    const char *v;
    int i;

    if (r->schema[0]) {
        snprintf(name, len, "%s.%s", r->schema, r->name);
        v = tab_find(rc, name);
        return v && *v ? v : NULL;
    }
    for (i = 0; i < rc->nschemas; i++) {
        snprintf(name, len, "%s.%s", rc->schemas[i], r->name);
        if ((v = tab_find(rc, name))) return *v ? v : NULL;
    }
    return NULL;
}

int rcache_key(rcache *rc, pgc *db, const rc_req *q, char key[80])
{
    const rc_memo *m;
    PGconn *conn;
    t2err err;
    buf parts = BUF_INIT(0);
    char name[140], h[65];
    const char *v;
    int i, ok = 1;

    if (!rc || !rc->cf->result_cache || !db) return 0;
    m = decide(rc, q->sql);
    if (!m->cacheable) return 0;
    if ((!rc->loaded.tv_sec && !rc->loaded.tv_nsec) ||
        ms_since(&rc->loaded) >= (double)rc->cf->result_cache_version_ms) {
        if (!(conn = pgc_get(db, &err)) || tab_load(rc, conn) < 0) return 0;
    }
    /* numeric_as_string changes the bytes of a page: instances sharing Redis may differ */
    buf_printf(&parts, "%ld\n%ld\n%d\n%d\n%d\n", q->page, q->page_size, q->count, q->ndjson,
               rc->cf->numeric_as_string);
    for (i = 0; i < m->nrels && ok; i++) {
        v = rel_version(rc, &m->rels[i], name, sizeof name);
        if (!v)
            ok = 0; /* a view, a foreign table, a catalog: no version to check */
        else
            buf_printf(&parts, "%s=%s\n", name, v);
    }
    if (ok) {
        cache_key_hash(h, "rc1", q->sql, q->identity ? q->identity : "", buf_cstr(&parts),
                       (const char *)NULL);
        snprintf(key, 80, "t2:rc:%s", h);
    }
    buf_free(&parts);
    return ok;
}

void rc_entry_init(rc_entry *e)
{
    memset(e, 0, sizeof *e);
    e->total = -1;
}

void rc_entry_free(rc_entry *e)
{
    buf_free(&e->body);
}

long long rcache_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Stored as "rc1 <stored_ms> <total> <more> <execute_ms>\n" and the body. */
int rcache_get(cache *c, const char *key, long max_age_s, rc_entry *e)
{
    buf v = BUF_INIT(0);
    const char *nl;
    int hit = 0;

    if (cache_get(c, key, &v) == 1 && v.len && (nl = memchr(v.p, '\n', v.len)) &&
        sscanf(v.p, "rc1 %lld %lld %d %lf", &e->stored_ms, &e->total, &e->more, &e->execute_ms) ==
            4 &&
        (max_age_s < 0 || rcache_now_ms() - e->stored_ms <= max_age_s * 1000LL)) {
        buf_reset(&e->body);
        hit = buf_add(&e->body, nl + 1, v.len - (size_t)(nl + 1 - v.p)) == 0;
    }
    buf_free(&v);
    return hit;
}

void rcache_put(cache *c, const char *key, const rc_entry *e, long ttl_s, size_t max_bytes)
{
    buf v = BUF_INIT(0);

    if (!c || e->body.len > max_bytes) return;
    if (buf_printf(&v, "rc1 %lld %lld %d %.1f\n", rcache_now_ms(), e->total, e->more,
                   e->execute_ms) == 0 &&
        buf_add(&v, e->body.p, e->body.len) == 0)
        cache_set(c, key, v.p, v.len, ttl_s);
    buf_free(&v);
}
