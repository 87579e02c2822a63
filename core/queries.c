/* queries -- the t2sql.queries table; see queries.h. */
#include "queries.h"

#include "cache.h"
#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void queries_make_id(const char *owner, const char *sql, char dst[QUERY_ID_LEN])
{
    char h[65];

    cache_key_hash(h, owner, sql, (const char *)NULL);
    snprintf(dst, QUERY_ID_LEN, "q_%.32s", h);
}

/* query_ids are hex hashes: two of their digits pick the slot */
static size_t memo_slot(const char *id)
{
    return strtoul((char[3]){id[2], id[2] ? id[3] : 0, 0}, NULL, 16) & 255;
}

int queries_memo_has(const query_memo *memo, const char *id)
{
    return strcmp(memo->stored[memo_slot(id)], id) == 0;
}

int queries_store(query_memo *memo, PGconn *conn, const char *id, const char *sql,
                  const char *question, const char *source, const char *owner, const char *role,
                  const char *claims_json, t2err *err)
{
    const char *params[7] = {
        id, sql, question, source, owner, role ? role : "", claims_json ? claims_json : "{}"};
    char *slot = memo->stored[memo_slot(id)];
    PGresult *r;
    int rc = 0;

    if (strcmp(slot, id) == 0) return 0; /* stored already */
    r = PQexecParams(conn,
                     "INSERT INTO t2sql.queries (id, sql, question, source, owner, role, claims)"
                     " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (id) DO NOTHING",
                     7, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_result_err(conn, r, E_INTERNAL, err, "storing the query");
    else
        str_copy(slot, QUERY_ID_LEN, id);
    PQclear(r);
    return rc;
}

int queries_lookup(PGconn *conn, const char *id, const char *owner, buf *sql, t2err *err)
{
    const char *params[2] = {id, owner};
    PGresult *r = PQexecParams(conn, "SELECT sql FROM t2sql.queries WHERE id = $1 AND owner = $2",
                               2, NULL, params, NULL, NULL, 0);
    int rc = -1;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_result_err(conn, r, E_INTERNAL, err, "query_id lookup");
    } else if (PQntuples(r) == 0) {
        err_field(err, "query_id", "unknown query_id");
        err->code = E_NOT_FOUND;
    } else if (buf_adds(sql, PQgetvalue(r, 0, 0)) == 0) {
        rc = 0;
    } else {
        err_set(err, E_INTERNAL, "out of memory");
    }
    PQclear(r);
    return rc;
}
