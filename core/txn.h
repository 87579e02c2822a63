/* txn -- the one read-only transaction every piece of generated SQL runs in: /query's pages,
 * counts and checks (core/exec), exportd's COPY (exportd/export.c) and any later caller.
 *
 * txn_begin() sends, in one round trip, BEGIN READ ONLY and one SELECT of set_config(name,
 * value, true) calls (each the same as SET LOCAL; one statement instead of one per setting),
 * in this order:
 *   statement_timeout, lock_timeout, idle_in_transaction_session_timeout,
 *             standard_conforming_strings = on (as libpg_query parsed the SQL),
 *             search_path (the quoted `schemas`, t2sql never on it),
 *             temp_file_limit (when >= 0 and the login may set it),
 *             work_mem (when configured);
 *   the claims ('t2sql.claims' = <json> and one 't2sql.claim.<name>' = <value> per claim),
 *   and last 'role' (the identity's role, else query_role). The calls are checked for
 *   EXECUTE as the login when the SELECT starts, before the role changes: the login needs
 *   EXECUTE on set_config() (conf/roles.sql revokes it from PUBLIC and grants it to
 *   t2sql_service), the role generated SQL runs as never does.
 * txn_begin_text() gives the same opening as text, for a caller that sends it with its own
 * statements (and a ROLLBACK) in one simple query: core/exec's pages and checks. There the
 * SELECT is, on a direct connection, a prepared statement of the connection (core/prep: the
 * same calls with the values as parameters, "EXECUTE t2sql_N('30000', ...)"), so PostgreSQL
 * parses and plans it once per connection.
 * Every setting is LOCAL: txn_end() rolls back and the connection carries nothing to the next
 * transaction. Nothing here owns memory past a call; strings are the caller's.
 *
 * Identity (who asks; issue 15): pass a txn_identity to txn_begin(), or NULL for the service's
 * own identity (query_role, no claims). Generated SQL reads the claims with
 *   current_setting('t2sql.claims', true)::jsonb           -- the whole object
 *   current_setting('t2sql.claim.<name>', true)            -- one claim's text
 * (row-level security policies, views). A claim's name must be a simple identifier
 * ([A-Za-z_][A-Za-z0-9_]*, at most 63 bytes; PostgreSQL folds it to lower case); other names
 * are refused (E_FORBIDDEN), as is a value or JSON text holding a NUL byte. */
#ifndef T2_TXN_H
#define T2_TXN_H

#include "conf.h"
#include "buf.h"
#include "err.h"

#include <libpq-fe.h>
#include <stddef.h>

typedef struct txn_limits {
    const char *search_path; /* already quoted: "public", "sales" (txn_search_path) */
    const char *role;        /* the role set when non-empty and no identity role: query_role */
    long statement_timeout_ms, lock_timeout_ms, idle_tx_timeout_ms;
    long temp_file_limit_kb;  /* -1 = PostgreSQL's setting */
    const int *temp_limit_ok; /* may SET temp_file_limit (txn_temp_limit_allowed); NULL = yes */
    const char *work_mem;     /* "" or NULL = PostgreSQL's setting, else e.g. "64MB" */
} txn_limits;

typedef struct txn_claim {
    const char *name;  /* a simple identifier: t2sql.claim.<name> */
    const char *value; /* its text (a non-string claim as its JSON text) */
} txn_claim;

typedef struct txn_identity {
    const char *role;        /* the role set instead of query_role; NULL/"" = none.
                              * The login must be a member of it. */
    const txn_claim *claims; /* nclaims of them, may be NULL when nclaims is 0 */
    int nclaims;
    const char *claims_json; /* t2sql.claims as given (a JSON object); NULL = an object built
                              * from claims, each value a JSON string */
} txn_identity;

/* Fills lim from the configuration: /query's limits, or export's (export_statement_timeout_ms
 * in place of statement_timeout_ms) when for_export. search_path and temp_limit_ok are kept
 * by the caller (they live as long as lim is used). */
void txn_limits_from_conf(txn_limits *lim, const conf *cf, const char *search_path,
                          const int *temp_limit_ok, int for_export);
/* Writes the quoted search path of cf->schemas ("a", "b"; t2sql left out; "public" when none
 * is left) into dst. 0, or -1 if it does not fit. */
int txn_search_path(const conf *cf, char *dst, size_t len);
/* 1 if this connection's login may SET temp_file_limit (a superuser, or GRANT SET ON
 * PARAMETER temp_file_limit), else 0; *is_super (if not NULL) tells whether it is a
 * superuser. One round trip (two when not a superuser). */
int txn_temp_limit_allowed(PGconn *conn, int *is_super);
/* Opens the read-only transaction with the limits and the identity (NULL = none). 0, or -1
 * with err (then no transaction is left open). */
int txn_begin(PGconn *conn, const txn_limits *lim, const txn_identity *id, t2err *err);
/* The same opening as text, for a caller that sends it in one simple query with the statements
 * that follow it (one round trip less): appended to q with its terminating ";\n", *n set to the
 * results it produces (one per statement, PREPARE and DEALLOCATE included; the caller reads
 * them first, then calls prep_settle(conn, ok) as prep.h says; any error among them is
 * reported like txn_begin's: pg_result_err(..., E_INTERNAL, ...) then txn_begin_failed()).
 * Returns 1; 0 when it cannot be used on this connection (the session's
 * standard_conforming_strings is not on: PostgreSQL lexes the whole string before its SET LOCAL
 * runs), then call txn_begin(); -1 with err. */
int txn_begin_text(PGconn *conn, const txn_limits *lim, const txn_identity *id, buf *q, int *n,
                   t2err *err);
/* Logs a failure to open the transaction as txn_begin() does (E_INTERNAL only). */
void txn_begin_failed(const t2err *err);
/* 1 if s is a claim name txn_begin() accepts (a simple identifier, so t2sql.claim.<s> is a
 * valid setting name), else 0. */
int txn_claim_name_ok(const char *s);
/* Drains any pending result and rolls back (a no-op on a broken connection). */
void txn_end(PGconn *conn);

#endif
