/* convo -- the t2sql.conversations and t2sql.turns tables; see convo.h. */
#include "convo.h"

#include "pg.h"
#include "text.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int convo_valid_id(const char *s)
{
    int i;

    if (!s || strncmp(s, "c_", 2) != 0 || strlen(s) != CONVO_ID_LEN - 1) return 0;
    for (i = 2; s[i]; i++)
        if (!strchr("0123456789abcdef", s[i])) return 0;
    return 1;
}

static int bad_id(t2err *err)
{
    return err_field(err, "conversation_id",
                     "conversation_id must be a conversation id returned by /query "
                     "(\"c_\" and 32 hex digits) or \"new\"");
}

static int not_found(t2err *err)
{
    err_set(err, E_NOT_FOUND, "conversation not found");
    str_copy(err->field, sizeof err->field, "conversation_id");
    return -1;
}

int convo_start(convo *c, t2err *err)
{
    unsigned char r[16];
    int i;

    memset(c, 0, sizeof *c);
    if (RAND_bytes(r, sizeof r) != 1) return err_set(err, E_INTERNAL, "no random bytes");
    c->id[0] = 'c';
    c->id[1] = '_';
    for (i = 0; i < 16; i++)
        snprintf(c->id + 2 + 2 * i, 3, "%02x", r[i]);
    c->is_new = 1;
    return 0;
}

static char *dup_or_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

void convo_free(convo *c)
{
    int i;

    for (i = 0; i < c->nt; i++) {
        free(c->t[i].question);
        free(c->t[i].standalone);
        free(c->t[i].sql);
        free(c->t[i].clarification);
        free(c->t[i].rows);
    }
    free(c->t);
    c->t = NULL;
    c->nt = 0;
}

const convo_turn *convo_last_answered(const convo *c)
{
    int i;

    for (i = c->nt - 1; i >= 0; i--)
        if (c->t[i].sql) return &c->t[i];
    return NULL;
}

int convo_load(PGconn *conn, const char *id, const char *owner, long retention_s, int k, convo *c,
               t2err *err)
{
    char ret[24], lim[16];
    const char *params[4] = {id, owner, ret, lim};
    PGresult *r;
    int i, rc = -1;

    memset(c, 0, sizeof *c);
    if (!convo_valid_id(id)) return bad_id(err);
    snprintf(ret, sizeof ret, "%ld", retention_s);
    snprintf(lim, sizeof lim, "%d", k);
    r = PQexecParams(conn,
                     "SELECT (SELECT count(*) FROM t2sql.turns WHERE conversation_id = c.id),"
                     " t.n, t.question, t.standalone, t.sql, t.clarification, t.rows"
                     " FROM t2sql.conversations c LEFT JOIN LATERAL (SELECT * FROM t2sql.turns"
                     " WHERE conversation_id = c.id ORDER BY n DESC LIMIT $4::int) t ON true"
                     " WHERE c.id = $1 AND c.owner = $2"
                     " AND c.updated_at > now() - $3::bigint * interval '1 second'"
                     " ORDER BY t.n",
                     4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_result_err(conn, r, E_INTERNAL, err, "loading the conversation");
        goto done;
    }
    if (PQntuples(r) == 0) {
        not_found(err);
        goto done;
    }
    str_copy(c->id, sizeof c->id, id);
    c->nturns = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    if (!(c->t = calloc((size_t)PQntuples(r), sizeof *c->t))) {
        err_set(err, E_INTERNAL, "out of memory");
        goto done;
    }
    for (i = 0; i < PQntuples(r); i++) {
        convo_turn *t;
        if (PQgetisnull(r, i, 1)) continue; /* a conversation without turns */
        t = &c->t[c->nt++];
        t->n = (int)strtol(PQgetvalue(r, i, 1), NULL, 10);
        t->question = strdup(PQgetvalue(r, i, 2));
        t->standalone = dup_or_null(r, i, 3);
        t->sql = dup_or_null(r, i, 4);
        t->clarification = dup_or_null(r, i, 5);
        t->rows = dup_or_null(r, i, 6);
    }
    rc = 0;
done:
    PQclear(r);
    return rc;
}

/* Deletes the conversations idle past retention_s (their turns go with them). */
static void purge_expired(PGconn *conn, long retention_s)
{
    char ret[24];
    const char *params[1] = {ret};

    snprintf(ret, sizeof ret, "%ld", retention_s);
    PQclear(PQexecParams(conn,
                         "DELETE FROM t2sql.conversations"
                         " WHERE updated_at < now() - $1::bigint * interval '1 second'",
                         1, NULL, params, NULL, NULL, 0));
}

int convo_add_turn(PGconn *conn, const convo *c, const char *owner, long max_turns,
                   long retention_s, const convo_turn_in *t, t2err *err)
{
    char max[24], rows[24];
    const char *params[14] = {c->id,
                              owner,
                              max,
                              t->question,
                              t->standalone,
                              t->sql,
                              t->query_id,
                              t->columns_json,
                              NULL,
                              t->source,
                              t->explanation,
                              t->error_json,
                              t->clarification_json,
                              t->rows_json};
    PGresult *r;
    int rc = -1;

    snprintf(max, sizeof max, "%ld", max_turns);
    snprintf(rows, sizeof rows, "%lld", t->row_count);
    if (t->row_count >= 0) params[8] = rows;
    if (c->is_new) purge_expired(conn, retention_s);
    r = PQexecParams(
        conn,
        "WITH c AS (INSERT INTO t2sql.conversations AS c (id, owner) VALUES ($1, $2)"
        " ON CONFLICT (id) DO UPDATE SET updated_at = now() WHERE c.owner = $2 RETURNING c.id),"
        " k AS (SELECT count(*) AS n FROM t2sql.turns WHERE conversation_id = $1)"
        " INSERT INTO t2sql.turns (conversation_id, n, question, standalone, sql, query_id,"
        " columns, row_count, source, explanation, error, clarification, rows)"
        " SELECT c.id, coalesce((SELECT max(n) FROM t2sql.turns WHERE conversation_id = $1), 0)"
        " + 1, $4, $5, $6, $7, $8::jsonb, $9::bigint, $10, $11, $12::jsonb, $13::jsonb,"
        " $14::jsonb FROM c, k WHERE k.n < $3::bigint RETURNING n",
        14, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        pg_result_err(conn, r, E_INTERNAL, err, "storing the turn");
    else if (PQntuples(r) == 1)
        rc = 0;
    else if (c->nturns >= max_turns)
        err_field(err, "conversation_id",
                  "the conversation holds its %ld turns already; start a new one", max_turns);
    else
        not_found(err);
    PQclear(r);
    return rc;
}

int convo_list_json(PGconn *conn, const char *id, const char *owner, long retention_s,
                    json_object **out, t2err *err)
{
    char ret[24];
    const char *params[3] = {id, owner, ret};
    PGresult *r;
    int rc = -1;

    if (!convo_valid_id(id)) return bad_id(err);
    snprintf(ret, sizeof ret, "%ld", retention_s);
    r = PQexecParams(
        conn,
        "SELECT json_build_object('conversation_id', c.id, 'created_at', c.created_at,"
        " 'updated_at', c.updated_at, 'turns', coalesce((SELECT json_agg(json_strip_nulls("
        "json_build_object('turn', t.n, 'question', t.question, 'standalone_question',"
        " t.standalone, 'sql', t.sql, 'query_id', t.query_id, 'columns', t.columns,"
        " 'row_count', t.row_count, 'source', t.source, 'explanation', t.explanation,"
        " 'error', t.error, 'clarification', t.clarification, 'created_at', t.created_at))"
        " ORDER BY t.n) FROM t2sql.turns t WHERE t.conversation_id = c.id), '[]'))"
        " FROM t2sql.conversations c WHERE c.id = $1 AND c.owner = $2"
        " AND c.updated_at > now() - $3::bigint * interval '1 second'",
        3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        pg_result_err(conn, r, E_INTERNAL, err, "listing the conversation");
    else if (PQntuples(r) == 0)
        not_found(err);
    else if (!(*out = json_tokener_parse(PQgetvalue(r, 0, 0))))
        err_set(err, E_INTERNAL, "the conversation did not parse");
    else
        rc = 0;
    PQclear(r);
    return rc;
}

int convo_delete(PGconn *conn, const char *id, const char *owner, t2err *err)
{
    const char *params[2] = {id, owner};
    PGresult *r;
    int rc = -1;

    if (!convo_valid_id(id)) return bad_id(err);
    r = PQexecParams(conn, "DELETE FROM t2sql.conversations WHERE id = $1 AND owner = $2", 2, NULL,
                     params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        pg_result_err(conn, r, E_INTERNAL, err, "deleting the conversation");
    else if (strcmp(PQcmdTuples(r), "1") != 0)
        not_found(err);
    else
        rc = 0;
    PQclear(r);
    return rc;
}
