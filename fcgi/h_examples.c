/* h_examples -- verified question -> SQL examples: GET/POST /examples, DELETE /examples/{id}.
 * An example's question follows /query's rule (max_question_chars after trimming) and its SQL
 * must pass the guard and PostgreSQL's PREPARE before it is stored; the table's SQL is
 * core/examples.c's. */
#include "handlers.h"

#include "examples.h"

#include <string.h>

static int db_failed(req *r, const t2err *err)
{
    if (err->code != E_NOT_FOUND) pgc_check(&r->x->db);
    return http_error(r, err);
}

int h_examples_list(req *r)
{
    t2err err;
    PGconn *conn;
    json_object *j;

    err_clear(&err);
    if (!(conn = pgc_get(&r->x->db, &err))) return http_error(r, &err);
    if (examples_list(conn, &j, &err) < 0) return db_failed(r, &err);
    return http_json(r, 200, j);
}

int h_examples_add(req *r)
{
    t2err err;
    const char *question = NULL, *sql = NULL;
    buf q = BUF_INIT(0), clean = BUF_INIT(1u << 20);
    PGconn *conn;
    json_object *j;
    int rc;

    err_clear(&err);
    if (req_json(r, &err) < 0 || field_str(r->json, "question", &question, &err) < 0 ||
        field_str(r->json, "sql", &sql, &err) < 0)
        goto fail;
    if (!question) {
        err_field(&err, "question", "question is required");
        goto fail;
    }
    if (question_text(r, question, &q, &err) < 0) goto fail;
    if (!sql || !*sql) {
        err_field(&err, "sql", "sql is required");
        goto fail;
    }
    req_audit_what(r, buf_cstr(&q), sql, NULL);
    if (t2ctx_ready(r->x, &err) < 0 || pipeline_validate(r->x, sql, &clean, &err) < 0 ||
        !(conn = pgc_get(&r->x->db, &err)))
        goto fail;
    if (examples_add(conn, buf_cstr(&q), buf_cstr(&clean), r->owner, &j, &err) < 0) {
        buf_free(&q);
        buf_free(&clean);
        return db_failed(r, &err);
    }
    t2ctx_examples_changed(r->x);
    snprintf(r->audit_detail, sizeof r->audit_detail, "example %s",
             json_object_get_string(json_object_object_get(j, "id")));
    rc = http_json(r, 201, j);
    buf_free(&q);
    buf_free(&clean);
    return rc;
fail:
    buf_free(&q);
    buf_free(&clean);
    return http_error(r, &err);
}

int h_examples_delete(req *r)
{
    t2err err;
    const char *id = path_tail(r, "/examples/");
    long n;
    PGconn *conn;

    err_clear(&err);
    if (!id || str_to_long(id, 1, 1L << 62, &n) < 0) {
        err_set(&err, E_NOT_FOUND, "example not found");
        return http_error(r, &err);
    }
    snprintf(r->audit_detail, sizeof r->audit_detail, "example %s", id);
    if (!(conn = pgc_get(&r->x->db, &err))) return http_error(r, &err);
    if (examples_delete(conn, n, &err) < 0) return db_failed(r, &err);
    t2ctx_examples_changed(r->x);
    return http_body(r, 204, "application/json", "", 0, NULL);
}
