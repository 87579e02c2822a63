/* jobs -- SQL of the export job queue; see jobs.h for the protocol. */
#include "jobs.h"

#include "buf.h"
#include "outbox.h"
#include "s3.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* First key of the advisory locks that hold claimed jobs ("t2"); the second is
 * hashtext(id). */
#define JOBS_LOCK_NS "29746"

int jobs_valid_id(const char *s)
{
    int i;

    if (!s) return 0;
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[36] == '\0';
}

PGresult *jobs_exec(PGconn *c, const char *sql, int n, const char *const *params,
                    ExecStatusType want, t2err *err)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

    if (r && PQresultStatus(r) == want) return r;
    if (PQstatus(c) != CONNECTION_OK)
        err_set(err, E_DB_UNAVAILABLE, "database unavailable");
    else
        err_set(err, E_INTERNAL, "job queue: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return NULL;
}

int jobs_create(PGconn *c, const char *sql, const char *query_id, const char *question,
                const char *owner, const char *format, char id_out[37], t2err *err)
{
    return jobs_create_as(c, sql, query_id, question, owner, NULL, NULL, format, id_out, err);
}

int jobs_create_as(PGconn *c, const char *sql, const char *query_id, const char *question,
                   const char *owner, const char *role, const char *claims, const char *format,
                   char id_out[37], t2err *err)
{
    static const char q[] = "WITH ins AS (INSERT INTO t2sql.export_jobs"
                            " (sql, query_id, question, owner, format, role, claims) "
                            "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING id) "
                            "SELECT id::text, pg_notify('" JOBS_CHANNEL "', id::text) FROM ins";
    const char *p[7];
    PGresult *r;

    if (!format) format = "csv";
    if (strcmp(format, "csv") != 0 && strcmp(format, "csv.gz") != 0)
        return err_field(err, "format", "format must be \"csv\" or \"csv.gz\"");
    if (!sql || !*sql) return err_set(err, E_INTERNAL, "job without SQL");
    p[0] = sql;
    p[1] = query_id;
    p[2] = question;
    p[3] = owner ? owner : "";
    p[4] = format;
    p[5] = role ? role : "";
    p[6] = claims && *claims ? claims : "{}";
    if (!(r = jobs_exec(c, q, 7, p, PGRES_TUPLES_OK, err))) return -1;
    if (PQntuples(r) != 1 || PQgetlength(r, 0, 0) != 36) {
        PQclear(r);
        return err_set(err, E_INTERNAL, "job queue: insert returned no id");
    }
    memcpy(id_out, PQgetvalue(r, 0, 0), 37);
    PQclear(r);
    return 0;
}

static void json_add_text(json_object *o, const char *k, PGresult *r, int col)
{
    json_object_object_add(
        o, k, PQgetisnull(r, 0, col) ? NULL : json_object_new_string(PQgetvalue(r, 0, col)));
}

static void json_add_int(json_object *o, const char *k, PGresult *r, int col)
{
    long v = 0;

    str_to_long(PQgetvalue(r, 0, col), 0, 0x7fffffffffffffffL, &v);
    json_object_object_add(o, k, json_object_new_int64(v));
}

int jobs_status_json(PGconn *c, const conf *cf, const char *id, const char *owner,
                     json_object **out, t2err *err)
{
    static const char q[] = "SELECT status, s3_key, rows_written, bytes, error, "
                            "to_json(created_at) #>> '{}', to_json(started_at) #>> '{}', "
                            "to_json(finished_at) #>> '{}' "
                            "FROM t2sql.export_jobs WHERE id = $1::uuid AND owner = $2";
    const char *p[2] = {id, owner ? owner : ""};
    PGresult *r = NULL;
    json_object *o = NULL, *n;
    char *url = NULL;
    const char *status;
    int rc = -1;

    *out = NULL;
    if (!jobs_valid_id(id)) return err_set(err, E_NOT_FOUND, "job not found");
    if (!(r = jobs_exec(c, q, 2, p, PGRES_TUPLES_OK, err))) return -1;
    if (PQntuples(r) != 1) {
        err_set(err, E_NOT_FOUND, "job not found");
        goto fail;
    }
    status = PQgetvalue(r, 0, 0);
    if (!(o = json_object_new_object())) {
        err_set(err, E_INTERNAL, "out of memory");
        goto fail;
    }
    json_object_object_add(o, "job_id", json_object_new_string(id));
    json_object_object_add(o, "status", json_object_new_string(status));
    if (strcmp(status, "SUCCESS") == 0) {
        if (PQgetisnull(r, 0, 1) || s3_presign_get(cf, PQgetvalue(r, 0, 1), cf->presign_expires,
                                                   time(NULL), &url, err) < 0) {
            if (PQgetisnull(r, 0, 1))
                err_set(err, E_INTERNAL, "job %s succeeded without an S3 key", id);
            goto fail;
        }
        json_object_object_add(o, "download_url", json_object_new_string(url));
        json_object_object_add(o, "expires_in", json_object_new_int64(cf->presign_expires));
        json_add_int(o, "row_count", r, 2);
    }
    if (!PQgetisnull(r, 0, 4)) json_add_text(o, "error", r, 4);
    json_add_int(o, "rows_written", r, 2);
    json_add_int(o, "bytes", r, 3);
    json_add_text(o, "created_at", r, 5);
    json_add_text(o, "started_at", r, 6);
    json_add_text(o, "finished_at", r, 7);
    if (outbox_status_json(c, id, &n, err) < 0) goto fail;
    json_object_object_add(o, "notifications", n);
    rc = 0;
fail:
    free(url);
    PQclear(r);
    if (rc == 0)
        *out = o; /* the caller's now */
    else
        json_object_put(o);
    return rc;
}

int jobs_cancel(PGconn *c, const conf *cf, const char *id, const char *owner, t2err *err)
{
    static const char q[] =
        "WITH u AS (UPDATE t2sql.export_jobs SET status = 'CANCELLED', cancel_requested = true, "
        "finished_at = now(), error = 'cancelled' "
        "WHERE id = $1::uuid AND owner = $2 AND status IN ('PENDING', 'IN_PROGRESS') "
        "RETURNING id), "
        /* clang-format off */
        OUTBOX_INSERT_CTE("u", "3")
        /* clang-format on */
        "SELECT (SELECT count(*) FROM u), status, " OUTBOX_NOTIFY " FROM t2sql.export_jobs "
        "WHERE id = $1::uuid AND owner = $2";
    const char *p[3] = {id, owner ? owner : "", cf ? outbox_targets(cf) : "{}"};
    PGresult *r;
    int rc = -1;

    if (!jobs_valid_id(id)) return err_set(err, E_NOT_FOUND, "job not found");
    if (!(r = jobs_exec(c, q, 3, p, PGRES_TUPLES_OK, err))) return -1;
    if (PQntuples(r) != 1)
        err_set(err, E_NOT_FOUND, "job not found");
    else if (strcmp(PQgetvalue(r, 0, 0), "1") != 0)
        err_set(err, E_CONFLICT, "job already finished (%s)", PQgetvalue(r, 0, 1));
    else
        rc = 0;
    PQclear(r);
    return rc;
}

/* ---- exportd side ----------------------------------------------------------------------- */

long jobs_max_per_owner(const conf *cf)
{
    if (cf->export_max_per_owner > 0) return cf->export_max_per_owner;
    return cf->export_concurrency > 1 ? cf->export_concurrency - 1 : 1;
}

static char *dup_or_null(PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? NULL : strdup(PQgetvalue(r, 0, col));
}

int jobs_claim(PGconn *c, const conf *cf, const char *worker, job *j, t2err *err)
{
    static const char q[] =
        "WITH c AS (SELECT id FROM t2sql.export_jobs e "
        " WHERE status = 'PENDING' OR (status = 'IN_PROGRESS' AND "
        "  pg_try_advisory_lock(" JOBS_LOCK_NS ", hashtext(id::text))) "
        " ORDER BY (status = 'PENDING' AND (SELECT count(*) FROM t2sql.export_jobs o "
        "   WHERE o.owner = e.owner AND o.status = 'IN_PROGRESS') >= $4::int), created_at "
        " LIMIT 1 FOR UPDATE SKIP LOCKED), "
        "u AS (UPDATE t2sql.export_jobs j SET "
        " status = CASE WHEN j.attempts >= $2::int THEN 'FAILED' ELSE 'IN_PROGRESS' END, "
        " error = CASE WHEN j.attempts >= $2::int THEN 'gave up after ' || j.attempts || "
        "  ' attempts' || coalesce(': ' || j.error, '') ELSE NULL END, "
        " finished_at = CASE WHEN j.attempts >= $2::int THEN now() END, "
        " attempts = j.attempts + CASE WHEN j.attempts >= $2::int THEN 0 ELSE 1 END, "
        " worker = $1, started_at = now(), heartbeat_at = now(), rows_written = 0, bytes = 0, "
        " s3_key = coalesce(j.s3_key, $3 || j.id::text || "
        "  CASE j.format WHEN 'csv.gz' THEN '.csv.gz' ELSE '.csv' END) "
        "FROM c WHERE j.id = c.id "
        "RETURNING j.id, j.status, j.sql, j.format, j.s3_key, j.upload_id, j.attempts,"
        " j.role, j.claims::text), "
        "f AS (SELECT id FROM u WHERE status = 'FAILED'), "
        /* clang-format off */
        OUTBOX_INSERT_CTE("f", "5")
        "SELECT id::text, status, sql, format, s3_key, upload_id, attempts, role, claims, "
        OUTBOX_NOTIFY " FROM u";
    /* clang-format on */
    char maxa[24], per_owner[24];
    const char *p[5];
    const char *lp[1];
    PGresult *r, *l;
    struct timespec pause = {0, 50 * 1000000L};
    long attempt;
    int tries;

    memset(j, 0, sizeof *j);
    snprintf(maxa, sizeof maxa, "%ld", cf->export_max_attempts);
    p[0] = worker;
    p[1] = maxa;
    p[2] = cf->export_prefix ? cf->export_prefix : "";
    snprintf(per_owner, sizeof per_owner, "%ld", jobs_max_per_owner(cf));
    p[3] = per_owner;
    p[4] = outbox_targets(cf);
    jobs_unlock_all(c);
    /* The claim and the advisory lock commit together, so no other claimer ever sees the
     * job IN_PROGRESS with its lock free. Claims take turns (a transaction lock): two at once
     * would both count an owner's running jobs before either is recorded. */
    if (!(r = jobs_exec(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK, err))) return -1;
    PQclear(r);
    if (!(r = jobs_exec(c, "SELECT pg_advisory_xact_lock(" JOBS_LOCK_NS ", 0)", 0, NULL,
                        PGRES_TUPLES_OK, err)))
        goto fail;
    PQclear(r);
    if (!(r = jobs_exec(c, q, 5, p, PGRES_TUPLES_OK, err))) goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        jobs_unlock_all(c);
        return 0;
    }
    str_copy(j->id, sizeof j->id, PQgetvalue(r, 0, 0));
    str_copy(j->format, sizeof j->format, PQgetvalue(r, 0, 3));
    str_copy(j->notify, sizeof j->notify, p[4]);
    j->gave_up = strcmp(PQgetvalue(r, 0, 1), "FAILED") == 0;
    j->sql = dup_or_null(r, 2);
    j->s3_key = dup_or_null(r, 4);
    j->old_upload_id = dup_or_null(r, 5);
    j->role = dup_or_null(r, 7);
    j->claims = dup_or_null(r, 8);
    j->attempt = str_to_long(PQgetvalue(r, 0, 6), 0, 1000000, &attempt) < 0 ? 0 : (int)attempt;
    PQclear(r);
    if (!j->sql || !j->s3_key || !j->role || !j->claims) {
        err_set(err, E_INTERNAL, "out of memory");
        goto fail;
    }
    /* The WHERE may have taken locks on rows it then skipped: keep only this job's. A lock
     * still held elsewhere can only be such a leak of another claimer (it drops them as
     * soon as its claim statement returns): an IN_PROGRESS job whose lock is held by a live
     * session is never claimed, however old its heartbeat. */
    jobs_unlock_all(c);
    lp[0] = j->id;
    for (tries = 0; tries < 20; tries++) {
        int got;
        if (!(l = jobs_exec(c, "SELECT pg_try_advisory_lock(" JOBS_LOCK_NS ", hashtext($1))", 1, lp,
                            PGRES_TUPLES_OK, err)))
            goto fail;
        got = strcmp(PQgetvalue(l, 0, 0), "t") == 0;
        PQclear(l);
        if (got) break;
        nanosleep(&pause, NULL);
    }
    if (!(r = jobs_exec(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, err))) goto fail;
    PQclear(r);
    return 1;
fail:
    PQclear(PQexec(c, "ROLLBACK"));
    jobs_unlock_all(c);
    job_free(j);
    return -1;
}

void job_free(job *j)
{
    free(j->sql);
    free(j->s3_key);
    free(j->old_upload_id);
    free(j->role);
    free(j->claims);
    j->sql = j->s3_key = j->old_upload_id = j->role = j->claims = NULL;
}

void jobs_unlock_all(PGconn *c)
{
    PQclear(PQexec(c, "SELECT pg_advisory_unlock_all()"));
}

/* Runs an UPDATE guarded by (id, worker, attempt, IN_PROGRESS) with extra params from $4 on;
 * with notify, the fifth extra ($8) is the outbox targets, written with the update.
 * Returns 1 if it matched, 0 if the job is no longer ours (status into status_out), -1. */
static int jobs_guarded(PGconn *c, const char *set, const job *j, const char *worker, int nextra,
                        const char *const *extra, int notify, char status_out[16], t2err *err)
{
    char q[1536], att[16];
    const char *p[8];
    PGresult *r;
    int i, rc;

    snprintf(q, sizeof q,
             "WITH u AS (UPDATE t2sql.export_jobs SET %s WHERE id = $1::uuid AND worker = $2 "
             "AND attempts = $3::int AND status = 'IN_PROGRESS' AND NOT cancel_requested "
             "RETURNING id)%s "
             "SELECT (SELECT count(*) FROM u), status%s FROM t2sql.export_jobs "
             "WHERE id = $1::uuid",
             set, notify ? ", " OUTBOX_INSERT_CTE("u", "8") : "", notify ? ", " OUTBOX_NOTIFY : "");
    if (notify && nextra != 5) return err_set(err, E_INTERNAL, "job queue: notify needs $8");
    snprintf(att, sizeof att, "%d", j->attempt);
    p[0] = j->id;
    p[1] = worker;
    p[2] = att;
    for (i = 0; i < nextra && i < 5; i++)
        p[3 + i] = extra[i];
    if (!(r = jobs_exec(c, q, 3 + i, p, PGRES_TUPLES_OK, err))) return -1;
    rc = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "1") == 0;
    if (status_out) str_copy(status_out, 16, PQntuples(r) == 1 ? PQgetvalue(r, 0, 1) : "DELETED");
    PQclear(r);
    return rc;
}

int jobs_heartbeat(PGconn *c, const job *j, const char *worker, int64_t rows, int64_t bytes,
                   char status_out[16], t2err *err)
{
    char a[24], b[24];
    const char *x[2] = {a, b};

    snprintf(a, sizeof a, "%lld", (long long)rows);
    snprintf(b, sizeof b, "%lld", (long long)bytes);
    return jobs_guarded(c, "heartbeat_at = now(), rows_written = $4::bigint, bytes = $5::bigint", j,
                        worker, 2, x, 0, status_out, err);
}

int jobs_set_upload(PGconn *c, const job *j, const char *worker, const char *upload_id,
                    char status_out[16], t2err *err)
{
    const char *x[1] = {upload_id};

    return jobs_guarded(c, "upload_id = $4, heartbeat_at = now()", j, worker, 1, x, 0, status_out,
                        err);
}

int jobs_clear_upload(PGconn *c, const char *id, const char *upload_id, t2err *err)
{
    static const char q[] = "UPDATE t2sql.export_jobs SET upload_id = NULL "
                            "WHERE id = $1::uuid AND upload_id = $2";
    const char *p[2] = {id, upload_id};
    PGresult *r;
    int n;

    if (!(r = jobs_exec(c, q, 2, p, PGRES_COMMAND_OK, err))) return -1;
    n = atoi(PQcmdTuples(r));
    PQclear(r);
    return n > 0;
}

PGresult *jobs_orphan_uploads(PGconn *c, int limit, t2err *err)
{
    static const char q[] = "SELECT id::text, s3_key, upload_id FROM t2sql.export_jobs "
                            "WHERE status IN ('CANCELLED', 'FAILED') AND upload_id IS NOT NULL "
                            "AND s3_key IS NOT NULL ORDER BY finished_at LIMIT $1::int";
    char lim[16];
    const char *p[1] = {lim};

    snprintf(lim, sizeof lim, "%d", limit);
    return jobs_exec(c, q, 1, p, PGRES_TUPLES_OK, err);
}

int jobs_finish(PGconn *c, const job *j, const char *worker, const char *status, int64_t rows,
                int64_t bytes, const char *error, char status_out[16], t2err *err)
{
    char a[24], b[24];
    const char *x[5] = {status, a, b, error, *j->notify ? j->notify : "{}"};

    snprintf(a, sizeof a, "%lld", (long long)rows);
    snprintf(b, sizeof b, "%lld", (long long)bytes);
    return jobs_guarded(c,
                        "status = $4, rows_written = $5::bigint, bytes = $6::bigint, "
                        "error = $7, finished_at = now(), heartbeat_at = now(), "
                        "upload_id = CASE WHEN $4 = 'SUCCESS' THEN NULL ELSE upload_id END",
                        j, worker, 5, x, 1, status_out, err);
}

int jobs_release(PGconn *c, const job *j, const char *worker, int counted, t2err *err)
{
    const char *x[1] = {counted ? "0" : "1"};

    return jobs_guarded(c,
                        "status = 'PENDING', attempts = attempts - $4::int, worker = NULL, "
                        "heartbeat_at = NULL, rows_written = 0, bytes = 0",
                        j, worker, 1, x, 0, NULL, err);
}

const char *const jobs_states[JOBS_NSTATES] = {"PENDING", "IN_PROGRESS", "SUCCESS", "FAILED",
                                               "CANCELLED"};

int jobs_count(PGconn *c, unsigned long n[JOBS_NSTATES])
{
    PGresult *r;
    int i, k, rc = -1;

    memset(n, 0, JOBS_NSTATES * sizeof n[0]);
    if (!c || PQstatus(c) != CONNECTION_OK) return -1;
    r = PQexec(c, "SELECT status::text, count(*) FROM t2sql.export_jobs GROUP BY 1");
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        for (i = 0; i < PQntuples(r); i++)
            for (k = 0; k < JOBS_NSTATES; k++)
                if (strcmp(PQgetvalue(r, i, 0), jobs_states[k]) == 0)
                    n[k] = strtoul(PQgetvalue(r, i, 1), NULL, 10);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

void jobs_gauge(buf *out, PGconn *c, const char *name, const char *help)
{
    unsigned long n[JOBS_NSTATES];
    int k;

    if (jobs_count(c, n) < 0) return;
    buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (k = 0; k < JOBS_NSTATES; k++)
        buf_printf(out, "%s{status=\"%s\"} %lu\n", name, jobs_states[k], n[k]);
}
