/* order -- makes the order of a validated SELECT total, so that LIMIT/OFFSET pages of one
 * query over unchanged data partition its result (disjoint, complete, repeatable) and a
 * stream, an NDJSON body and an export (exportd's COPY) list the rows in that same order.
 *
 * Decided on libpg_query's parse tree and the statement's described columns: the user's own
 * ORDER BY is kept and a tie-breaker is appended after it -- nothing when the ORDER BY
 * already covers the primary key of the one table a plain SELECT reads, otherwise every
 * output column whose type has a btree ordering, by position. Owns a small per-process cache
 * of its decisions (keyed by the SQL text); order_reset() forgets it. */
#ifndef T2_ORDER_H
#define T2_ORDER_H

#include "buf.h"
#include "err.h"

#include <libpq-fe.h>

/* Writes into out the statement to page over: sql with a total order. conn must be inside
 * the read-only transaction (as the query role): sql is PREPAREd (never executed) there to
 * learn its columns, unless the decision is cached. 0; -1 with err when PostgreSQL refused
 * the statement (the transaction is then aborted: the caller rolls back) or out of memory. */
int order_total(PGconn *conn, const char *sql, buf *out, t2err *err);
/* order_total's answer when this process has it already (no database needed): 1 with out
 * written, else 0. */
int order_cached(const char *sql, buf *out);

/* The decision on the parse tree alone, for tests and for order_total: ncols output columns
 * of which orderable[i] says whether column i+1 has a btree ordering; unique is 1 when the
 * user's ORDER BY is proven to be total already. Writes the SQL to page over into out; 0, or
 * -1 when the statement does not parse as one SELECT (out then holds sql unchanged). */
int order_rewrite(const char *sql, int ncols, const char *orderable, int unique, buf *out);

/* A service-side sort: POST /query's "sort" items, output columns by name. */
#define ORDER_MAX_SORT 8
typedef struct order_key {
    const char *column; /* an output column's name, exactly as "columns" lists it */
    int desc;
} order_key;

/* Writes into out validated sql sorted by keys (1..ORDER_MAX_SORT of them): an outer SELECT
 * ordering by the named columns' positions, which order_total() then makes total. conn must
 * be inside the read-only transaction: sql is PREPAREd (never executed) to learn its
 * columns. 0; -1 with a 422 on field "sort" when a name is not exactly one output column or
 * its type has no ordering, or with err when PostgreSQL refused (the caller rolls back). */
int order_sort(PGconn *conn, const char *sql, const order_key *keys, int nkeys, buf *out,
               t2err *err);

/* Forgets the cached decisions (call after the schema changed). */
void order_reset(void);

#endif
