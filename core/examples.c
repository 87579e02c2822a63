/* examples -- the t2sql.examples table; see examples.h. */
#include "examples.h"

#include "buf.h"
#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LOADED 10000

void example_set_free(example_set *s)
{
    int i;

    for (i = 0; i < s->n; i++) {
        free(s->v[i].question);
        free(s->v[i].sql);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
    s->ver[0] = 0;
}

void example_set_stale(example_set *s)
{
    s->ver[0] = 0;
}

static int load_rows(example_set *s, PGconn *conn)
{
    PGresult *r = PQexec(conn, "SELECT question, sql FROM t2sql.examples ORDER BY id LIMIT 10000");
    int i, n;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return -1;
    }
    n = PQntuples(r) < MAX_LOADED ? PQntuples(r) : MAX_LOADED;
    if (n && !(s->v = calloc((size_t)n, sizeof *s->v))) {
        PQclear(r);
        return -1;
    }
    for (i = 0; i < n; i++) {
        s->v[i].question = strdup(PQgetvalue(r, i, 0));
        s->v[i].sql = strdup(PQgetvalue(r, i, 1));
        s->n++;
        if (!s->v[i].question || !s->v[i].sql) break;
    }
    PQclear(r);
    return 0;
}

int example_set_refresh(example_set *s, PGconn *conn)
{
    PGresult *r = PQexec(conn, "SELECT count(*)::text || ':' || coalesce(max(id), 0)::text"
                               " FROM t2sql.examples");
    char ver[64];

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return -1;
    }
    if (s->ver[0] && strcmp(PQgetvalue(r, 0, 0), s->ver) == 0) {
        PQclear(r);
        return 0;
    }
    str_copy(ver, sizeof ver, PQgetvalue(r, 0, 0));
    PQclear(r);
    example_set_free(s);
    if (load_rows(s, conn) < 0) return -1; /* ver stays "": the next refresh tries again */
    str_copy(s->ver, sizeof s->ver, ver);
    return 1;
}

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

static int db_error(PGconn *conn, PGresult *res, t2err *err)
{
    pg_result_err(conn, res, E_INTERNAL, err, "examples");
    PQclear(res);
    return -1;
}

int examples_list(PGconn *conn, json_object **out, t2err *err)
{
    PGresult *res =
        PQexec(conn, "SELECT id, question, sql, created_at FROM t2sql.examples ORDER BY id");
    json_object *arr;
    int i;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) return db_error(conn, res, err);
    arr = json_object_new_array();
    for (i = 0; i < PQntuples(res); i++)
        json_object_array_add(arr, example_json(res, i));
    PQclear(res);
    *out = json_object_new_object();
    json_object_object_add(*out, "examples", arr);
    return 0;
}

int examples_add(PGconn *conn, const char *question, const char *sql, const char *owner,
                 json_object **out, t2err *err)
{
    const char *params[3] = {question, sql, owner};
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO t2sql.examples (question, sql, created_by)"
                                 " VALUES ($1, $2, $3) RETURNING id, question, sql, created_at",
                                 3, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) return db_error(conn, res, err);
    *out = example_json(res, 0);
    PQclear(res);
    return 0;
}

int examples_delete(PGconn *conn, long id, t2err *err)
{
    char idtext[24];
    const char *params[1] = {idtext};
    PGresult *res;
    int found;

    snprintf(idtext, sizeof idtext, "%ld", id);
    res = PQexecParams(conn, "DELETE FROM t2sql.examples WHERE id = $1::bigint", 1, NULL, params,
                       NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) return db_error(conn, res, err);
    found = strcmp(PQcmdTuples(res), "0") != 0;
    PQclear(res);
    return found ? 0 : err_set(err, E_NOT_FOUND, "example not found");
}
