/* h_misc -- GET /health, /ready, /schema, /semantic and /metrics. */
#include "handlers.h"

#include <string.h>

int h_health(req *r)
{
    static const char body[] = "{\"ok\":true}";
    return http_body(r, 200, "application/json", body, sizeof body - 1, NULL);
}

/* checks.replica ("ok", "down" or "lagging") and checks.replica_lag_ms, when a read replica
 * is configured; -1 when reads would fail (it is not usable and replica_fallback = error). */
static int ready_replica(req *r, json_object *checks)
{
    replica_state st = replica_status(&r->x->rep, r->cf);

    if (st == REPLICA_NONE) return 0;
    json_object_object_add(checks, "replica", json_object_new_string(replica_state_name(st)));
    json_object_object_add(checks, "replica_lag_ms",
                           r->x->rep.lag_ms < 0 ? NULL : json_object_new_int64(r->x->rep.lag_ms));
    return st != REPLICA_OK && strcmp(r->cf->replica_fallback, "error") == 0 ? -1 : 0;
}

int h_ready(req *r)
{
    json_object *j = json_object_new_object(), *checks = json_object_new_object();
    t2err err;
    PGconn *conn = pgc_get(&r->x->db, &err);
    int db_ok = 0;

    if (conn) {
        PGresult *res = PQexec(conn, "SELECT 1");
        db_ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        if (!db_ok) pgc_check(&r->x->db);
    }
    json_object_object_add(checks, "db", json_object_new_boolean(db_ok));
    json_object_object_add(checks, "redis", json_object_new_boolean(cache_ping(r->x->cache)));
    json_object_object_add(checks, "llm", json_object_new_boolean(llm_configured(r->x->llm)));
    json_object_object_add(
        checks, "s3", json_object_new_boolean(*r->cf->s3_endpoint || *r->cf->aws_access_key_id));
    if (ready_replica(r, checks) < 0) db_ok = 0;
    json_object_object_add(j, "ok", json_object_new_boolean(db_ok));
    json_object_object_add(j, "checks", checks);
    return db_ok ? http_json(r, 200, j) : http_json_extra(r, 503, j, "Retry-After: 5\r\n");
}

int h_schema(req *r)
{
    t2err err;
    const catalog *cat;

    err_clear(&err);
    if (t2ctx_ready(r->x, &err) < 0 || !(cat = pipeline_catalog(r->x, &err)))
        return http_error(r, &err);
    return http_json(r, 200, catalog_to_json(cat)); /* only what the identity's role can read */
}

/* GET /semantic: the semantic layer in force (empty sections when none is loaded). */
int h_semantic(req *r)
{
    t2err err;

    err_clear(&err);
    if (t2ctx_ready(r->x, &err) < 0) return http_error(r, &err);
    pipeline_semantic_refresh(r->x);
    return http_json(r, 200, semantic_to_json(r->x->sem));
}

int h_metrics(req *r)
{
    buf out = BUF_INIT(1u << 20);
    int rc;

    t2err err;
    PGconn *conn = pgc_get(&r->x->db, &err);

    metrics_render(&out, conn);
    rc = http_body(r, 200, "text/plain; version=0.0.4", buf_cstr(&out), out.len, NULL);
    buf_free(&out);
    return rc;
}
