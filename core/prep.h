/* prep -- the named prepared statements a process keeps on its direct database connections,
 * so that PostgreSQL parses and plans a repeated statement once per connection, not once per
 * request (the transaction's opening, a repeated page).
 *
 * They are SQL-level statements (PREPARE name AS ...; EXECUTE name(...)) sent inside the
 * caller's own simple query, so a page stays one round trip and its results come in the same
 * order as the plain text's, with one extra result per PREPARE or DEALLOCATE. A connection
 * through a pooler (pg_through_pooler: PgBouncer's transaction mode hands each transaction any
 * server) never gets any: the caller sends the plain text.
 *
 * What each connection has prepared is tracked here, per process (at most PREP_CONNS
 * connections, PREP_SLOTS statements each, the least recently used one replaced); a statement
 * named by a query is known to exist only once that query's statements ran (prep_settle). After
 * a failure the next use begins with DEALLOCATE ALL, so the record is never trusted past what
 * is certain; a new connection (or a new backend behind the same PGconn) also starts that way.
 * PostgreSQL itself re-plans a prepared statement when the tables it reads change, the search
 * path differs or its row-security depends on the role; privileges are checked at each
 * EXECUTE. Owns copies of the statements' texts (static storage; prep_forget() frees them). */
#ifndef T2_PREP_H
#define T2_PREP_H

#include "buf.h"

#include <libpq-fe.h>

#define PREP_CONNS   4
#define PREP_SLOTS   32
#define PREP_MAX_SQL 65536 /* a longer statement is sent as text */

/* Appends to q what runs statement sql (parameters $1.. given as args, the literals' list
 * "('a', 'b')", or NULL when it has none): "EXECUTE name<args>", preceded when this
 * connection has not prepared it by "DEALLOCATE ...; " and "PREPARE name AS sql; ". scope
 * (NULL = none) is part of what names the statement without being in its text: the search
 * path a page's tables are found on (PostgreSQL would re-plan the statement for another path,
 * but refuse it if its columns then differed). Returns the number of results those add before
 * the EXECUTE's own (0..3), or -1 when it is not to be prepared (conn through a pooler or of
 * unknown kind, sql too long, out of memory): then nothing was appended and the caller
 * appends the text itself. May cost one round trip on a connection it has not seen
 * (pg_through_pooler): call it while conn is idle. */
int prep_append(PGconn *conn, buf *q, const char *scope, const char *sql, const char *args);
/* After the query carrying prep_append()'s text, which every such query needs: ok 1 when
 * every statement before its last EXECUTE ran (the new names exist), 0 when it failed or was
 * never sent (which of them ran is not known: when it named new ones, the next use starts with
 * DEALLOCATE ALL). */
void prep_settle(PGconn *conn, int ok);
/* 1 if the error result r says a prepared statement is not what the record says (missing,
 * already there, or its plan's columns changed with the tables'): the caller then calls
 * prep_reset() and may run its query again. */
int prep_stale(const PGresult *r);
/* Trusts nothing of conn's record: its next use starts with DEALLOCATE ALL. */
void prep_reset(PGconn *conn);
/* Drops every connection's record (for tests and the end of a process). */
void prep_forget(void);

#endif
