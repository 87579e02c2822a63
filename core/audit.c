/* audit -- appends to and lists t2sql.audit; see audit.h. */
#include "audit.h"

#include "buf.h"
#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void audit_init(audit_rec *a, const char *action)
{
    memset(a, 0, sizeof *a);
    a->action = action;
    a->rows = a->bytes = -1;
    a->duration_ms = -1;
}

/* Deletes rows past the retention, at most once an hour per process. */
static void audit_purge(PGconn *c, long days)
{
    static time_t last;
    char d[24];
    const char *p[1] = {d};
    time_t now = time(NULL);

    if (days <= 0 || now - last < 3600) return;
    last = now;
    snprintf(d, sizeof d, "%ld", days);
    PQclear(PQexecParams(c, "DELETE FROM t2sql.audit WHERE at < now() - $1::int * interval '1 day'",
                         1, NULL, p, NULL, NULL, 0));
}

/* "null" for NULL, else s as a JSON string. */
static int add_str(buf *b, const char *s)
{
    return s ? buf_add_json_cstr(b, s) : buf_adds(b, "null");
}

void audit_batch_init(audit_batch *b)
{
    buf j = BUF_INIT(AUDIT_BATCH_BYTES + 1); /* + the closing ']' */

    memset(b, 0, sizeof *b);
    b->json = j;
}

void audit_batch_free(audit_batch *b)
{
    buf_free(&b->json);
    b->n = 0;
}

int audit_queue(audit_batch *b, const audit_rec *a, double at)
{
    size_t mark = b->json.len;
    int rc;

    if (b->n >= AUDIT_BATCH_ROWS) return -1;
    rc = buf_printf(&b->json, "%c{\"at\":%.6f,\"subject\":", b->n ? ',' : '[', at);
    rc |= buf_add_json_cstr(&b->json, a->subject ? a->subject : "");
    rc |= buf_adds(&b->json, ",\"role\":");
    rc |= buf_add_json_cstr(&b->json, a->role ? a->role : "");
    rc |= buf_adds(&b->json, ",\"claims\":");
    rc |= buf_add_json_cstr(&b->json, a->claims && *a->claims ? a->claims : "{}");
    {
        const char *const text[][2] = {{",\"action\":", a->action},
                                       {",\"question\":", a->question},
                                       {",\"sql\":", a->sql},
                                       {",\"source\":", a->source},
                                       {",\"request_id\":", a->request_id},
                                       {",\"detail\":", a->detail}};
        size_t i;
        for (i = 0; i < sizeof text / sizeof text[0]; i++) {
            rc |= buf_adds(&b->json, text[i][0]);
            rc |= add_str(&b->json, text[i][1]);
        }
    }
    if (a->status) rc |= buf_printf(&b->json, ",\"status\":%d", a->status);
    if (a->rows >= 0) rc |= buf_printf(&b->json, ",\"rows\":%lld", a->rows);
    if (a->bytes >= 0) rc |= buf_printf(&b->json, ",\"bytes\":%lld", a->bytes);
    if (a->duration_ms >= 0) rc |= buf_printf(&b->json, ",\"duration_ms\":%.3f", a->duration_ms);
    rc |= buf_addc(&b->json, '}');
    /* past AUDIT_BATCH_BYTES (or out of memory): the batch stays as it was */
    if (rc || b->json.len >= AUDIT_BATCH_BYTES) {
        b->json.len = mark;
        if (b->json.p) b->json.p[mark] = '\0';
        return -1;
    }
    if (!b->n++) clock_gettime(CLOCK_MONOTONIC, &b->first);
    return 0;
}

long audit_batch_wait_ms(const audit_batch *b)
{
    struct timespec now;
    long age;

    if (!b->n) return -1;
    if (b->n >= AUDIT_BATCH_ROWS) return 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    age = (long)(now.tv_sec - b->first.tv_sec) * 1000 +
          (long)(now.tv_nsec - b->first.tv_nsec) / 1000000;
    return age >= AUDIT_BATCH_MS ? 0 : AUDIT_BATCH_MS - age;
}

int audit_flush(PGconn *c, audit_batch *b, long retention_days, t2err *err)
{
    static const char q[] =
        "INSERT INTO t2sql.audit (at, subject, role, claims, action, question, sql, source,"
        " status, rows, bytes, duration_ms, request_id, detail)"
        " SELECT to_timestamp(x.at), x.subject, x.role, x.claims::jsonb, x.action, x.question,"
        "  x.sql, x.source, x.status, x.rows, x.bytes, x.duration_ms, x.request_id, x.detail"
        " FROM json_to_recordset($1::json) AS x(at float8, subject text, role text, claims text,"
        "  action text, question text, sql text, source text, status int, rows bigint,"
        "  bytes bigint, duration_ms float8, request_id text, detail text)";
    const char *p[1];
    PGresult *r;
    int rc = 0;

    if (!b->n) return 0;
    if (buf_addc(&b->json, ']') < 0) { /* the room for it was kept (AUDIT_BATCH_BYTES) */
        rc = err_set(err, E_INTERNAL, "audit: the batch is over its size");
        goto out;
    }
    p[0] = buf_cstr(&b->json);
    r = PQexecParams(c, q, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) rc = pg_result_err(c, r, E_INTERNAL, err, "audit");
    PQclear(r);
    if (rc == 0) audit_purge(c, retention_days);
    if (rc != 0 && PQstatus(c) != CONNECTION_OK) { /* the connection went: the rows stay */
        b->json.p[--b->json.len] = '\0';           /* (the ']' off again) */
        return -2;
    }
out:
    if (b->json.cap > AUDIT_BATCH_KEEP)
        buf_free(&b->json); /* a batch of long rows: its room is not kept */
    else
        buf_reset(&b->json);
    b->n = 0;
    return rc;
}

int audit_add(PGconn *c, const audit_rec *a, long retention_days, t2err *err)
{
    audit_batch b;
    struct timespec now;
    int rc;

    audit_batch_init(&b);
    clock_gettime(CLOCK_REALTIME, &now);
    if (audit_queue(&b, a, (double)now.tv_sec + (double)now.tv_nsec / 1e9) < 0)
        rc = err_set(err, E_INTERNAL, "audit: the row is over its size");
    else
        rc = audit_flush(c, &b, retention_days, err);
    audit_batch_free(&b);
    return rc < 0 ? -1 : 0;
}

int audit_cli(PGconn *c, const char *action, const char *detail, const char *role,
              const char *claims, const char *sql, long retention_days, t2err *err)
{
    char who[80];
    const char *u = getenv("USER");
    audit_rec a;

    audit_init(&a, action);
    snprintf(who, sizeof who, "cli:%.60s", u && *u ? u : "unknown");
    a.subject = who;
    a.detail = detail;
    a.role = role;
    a.claims = claims;
    a.sql = sql;
    return audit_add(c, &a, retention_days, err);
}

int audit_job_end(PGconn *c, const char *job_id, long retention_days, t2err *err)
{
    static const char q[] =
        "INSERT INTO t2sql.audit (subject, role, claims, action, question, sql, rows, bytes,"
        " duration_ms, detail)"
        " SELECT split_part(owner, '#', 1), role, claims, 'export.end', question, sql,"
        "  rows_written, bytes, 1000 * extract(epoch FROM finished_at - started_at),"
        "  'job ' || id || ' ' || status"
        " FROM t2sql.export_jobs WHERE id = $1::uuid"
        "  AND status IN ('SUCCESS', 'FAILED', 'CANCELLED')";
    const char *p[1] = {job_id};
    PGresult *r = PQexecParams(c, q, 1, NULL, p, NULL, NULL, 0);
    int rc = 0;

    if (PQresultStatus(r) != PGRES_COMMAND_OK) rc = pg_result_err(c, r, E_INTERNAL, err, "audit");
    PQclear(r);
    if (rc == 0) audit_purge(c, retention_days);
    return rc;
}

int audit_list_json(PGconn *c, const audit_filter *f, json_object **out, t2err *err)
{
    static const char q[] =
        "WITH m AS (SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
        "  AS at, subject, role, claims, action, question, sql, source, status, rows, bytes,"
        "  duration_ms, request_id, detail FROM t2sql.audit"
        " WHERE ($1::text IS NULL OR subject = $1) AND ($2::text IS NULL OR role = $2)"
        "   AND ($3::text IS NULL OR action = $3) AND ($4::text IS NULL OR request_id = $4)"
        "   AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6)"
        "   AND ($7::int IS NULL OR status = $7)) "
        "SELECT json_build_object('rows', coalesce((SELECT json_agg(p ORDER BY p.id DESC) FROM"
        "  (SELECT * FROM m ORDER BY id DESC LIMIT $8::bigint OFFSET $9::bigint) p), '[]'),"
        " 'pagination', json_build_object('page', $10::bigint, 'page_size', $8::bigint,"
        "  'total_rows', (SELECT count(*) FROM m),"
        "  'has_more', (SELECT count(*) FROM m) > $9::bigint + $8::bigint))::text";
    char st[24], lim[24], off[24], pg[24];
    const char *p[10];
    PGresult *r;
    int rc = -1;

    snprintf(st, sizeof st, "%ld", f->status);
    snprintf(lim, sizeof lim, "%ld", f->page_size);
    snprintf(off, sizeof off, "%ld", (f->page - 1) * f->page_size);
    snprintf(pg, sizeof pg, "%ld", f->page);
    p[0] = f->subject;
    p[1] = f->role;
    p[2] = f->action;
    p[3] = f->request_id;
    p[4] = f->since;
    p[5] = f->until;
    p[6] = f->status ? st : NULL;
    p[7] = lim;
    p[8] = off;
    p[9] = pg;
    *out = NULL;
    r = PQexecParams(c, q, 10, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && strncmp(state, "22", 2) == 0)
            err_field(err, f->since ? "since" : "until", "since and until must be timestamps");
        else
            pg_result_err(c, r, E_INTERNAL, err, "audit listing");
    } else if (!(*out = json_tokener_parse(PQgetvalue(r, 0, 0)))) {
        err_set(err, E_INTERNAL, "audit listing: bad JSON from the database");
    } else {
        rc = 0;
    }
    PQclear(r);
    return rc;
}
