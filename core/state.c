/* state -- per-process state and its refresh; see state.h. */
#include "state.h"

#include "catsample.h"

#include "log.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static double ms_since(const struct timespec *a)
{
    struct timespec b;

    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

int t2ctx_init(t2ctx *x, const conf *cf, const char *appname)
{
    memset(x, 0, sizeof *x);
    x->cf = cf;
    if (pgc_init_at(&x->db, cf, CONF_DB_POOL, appname, 1) < 0 ||
        replica_init(&x->rep, cf, appname) < 0)
        return -1;
    if ((x->nschemas = conf_schema_list(cf, &x->schemas, 32)) < 0) return -1;
    x->cache = cache_new(cf);
    x->llm = llm_new(cf);
    if (!x->cache || !x->llm) return -1;
    x->policy = (guard_policy){x->schemas,
                               x->nschemas,
                               cf->guard_allowlist,
                               cf->allow_catalogs,
                               (size_t)cf->max_sql_bytes,
                               (int)cf->max_nesting,
                               (int)cf->max_joins,
                               cf->allow_session_functions};
    txn_limits_from_conf(&x->lim, cf, x->db.search_path, &x->db.temp_limit_ok, 0);
    if (cf->result_cache && !(x->rc = rcache_new(cf, &x->policy))) return -1;
    return 0;
}

void t2ctx_free(t2ctx *x)
{
    rolecat_free(x->rcat);
    pgc_close(&x->db);
    replica_close(&x->rep);
    cache_free(x->cache);
    llm_free(x->llm);
    catalog_free(x->cat);
    glossary_free(x->gl);
    semantic_free(x->sem);
    glossary_free(x->semgl);
    free(x->semdef);
    example_set_free(&x->examples);
    rcache_free(x->rc);
    free(x->schemas);
    memset(x, 0, sizeof *x);
}

/* Loads the catalog from Redis (shared by all workers) or the database. */
static int load_catalog(t2ctx *x, PGconn *conn, const char *probe, t2err *err)
{
    char key[128];
    buf v = BUF_INIT(256u << 20);
    catalog *c = NULL;
    glossary *g = NULL;

    /* the sample setting is part of what the catalog holds (catsample.h) */
    snprintf(key, sizeof key, "t2sql:catalog:%s:%ld", probe, x->cf->catalog_sample_rows);
    if (cache_get(x->cache, key, &v)) {
        json_object *j = json_tokener_parse(buf_cstr(&v));
        c = j ? catalog_from_json(j) : NULL;
        json_object_put(j);
    }
    if (!c) {
        if (catalog_load(conn, x->schemas, x->nschemas, &c, err) < 0) goto fail;
        if (catalog_sample(conn, c, &x->lim, x->cf->catalog_sample_rows, x->cf->catalog_sample_ms) >
            0)
            catalog_fingerprint(c); /* the values are part of what the catalog says */
        json_object *j = catalog_to_json(c);
        const char *s = json_object_to_json_string_ext(j, T2_JSON_FLAGS);
        cache_set(x->cache, key, s, strlen(s), x->cf->cache_ttl_catalog);
        json_object_put(j);
    }
    if (!(g = glossary_new()) || glossary_load_file(g, x->cf->glossary_file, err) < 0 ||
        glossary_load_db(g, conn, err) < 0)
        goto fail;
    catalog_free(x->cat);
    glossary_free(x->gl);
    exec_types_reset(); /* new types may have come with the new schema */
    x->cat = c;
    x->gl = g;
    str_copy(x->cat_probe, sizeof x->cat_probe, probe);
    log_info("catalog loaded: %d tables, fingerprint %.12s", c->ntables, c->fingerprint);
    buf_free(&v);
    return 0;
fail:
    catalog_free(c);
    glossary_free(g);
    buf_free(&v);
    return -1;
}

/* The check itself on conn: probe, reload what changed. 0 or -1 with err (what is loaded
 * stays). */
static int refresh(t2ctx *x, PGconn *conn, t2err *err)
{
    char probe[64];

    if (catalog_probe(conn, x->schemas, x->nschemas, probe, sizeof probe, err) < 0 ||
        ((!x->cat || strcmp(probe, x->cat_probe) != 0) && load_catalog(x, conn, probe, err) < 0)) {
        pgc_check(&x->db);
        return -1;
    }
    if (example_set_refresh(&x->examples, conn) < 0) pgc_check(&x->db);
    x->checked = x->tried;
    return 0;
}

long t2ctx_tick_in_ms(const t2ctx *x)
{
    double left = T2CTX_CHECK_MS - ms_since(&x->tried);

    return left <= 0 ? 0 : (long)left + 1;
}

void t2ctx_tick(t2ctx *x)
{
    PGconn *conn;
    t2err err;

    if (t2ctx_tick_in_ms(x) > 0) return;
    clock_gettime(CLOCK_MONOTONIC, &x->tried);
    /* only over an open connection: connecting (and its refusal after a failure) is left to
     * the next request, so a database restart while idle costs no request a 503 */
    if (!(conn = pgc_peek(&x->db))) return;
    err_clear(&err);
    if (refresh(x, conn, &err) < 0) log_debug("catalog check failed: %s", err.detail);
}

int t2ctx_ready(t2ctx *x, t2err *err)
{
    PGconn *conn;

    if (x->cat && ms_since(&x->checked) < T2CTX_CHECK_MS) return 0;
    clock_gettime(CLOCK_MONOTONIC, &x->tried);
    if (!(conn = pgc_get(&x->db, err)) || refresh(x, conn, err) < 0)
        return x->cat ? 0 : -1; /* with a catalog loaded earlier, keep serving */
    return 0;
}

void t2ctx_examples_changed(t2ctx *x)
{
    example_set_stale(&x->examples);
    x->checked = x->tried = (struct timespec){0, 0};
}
