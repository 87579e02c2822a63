/* exec -- paged, streamed, read-only execution of validated SQL; see exec.h.
 *
 * A page is read through the COPY protocol in PostgreSQL's text format: every type's text is
 * its output function's, as in a PGresult, so no type needs another path (rowjson.c decodes
 * the escapes); the columns' types come from the same simple query's LIMIT 0 result. A page
 * of at most SMALL_PAGE rows is read as one ordinary text result (the same text, its own
 * types): the statement runs once. */
#include "exec.h"

#include "buf.h"
#include "log.h"
#include "order.h"
#include "pg.h"
#include "prep.h"
#include "rowjson.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Built-in type OIDs (pg_type.h) and the names API clients see in column_types. */
static const struct {
    Oid oid;
    const char *name;
    int kind;
} exec_types[] = {
    {16, "bool", K_BOOL},          {17, "bytea", K_STR},         {18, "char", K_STR},
    {19, "name", K_STR},           {20, "int8", K_INT},          {21, "int2", K_INT},
    {23, "int4", K_INT},           {25, "text", K_STR},          {26, "oid", K_INT},
    {114, "json", K_JSON},         {142, "xml", K_STR},          {700, "float4", K_FLOAT},
    {701, "float8", K_FLOAT},      {790, "money", K_STR},        {869, "inet", K_STR},
    {1042, "bpchar", K_STR},       {1043, "varchar", K_STR},     {1082, "date", K_STR},
    {1083, "time", K_STR},         {1114, "timestamp", K_STR},   {1184, "timestamptz", K_STR},
    {1186, "interval", K_STR},     {1266, "timetz", K_STR},      {1560, "bit", K_STR},
    {1562, "varbit", K_STR},       {1700, "numeric", K_NUMERIC}, {2950, "uuid", K_STR},
    {3802, "jsonb", K_JSON},       {1000, "_bool", K_STR},       {1005, "_int2", K_STR},
    {1007, "_int4", K_STR},        {1016, "_int8", K_STR},       {1009, "_text", K_STR},
    {1015, "_varchar", K_STR},     {1021, "_float4", K_STR},     {1022, "_float8", K_STR},
    {1231, "_numeric", K_STR},     {1182, "_date", K_STR},       {1115, "_timestamp", K_STR},
    {1185, "_timestamptz", K_STR}, {199, "_json", K_STR},        {3807, "_jsonb", K_STR},
    {2249, "record", K_STR},       {705, "unknown", K_STR},      {3904, "int4range", K_STR},
    {3926, "int8range", K_STR},    {3912, "daterange", K_STR},   {3910, "tstzrange", K_STR},
    {650, "cidr", K_STR},          {829, "macaddr", K_STR},      {28, "xid", K_INT},
};

/* Names of the types that are not built in (enums, domains, row types, extensions' types),
 * loaded from pg_type once per process and again after exec_types_reset(), so that no page
 * needs a round trip to name its columns. Sorted by oid. */
typedef struct type_entry {
    Oid oid;
    char name[64];
} type_entry;
static type_entry *type_cache;
static int type_cache_n;
static int type_cache_loaded;

void exec_types_reset(void)
{
    type_cache_loaded = 0;
    order_reset();
}

static int type_cmp(const void *a, const void *b)
{
    Oid x = ((const type_entry *)a)->oid, y = ((const type_entry *)b)->oid;
    return x < y ? -1 : x > y;
}

/* Loads pg_type's names; on failure names stay unknown ("unknown" in column_types). */
static void type_load(PGconn *conn)
{
    PGresult *r = PQexec(conn, "SELECT oid::int8, typname FROM pg_type ORDER BY oid");
    type_entry *t;
    int i, n;

    type_cache_loaded = 1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || !(n = PQntuples(r)) ||
        !(t = malloc((size_t)n * sizeof *t))) {
        PQclear(r);
        return;
    }
    for (i = 0; i < n; i++) {
        t[i].oid = (Oid)strtoul(PQgetvalue(r, i, 0), NULL, 10);
        str_copy(t[i].name, sizeof t[i].name, PQgetvalue(r, i, 1));
    }
    PQclear(r);
    qsort(t, (size_t)n, sizeof *t, type_cmp);
    free(type_cache);
    type_cache = t;
    type_cache_n = n;
}

static int type_kind(Oid oid)
{
    size_t i;

    for (i = 0; i < sizeof exec_types / sizeof exec_types[0]; i++)
        if (exec_types[i].oid == oid) return exec_types[i].kind;
    return K_STR;
}

static const char *type_name(Oid oid)
{
    size_t i;

    type_entry key, *hit;

    for (i = 0; i < sizeof exec_types / sizeof exec_types[0]; i++)
        if (exec_types[i].oid == oid) return exec_types[i].name;
    key.oid = oid;
    hit = type_cache ? bsearch(&key, type_cache, (size_t)type_cache_n, sizeof key, type_cmp) : NULL;
    return hit ? hit->name : NULL;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

int exec_order(PGconn *conn, const txn_limits *lim, const txn_identity *id, const char *sql,
               buf *out, t2err *err)
{
    int rc;

    if (txn_begin(conn, lim, id, err) < 0) return -1;
    rc = order_total(conn, sql, out, err);
    txn_end(conn);
    return rc;
}

int exec_sorted(PGconn *conn, const txn_limits *lim, const txn_identity *id, const char *sql,
                const order_key *keys, int nkeys, buf *out, t2err *err)
{
    int rc;

    if (txn_begin(conn, lim, id, err) < 0) return -1;
    rc = order_sort(conn, sql, keys, nkeys, out, err);
    txn_end(conn);
    return rc;
}

/* Waits until the database connection has input (consumed into libpq's buffer), watching the
 * peer's socket meanwhile: a query whose rows come slowly (or not at all before a sort, or a
 * count, finishes) would otherwise notice a client that left only at its next write. nginx
 * closes the FastCGI connection when its client leaves and never half-closes it otherwise, so
 * a hang-up on *peer_fd means the response can no longer be delivered. Returns 0 when input
 * was read, 1 when the connection failed (libpq's next call reports it), -1 when the peer hung
 * up first; *peer_fd becomes -1 when it is not a socket after all (no more watching). */
static int wait_input(PGconn *conn, int *peer_fd)
{
    struct pollfd p[2];

    for (;;) {
        p[0].fd = PQsocket(conn);
        p[0].events = POLLIN;
        p[1].fd = *peer_fd;
        p[1].events = POLLRDHUP;
        p[0].revents = p[1].revents = 0;
        if (poll(p, *peer_fd >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        if (*peer_fd >= 0 && (p[1].revents & POLLNVAL))
            *peer_fd = -1;
        else if (*peer_fd >= 0 && (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR)))
            return -1;
        if (p[0].revents) return PQconsumeInput(conn) ? 0 : 1;
    }
}

/* Waits until PQgetResult() will not block (wait_input); 0, or -1 when the peer hung up. */
static int wait_result(PGconn *conn, int peer_fd)
{
    int w = 0;

    while (w == 0 && peer_fd >= 0 && PQisBusy(conn))
        w = wait_input(conn, &peer_fd);
    return w < 0 ? -1 : 0;
}

/* The error of a statement of generated SQL that PostgreSQL refused: for a check, class 42
 * (syntax, unknown names, grouping...) is the SQL's fault and worth a repair round, anything
 * else (bad data, 22xxx) a failed query; for a page, a failed query. -1 with err. */
static int stmt_err(PGconn *conn, const PGresult *r, int for_check, t2err *err)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

    if (!for_check) return pg_result_err(conn, r, E_QUERY_FAILED, err, "query");
    return pg_result_err(conn, r,
                         state && strncmp(state, "42", 2) == 0 ? E_INVALID_SQL : E_QUERY_FAILED,
                         err, "check");
}

/* Set when a failed statement was one of prep.h's named ones found missing or out of date
 * (prep_stale): the query may run again, with the record reset. */
static int stmt_stale;

/* Notes whether error result r is prep_stale()'s. */
static void note_stale(PGconn *conn, const PGresult *r)
{
    if (prep_stale(r)) {
        prep_reset(conn);
        stmt_stale = 1;
    }
}

/* Reads the n results of the transaction's opening sent ahead of a statement in one simple
 * query (txn_begin_text), and of the statement's own PREPARE (and DEALLOCATE) from result
 * stmt_at on (n when there are none), watching peer_fd (-1: none); then settles the
 * connection's prepared statements (prep_settle). 0; -3 when the peer hung up; -1 with err:
 * PostgreSQL lexes and parses the whole string before running any of it, so an error in place
 * of the first result (BEGIN) is the statement's syntax (stmt_err), as is one from stmt_at on;
 * one between them the opening's (as txn_begin() reports it). */
static int opening_results(PGconn *conn, int n, int stmt_at, int peer_fd, int for_check, t2err *err)
{
    PGresult *r;
    ExecStatusType st;
    int i;

    for (i = 0; i < n; i++) {
        if (wait_result(conn, peer_fd) < 0) {
            prep_settle(conn, 0);
            return -3;
        }
        r = PQgetResult(conn);
        st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            prep_settle(conn, 0);
            note_stale(conn, r);
            if ((i == 0 || i >= stmt_at) && r && PQstatus(conn) == CONNECTION_OK) {
                stmt_err(conn, r, for_check, err);
            } else {
                pg_result_err(conn, r, E_INTERNAL, err, "command");
                if (!stmt_stale) txn_begin_failed(err);
            }
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    prep_settle(conn, 1);
    return 0;
}

/* exec_check in round trips of its own: the opening (txn_begin), the statement, the rollback. */
static int check_apart(PGconn *conn, const txn_limits *lim, const txn_identity *id, const char *sql,
                       t2err *err)
{
    PGresult *r;
    int rc = 0;

    buf q = BUF_INIT(0);

    if (txn_begin(conn, lim, id, err) < 0) return -1;
    if (id && id->role && *id->role) {
        /* PREPARE does not check privileges (the executor does): EXPLAIN reaches the
         * executor's start, so a column the role cannot read is refused before anything runs */
        buf_adds(&q, "EXPLAIN (COSTS OFF) ");
        buf_adds(&q, sql);
        r = PQexecParams(conn, buf_cstr(&q), 0, NULL, NULL, NULL, NULL, 0); /* one statement */
    } else {
        r = PQprepare(conn, "", sql, 0, NULL);
    }
    buf_free(&q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = stmt_err(conn, r, 1, err);
    PQclear(r);
    txn_end(conn);
    return rc;
}

/* exec_check's one round trip: the opening, the statement, the rollback. With a role, EXPLAIN
 * (which reaches the executor's start, where privileges are checked); else SQL-level PREPARE
 * (parse analysis as PQprepare's, never executed), deallocated at once. 0; 1 when the opening
 * cannot be sent as text on this connection (check_apart); -1 with err. */
static int check_once(PGconn *conn, const txn_limits *lim, const txn_identity *id, const char *sql,
                      t2err *err)
{
    buf q = BUF_INIT(0);
    PGresult *r;
    int n = 0, rc;

    if ((rc = txn_begin_text(conn, lim, id, &q, &n, err)) <= 0) {
        buf_free(&q);
        return rc < 0 ? -1 : 1;
    }
    if (id && id->role && *id->role)
        rc = buf_printf(&q, "EXPLAIN (COSTS OFF) %s\n;\nROLLBACK", sql);
    else
        rc =
            buf_printf(&q, "PREPARE t2sql_check AS\n%s\n;\nDEALLOCATE t2sql_check;\nROLLBACK", sql);
    if (rc < 0 || !PQsendQuery(conn, buf_cstr(&q))) {
        buf_free(&q);
        prep_settle(conn, 0);
        return err_set(err, rc < 0 ? E_INTERNAL : E_DB_UNAVAILABLE,
                       rc < 0 ? "out of memory" : "the database connection was lost");
    }
    buf_free(&q);
    if ((rc = opening_results(conn, n, n, -1, 1, err)) == 0) {
        r = PQgetResult(conn);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
            rc = stmt_err(conn, r, 1, err);
        PQclear(r);
    }
    txn_end(conn); /* drains the rest; rolls back when the rollback did not run */
    return rc < 0 ? -1 : 0;
}

int exec_check(PGconn *conn, const txn_limits *lim, const txn_identity *id, const char *sql,
               t2err *err)
{
    int rc;

    stmt_stale = 0;
    if ((rc = check_once(conn, lim, id, sql, err)) < 0 && stmt_stale) /* once more, re-prepared */
        rc = check_once(conn, lim, id, sql, err);
    return rc == 1 ? check_apart(conn, lim, id, sql, err) : rc;
}

/* The next row of a COPY OUT (PQgetCopyData: its length, the line the caller's to PQfreemem;
 * -1 at the end, -2 on error), waiting as wait_input() does; -3 when the peer hung up. */
static int copy_next(PGconn *conn, int peer_fd, char **line)
{
    int n, w;

    while ((n = PQgetCopyData(conn, line, peer_fd >= 0)) == 0)
        if ((w = wait_input(conn, &peer_fd)) != 0) return w < 0 ? -3 : -2;
    return n;
}

/* Writes the JSON error member/line for err into the sink. */
static void write_error(sink *s, int ndjson, const t2err *err)
{
    buf *b = &s->b;

    buf_adds(b, ndjson ? "{\"error\":{\"detail\":" : "],\"error\":{\"detail\":");
    buf_add_json_cstr(b, err->detail);
    buf_adds(b, ",\"code\":");
    buf_add_json_cstr(b, err_name(err->code));
    buf_adds(b, ndjson ? "}}\n" : "}}");
    sink_flush(s);
}

/* 1 when the total needs a query: the page does not tell it (a row follows the page, or a
 * page past the end is empty) and it is asked for. */
static int count_needs_query(const exec_req *rq, long long offset, long long n, int more)
{
    return rq->count != COUNT_NONE && (more || (n == 0 && offset > 0));
}

/* Computes total rows when the page does not tell it (more: a row follows the page);
 * -1 = unknown (null), -2 = error, -3 = the peer hung up while the count ran. */
static long long exec_total(PGconn *conn, const exec_req *rq, long long offset, long long n,
                            int more, int peer_fd, t2err *err)
{
    buf q = BUF_INIT(0);
    PGresult *r;
    long long total = -1;

    if (rq->count == COUNT_NONE) return -1;
    if (!count_needs_query(rq, offset, n, more)) return offset + n;
    if (rq->count == COUNT_ESTIMATED) {
        buf_printf(&q, "EXPLAIN (FORMAT JSON) %s", rq->sql);
        r = PQexec(conn, buf_cstr(&q));
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            json_object *j = json_tokener_parse(PQgetvalue(r, 0, 0)), *plan, *rows;
            if (j && json_object_is_type(j, json_type_array) &&
                json_object_object_get_ex(json_object_array_get_idx(j, 0), "Plan", &plan) &&
                json_object_object_get_ex(plan, "Plan Rows", &rows))
                total = (long long)json_object_get_double(rows);
            json_object_put(j);
        }
        PQclear(r);
        buf_reset(&q);
        if (total > 10000) /* large: the estimate is the answer, but never below what is seen */
            return total < offset + n + more ? offset + n + more : total;
    }
    buf_printf(&q, "SELECT count(*) FROM (\n%s\n) q", rq->sql);
    if (!PQsendQuery(conn, buf_cstr(&q))) {
        total = (pg_result_err(conn, NULL, E_QUERY_FAILED, err, "count"), -2);
    } else if (wait_result(conn, peer_fd) < 0) {
        total = -3; /* the caller cancels; its rollback drains the results */
    } else {
        r = PQgetResult(conn);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            total = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        else
            total = (pg_result_err(conn, r, E_QUERY_FAILED, err, "count"), -2);
        PQclear(r);
        while ((r = PQgetResult(conn)) != NULL)
            PQclear(r);
    }
    buf_free(&q);
    return total;
}

/* The document's first members, up to the comma before "columns"; -1 if the buffer is full. */
static int write_envelope(buf *b, const exec_req *rq)
{
    const char *m;
    int i, bad;

    bad = buf_adds(b, "{\"sql\":") < 0 || buf_add_json_cstr(b, rq->sql) < 0 ||
          buf_adds(b, ",\"query_id\":") < 0 ||
          buf_add_json_cstr(b, rq->query_id ? rq->query_id : "") < 0 ||
          (rq->conversation_id && (buf_adds(b, ",\"conversation_id\":") < 0 ||
                                   buf_add_json_cstr(b, rq->conversation_id) < 0)) ||
          buf_adds(b, ",\"source\":") < 0 ||
          buf_add_json_cstr(b, rq->source ? rq->source : "llm") < 0 ||
          buf_adds(b, ",\"explanation\":") < 0 ||
          buf_add_json_cstr(b, rq->explanation ? rq->explanation : "") < 0 ||
          buf_adds(b, ",\"measures_used\":[") < 0;
    for (i = 0, m = rq->measures; i < rq->nmeasures && !bad; i++, m += strlen(m) + 1)
        bad = (i && buf_addc(b, ',') < 0) || buf_add_json_cstr(b, m) < 0;
    return bad || buf_adds(b, "],") < 0 ? -1 : 0;
}

/* Writes the document's (or NDJSON's first line's) head, *cols_at set to where "columns"
 * starts in b; -1 if the buffer is full. */
static int write_header(buf *b, const exec_req *rq, const PGresult *desc, int nf, size_t *cols_at)
{
    int i, bad;

    bad = write_envelope(b, rq) < 0;
    *cols_at = b->len;
    bad = bad || buf_adds(b, "\"columns\":[") < 0;
    for (i = 0; i < nf && !bad; i++)
        bad = (i && buf_addc(b, ',') < 0) || buf_add_json_cstr(b, PQfname(desc, i)) < 0;
    bad = bad || buf_adds(b, "],\"column_types\":[") < 0;
    for (i = 0; i < nf && !bad; i++) {
        const char *tn = type_name(PQftype(desc, i));
        bad = (i && buf_addc(b, ',') < 0) || buf_add_json_cstr(b, tn ? tn : "unknown") < 0;
    }
    return bad || buf_adds(b, rq->ndjson ? "]}\n" : "],\"rows\":[") < 0 ? -1 : 0;
}

/* The document's end after the rows: timing and pagination (total < 0: unknown, null). */
static int write_tail(buf *b, const exec_req *rq, double exec_ms, long long total, int more)
{
    char tail[320], rows[24] = "null", pages[24] = "null";
    int tl;

    if (total >= 0) {
        snprintf(rows, sizeof rows, "%lld", total);
        snprintf(pages, sizeof pages, "%lld", (total + rq->page_size - 1) / rq->page_size);
    }
    tl = snprintf(tail, sizeof tail,
                  "%s\"timing_ms\":{\"generate\":%.1f,\"execute\":%.1f},\"pagination\":"
                  "{\"page\":%ld,\"page_size\":%ld,\"total_rows\":%s,"
                  "\"total_pages\":%s,\"has_more\":%s}}%s",
                  rq->ndjson ? "{" : "],", rq->generate_ms, exec_ms, rq->page, rq->page_size, rows,
                  pages, more ? "true" : "false", rq->ndjson ? "\n" : "");
    return tl < 0 || (size_t)tl >= sizeof tail || buf_add(b, tail, (size_t)tl) < 0 ? -1 : 0;
}

/* Copies b[from, b->len) into the capture, or gives the capture up when it grows too large. */
static void capture_add(exec_capture *c, const buf *b, size_t from)
{
    if (!c || c->overflow) return;
    if (c->body.len + (b->len - from) > c->max ||
        buf_add(&c->body, b->p + from, b->len - from) < 0) {
        c->overflow = 1;
        buf_free(&c->body);
    }
}

/* The row n (1-based) just written at b[from, b->len): into the capture, and into
 * rq->first_rows while it holds fewer than first_rows_max. */
static void keep_row(const exec_req *rq, const buf *b, size_t from, long long n)
{
    capture_add(rq->capture, b, from);
    if (rq->first_rows && !rq->ndjson && n <= rq->first_rows_max)
        buf_add(rq->first_rows, b->p + from, b->len - from);
}

/* The first max rows of a captured JSON page's rows (body from its "rows":[), comma-separated
 * into out as keep_row() keeps them. */
static void captured_first_rows(const char *rows, size_t len, int max, buf *out)
{
    json_tokener *tok = json_tokener_new();
    const char *p = rows, *end = rows + len;
    int n = 0;

    while (tok && n < max && p < end) {
        json_object *row;
        while (p < end && (*p == ',' || *p == ' ' || *p == '\n'))
            p++;
        if (p >= end || *p != '[') break;
        json_tokener_reset(tok);
        if (!(row = json_tokener_parse_ex(tok, p, (int)(end - p)))) break;
        json_object_put(row);
        if (n++ && buf_addc(out, ',') < 0) break;
        buf_add(out, p, (size_t)json_tokener_get_parse_end(tok));
        p += json_tokener_get_parse_end(tok);
    }
    json_tokener_free(tok);
}

/* What exec_page() tells the caller of a page (rq's columns_out, total_out, first_rows),
 * read from a captured page's body ("columns":[...],"column_types":[...] then the rows). */
static void captured_outputs(const exec_req *rq, const buf *body, long long total)
{
    static const char cols[] = "\"columns\":", types[] = "],\"column_types\"",
                      rows[] = "],\"rows\":[";
    const char *c = body->p, *e, *r;

    if (rq->total_out) *rq->total_out = total < 0 ? -1 : total;
    if (!c || strncmp(c, cols, strlen(cols)) != 0 || !(e = strstr(c, types))) return;
    if (rq->columns_out)
        buf_add(rq->columns_out, c + strlen(cols), (size_t)(e - c) - strlen(cols) + 1);
    if (rq->first_rows && !rq->ndjson && (r = strstr(e, rows)) != NULL) {
        r += strlen(rows);
        captured_first_rows(r, body->len - (size_t)(r - c), rq->first_rows_max, rq->first_rows);
    }
}

int exec_write_captured(const exec_req *rq, const buf *body, long long total, int more, sink *s)
{
    captured_outputs(rq, body, total);
    if (write_envelope(&s->b, rq) < 0 || buf_add(&s->b, body->p, body->len) < 0 ||
        write_tail(&s->b, rq, 0.0, total, more) < 0) {
        buf_reset(&s->b);
        return -1;
    }
    return 0;
}

/* On the first result: the column kinds (at most max) and the document's head (captured).
 * The number of columns, or -1 with err. */
static int start_page(const exec_req *rq, buf *b, const PGresult *r, int *kinds, int max,
                      t2err *err)
{
    int i, nf = PQnfields(r);
    size_t cols_at = 0;

    if (nf > max) return err_set(err, E_QUERY_FAILED, "too many columns (%d)", nf);
    for (i = 0; i < nf; i++)
        kinds[i] = type_kind(PQftype(r, i));
    if (write_header(b, rq, r, nf, &cols_at) < 0)
        return err_set(err, E_QUERY_FAILED, "the response head is larger than the buffer allows");
    if (rq->columns_out) { /* the names, as written (they sit after "columns":) */
        const char *c = b->p + cols_at + strlen("\"columns\":"),
                   *e = strstr(c, "],\"column_types\"");
        if (e) buf_add(rq->columns_out, c, (size_t)(e - c) + 1);
    }
    capture_add(rq->capture, b, cols_at);
    return nf;
}

/* After the rows: the total (exec_total), the capture's figures and the document's tail.
 * 0, -3 the peer hung up during the count, or -1 / -2 with err. */
static int end_page(PGconn *conn, const exec_req *rq, sink *s, long long offset, long long n,
                    int more, const struct timespec *t0, t2err *err)
{
    long long total = exec_total(conn, rq, offset, n, more, s->peer_fd, err);
    double exec_ms;

    if (total == -3 || total == -2) return (int)total;
    exec_ms = ms_since(t0);
    if (rq->total_out) *rq->total_out = total < 0 ? -1 : total;
    if (rq->capture) {
        rq->capture->total = total < 0 ? -1 : total;
        rq->capture->more = more;
        rq->capture->execute_ms = exec_ms;
    }
    if (write_tail(&s->b, rq, exec_ms, total, more) < 0)
        return err_set(err, E_QUERY_FAILED,
                       "the page is larger than the response buffer allows; ask for a smaller "
                       "page_size or stream it");
    return 0;
}

/* What a page's reading loop shares with exec_page(). */
typedef struct page {
    const exec_req *rq;
    sink *s;
    int kinds[1664]; /* PostgreSQL's limit on a row's columns */
    rowjson_field f[1664];
    int nf; /* -1 until the columns are known */
    int started, more;
    long long n;
    const char *search_path; /* the transaction's: a prepared page is this path's (prep.h) */
} page;

/* How a reading loop ended: the rows are all out, or why not. */
enum { PAGE_OK = 0, PAGE_FAIL = -1, PAGE_GONE = -2, PAGE_HANGUP = -3 };

/* Appends the row in pg->f (an element of "rows", or an NDJSON line); -1 with err when it does
 * not fit. */
static int write_fields(page *pg, t2err *err)
{
    sink *s = pg->s;

    if (rowjson_row(&s->b, pg->f, pg->kinds, pg->nf, pg->rq->numeric_strings,
                    !pg->rq->ndjson && pg->n > 0, pg->rq->ndjson) == 0)
        return 0;
    /* nothing of the row was written, so an error member (or line) follows whole rows */
    if (s->hold)
        return err_set(err, E_QUERY_FAILED,
                       "the page is larger than the response buffer allows; ask for a smaller "
                       "page_size or stream it");
    return err_set(err, E_QUERY_FAILED,
                   "a row is larger than the response buffer allows (%zu bytes)", s->b.max);
}

/* Appends COPY text row line (len bytes, decoded in place) as write_fields() does. */
static int write_copy_row(page *pg, char *line, size_t len, t2err *err)
{
    if (rowjson_copy_fields(line, len, pg->f, pg->nf) < 0)
        return err_set(err, E_QUERY_FAILED, "a row of the page does not have its %d columns",
                       pg->nf);
    return write_fields(pg, err);
}

/* After a row went into the sink's buffer at row_start: counts it, copies it to the capture
 * and hands output on (the first row at once: an early first byte). 0, or -1: peer gone. */
static int row_done(page *pg, size_t row_start)
{
    sink *s = pg->s;

    pg->n++;
    s->rows++;
    if (pg->rq->rows_out) *pg->rq->rows_out = pg->n;
    keep_row(pg->rq, &s->b, row_start, pg->n);
    if (!pg->started) {
        pg->started = 1;
        return s->hold ? 0 : sink_flush(s);
    }
    return sink_mark(s);
}

/* The next result, which must have status want (a COPY page's LIMIT 0, its COPY OUT, its
 * end); the caller PQclears it. NULL with *rc (PAGE_HANGUP, or PAGE_FAIL with err) if not. */
static PGresult *page_result(PGconn *conn, page *pg, ExecStatusType want, int *rc, t2err *err)
{
    PGresult *r;

    if (wait_result(conn, pg->s->peer_fd) < 0) {
        *rc = PAGE_HANGUP;
        return NULL;
    }
    r = PQgetResult(conn);
    if (PQresultStatus(r) == want) return r;
    note_stale(conn, r);
    *rc = pg_result_err(conn, r, E_QUERY_FAILED, err, "query");
    PQclear(r);
    return NULL;
}

/* Sends the page's simple query q (built: 0 when building it ran out of memory; freed here)
 * and reads the opening's nbegin results when begin was sent first (those from stmt_at on the
 * page's own PREPARE); then the caller reads the page's own first result (page_result). A
 * PAGE_* code. */
static int page_send(PGconn *conn, page *pg, buf *q, int built, const buf *begin, int nbegin,
                     int stmt_at, t2err *err)
{
    int sent, rc;

    sent = built && PQsendQuery(conn, buf_cstr(q));
    buf_free(q);
    if (begin && !sent) prep_settle(conn, 0);
    if (!built) return err_set(err, E_INTERNAL, "out of memory");
    if (!sent) return err_set(err, E_DB_UNAVAILABLE, "the database connection was lost");
    if (begin && (rc = opening_results(conn, nbegin, stmt_at, pg->s->peer_fd, 0, err)) != 0)
        return rc == -3 ? PAGE_HANGUP : PAGE_FAIL;
    return PAGE_OK;
}

/* Reads the page through the COPY protocol, one CopyData line per row in PostgreSQL's text
 * format (no PGresult per row). The same simple query first runs the statement with LIMIT 0,
 * whose result names the columns and their types: one round trip, and in the same
 * transaction, so the COPY's columns are the ones described; the same query rolls the
 * transaction back after the COPY. With begin (the transaction's opening as text, nbegin
 * results), it opens the transaction first: the whole page in one round trip. A PAGE_* code. */
static int page_copy(PGconn *conn, page *pg, const char *osql, const char *lim, const char *off,
                     const buf *begin, int nbegin, t2err *err)
{
    buf q = BUF_INIT(0);
    PGresult *r;
    char *line;
    int len, rc = PAGE_OK;

    len = !(begin && buf_add(&q, begin->p, begin->len) < 0) &&
          buf_printf(&q,
                     "SELECT * FROM (\n%s\n) q LIMIT 0;\n"
                     "COPY (SELECT * FROM (\n%s\n) q LIMIT %s OFFSET %s) TO STDOUT%s",
                     osql, osql, lim, off, ";\nROLLBACK") >= 0;
    if ((rc = page_send(conn, pg, &q, len, begin, nbegin, nbegin, err)) != PAGE_OK) return rc;
    if (!(r = page_result(conn, pg, PGRES_TUPLES_OK, &rc, err))) return rc;
    pg->nf = start_page(pg->rq, &pg->s->b, r, pg->kinds, 1664, err);
    PQclear(r);
    if (pg->nf < 0) return PAGE_FAIL;
    if (!(r = page_result(conn, pg, PGRES_COPY_OUT, &rc, err))) return rc;
    PQclear(r);
    while ((len = copy_next(conn, pg->s->peer_fd, &line)) > 0) {
        size_t row_start = pg->s->b.len;
        if (pg->n == pg->rq->page_size) {
            pg->more = 1;
            PQfreemem(line);
            continue;
        }
        rc = write_copy_row(pg, line, (size_t)len, err);
        PQfreemem(line);
        if (rc < 0) return PAGE_FAIL;
        if (row_done(pg, row_start) < 0) return PAGE_GONE;
    }
    if (len == -3) return PAGE_HANGUP;
    if (!(r = page_result(conn, pg, PGRES_COMMAND_OK, &rc, err))) return rc;
    PQclear(r);
    /* the simple query's end (ReadyForQuery; the ROLLBACK's result first, when sent): the
     * connection then takes the count */
    if (wait_result(conn, pg->s->peer_fd) < 0) return PAGE_HANGUP;
    while ((r = PQgetResult(conn)) != NULL)
        PQclear(r);
    return PAGE_OK;
}

/* Pages of at most SMALL_PAGE rows (the default page size is 50) are read as one ordinary
 * result instead (page_rows): its description names the columns and their types, so the
 * statement is planned and run once, where a COPY page runs its LIMIT 0 too. The result holds
 * at most SMALL_PAGE + 1 rows; a statement failing midway fails before any row is written. */
#define SMALL_PAGE 100

/* page_copy's round trip for a small page: the opening (begin), the page's SELECT and the
 * ROLLBACK in one simple query. Sent with the opening (a statement this process ran before),
 * the SELECT is a prepared statement of the connection when it can be (prep.h): a repeated
 * page is then neither parsed nor planned again. A PAGE_* code. */
static int page_rows(PGconn *conn, page *pg, const char *osql, const char *lim, const char *off,
                     const buf *begin, int nbegin, t2err *err)
{
    buf q = BUF_INIT(0), stmt = BUF_INIT(0);
    PGresult *r;
    int i, j, nrows, extra = -1, rc = PAGE_OK;

    i = !(begin && buf_add(&q, begin->p, begin->len) < 0) &&
        buf_printf(&stmt, "SELECT * FROM (\n%s\n) q LIMIT %s OFFSET %s", osql, lim, off) >= 0 &&
        ((begin && (extra = prep_append(conn, &q, pg->search_path, buf_cstr(&stmt), NULL)) >= 0) ||
         buf_add(&q, stmt.p, stmt.len) >= 0) &&
        buf_adds(&q, ";\nROLLBACK") >= 0;
    buf_free(&stmt);
    rc = page_send(conn, pg, &q, i, begin, nbegin + (extra > 0 ? extra : 0), nbegin, err);
    if (rc != PAGE_OK) return rc;
    if (!(r = page_result(conn, pg, PGRES_TUPLES_OK, &rc, err))) return rc;
    if ((pg->nf = start_page(pg->rq, &pg->s->b, r, pg->kinds, 1664, err)) < 0) {
        PQclear(r);
        return PAGE_FAIL;
    }
    nrows = PQntuples(r);
    for (i = 0; i < nrows && rc == PAGE_OK; i++) {
        size_t row_start = pg->s->b.len;
        if (pg->n == pg->rq->page_size) {
            pg->more = 1;
            break;
        }
        for (j = 0; j < pg->nf; j++) {
            pg->f[j].v = PQgetisnull(r, i, j) ? NULL : PQgetvalue(r, i, j);
            pg->f[j].len = (size_t)PQgetlength(r, i, j);
        }
        if (write_fields(pg, err) < 0)
            rc = PAGE_FAIL;
        else if (row_done(pg, row_start) < 0)
            rc = PAGE_GONE;
    }
    PQclear(r);
    if (rc != PAGE_OK) return rc;
    /* the ROLLBACK's result and the simple query's end: the connection then takes the count */
    if (wait_result(conn, pg->s->peer_fd) < 0) return PAGE_HANGUP;
    while ((r = PQgetResult(conn)) != NULL)
        PQclear(r);
    return PAGE_OK;
}

/* Ends a page that did not complete (rc a PAGE_* code): stops the query on the server when it
 * may still run (the client hung up, or the rows stopped being read), drains what was in
 * flight and rolls back; writes the error member when output had started. exec_page's
 * return code. */
static int page_abort(PGconn *conn, page *pg, int rc, PGcancel *cancel, const t2err *err)
{
    sink *s = pg->s;
    char eb[256];

    if (pg->rq->capture) pg->rq->capture->overflow = 1;
    if (rc ==
        PAGE_HANGUP) { /* seen on the socket before a write failed: nothing more may be sent */
        s->failed = 1;
        buf_reset(&s->b);
    }
    /* (txn_end reads what is still in flight: stop the statement first) */
    if (cancel && (rc != PAGE_FAIL || PQtransactionStatus(conn) == PQTRANS_ACTIVE) &&
        !PQcancel(cancel, eb, sizeof eb))
        log_warn("cancel failed: %s", eb);
    if (rc != PAGE_FAIL) {
        log_info("client went away after %lld rows; query cancelled", pg->n);
        txn_end(conn);
        return 1;
    }
    if (s->flushed == 0) {
        buf_reset(&s->b);
        txn_end(conn);
        return -1;
    }
    write_error(s, pg->rq->ndjson, err);
    txn_end(conn);
    return 1;
}

/* Opens the page's transaction: with the order already decided in this process, only as the
 * text sent ahead of the page (*opened 1: page_copy's begin); else here, deciding the order
 * in it. 0; 1 with err when the order failed (the transaction is open); -1 with err (none). */
static int page_open(PGconn *conn, const txn_limits *lim, const exec_req *rq, buf *osql, buf *begin,
                     int *nbegin, int *opened, t2err *err)
{
    *opened = 0;
    if (order_cached(rq->sql, osql) &&
        (*opened = txn_begin_text(conn, lim, rq->id, begin, nbegin, err)) != 0)
        return *opened < 0 ? -1 : 0;
    if (txn_begin(conn, lim, rq->id, err) < 0) return -1;
    /* a total order, so that pages partition the result (order.h) */
    return order_total(conn, rq->sql, osql, err) < 0 ? 1 : 0;
}

int exec_page(PGconn *conn, const txn_limits *lim, const exec_req *rq, sink *s, t2err *err)
{
    struct timespec t0;
    char lim_s[24], off_s[24];
    buf osql = BUF_INIT(0), begin = BUF_INIT(1u << 20);
    PGcancel *cancel = NULL;
    page pg;
    int rc, nbegin = 0, opened, attempt;
    long long offset;

    pg.rq = rq; /* (kinds and f are filled once the columns are known) */
    pg.s = s;
    pg.nf = -1;
    pg.started = pg.more = 0;
    pg.n = 0;
    pg.search_path = lim->search_path;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    offset = (long long)(rq->page - 1) * rq->page_size;
    /* one row past the page tells pagination.has_more; it is read, never written */
    snprintf(lim_s, sizeof lim_s, "%lld", (long long)rq->page_size + 1);
    snprintf(off_s, sizeof off_s, "%lld", offset);
    if (!type_cache_loaded) type_load(conn);
    stmt_stale = 0;
    for (attempt = 0;; attempt++) {
        if ((rc = page_open(conn, lim, rq, &osql, &begin, &nbegin, &opened, err)) < 0) {
            if (cancel) PQfreeCancel(cancel);
            buf_free(&osql);
            buf_free(&begin);
            return -1;
        }
        if (!cancel) cancel = PQgetCancel(conn);
        if (rc == 1)
            rc = PAGE_FAIL;
        else
            rc = (rq->page_size <= SMALL_PAGE ? page_rows : page_copy)(
                conn, &pg, buf_cstr(&osql), lim_s, off_s, opened ? &begin : NULL, nbegin, err);
        if (rc != PAGE_FAIL || !stmt_stale || attempt > 0 || s->flushed || pg.nf >= 0) break;
        /* a named statement was missing or out of date (nothing of the page is written): the
         * record is reset, and the page runs once more, its statements prepared anew */
        txn_end(conn);
        stmt_stale = 0;
        buf_reset(&osql);
        buf_reset(&begin);
    }
    /* the page's query rolled its transaction back: a count gets one of its own, alike */
    if (rc == PAGE_OK && count_needs_query(rq, offset, pg.n, pg.more) &&
        txn_begin(conn, lim, rq->id, err) < 0)
        rc = PAGE_FAIL;
    if (rc == PAGE_OK) {
        rc = end_page(conn, rq, s, offset, pg.n, pg.more, &t0, err);
        rc = rc == -3 ? PAGE_HANGUP : rc < 0 ? PAGE_FAIL : PAGE_OK;
    }
    if (rc == PAGE_OK) {
        txn_end(conn);
        rc = 0;
    } else {
        rc = page_abort(conn, &pg, rc, cancel, err);
    }
    if (cancel) PQfreeCancel(cancel);
    buf_free(&osql);
    buf_free(&begin);
    return rc;
}
