/* exec -- runs one page of validated SQL read-only and writes it as JSON (or NDJSON) into a
 * sink as rows arrive (COPY ... TO STDOUT, one CopyData line per row, in one round trip with
 * a LIMIT 0 of the statement that names the columns), so memory stays flat whatever the page
 * size.
 *
 * Every statement runs inside the read-only transaction of core/txn (limits, search path, role,
 * claims), which is always rolled back: by the page's own query (ending in ROLLBACK), which
 * also opens the transaction (txn_begin_text) when the process knows the statement's order
 * already, so that a repeated page is one round trip. Owns nothing past the call. */
#ifndef T2_EXEC_H
#define T2_EXEC_H

#include "buf.h"
#include "err.h"
#include "order.h"
#include "sink.h"
#include "txn.h"

#include <libpq-fe.h>

typedef enum { COUNT_EXACT = 0, COUNT_ESTIMATED, COUNT_NONE } count_mode;

/* A copy of a page for the result cache, made while it is written: the document from
 * "columns" to the end of the rows (the part that does not change between two answers of the
 * same page), and what its tail says. The caller owns body (buf_free). */
typedef struct exec_capture {
    buf body;
    size_t max;      /* past this the copy stops and overflow is set */
    int overflow;    /* also set when the page failed */
    long long total; /* total_rows, -1 = null */
    int more;
    double execute_ms;
} exec_capture;

typedef struct exec_req {
    const char *sql; /* validated: one SELECT, no trailing semicolon */
    const char *query_id;
    const char *source;
    const char *explanation; /* plain English of what sql computes; NULL = "" */
    const char *measures;    /* nmeasures NUL-separated names of semantic measures used */
    int nmeasures;
    long page, page_size;
    count_mode count;
    int ndjson;
    int numeric_strings; /* numeric values as JSON strings (conf numeric_as_string) */
    double generate_ms;
    const txn_identity *id;      /* who asks (role, claims); NULL = the service's query_role */
    long long *rows_out;         /* if not NULL: set to the rows written (the audit trail) */
    exec_capture *capture;       /* NULL = none */
    const char *conversation_id; /* written after query_id; NULL = none */
    buf *columns_out;            /* if not NULL: the column names as a JSON array */
    long long *total_out;        /* if not NULL: total_rows (-1 = not counted) */
    buf *first_rows;             /* if not NULL: the first first_rows_max rows' JSON, comma-
                                  * separated (JSON documents only, not NDJSON) */
    int first_rows_max;
} exec_req;

/* Forgets the process's cache of type names (pg_type), so that the next page reloads it:
 * call after the schema changed (new enum or domain types). */
void exec_types_reset(void);
/* Returns 0 when the whole document was written; -1 when it failed before any byte was
 * handed on (err set, sink buffer discarded: answer with an error status); 1 when it failed
 * after output had started (the document was ended with an "error" member, or the peer is
 * gone: s->failed). */
int exec_page(PGconn *conn, const txn_limits *lim, const exec_req *rq, sink *s, t2err *err);
/* Writes into out the statement exec_page pages over: sql with its total order (order.h),
 * decided in the read-only transaction with the limits and identity. For an export, so that
 * exportd's COPY lists the rows in the pages' order. 0, or -1 with err. */
int exec_order(PGconn *conn, const txn_limits *lim, const txn_identity *id, const char *sql,
               buf *out, t2err *err);
/* Writes into out sql sorted by keys (order_sort(), order.h), decided in the read-only
 * transaction with the limits and identity: POST /query's "sort". 0, or -1 with err (a 422
 * on field "sort" for a key that names no sortable column). */
int exec_sorted(PGconn *conn, const txn_limits *lim, const txn_identity *id, const char *sql,
                const order_key *keys, int nkeys, buf *out, t2err *err);
/* Writes a page captured earlier (exec_capture's fields) as exec_page() would have, with
 * rq's SQL, query_id and source, and timing execute 0, and fills rq's columns_out, total_out
 * and first_rows from it as exec_page() does; -1 when it does not fit the sink. */
int exec_write_captured(const exec_req *rq, const buf *body, long long total, int more, sink *s);
/* Checks that sql parses and plans (PREPARE, no execution) in the read-only transaction
 * with the limits and identity (NULL = none); 0, or -1 with err (E_INVALID_SQL carrying
 * PostgreSQL's message). */
int exec_check(PGconn *conn, const txn_limits *lim, const txn_identity *id, const char *sql,
               t2err *err);

#endif
