/* h_export -- POST /export/start, GET /export/status/{id}, POST /export/cancel/{id}.
 * The SQL is generated and validated exactly as for /query (or taken from a query_id)
 * before the job exists, so an unsafe question never becomes a job. */
#include "handlers.h"

#include "jobs.h"

#include <string.h>

int h_export_start(req *r)
{
    t2err err;
    const char *question = NULL, *query_id = NULL, *format = NULL;
    char id[37];
    int rc;
    buf q = BUF_INIT(0), osql = BUF_INIT(0);
    gen_result g;
    PGconn *conn;
    json_object *j;
    convo cv;
    int in_context = 0;

    err_clear(&err);
    memset(&cv, 0, sizeof cv);
    gen_result_init(&g);
    if (req_json(r, &err) < 0 || field_str(r->json, "question", &question, &err) < 0 ||
        field_str(r->json, "query_id", &query_id, &err) < 0 ||
        field_str(r->json, "format", &format, &err) < 0 ||
        convo_begin(r, &cv, &in_context, &err) < 0)
        goto fail;
    if (format && strcmp(format, "csv") != 0 && strcmp(format, "csv.gz") != 0) {
        err_field(&err, "format", "format must be \"csv\" or \"csv.gz\"");
        goto fail;
    }
    if (convo_ask(r, question, query_id, "question or query_id is required", &q, &g, &cv,
                  in_context, &err) < 0)
        goto fail;
    if (g.clarification.len) { /* asked back: no job */
        convo_record(r, &cv, buf_cstr(&q), &g, NULL, -1, NULL, NULL);
        rc = convo_clarify(r, &cv, &g);
        goto out;
    }
    req_audit_what(r, query_id ? NULL : buf_cstr(&q), buf_cstr(&g.sql), g.source);
    if (!(conn = pgc_get(&r->x->db, &err))) goto fail;
    /* the job holds the statement pages run (the tie-breaker included, order.h), so that the
     * export lists the rows as the pages do */
    if (exec_order(conn, &r->x->lim, auth_txn_identity(r->x->who), buf_cstr(&g.sql), &osql, &err) <
            0 ||
        jobs_create_as(conn, buf_cstr(&osql), g.query_id, query_id ? NULL : buf_cstr(&q), r->owner,
                       r->x->who ? r->x->who->role : NULL,
                       r->x->who ? r->x->who->claims_json : NULL, format, id, &err) < 0) {
        pgc_check(&r->x->db);
        goto fail;
    }
    j = json_object_new_object();
    json_object_object_add(j, "job_id", json_object_new_string(id));
    snprintf(r->audit_detail, sizeof r->audit_detail, "job %s", id);
    json_object_object_add(j, "status", json_object_new_string("PENDING"));
    json_object_object_add(j, "query_id", json_object_new_string(g.query_id));
    json_object_object_add(j, "sql", json_object_new_string(buf_cstr(&g.sql)));
    if (in_context) {
        if (!query_id) convo_record(r, &cv, buf_cstr(&q), &g, NULL, -1, NULL, NULL);
        json_object_object_add(j, "conversation_id", json_object_new_string(cv.id));
    }
    rc = http_json(r, 200, j);
    goto out;
fail:
    rc = http_error(r, &err);
out:
    convo_free(&cv);
    gen_result_free(&g);
    buf_free(&q);
    buf_free(&osql);
    return rc;
}

/* The job's status document, after cancelling it first when cancel is set; a job that is not
 * the caller's (or none) is 404 "job not found". */
static int job_reply(req *r, const char *prefix, int cancel)
{
    t2err err;
    const char *id = path_tail(r, prefix);
    PGconn *conn;
    json_object *j = NULL;

    err_clear(&err);
    if (cancel) snprintf(r->audit_detail, sizeof r->audit_detail, "job %.64s", id ? id : "");
    if (!(conn = pgc_get(&r->x->db, &err))) return http_error(r, &err);
    if ((cancel && jobs_cancel(conn, r->cf, id, r->owner, &err) < 0) ||
        jobs_status_json(conn, r->cf, id, r->owner, &j, &err) < 0) {
        pgc_check(&r->x->db);
        if (err.code == E_NOT_FOUND) str_copy(err.detail, sizeof err.detail, "job not found");
        return http_error(r, &err);
    }
    return http_json(r, 200, j);
}

int h_export_status(req *r)
{
    return job_reply(r, "/export/status/", 0);
}

int h_export_cancel(req *r)
{
    return job_reply(r, "/export/cancel/", 1);
}
