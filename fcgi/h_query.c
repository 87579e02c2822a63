/* h_query -- POST /query: question or query_id -> validated SQL -> one streamed page. */
#include "handlers.h"

#include "log.h"

#include <string.h>
#include <strings.h>

#define FLUSH_AT 16384

static const char *source_name(const char *s, int *idx)
{
    static const char *names[] = {"llm", "cache", "example", "planner"};
    int i;

    for (i = 0; i < 4; i++)
        if (s && strcmp(s, names[i]) == 0) return *idx = i, names[i];
    return *idx = 0, "llm";
}

int h_query(req *r)
{
    t2err err;
    const char *question = NULL, *query_id = NULL, *count = NULL;
    long page = 1, page_size = r->cf->default_page_size;
    int stream = 1, rc, src;
    buf qtext = BUF_INIT(0);
    gen_result g;
    exec_req rq;
    sink s;
    PGconn *conn;

    err_clear(&err);
    gen_result_init(&g);
    if (req_json(r, &err) < 0 || field_str(r->json, "question", &question, &err) < 0 ||
        field_str(r->json, "query_id", &query_id, &err) < 0 ||
        field_int(r->json, "page", 1, 1000000000L, &page, &err) < 0 ||
        field_int(r->json, "page_size", 1, r->cf->max_page_size, &page_size, &err) < 0 ||
        field_bool(r->json, "stream", &stream, &err) < 0 ||
        field_str(r->json, "count", &count, &err) < 0)
        goto fail;
    memset(&rq, 0, sizeof rq);
    if (count) {
        if (strcmp(count, "exact") == 0)
            rq.count = COUNT_EXACT;
        else if (strcmp(count, "estimated") == 0)
            rq.count = COUNT_ESTIMATED;
        else if (strcmp(count, "none") == 0)
            rq.count = COUNT_NONE;
        else {
            err_field(&err, "count", "count must be \"exact\", \"estimated\" or \"none\"");
            goto fail;
        }
    }
    if (req_sql(r, question, query_id, "question is required", &qtext, &g, &err) < 0) goto fail;
    rq.sql = buf_cstr(&g.sql);
    rq.query_id = g.query_id;
    rq.source = source_name(g.source, &src);
    rq.page = page;
    rq.page_size = page_size;
    rq.generate_ms = g.generate_ms;
    rq.ndjson = r->accept && strcasestr(r->accept, "application/x-ndjson") != NULL;
    metrics_add(&metrics_get()->queries[src], 1);
    if (!(conn = pgc_get(&r->x->db, &err))) goto fail;
    r->stream_ctype = rq.ndjson ? "application/x-ndjson" : "application/json";
    sink_init(&s, http_stream_write, r, FLUSH_AT,
              stream ? 64u << 20 : (size_t)r->cf->max_result_bytes, !stream);
    s.peer_fd = r->fr->ipcFd; /* nginx closes it when the client leaves */
    rc = exec_page(conn, &r->x->lim, &rq, &s, &err);
    if (rc < 0) {
        sink_free(&s);
        pgc_check(&r->x->db);
        goto fail;
    }
    if (rc > 0) pgc_check(&r->x->db);
    if (s.failed) {
        metrics_add(&metrics_get()->client_aborts, 1);
    } else if (!stream) {
        http_body(r, 200, r->stream_ctype, buf_cstr(&s.b), s.b.len, NULL);
    } else {
        sink_flush(&s);
    }
    log_info("query %s source=%s page=%ld size=%ld%s", g.query_id, rq.source, page, page_size,
             s.failed ? " (client gone)"
             : rc > 0 ? " (error after rows)"
                      : "");
    sink_free(&s);
    gen_result_free(&g);
    buf_free(&qtext);
    return 0;
fail:
    gen_result_free(&g);
    buf_free(&qtext);
    return http_error(r, &err);
}
