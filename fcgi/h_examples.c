/* h_examples -- verified question -> SQL examples: GET/POST /examples, DELETE /examples/{id}.
 * An example's SQL must pass the guard and PostgreSQL's PREPARE before it is stored. */
#include "handlers.h"

#include <stdlib.h>
#include <string.h>

static json_object *example_json(PGresult *res, int i)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "id",
                           json_object_new_int64(strtoll(PQgetvalue(res, i, 0), NULL, 10)));
    json_object_object_add(o, "question", json_object_new_string(PQgetvalue(res, i, 1)));
    json_object_object_add(o, "sql", json_object_new_string(PQgetvalue(res, i, 2)));
    json_object_object_add(o, "created_at", json_object_new_string(PQgetvalue(res, i, 3)));
    return o;
}

static int db_error(req *r, PGconn *conn, PGresult *res)
{
    t2err err;

    pg_result_err(conn, res, E_INTERNAL, &err, "examples");
    PQclear(res);
    pgc_check(&r->x->db);
    return http_error(r, &err);
}

int h_examples_list(req *r)
{
    t2err err;
    PGconn *conn = pgc_get(&r->x->db, &err);
    PGresult *res;
    json_object *arr;
    int i;

    if (!conn) return http_error(r, &err);
    res = PQexec(conn, "SELECT id, question, sql, created_at FROM t2sql.examples ORDER BY id");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) return db_error(r, conn, res);
    arr = json_object_new_array();
    for (i = 0; i < PQntuples(res); i++)
        json_object_array_add(arr, example_json(res, i));
    PQclear(res);
    {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "examples", arr);
        return http_json(r, 200, j);
    }
}

int h_examples_add(req *r)
{
    t2err err;
    const char *question = NULL, *sql = NULL;
    const char *params[3];
    buf clean = BUF_INIT(1u << 20);
    PGconn *conn;
    PGresult *res;
    int rc;

    err_clear(&err);
    if (req_json(r, &err) < 0 || field_str(r->json, "question", &question, &err) < 0 ||
        field_str(r->json, "sql", &sql, &err) < 0)
        goto fail;
    if (!question || !*question || strlen(question) > 4000) {
        err_field(&err, "question", "question is required (1 to 4000 bytes)");
        goto fail;
    }
    if (!sql || !*sql) {
        err_field(&err, "sql", "sql is required");
        goto fail;
    }
    req_audit_what(r, question, sql, NULL);
    if (t2ctx_refresh(r->x, &err) < 0 || pipeline_validate(r->x, sql, &clean, &err) < 0) goto fail;
    if (!(conn = pgc_get(&r->x->db, &err))) goto fail;
    params[0] = question;
    params[1] = buf_cstr(&clean);
    params[2] = r->owner;
    res = PQexecParams(conn,
                       "INSERT INTO t2sql.examples (question, sql, created_by)"
                       " VALUES ($1, $2, $3) RETURNING id, question, sql, created_at",
                       3, NULL, params, NULL, NULL, 0);
    buf_free(&clean);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) return db_error(r, conn, res);
    snprintf(r->audit_detail, sizeof r->audit_detail, "example %s", PQgetvalue(res, 0, 0));
    rc = http_json(r, 201, example_json(res, 0));
    PQclear(res);
    return rc;
fail:
    buf_free(&clean);
    return http_error(r, &err);
}

int h_examples_delete(req *r)
{
    t2err err;
    const char *id = path_tail(r, "/examples/");
    long n;
    PGconn *conn;
    PGresult *res;
    const char *params[1];

    err_clear(&err);
    if (!id || str_to_long(id, 1, 1L << 62, &n) < 0) {
        err_set(&err, E_NOT_FOUND, "example not found");
        return http_error(r, &err);
    }
    snprintf(r->audit_detail, sizeof r->audit_detail, "example %s", id);
    if (!(conn = pgc_get(&r->x->db, &err))) return http_error(r, &err);
    params[0] = id;
    res = PQexecParams(conn, "DELETE FROM t2sql.examples WHERE id = $1::bigint", 1, NULL, params,
                       NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) return db_error(r, conn, res);
    if (strcmp(PQcmdTuples(res), "0") == 0) {
        PQclear(res);
        err_set(&err, E_NOT_FOUND, "example not found");
        return http_error(r, &err);
    }
    PQclear(res);
    return http_body(r, 204, "application/json", "", 0, NULL);
}
