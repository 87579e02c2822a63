/* exec -- paged, streamed, read-only execution of validated SQL; see exec.h. */
#include "exec.h"

#include "buf.h"
#include "log.h"
#include "order.h"
#include "pg.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { K_STR, K_INT, K_FLOAT, K_NUMERIC, K_BOOL, K_JSON };

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

/* 1 if a numeric or float value's text is finite (PostgreSQL writes NaN, Infinity and
 * -Infinity as words; every finite value starts with a digit or '-' and a digit). */
static int is_finite_text(const char *s)
{
    return (*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9');
}

/* One JSON type per column besides null: a finite numeric or float is a JSON number with
 * PostgreSQL's own digits (JSON numbers carry any precision), a non-finite one is null; with
 * numeric_strings every numeric value, NaN and Infinity included, is a string instead. */
static int add_value(buf *b, int kind, const char *v, int len, int numeric_strings)
{
    switch (kind) {
    case K_INT:
        return buf_add(b, v, (size_t)len);
    case K_NUMERIC:
        if (numeric_strings) return buf_add_json_str(b, v, (size_t)len);
        /* fall through */
    case K_FLOAT:
        return is_finite_text(v) ? buf_add(b, v, (size_t)len) : buf_add(b, "null", 4);
    case K_BOOL:
        return buf_adds(b, v[0] == 't' ? "true" : "false");
    case K_JSON:
        return buf_add(b, v, (size_t)len);
    default:
        return buf_add_json_str(b, v, (size_t)len);
    }
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

int exec_check(PGconn *conn, const txn_limits *lim, const txn_identity *id, const char *sql,
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
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        /* class 42 (syntax, unknown names, grouping...) is the SQL's fault and worth a
         * repair round; anything else (bad data, 22xxx) is a failed query */
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        rc = pg_result_err(conn, r,
                           state && strncmp(state, "42", 2) == 0 ? E_INVALID_SQL : E_QUERY_FAILED,
                           err, "check");
    }
    PQclear(r);
    txn_end(conn);
    return rc;
}

/* Waits until PQgetResult() will not block, watching the peer's socket meanwhile: a query
 * whose rows come slowly (or not at all before a sort, or a count, finishes) would otherwise
 * notice a client that left only at its next write. nginx closes the FastCGI connection when
 * its client leaves and never half-closes it otherwise, so a hang-up on peer_fd means the
 * response can no longer be delivered. Returns 0 (a result is ready, or the connection
 * failed: PQgetResult reports it) or -1 when the peer hung up first. */
static int wait_result(PGconn *conn, int peer_fd)
{
    struct pollfd p[2];

    while (peer_fd >= 0 && PQisBusy(conn)) {
        p[0].fd = PQsocket(conn);
        p[0].events = POLLIN;
        p[1].fd = peer_fd;
        p[1].events = POLLRDHUP;
        p[0].revents = p[1].revents = 0;
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return 0;
        }
        if (p[1].revents & POLLNVAL)
            peer_fd = -1; /* not a socket after all: stop watching it */
        else if (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR))
            return -1;
        if (p[0].revents && !PQconsumeInput(conn)) return 0;
    }
    return 0;
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

/* Computes total rows when the page does not tell it (more: a row follows the page);
 * -1 = unknown (null), -2 = error, -3 = the peer hung up while the count ran. */
static long long exec_total(PGconn *conn, const exec_req *rq, long long offset, long long n,
                            int more, int peer_fd, t2err *err)
{
    buf q = BUF_INIT(0);
    PGresult *r;
    long long total = -1;

    if (rq->count == COUNT_NONE) return -1;
    if (!more && (n > 0 || offset == 0)) return offset + n;
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

/* Appends row r (an element of "rows", or an NDJSON line; n rows are already out). When it
 * does not fit, the partial row is dropped, so an error member (or line) follows whole rows:
 * -1 with err. */
static int write_row(sink *s, const exec_req *rq, const PGresult *r, const int *kinds, int nf,
                     long long n, t2err *err)
{
    buf *b = &s->b;
    size_t row_start = b->len;
    int i, bad = (!rq->ndjson && n > 0 && buf_addc(b, ',') < 0) || buf_addc(b, '[') < 0;

    for (i = 0; i < nf && !bad; i++) {
        if (i && buf_addc(b, ',') < 0)
            bad = 1;
        else if (PQgetisnull(r, 0, i))
            bad = buf_add(b, "null", 4) < 0;
        else
            bad = add_value(b, kinds[i], PQgetvalue(r, 0, i), PQgetlength(r, 0, i),
                            rq->numeric_strings) < 0;
    }
    if (!bad && buf_adds(b, rq->ndjson ? "]\n" : "]") == 0) return 0;
    b->len = row_start;
    if (b->p) b->p[row_start] = '\0';
    if (s->hold)
        return err_set(err, E_QUERY_FAILED,
                       "the page is larger than the response buffer allows; ask for a smaller "
                       "page_size or stream it");
    return err_set(err, E_QUERY_FAILED,
                   "a row is larger than the response buffer allows (%zu bytes)", b->max);
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

int exec_write_captured(const exec_req *rq, const buf *body, long long total, int more, sink *s)
{
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
        const char *c = b->p + cols_at + strlen("\"columns\":"), *e = strstr(c, "],\"column_types\"");
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

int exec_page(PGconn *conn, const txn_limits *lim, const exec_req *rq, sink *s, t2err *err)
{
    struct timespec t0;
    char lim_s[24], off_s[24];
    const char *params[2] = {lim_s, off_s};
    buf q = BUF_INIT(0), osql = BUF_INIT(0);
    PGresult *r = NULL;
    PGcancel *cancel = NULL;
    int kinds[1664];
    int nf = -1, started = 0, rc = -1, more = 0;
    long long n = 0, offset;
    buf *b = &s->b;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    offset = (long long)(rq->page - 1) * rq->page_size;
    /* one row past the page tells pagination.has_more; it is read, never written */
    snprintf(lim_s, sizeof lim_s, "%lld", (long long)rq->page_size + 1);
    snprintf(off_s, sizeof off_s, "%lld", offset);
    if (!type_cache_loaded) type_load(conn);
    if (txn_begin(conn, lim, rq->id, err) < 0) return -1;
    /* a total order, so that pages partition the result (order.h) */
    if (order_total(conn, rq->sql, &osql, err) < 0) goto fail;
    buf_printf(&q, "SELECT * FROM (\n%s\n) q LIMIT $1 OFFSET $2", buf_cstr(&osql));
    /* No PREPARE/DESCRIBE round trips: single-row mode's first result carries the columns,
     * and nothing leaves before it, so an error there still gets a proper status. */
    if (!PQsendQueryParams(conn, buf_cstr(&q), 2, NULL, params, NULL, NULL, 0) ||
        !PQsetSingleRowMode(conn)) {
        err_set(err, E_DB_UNAVAILABLE, "the database connection was lost");
        goto fail;
    }
    cancel = PQgetCancel(conn);
    for (;;) {
        if (wait_result(conn, s->peer_fd) < 0) goto hangup;
        if ((r = PQgetResult(conn)) == NULL) break;
        ExecStatusType st = PQresultStatus(r);
        if (nf < 0 && (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) &&
            (nf = start_page(rq, b, r, kinds, (int)(sizeof kinds / sizeof kinds[0]), err)) < 0) {
            PQclear(r);
            r = NULL;
            goto midfail;
        }
        if (st == PGRES_SINGLE_TUPLE && n == rq->page_size) {
            more = 1;
            PQclear(r);
            continue;
        }
        if (st == PGRES_SINGLE_TUPLE) {
            size_t row_start = b->len;
            if (write_row(s, rq, r, kinds, nf, n, err) < 0) {
                PQclear(r);
                r = NULL;
                goto midfail;
            }
            n++;
            s->rows++;
            if (rq->rows_out) *rq->rows_out = n;
            PQclear(r);
            keep_row(rq, b, row_start, n);
            if (!started) { /* the first row leaves at once: early first byte */
                started = 1;
                if (!s->hold && sink_flush(s) < 0) goto gone;
            } else if (sink_mark(s) < 0) {
                goto gone;
            }
            continue;
        }
        if (st != PGRES_TUPLES_OK) {
            pg_result_err(conn, r, E_QUERY_FAILED, err, "query");
            PQclear(r);
            r = NULL;
            goto midfail;
        }
        PQclear(r);
    }
    r = NULL;
    if ((rc = end_page(conn, rq, s, offset, n, more, &t0, err)) == -3) goto hangup;
    if (rc < 0) goto midfail;
    txn_end(conn);
    rc = 0;
    goto done;

hangup:
    if (rq->capture) rq->capture->overflow = 1;
    /* seen on the socket before a write failed: nothing more may be sent */
    s->failed = 1;
    buf_reset(b);
gone:
    if (rq->capture) rq->capture->overflow = 1;
    /* The client hung up: stop the query on the server now, not when it finishes. */
    if (cancel) {
        char eb[256];
        if (!PQcancel(cancel, eb, sizeof eb)) log_warn("cancel failed: %s", eb);
    }
    log_info("client went away after %lld rows; query cancelled", n);
    txn_end(conn);
    rc = 1;
    goto done;
midfail:
    if (rq->capture) rq->capture->overflow = 1;
    if (s->flushed == 0) {
        buf_reset(b);
        txn_end(conn);
        rc = -1;
        goto done;
    }
    write_error(s, rq->ndjson, err);
    txn_end(conn);
    rc = 1;
    goto done;
fail:
    if (rq->capture) rq->capture->overflow = 1;
    PQclear(r);
    buf_reset(b);
    txn_end(conn);
    rc = -1;
done:
    if (cancel) PQfreeCancel(cancel);
    buf_free(&q);
    buf_free(&osql);
    return rc;
}
