/* worker -- the accept loop, routing and per-request bookkeeping; see worker.h. */
#include "worker.h"

#include "audit.h"
#include "auth.h"
#include "fwd.h"
#include "handlers.h"
#include "jwtauth.h"
#include "llm.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct route {
    const char *method;
    const char *path;
    int prefix;        /* path is a prefix followed by one {id} segment */
    const char *scope; /* API key scope needed when auth is on; NULL = open */
    int (*fn)(req *);
    const char *audit; /* action recorded in t2sql.audit, NULL = none */
} route;

static const route routes[] = {
    {"GET", "/health", 0, NULL, h_health, NULL},
    {"GET", "/ready", 0, NULL, h_ready, NULL},
    {"POST", "/query", 0, "query", h_query, "query"},
    {"POST", "/export/start", 0, "export", h_export_start, "export"},
    {"GET", "/export/status/", 1, "export", h_export_status, NULL},
    {"POST", "/export/cancel/", 1, "export", h_export_cancel, "export.cancel"},
    {"GET", "/schema", 0, "query", h_schema, NULL},
    {"GET", "/examples", 0, "admin", h_examples_list, NULL},
    {"POST", "/examples", 0, "admin", h_examples_add, "example.add"},
    {"DELETE", "/examples/", 1, "admin", h_examples_delete, "example.delete"},
    {"GET", "/metrics", 0, "admin", h_metrics, NULL},
    {"GET", "/audit", 0, "admin", h_audit, NULL},
    {"GET", "/semantic", 0, "admin", h_semantic, NULL},
    {"GET", "/conversations/", 1, "query", h_convo_get, NULL},
    {"DELETE", "/conversations/", 1, "query", h_convo_delete, "conversation.delete"},
};

static jwtauth_keys *w_jwks; /* this worker's JWKS keys, read at its start */

/* With auth on: the key must exist, carry the route's scope and be within its rate limit.
 * Fills r->owner (jobs and query_ids belong to it). 0, or -1 with err. */
static int authorize(req *r, const route *rt, t2err *err)
{
    const char *key;
    auth_ctx *a = &r->auth;
    PGconn *conn;

    if (!r->cf->auth_required || !rt->scope) return 0;
    key =
        auth_key_from_headers(req_header(r, "HTTP_AUTHORIZATION"), req_header(r, "HTTP_X_API_KEY"));
    if (!key)
        return err_set(err, E_UNAUTHORIZED,
                       "an API key is required: Authorization: Bearer <key> or X-API-Key");
    if (!(conn = pgc_get(&r->x->db, err))) return -1;
    if (jwtauth_looks_like(key)) {
        if (!jwtauth_enabled(r->cf))
            return err_set(err, E_UNAUTHORIZED, "JWT sign-in is not configured; use an API key");
        if (jwtauth_verify(w_jwks, r->cf, key, (long)time(NULL), a, err) < 0) return -1;
        if (!auth_has_scope(a, rt->scope))
            return err_set(err, E_FORBIDDEN, "this token lacks the '%s' scope", rt->scope);
        if (a->role[0] && auth_role_allowed(conn, a->role, err) < 0) {
            pgc_check(&r->x->db);
            return -1;
        }
    } else if (auth_check(conn, key, rt->scope, a, err) < 0) {
        pgc_check(&r->x->db);
        return -1;
    }
    str_copy(r->owner, sizeof r->owner, a->owner);
    str_copy(r->scopes, sizeof r->scopes, a->scopes);
    if (a->limit_per_min < 0) a->limit_per_min = r->cf->rate_limit_per_min;
    if (auth_rate_limit(r->x->cache, a, NULL, err) < 0) return -1;
    r->x->who = a;
    return 0;
}

static volatile sig_atomic_t w_stop;

static void on_term(int sig)
{
    (void)sig;
    w_stop = 1;
}

static sigset_t w_waitmask; /* the signal mask while waiting for a request */

/* SIGTERM/SIGINT (stop) and SIGHUP (retired after a reload) set w_stop: the request in hand
 * is finished either way. They are blocked but while the worker waits for a request, in
 * ppoll() (which then returns EINTR and the worker leaves); while serving they must not
 * interrupt a call, or a slow client's write would fail and the response be cut short by a
 * graceful stop. One mask for the process, and no signal call per request. */
static void term_handler(void)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    struct sigaction sa;
    sigset_t stop;
    size_t i;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&stop);
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        sigaction(sigs[i], &sa, NULL);
        sigaddset(&stop, sigs[i]);
    }
    sigprocmask(SIG_BLOCK, &stop, &w_waitmask);
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigdelset(&w_waitmask, sigs[i]);
}

static int path_matches(const route *rt, const req *r)
{
    return rt->prefix ? path_tail(r, rt->path) != NULL : strcmp(r->path, rt->path) == 0;
}

/* The route r asks for: its index, or -1 with allow[] listing the methods of its path. */
static int find_route(const req *r, char *allow, size_t alen)
{
    const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
    size_t i;

    allow[0] = '\0';
    for (i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!path_matches(&routes[i], r)) continue;
        if (strcmp(routes[i].method, method) == 0) return (int)i;
        if (!strstr(allow, routes[i].method))
            snprintf(allow + strlen(allow), alen - strlen(allow), "%s%s", allow[0] ? ", " : "",
                     routes[i].method);
    }
    return -1;
}

static void dispatch(req *r, int ri, const char *allow)
{
    char hdr[160];
    t2err err;

    if (ri >= 0) {
        r->audit_action = routes[ri].audit;
        if (authorize(r, &routes[ri], &err) < 0)
            http_error(r, &err);
        else
            routes[ri].fn(r);
        r->x->who = NULL;
        return;
    }
    if (allow[0] && strcmp(r->method, "OPTIONS") == 0) { /* CORS preflights: no key needed */
        http_options(r, allow);
        return;
    }
    if (allow[0]) {
        snprintf(hdr, sizeof hdr, "Allow: %s, OPTIONS\r\n", allow);
        err_set(&err, E_METHOD, "method %s is not allowed here; allowed: %s, OPTIONS", r->method,
                allow);
        http_error_extra(r, &err, hdr);
        return;
    }
    err_set(&err, E_NOT_FOUND, "no such endpoint: %s", r->path);
    http_error(r, &err);
}

static audit_batch w_audit; /* this worker's audit rows not written yet */

/* Writes the queued audit rows in one statement. A failure is logged (the rows are lost),
 * never answered. Between requests (between), a database that cannot be reached keeps the
 * rows for another try AUDIT_BATCH_MS later, while the batch has room: a restart of the
 * database loses none, and turns no request away (pgc_get_between). */
static void audit_write(t2ctx *x, const conf *cf, int between)
{
    PGconn *conn;
    t2err err;
    int n = w_audit.n, rc = -2;

    if (!n) return;
    err_clear(&err);
    conn = between ? pgc_get_between(&x->db, &err) : pgc_get(&x->db, &err);
    if (conn && (rc = audit_flush(conn, &w_audit, cf->audit_retention_days, &err)) == 0) return;
    pgc_check(&x->db);
    if (rc == -2 && between && n < AUDIT_BATCH_ROWS) {  /* unreachable, or lost on the way */
        clock_gettime(CLOCK_MONOTONIC, &w_audit.first); /* (the next try's clock) */
        return;
    }
    log_warn("%d audit rows not written: %s", n, err.detail);
    audit_batch_free(&w_audit);
}

/* The request's row in t2sql.audit, queued once the response is complete (the client does
 * not wait for it) and written with the worker's batch: when AUDIT_BATCH_ROWS are queued or
 * the oldest waited AUDIT_BATCH_MS (a busy worker writes many rows per statement, an idle
 * one its row that much later). */
static void audit_request(req *r, double ms)
{
    audit_rec a;
    struct timespec now;
    double at;

    if (!r->audit_action) return;
    audit_init(&a, r->audit_action);
    a.subject = r->auth.subject;
    a.role = r->auth.role;
    a.claims = r->auth.claims_json;
    a.question = r->audit_question.len ? buf_cstr(&r->audit_question) : NULL;
    a.sql = r->audit_sql.len ? buf_cstr(&r->audit_sql) : NULL;
    a.source = r->audit_source;
    a.request_id = r->id;
    a.detail = r->audit_detail[0] ? r->audit_detail : NULL;
    a.status = r->status;
    a.rows = r->audit_rows;
    a.bytes = r->bytes_out;
    a.duration_ms = ms;
    clock_gettime(CLOCK_REALTIME, &now);
    at = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    if (audit_queue(&w_audit, &a, at) < 0) { /* full: write the batch, then queue */
        audit_write(r->x, r->cf, 0);
        if (audit_queue(&w_audit, &a, at) < 0)
            log_warn("audit row for %s not written: it is over %u bytes", r->audit_action,
                     AUDIT_BATCH_BYTES);
    }
    if (audit_batch_wait_ms(&w_audit) == 0) audit_write(r->x, r->cf, 1);
}

static double ms_since(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* One line per request: what was served, to whom, how, and who asked through which proxies.
 * A request slower than slow_request_ms logs its SQL on a second line. */
static void log_request(req *r, double ms, double llm_ms)
{
    char peer[64], xff[160], proto[16];
    const char *rname = r->route >= 0 ? routes[r->route].path : NULL;
    log_kv kv[18];
    char msg[600];
    int n = 0;

    fwd_log_value(peer, sizeof peer, req_header(r, "REMOTE_ADDR"));
    fwd_log_value(xff, sizeof xff, req_header(r, "HTTP_X_FORWARDED_FOR"));
    fwd_log_value(proto, sizeof proto, req_header(r, "HTTP_X_FORWARDED_PROTO"));
    snprintf(msg, sizeof msg, "%.16s %.500s %d %.1f ms", r->method, r->path, r->status, ms);
    kv[n++] = LOG_S("method", r->method);
    kv[n++] = LOG_S("path", r->path);
    kv[n++] = LOG_S("route", rname ? rname : "other");
    kv[n++] = LOG_I("status", r->status);
    kv[n++] = LOG_S("code", err_name(r->code));
    kv[n++] = LOG_N("duration_ms", ms);
    kv[n++] = LOG_S("subject", r->auth.subject[0] ? r->auth.subject : NULL); /* key or JWT */
    kv[n++] = LOG_S("source", r->source);
    if (r->rows >= 0) kv[n++] = LOG_I("rows", r->rows);
    kv[n++] = LOG_I("bytes", r->bytes_out);
    if (llm_ms >= 0) kv[n++] = LOG_N("model_ms", llm_ms);
    if (r->db_ms >= 0) kv[n++] = LOG_N("db_ms", r->db_ms);
    if (r->queue_ms >= 0) kv[n++] = LOG_N("queue_ms", r->queue_ms);
    kv[n++] = LOG_S("peer", peer);
    kv[n++] = LOG_S("xff", xff);
    kv[n++] = LOG_S("proto", proto);
    kv[n++] = LOG_S("detail", r->detail[0] ? r->detail : NULL);
    log_fields(r->status >= 500 ? LOG_WARN : LOG_INFO, msg, kv, n);
    if (r->sql && r->cf->slow_request_ms > 0 && ms >= (double)r->cf->slow_request_ms) {
        log_kv s[3] = {LOG_N("duration_ms", ms), LOG_I("threshold_ms", r->cf->slow_request_ms),
                       LOG_S("sql", r->sql)};
        log_fields(LOG_WARN, "slow request", s, 3);
    }
}

/* When the front end received the request (nginx: T2SQL_REQUEST_START = $msec; Apache:
 * X-T2sql-Start = "t=<microseconds>"), on CLOCK_REALTIME; else now. */
static double received_at(req *r)
{
    const char *v = req_header(r, "T2SQL_REQUEST_START");
    struct timespec now;
    double t = 0, n;

    clock_gettime(CLOCK_REALTIME, &now);
    n = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    if (v && *v)
        t = strtod(v, NULL);
    else if ((v = req_header(r, "HTTP_X_T2SQL_START")) && strncmp(v, "t=", 2) == 0)
        t = strtod(v + 2, NULL) / 1e6;
    return t > n - 3600 && t <= n + 1 ? t : n; /* a clock from elsewhere is not believed */
}

/* A query worker takes a place before it works: it waits until queue_timeout_ms after the
 * front end received the request, then answers 503 overloaded. It sleeps until a place is
 * given back (at most 10 ms at a time), so a freed place is taken at once. 1 = entered, 0 =
 * refused. */
static int gate_wait(req *r)
{
    double t0 = received_at(r), deadline = t0 + (double)r->cf->queue_timeout_ms / 1e3, now;
    struct timespec ts;
    t2err err;

    for (int first = 1;; first = 0) {
        int seq = gate_seq_now(); /* before trying: a place given back after it wakes us */
        long wait_ms;
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
        /* a request that already waited its time in the socket's backlog is refused too */
        if ((now < deadline || (first && r->cf->queue_timeout_ms == 0)) &&
            gate_try_enter((int)r->cf->workers))
            break;
        if (now >= deadline) {
            metrics_add(&metrics_get()->overloaded, 1);
            err_set(&err, E_OVERLOADED,
                    "every query worker stayed busy for %ld ms; try again shortly",
                    r->cf->queue_timeout_ms);
            http_error(r, &err);
            return 0;
        }
        wait_ms = (long)((deadline - now) * 1e3) + 1;
        gate_wait_change(seq, wait_ms > 10 ? 10 : wait_ms);
    }
    r->queue_ms = (now - t0) * 1e3;
    metrics_observe(&metrics_get()->queue, now - t0);
    return 1;
}

static int is_health(int ri)
{
    return ri >= 0 && (routes[ri].fn == h_health || routes[ri].fn == h_ready);
}

/* What a worker holds between requests (worker_max_kept_mb): its base size and, to tell a
 * (re)load of the process's caches from a request that left memory behind, their identity
 * before the request. */
typedef struct mem_bound {
    long base_kb; /* after the first request, or after the latest cache (re)load; -1 = none */
    const void *cat, *gl, *rcat;
    char examples_ver[64];
} mem_bound;

static void mem_bound_mark(mem_bound *m, const t2ctx *x)
{
    m->cat = x->cat;
    m->gl = x->gl;
    m->rcat = x->rcat;
    str_copy(m->examples_ver, sizeof m->examples_ver, x->examples.ver);
}

/* After each request: no request may leave the worker holding more than worker_max_kept_mb
 * over its base (measured after a reconnect and a trim, so it counts the warm caches and no
 * grown buffer). Past it: drop the connection and trim; still past it: -1, the worker retires
 * (the master starts a fresh one). A request that (re)loaded the caches sets a new base. */
static int memory_bound(const conf *cf, t2ctx *x, mem_bound *m)
{
    long rss, limit = cf->worker_max_kept_mb * 1024;
    int reloaded = m->cat != x->cat || m->gl != x->gl || m->rcat != x->rcat ||
                   strcmp(m->examples_ver, x->examples.ver) != 0;

    if (cf->worker_max_kept_mb <= 0 || (rss = mem_rss_kb()) < 0) return 0;
    if (m->base_kb >= 0 && rss <= m->base_kb + limit) return 0;
    pgc_close(&x->db); /* libpq's input buffer keeps the size of the largest row read */
    mem_trim();
    rss = mem_rss_kb();
    if (m->base_kb < 0 || reloaded) {
        m->base_kb = rss;
        log_debug("worker memory base: %ld kB", rss);
        return 0;
    }
    if (rss <= m->base_kb + limit) {
        log_info("worker memory back to %ld kB (base %ld kB) after a reconnect and a trim", rss,
                 m->base_kb);
        return 0;
    }
    log_warn("worker holds %ld kB, more than %ld kB over its base of %ld kB: retiring it", rss,
             limit, m->base_kb);
    return -1;
}

/* The listening socket is shared by all workers: non-blocking, so a worker that loses the
 * race for a connection goes back to waiting (and ticking) instead of blocking in accept(). */
static void set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* 1 when a connection may be waiting (or the kept connection has the next request), 0 when
 * timeout_ms passed first, -EINTR on a signal (the only place a stop signal is let through). */
static int wait_for_request(const FCGX_Request *fr, int listen_fd, long timeout_ms)
{
    struct pollfd p = {fr->ipcFd >= 0 ? fr->ipcFd : listen_fd, POLLIN, 0};
    struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
    int n;

    n = ppoll(&p, 1, &ts, &w_waitmask);
    return n > 0 ? 1 : n == 0 ? 0 : -EINTR;
}

int worker_run(const conf *cf, int listen_fd, int gated)
{
    FCGX_Request fr;
    t2ctx x;
    struct sigaction sa;
    long served = 0;
    const char *names[sizeof routes / sizeof routes[0]];
    size_t i;
    mem_bound mb = {-1, NULL, NULL, NULL, ""};

    for (i = 0; i < sizeof routes / sizeof routes[0]; i++)
        names[i] = routes[i].path;
    metrics_set_routes(names, (int)(sizeof routes / sizeof routes[0]));
    term_handler();
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    if (t2ctx_init(&x, cf, "t2sql") < 0) {
        log_error("worker initialisation failed");
        return 1;
    }
    {
        char msg[512];
        if (jwtauth_load(cf, &w_jwks, msg, sizeof msg) < 0) {
            log_error("%s", msg); /* the master checked it at start; a bad file since: no JWKS */
            w_jwks = NULL;
        }
    }
    if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_error("FCGX_InitRequest failed");
        return 1;
    }
    audit_batch_init(&w_audit);
    log_debug("worker ready");
    mem_bound_mark(&mb, &x);
    set_nonblocking(listen_fd);
    while (!w_stop) {
        struct timespec t0, t1;
        double calls[LLM_TIMINGS], llm_ms = -1;
        char allow[128];
        req r;
        int ready, rc, ri, k, nl, entered = 0;
        long wait_ms, audit_ms;

        t2ctx_tick(&x); /* catalog, glossary and examples are checked here, between requests */
        wait_ms = t2ctx_tick_in_ms(&x);
        if ((audit_ms = audit_batch_wait_ms(&w_audit)) >= 0 && audit_ms < wait_ms)
            wait_ms = audit_ms; /* queued audit rows: wake when they are due */
        ready = w_stop ? 0 : wait_for_request(&fr, listen_fd, wait_ms);
        rc = w_stop ? -1 : ready > 0 ? FCGX_Accept_r(&fr) : -EAGAIN;
        if (rc != 0 && audit_batch_wait_ms(&w_audit) == 0) /* (else after this request) */
            audit_write(&x, cf, 1);
        if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR) continue; /* tick, or lost */
        if (rc < 0) break;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        req_init(&r, &fr, cf, &x);
        r.route = ri = find_route(&r, allow, sizeof allow);
        if (is_health(ri) || (!gated && ri >= 0 && routes[ri].fn == h_metrics) ||
            (entered = gate_wait(&r)))
            dispatch(&r, ri, allow);
        if (entered) gate_leave();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        metrics_request(ri < 0 ? M_ROUTE_OTHER : ri, r.status, r.code, ms_since(&t0, &t1) / 1e3);
        metrics_add(&metrics_get()->bytes, (unsigned long)r.bytes_out);
        nl = llm_take_timings(x.llm, calls, LLM_TIMINGS);
        for (k = 0; k < nl; k++) {
            metrics_observe(&metrics_get()->llm, calls[k] / 1e3);
            llm_ms = (llm_ms < 0 ? 0 : llm_ms) + calls[k];
        }
        log_request(&r, ms_since(&t0, &t1), llm_ms);
        metrics_add(&metrics_get()->llm_calls, (unsigned long)x.llm_calls);
        x.llm_calls = 0;
        FCGX_Finish_r(&fr);
        audit_request(&r, (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                              (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        req_free(&r);
        if (memory_bound(cf, &x, &mb) < 0) break;
        mem_bound_mark(&mb, &x); /* a reload from here to the next request's end: a new base */
        if (cf->max_requests && ++served >= cf->max_requests) break;
    }
    audit_write(&x, cf, 0);
    audit_batch_free(&w_audit);
    FCGX_Free(&fr, 1);
    jwtauth_free(w_jwks);
    w_jwks = NULL;
    t2ctx_free(&x);
    return 0;
}
