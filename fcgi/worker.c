/* worker -- the accept loop, routing and per-request bookkeeping; see worker.h. */
#include "worker.h"

#include "audit.h"
#include "auth.h"
#include "fwd.h"
#include "handlers.h"
#include "jwtauth.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
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

/* SIGTERM/SIGINT (stop) and SIGHUP (retired after a reload) set w_stop: the request in hand
 * is finished either way. While waiting in accept() they interrupt it (the worker then
 * leaves); while serving they must not (SA_RESTART), or a slow client's write would fail and
 * the response be cut short by a graceful stop. */
static void term_handler(int restart)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static int path_matches(const route *rt, const req *r)
{
    return rt->prefix ? path_tail(r, rt->path) != NULL : strcmp(r->path, rt->path) == 0;
}

static void dispatch(req *r)
{
    char allow[128] = "", hdr[160];
    const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
    size_t i;
    t2err err;

    for (i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!path_matches(&routes[i], r)) continue;
        if (strcmp(routes[i].method, method) == 0) {
            r->audit_action = routes[i].audit;
            if (authorize(r, &routes[i], &err) < 0)
                http_error(r, &err);
            else
                routes[i].fn(r);
            r->x->who = NULL;
            return;
        }
        if (!strstr(allow, routes[i].method))
            snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s",
                     allow[0] ? ", " : "", routes[i].method);
    }
    if (allow[0] && strcmp(method, "OPTIONS") == 0) { /* CORS preflights: no key needed */
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

/* The request's row in t2sql.audit, written once the response is complete (the client does
 * not wait for it). A failure is logged, never answered. */
static void audit_request(req *r, double ms)
{
    audit_rec a;
    PGconn *conn;
    t2err err;

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
    if (!(conn = pgc_get(&r->x->db, &err)) ||
        audit_add(conn, &a, r->cf->audit_retention_days, &err) < 0) {
        log_warn("audit row for %s not written: %s", r->audit_action, err.detail);
        pgc_check(&r->x->db);
    }
}

/* One line per request: what was served, and who asked through which proxies. */
static void log_request(req *r, const struct timespec *t0, const struct timespec *t1)
{
    char peer[64], xff[160], proto[16];

    fwd_log_value(peer, sizeof peer, req_header(r, "REMOTE_ADDR"));
    fwd_log_value(xff, sizeof xff, req_header(r, "HTTP_X_FORWARDED_FOR"));
    fwd_log_value(proto, sizeof proto, req_header(r, "HTTP_X_FORWARDED_PROTO"));
    log_info("%s %s %d %.1f ms peer=%s xff=\"%s\" proto=%s", r->method, r->path, r->status,
             (double)(t1->tv_sec - t0->tv_sec) * 1e3 + (double)(t1->tv_nsec - t0->tv_nsec) / 1e6,
             peer, xff, proto);
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

/* 1 when a connection may be waiting (or a kept connection is open), 0 when timeout_ms
 * passed first, -EINTR on a signal. */
static int wait_for_request(const FCGX_Request *fr, int listen_fd, long timeout_ms)
{
    struct pollfd p = {listen_fd, POLLIN, 0};
    int n;

    if (fr->ipcFd >= 0) return 1;
    n = poll(&p, 1, timeout_ms > INT_MAX ? INT_MAX : (int)timeout_ms);
    return n > 0 ? 1 : n == 0 ? 0 : -EINTR;
}

int worker_run(const conf *cf, int listen_fd)
{
    FCGX_Request fr;
    t2ctx x;
    struct sigaction sa;
    long served = 0;
    mem_bound mb = {-1, NULL, NULL, NULL, ""};

    term_handler(1);
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
    log_debug("worker ready");
    mem_bound_mark(&mb, &x);
    set_nonblocking(listen_fd);
    while (!w_stop) {
        struct timespec t0, t1;
        req r;
        int ready, rc;

        t2ctx_tick(&x); /* catalog, glossary and examples are checked here, between requests */
        term_handler(0);
        ready = w_stop ? 0 : wait_for_request(&fr, listen_fd, t2ctx_tick_in_ms(&x));
        rc = w_stop ? -1 : ready > 0 ? FCGX_Accept_r(&fr) : -EAGAIN;
        term_handler(1);
        if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR) continue; /* tick, or lost */
        if (rc < 0) break;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        req_init(&r, &fr, cf, &x);
        dispatch(&r);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        metrics_add(&metrics_get()->requests, 1);
        metrics_add(&metrics_get()->status[r.status / 100 % 6], 1);
        metrics_add(&metrics_get()->bytes, (unsigned long)r.bytes_out);
        log_request(&r, &t0, &t1);
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
    FCGX_Free(&fr, 1);
    jwtauth_free(w_jwks);
    w_jwks = NULL;
    t2ctx_free(&x);
    return 0;
}
