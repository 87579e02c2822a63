/* queries -- the t2sql.queries table: every SQL the service generated, under its query_id
 * ("q_" + 32 hex digits of sha256(owner NUL sql)), readable only by the owner it was made
 * for. This module owns all SQL of that table. Rows are never changed once stored.
 *
 * A query_memo is per-process memory of the ids it stored lately (direct-mapped by two hex
 * digits of the id), so a repeated question skips the INSERT; it owns no heap memory. Every
 * function takes a healthy connection from the caller; on an error the caller runs
 * pgc_check(). */
#ifndef T2_QUERIES_H
#define T2_QUERIES_H

#include "buf.h"
#include "err.h"

#include <libpq-fe.h>

#define QUERY_ID_LEN 40

typedef struct query_memo {
    char stored[256][QUERY_ID_LEN];
} query_memo;

/* The query_id of sql made for owner. */
void queries_make_id(const char *owner, const char *sql, char dst[QUERY_ID_LEN]);
/* 1 when memo says id is stored already: queries_store() would not touch the database. */
int queries_memo_has(const query_memo *memo, const char *id);
/* Stores sql under id (made by queries_make_id) unless memo says it is stored already, with
 * the identity it was made for (role NULL = the service's own, claims_json NULL = none). The
 * owner carries the identity's hash, so an id is never shared across identities. 0 or -1
 * with err. */
int queries_store(query_memo *memo, PGconn *conn, const char *id, const char *sql,
                  const char *question, const char *source, const char *owner, const char *role,
                  const char *claims_json, t2err *err);
/* Appends the SQL stored under id for owner to sql. 0, or -1 with E_NOT_FOUND (field
 * "query_id": unknown, or someone else's) or a database error. */
int queries_lookup(PGconn *conn, const char *id, const char *owner, buf *sql, t2err *err);

#endif
