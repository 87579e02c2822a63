/* outbox -- SQL of the export notification outbox; see outbox.h. */
#include "outbox.h"

#include "buf.h"
#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *outbox_targets(const conf *cf)
{
    int sqs = cf->export_notify_sqs_url && *cf->export_notify_sqs_url;
    int hook = cf->export_notify_url && *cf->export_notify_url;

    return sqs && hook ? "{sqs,webhook}" : sqs ? "{sqs}" : hook ? "{webhook}" : "{}";
}

static const char *val(PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? NULL : PQgetvalue(r, 0, col);
}

int outbox_take(PGconn *c, const char *targets, outbox_item *it, t2err *err)
{
    static const char q[] =
        "SELECT n.job_id::text, n.target, n.attempts, j.status, j.format, j.owner, j.error, "
        " to_json(j.finished_at) #>> '{}', j.s3_key, j.rows_written, j.bytes "
        "FROM t2sql.export_notify n JOIN t2sql.export_jobs j ON j.id = n.job_id "
        "WHERE n.state = 'PENDING' AND n.next_at <= now() AND n.target = ANY ($1::text[]) "
        "ORDER BY n.next_at LIMIT 1 FOR UPDATE OF n SKIP LOCKED";
    const char *p[1] = {targets};
    PGresult *r;
    long v;

    memset(it, 0, sizeof *it);
    if (!(r = jobs_exec(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK, err))) return -1;
    PQclear(r);
    if (!(r = jobs_exec(c, q, 1, p, PGRES_TUPLES_OK, err))) {
        PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        PQclear(PQexec(c, "COMMIT"));
        return 0;
    }
    it->res = r;
    it->job_id = val(r, 0);
    it->target = val(r, 1);
    it->attempts = str_to_long(PQgetvalue(r, 0, 2), 0, 1L << 30, &v) < 0 ? 0 : (int)v;
    it->status = val(r, 3);
    it->format = val(r, 4);
    it->owner = val(r, 5);
    it->error = val(r, 6);
    it->finished_at = val(r, 7);
    it->s3_key = val(r, 8);
    it->rows = str_to_long(PQgetvalue(r, 0, 9), 0, 0x7fffffffffffffffL, &v) < 0 ? 0 : v;
    it->bytes = str_to_long(PQgetvalue(r, 0, 10), 0, 0x7fffffffffffffffL, &v) < 0 ? 0 : v;
    return 1;
}

int outbox_done(PGconn *c, const outbox_item *it, int delivered, const char *error, long retry_ms,
                t2err *err)
{
    /* clock_timestamp(), not now(): the row was claimed when this transaction began, before the
     * send, and the wait before the next attempt counts from the end of this one */
    static const char q[] =
        "UPDATE t2sql.export_notify SET attempts = attempts + 1, "
        " state = CASE WHEN $3 THEN 'DELIVERED' ELSE 'PENDING' END, "
        " delivered_at = CASE WHEN $3 THEN clock_timestamp() END, last_error = $4, "
        " next_at = clock_timestamp() + make_interval(secs => $5::bigint / 1000.0) "
        "WHERE job_id = $1::uuid AND target = $2";
    char ms[24];
    const char *p[5] = {it->job_id, it->target, delivered ? "true" : "false",
                        delivered ? NULL : error, ms};
    PGresult *r;

    snprintf(ms, sizeof ms, "%ld", delivered ? 0L : retry_ms);
    if (!(r = jobs_exec(c, q, 5, p, PGRES_COMMAND_OK, err))) {
        PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    PQclear(r);
    if (!(r = jobs_exec(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, err))) return -1;
    PQclear(r);
    return 0;
}

void outbox_item_free(outbox_item *it)
{
    PQclear(it->res);
    memset(it, 0, sizeof *it);
}

long outbox_next_due_ms(PGconn *c, const char *targets)
{
    static const char q[] = "SELECT greatest(0, ceil(extract(epoch FROM min(next_at) - now()) "
                            "* 1000))::bigint FROM t2sql.export_notify "
                            "WHERE state = 'PENDING' AND target = ANY ($1::text[])";
    const char *p[1] = {targets};
    PGresult *r;
    t2err e;
    long v = -1;

    if (!(r = jobs_exec(c, q, 1, p, PGRES_TUPLES_OK, &e))) return -1;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) &&
        str_to_long(PQgetvalue(r, 0, 0), 0, 0x7fffffffffffffffL, &v) < 0)
        v = -1;
    PQclear(r);
    return v;
}

static void add_text(json_object *o, const char *k, PGresult *r, int row, int col)
{
    json_object_object_add(
        o, k, PQgetisnull(r, row, col) ? NULL : json_object_new_string(PQgetvalue(r, row, col)));
}

int outbox_status_json(PGconn *c, const char *job_id, json_object **out, t2err *err)
{
    static const char q[] = "SELECT target, state, attempts, to_json(delivered_at) #>> '{}', "
                            " last_error, CASE WHEN state = 'PENDING' THEN "
                            "  to_json(next_at) #>> '{}' END "
                            "FROM t2sql.export_notify WHERE job_id = $1::uuid ORDER BY target";
    const char *p[1] = {job_id};
    PGresult *r;
    json_object *o;
    int i;
    long v;

    *out = NULL;
    if (!(r = jobs_exec(c, q, 1, p, PGRES_TUPLES_OK, err))) return -1;
    if (!(o = json_object_new_object())) {
        PQclear(r);
        return err_set(err, E_INTERNAL, "out of memory");
    }
    for (i = 0; i < PQntuples(r); i++) {
        json_object *t = json_object_new_object();
        if (!t) break;
        json_object_object_add(t, "state", json_object_new_string(PQgetvalue(r, i, 1)));
        if (str_to_long(PQgetvalue(r, i, 2), 0, 1L << 30, &v) < 0) v = 0;
        json_object_object_add(t, "attempts", json_object_new_int64(v));
        add_text(t, "delivered_at", r, i, 3);
        add_text(t, "last_error", r, i, 4);
        add_text(t, "next_attempt_at", r, i, 5);
        json_object_object_add(o, PQgetvalue(r, i, 0), t);
    }
    PQclear(r);
    *out = o;
    return 0;
}
