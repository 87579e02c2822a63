/* audit -- appends to and lists t2sql.audit; see audit.h. */
#include "audit.h"

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

int audit_add(PGconn *c, const audit_rec *a, long retention_days, t2err *err)
{
    static const char q[] =
        "INSERT INTO t2sql.audit (subject, role, claims, action, question, sql, source, status,"
        " rows, bytes, duration_ms, request_id, detail)"
        " VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8::int, $9::bigint, $10::bigint,"
        " $11::float8, $12, $13)";
    char st[16], rows[24], bytes[24], dur[32];
    const char *p[13];
    PGresult *r;
    int rc = 0;

    snprintf(st, sizeof st, "%d", a->status);
    snprintf(rows, sizeof rows, "%lld", a->rows);
    snprintf(bytes, sizeof bytes, "%lld", a->bytes);
    snprintf(dur, sizeof dur, "%.3f", a->duration_ms);
    p[0] = a->subject ? a->subject : "";
    p[1] = a->role ? a->role : "";
    p[2] = a->claims && *a->claims ? a->claims : "{}";
    p[3] = a->action;
    p[4] = a->question;
    p[5] = a->sql;
    p[6] = a->source;
    p[7] = a->status ? st : NULL;
    p[8] = a->rows >= 0 ? rows : NULL;
    p[9] = a->bytes >= 0 ? bytes : NULL;
    p[10] = a->duration_ms >= 0 ? dur : NULL;
    p[11] = a->request_id;
    p[12] = a->detail;
    r = PQexecParams(c, q, 13, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) rc = pg_result_err(c, r, E_INTERNAL, err, "audit");
    PQclear(r);
    if (rc == 0) audit_purge(c, retention_days);
    return rc;
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
