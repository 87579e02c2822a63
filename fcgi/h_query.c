/* h_query -- POST /query: question or query_id -> validated SQL -> one streamed page. */
#include "handlers.h"

#include "log.h"
#include "suggest.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FLUSH_AT 16384

static const char *source_name(const char *s, int *idx)
{
    static const char *names[] = {"llm", "cache", "example", "planner", "user"};
    int i;

    for (i = 0; i < 5; i++)
        if (s && strcmp(s, names[i]) == 0) return *idx = i, names[i];
    return *idx = 0, "llm";
}

/* The request's Cache-Control, as far as the result cache reads it: no-store (neither read
 * nor write), no-cache (do not read; store the fresh page), max-age=N (a hit at most N s old). */
typedef struct cache_ctl {
    int no_store, no_cache;
    long max_age; /* -1 = any */
} cache_ctl;

static void cache_control(req *r, cache_ctl *cc)
{
    const char *v = req_header(r, "HTTP_CACHE_CONTROL"), *p;
    size_t n;

    cc->no_store = cc->no_cache = 0;
    cc->max_age = -1;
    for (p = v; p && *p; p += n) {
        p += strspn(p, " \t,");
        n = strcspn(p, ",");
        if (n >= 8 && strncasecmp(p, "no-store", 8) == 0)
            cc->no_store = 1;
        else if (n >= 8 && strncasecmp(p, "no-cache", 8) == 0)
            cc->no_cache = 1;
        else if (n > 8 && strncasecmp(p, "max-age=", 8) == 0)
            cc->max_age = strtol(p + 8, NULL, 10);
        if (cc->max_age < -1) cc->max_age = 0;
    }
}

/* The result-cache key each of a few recent request bodies (with the identity and the
 * format) was answered under, per process: a guess read ahead with the question's SQL
 * (cache_read_ahead), so that a repeated page costs one Redis round trip, not two. A wrong
 * guess (another body in the slot, changed versions) only reads a key not used. */
#define RC_GUESSES 64
static char rc_guess[RC_GUESSES][80];

static char *guess_slot(const req *r, const char *ident, int ndjson)
{
    unsigned long h = 1469598103934665603UL;
    const char *parts[2] = {r->body.p ? r->body.p : "", ident ? ident : ""};
    size_t i, k;

    for (k = 0; k < 2; k++)
        for (i = 0; parts[k][i]; i++)
            h = (h ^ (unsigned char)parts[k][i]) * 1099511628211UL;
    return rc_guess[(h ^ (unsigned long)ndjson) % RC_GUESSES];
}

/* A page from the result cache, when there is one: 1 = answered. */
static int serve_cached(req *r, const exec_req *rq, const char *key, long max_age, int stream)
{
    rc_entry e;
    sink s;
    char extra[96];
    long long age;

    rc_entry_init(&e);
    if (!rcache_get(r->x->cache, key, max_age, &e)) {
        rc_entry_free(&e);
        return 0;
    }
    age = (rcache_now_ms() - e.stored_ms) / 1000;
    snprintf(extra, sizeof extra, "X-Cache: hit\r\nAge: %lld\r\n", age < 0 ? 0 : age);
    sink_init(&s, http_stream_write, r, FLUSH_AT, (size_t)-1 >> 1, 1);
    if (exec_write_captured(rq, &e.body, e.total, e.more, &s) < 0) {
        sink_free(&s);
        rc_entry_free(&e);
        return 0;
    }
    if (stream) {
        r->stream_extra = extra;
        sink_flush(&s);
    } else {
        http_body(r, 200, r->stream_ctype, buf_cstr(&s.b), s.b.len, extra);
    }
    metrics_add(&metrics_get()->result_cache_hits, 1);
    sink_free(&s);
    rc_entry_free(&e);
    return 1;
}

/* Rows depend on the role and the claims (RLS): the identity's hash covers both. */
static const char *ident_of(const req *r)
{
    return r->x->who && r->x->who->id_hash[0] ? r->x->who->id_hash : r->x->lim.role;
}

/* exec_page, with what the request log and the metrics report: rows, database time. */
static int exec_measured(req *r, PGconn *conn, const exec_req *rq, sink *s, t2err *err)
{
    struct timespec t0, t1;
    int rc;

    r->source = rq->source;
    r->sql = strdup(rq->sql);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = exec_page(conn, &r->x->lim, rq, s, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r->db_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    r->rows = s->rows;
    metrics_observe(&metrics_get()->db, r->db_ms / 1e3);
    return rc;
}

/* exec_measured over the connection generated SQL reads from: the read replica when one is
 * configured and usable (replica.h), else the primary's (the workers' pooler). A page read on
 * the replica is stored in the result cache only if the replica has replayed past the WAL
 * position the key's versions were read at: else its rows may be older than the versions.
 * Returns exec_page's code. */
static int exec_read(req *r, exec_req *rq, sink *s, t2err *err)
{
    int on_replica = 0, rc;
    PGconn *conn = replica_read_conn(&r->x->rep, &r->x->db, r->cf, &on_replica, err);

    if (!conn) return -1;
    if (on_replica && rq->capture && !replica_replayed_past(conn, rcache_versions_lsn(r->x->rc)))
        rq->capture = NULL;
    rc = exec_measured(r, conn, rq, s, err);
    if (rc != 0 && on_replica) replica_failed(&r->x->rep);
    if (rc != 0 && !on_replica) pgc_check(&r->x->db);
    return rc;
}

/* The error answer; a 422 cannot_answer lists questions that can be answered instead. */
static int query_error(req *r, const t2err *err, const char *conversation_id)
{
    json_object *more;

    if (err->code != E_CANNOT_ANSWER && !conversation_id) return http_error(r, err);
    more = json_object_new_object();
    if (conversation_id)
        json_object_object_add(more, "conversation_id", json_object_new_string(conversation_id));
    if (err->code != E_CANNOT_ANSWER) return http_error_more(r, err, NULL, more);
    json_object_object_add(more, "suggestions", suggest_questions(r->x, err->detail, SUGGEST_MAX));
    return http_error_more(r, err, NULL, more);
}

/* count: NULL (exact), "exact", "estimated" or "none"; else 422 on field count. */
static int count_mode_of(const char *count, exec_req *rq, t2err *err)
{
    if (!count || strcmp(count, "exact") == 0)
        rq->count = COUNT_EXACT;
    else if (strcmp(count, "estimated") == 0)
        rq->count = COUNT_ESTIMATED;
    else if (strcmp(count, "none") == 0)
        rq->count = COUNT_NONE;
    else
        return err_field(err, "count", "count must be \"exact\", \"estimated\" or \"none\"");
    return 0;
}

/* The page request for g's SQL. */
static void fill_request(req *r, const gen_result *g, long page, long page_size, exec_req *rq,
                         int *src)
{
    rq->sql = buf_cstr(&g->sql);
    rq->query_id = g->query_id;
    rq->source = source_name(g->source, src);
    rq->explanation = buf_cstr(&g->explanation);
    rq->measures = g->measures_used.p;
    rq->nmeasures = g->nmeasures;
    rq->page = page;
    rq->page_size = page_size;
    rq->generate_ms = g->generate_ms;
    rq->numeric_strings = r->cf->numeric_as_string;
    rq->id = auth_txn_identity(r->x->who);
    rq->rows_out = &r->audit_rows;
}

/* What a turn keeps of the page: its columns, total and (when allowed) first rows. */
static void turn_outputs(const req *r, exec_req *rq, buf *cols, long long *total, buf *frows)
{
    rq->columns_out = cols;
    rq->total_out = total;
    if (r->cf->conversation_prompt_rows) { /* data for the model: only when allowed */
        rq->first_rows = frows;
        rq->first_rows_max = CONVO_PROMPT_ROWS;
    }
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
    cache_ctl cc = {0, 0, -1};
    char rkey[80], *guess = NULL;
    int cacheable = 0, in_context = 0, turn = 0;
    exec_capture cap;
    convo cv;
    buf cols = BUF_INIT(1u << 20), frows = BUF_INIT(1u << 20);
    long long total = -1;

    err_clear(&err);
    memset(&cap, 0, sizeof cap);
    memset(&cv, 0, sizeof cv);
    gen_result_init(&g);
    if (req_json(r, &err) < 0 || field_str(r->json, "question", &question, &err) < 0 ||
        field_str(r->json, "query_id", &query_id, &err) < 0 ||
        field_int(r->json, "page", 1, 1000000000L, &page, &err) < 0 ||
        field_int(r->json, "page_size", 1, r->cf->max_page_size, &page_size, &err) < 0 ||
        field_bool(r->json, "stream", &stream, &err) < 0 ||
        field_str(r->json, "count", &count, &err) < 0 || convo_begin(r, &cv, &in_context, &err) < 0)
        goto fail;
    memset(&rq, 0, sizeof rq);
    if (count_mode_of(count, &rq, &err) < 0) goto fail;
    turn = in_context && !query_id; /* a question is a turn; paging through a query_id is not */
    rq.ndjson = r->accept && strcasestr(r->accept, "application/x-ndjson") != NULL;
    if (r->cf->result_cache) {
        cache_control(r, &cc);
        guess = in_context ? NULL : guess_slot(r, ident_of(r), rq.ndjson);
        if (guess && guess[0] && !cc.no_store && !cc.no_cache) cache_read_ahead(r->x->cache, guess);
    }
    if (convo_ask(r, question, query_id, "question is required", &qtext, &g, &cv, in_context,
                  &err) < 0)
        goto fail;
    if (g.clarification.len) {
        convo_record(r, &cv, buf_cstr(&qtext), &g, NULL, -1, NULL, NULL);
        rc = convo_clarify(r, &cv, &g);
        goto out;
    }
    rq.conversation_id = in_context ? cv.id : NULL;
    if (turn) turn_outputs(r, &rq, &cols, &total, &frows);
    fill_request(r, &g, page, page_size, &rq, &src);
    r->audit_rows = 0;
    req_audit_what(r, NULL, rq.sql, rq.source);
    metrics_add(&metrics_get()->queries[src], 1);
    r->stream_ctype = rq.ndjson ? "application/x-ndjson" : "application/json";
    if (r->cf->result_cache) {
        rc_req cq = {rq.sql, rq.page, rq.page_size, (int)rq.count, rq.ndjson, ident_of(r)};
        cacheable = !cc.no_store && rcache_key(r->x->rc, &r->x->db, &cq, rkey);
        if (cacheable && guess) memcpy(guess, rkey, sizeof rkey);
        if (cacheable && !cc.no_cache && serve_cached(r, &rq, rkey, cc.max_age, stream)) {
            r->source = rq.source;
            r->audit_rows = -1; /* served from the cache: not counted */
            log_debug("query %s source=%s page=%ld size=%ld (result cache)", g.query_id, rq.source,
                      page, page_size);
            if (turn) /* the cached page filled the turn's columns, total and first rows */
                convo_record(r, &cv, buf_cstr(&qtext), &g, buf_cstr(&cols), total,
                             frows.len ? buf_cstr(&frows) : NULL, NULL);
            rc = 0;
            goto out;
        }
        r->stream_extra = "X-Cache: miss\r\n";
        metrics_add(&metrics_get()->result_cache_misses, 1);
        cap.max = (size_t)r->cf->result_cache_max_bytes;
        if (cacheable) rq.capture = &cap;
    }
    sink_init(&s, http_stream_write, r, FLUSH_AT,
              stream ? 64u << 20 : (size_t)r->cf->max_result_bytes, !stream);
    s.peer_fd = r->fr->ipcFd; /* nginx closes it when the client leaves */
    if ((rc = exec_read(r, &rq, &s, &err)) < 0) {
        sink_free(&s);
        goto fail;
    }
    if (turn)
        convo_record(r, &cv, buf_cstr(&qtext), &g, buf_cstr(&cols), total,
                     frows.len ? buf_cstr(&frows) : NULL, NULL);
    if (s.failed) {
        metrics_add(&metrics_get()->client_aborts, 1);
    } else if (!stream) {
        http_body(r, 200, r->stream_ctype, buf_cstr(&s.b), s.b.len, r->stream_extra);
    } else {
        sink_flush(&s);
    }
    if (rq.capture && rc == 0 && !s.failed && !cap.overflow) {
        rc_entry e = {0, cap.total, cap.more, cap.execute_ms, cap.body};
        rcache_put(r->x->cache, rkey, &e, r->cf->result_cache_ttl, cap.max);
    }
    buf_free(&cap.body);
    log_debug("query %s source=%s page=%ld size=%ld%s", g.query_id, rq.source, page, page_size,
              s.failed ? " (client gone)"
              : rc > 0 ? " (error after rows)"
                       : "");
    sink_free(&s);
    rc = 0;
    goto out;
fail:
    /* a failed question in a conversation stays in it (a follow-up skips it) */
    if (in_context && !query_id && qtext.len && err.code != E_VALIDATION)
        convo_record(r, &cv, buf_cstr(&qtext), &g, NULL, -1, NULL, &err);
    buf_free(&cap.body);
    rc = query_error(r, &err, in_context ? cv.id : NULL);
out:
    cache_ahead_drop(r->x->cache); /* nothing read ahead outlives the request */
    buf_free(&cols);
    buf_free(&frows);
    convo_free(&cv);
    gen_result_free(&g);
    buf_free(&qtext);
    return rc;
}
