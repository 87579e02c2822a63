/* metrics -- shared counters, histograms, the gate and their Prometheus text; see metrics.h. */
#include "metrics.h"

#include "jobs.h"
#include "log.h"
#include "mem.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static metrics *m_shared;
static metrics m_local; /* until metrics_init() (and in tools) */

static const double m_bounds[M_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                           1,     2.5,  5,     10,   30,  60,   300};
static const int m_statuses[M_STATUSES] = {200, 201, 204, 302, 400, 401, 403, 404, 405, 409,
                                           413, 415, 422, 429, 500, 502, 503, 504, 431, 0};
static const char *m_routes[M_ROUTES];
static int m_nroutes;

int metrics_init(void)
{
    m_shared = mem_shared(sizeof(metrics));
    return m_shared ? 0 : -1;
}

metrics *metrics_get(void)
{
    return m_shared ? m_shared : &m_local;
}

void metrics_add(unsigned long *counter, unsigned long n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

void metrics_observe(m_hist *h, double seconds)
{
    int i;

    if (seconds < 0) seconds = 0;
    for (i = 0; i < M_BUCKETS && seconds > m_bounds[i]; i++)
        ;
    metrics_add(&h->bucket[i], 1);
    metrics_add(&h->sum_us, (unsigned long)(seconds * 1e6));
    metrics_add(&h->count, 1);
}

int metrics_status_index(int status)
{
    int i;

    for (i = 0; i < M_STATUSES - 1; i++)
        if (m_statuses[i] == status) return i;
    return M_STATUSES - 1;
}

void metrics_set_routes(const char *const *names, int n)
{
    int i;

    m_nroutes = n < M_ROUTE_OTHER ? n : M_ROUTE_OTHER;
    for (i = 0; i < m_nroutes; i++)
        m_routes[i] = names[i];
}

void metrics_request(int route, int status, err_code code, double seconds)
{
    metrics *m = metrics_get();
    int si = metrics_status_index(status);

    if (route < 0 || route >= M_ROUTES) route = M_ROUTE_OTHER;
    if (code >= E__COUNT) code = E_INTERNAL;
    metrics_add(&m->requests, 1);
    metrics_add(&m->status[status / 100 % 6], 1);
    metrics_add(&m->responses[si][code], 1);
    metrics_observe(&m->request[route][si], seconds);
}

static const char *route_name(int i)
{
    return i < m_nroutes && m_routes[i] ? m_routes[i] : "other";
}

static void status_label(char *dst, size_t len, int si)
{
    if (m_statuses[si])
        snprintf(dst, len, "%d", m_statuses[si]);
    else
        snprintf(dst, len, "other");
}

/* One histogram's series; labels "" or "a=\"b\",". */
static void render_hist(buf *out, const char *name, const char *labels, const m_hist *h)
{
    unsigned long cum = 0;
    int i;

    for (i = 0; i < M_BUCKETS; i++) {
        cum += h->bucket[i];
        buf_printf(out, "%s_bucket{%sle=\"%g\"} %lu\n", name, labels, m_bounds[i], cum);
    }
    cum += h->bucket[M_BUCKETS];
    buf_printf(out, "%s_bucket{%sle=\"+Inf\"} %lu\n", name, labels, cum);
    buf_printf(out, "%s_sum%s%.*s%s %.6f\n%s_count%s%.*s%s %lu\n", name, *labels ? "{" : "",
               *labels ? (int)strlen(labels) - 1 : 0, labels, *labels ? "}" : "",
               (double)h->sum_us / 1e6, name, *labels ? "{" : "",
               *labels ? (int)strlen(labels) - 1 : 0, labels, *labels ? "}" : "", h->count);
}

static void render_counters(buf *out, const metrics *m)
{
    static const char *src[] = {"llm", "cache", "example", "planner", "user"};
    char st[16];
    int i, k;

    buf_printf(out, "# HELP t2sql_requests_total HTTP requests handled by the workers.\n"
                    "# TYPE t2sql_requests_total counter\n");
    for (i = 1; i <= 5; i++)
        buf_printf(out, "t2sql_requests_total{class=\"%dxx\"} %lu\n", i, m->status[i]);
    buf_printf(out, "# HELP t2sql_responses_total Responses by HTTP status and code (\"ok\" for "
                    "a success).\n# TYPE t2sql_responses_total counter\n");
    for (i = 0; i < M_STATUSES; i++)
        for (k = 0; k < E__COUNT; k++)
            if (m->responses[i][k]) {
                status_label(st, sizeof st, i);
                buf_printf(out, "t2sql_responses_total{status=\"%s\",code=\"%s\"} %lu\n", st,
                           err_name((err_code)k), m->responses[i][k]);
            }
    buf_printf(out, "# HELP t2sql_errors_total Error responses by code.\n"
                    "# TYPE t2sql_errors_total counter\n");
    for (i = 1; i < E__COUNT; i++)
        if (m->errors[i])
            buf_printf(out, "t2sql_errors_total{code=\"%s\"} %lu\n", err_name((err_code)i),
                       m->errors[i]);
    buf_printf(out, "# HELP t2sql_queries_total Answered questions by where the SQL came from.\n"
                    "# TYPE t2sql_queries_total counter\n");
    for (i = 0; i < M_SRC__COUNT; i++)
        buf_printf(out, "t2sql_queries_total{source=\"%s\"} %lu\n", src[i], m->queries[i]);
    buf_printf(out,
               "# TYPE t2sql_response_bytes_total counter\nt2sql_response_bytes_total %lu\n"
               "# TYPE t2sql_llm_calls_total counter\nt2sql_llm_calls_total %lu\n"
               "# TYPE t2sql_worker_restarts_total counter\nt2sql_worker_restarts_total %lu\n"
               "# TYPE t2sql_client_aborts_total counter\nt2sql_client_aborts_total %lu\n"
               "# HELP t2sql_overloaded_total Requests refused with 503 overloaded.\n"
               "# TYPE t2sql_overloaded_total counter\nt2sql_overloaded_total %lu\n",
               m->bytes, m->llm_calls, m->worker_restarts, m->client_aborts, m->overloaded);
    buf_printf(out,
               "# HELP t2sql_result_cache_total Pages asked for with the result cache on.\n"
               "# TYPE t2sql_result_cache_total counter\n"
               "t2sql_result_cache_total{result=\"hit\"} %lu\n"
               "t2sql_result_cache_total{result=\"miss\"} %lu\n",
               m->result_cache_hits, m->result_cache_misses);
}

void metrics_render(buf *out, PGconn *conn)
{
    const metrics *m = metrics_get();
    char lab[96], st[16];
    int i, k;

    render_counters(out, m);
    buf_printf(out, "# HELP t2sql_request_duration_seconds Request duration by route and "
                    "status.\n# TYPE t2sql_request_duration_seconds histogram\n");
    for (i = 0; i < M_ROUTES; i++)
        for (k = 0; k < M_STATUSES; k++) {
            if (!m->request[i][k].count) continue;
            status_label(st, sizeof st, k);
            snprintf(lab, sizeof lab, "route=\"%s\",status=\"%s\",", route_name(i), st);
            render_hist(out, "t2sql_request_duration_seconds", lab, &m->request[i][k]);
        }
    buf_printf(out, "# HELP t2sql_llm_duration_seconds Latency of one language model call.\n"
                    "# TYPE t2sql_llm_duration_seconds histogram\n");
    render_hist(out, "t2sql_llm_duration_seconds", "", &m->llm);
    buf_printf(out, "# HELP t2sql_db_duration_seconds Database time of one page.\n"
                    "# TYPE t2sql_db_duration_seconds histogram\n");
    render_hist(out, "t2sql_db_duration_seconds", "", &m->db);
    buf_printf(out, "# HELP t2sql_queue_wait_seconds Wait for a free query worker.\n"
                    "# TYPE t2sql_queue_wait_seconds histogram\n");
    render_hist(out, "t2sql_queue_wait_seconds", "", &m->queue);
    buf_printf(out,
               "# HELP t2sql_workers_busy Query workers working on a request now.\n"
               "# TYPE t2sql_workers_busy gauge\nt2sql_workers_busy %d\n"
               "# HELP t2sql_workers_limit Query workers that may work at once (workers).\n"
               "# TYPE t2sql_workers_limit gauge\nt2sql_workers_limit %d\n",
               __atomic_load_n(&m->busy, __ATOMIC_RELAXED),
               __atomic_load_n(&m->limit, __ATOMIC_RELAXED));
    jobs_gauge(out, conn, "t2sql_export_jobs", "Export jobs by status.");
}

int gate_try_enter(int limit)
{
    metrics *m = metrics_get();
    pid_t me = log_pid();
    int n = __atomic_load_n(&m->busy, __ATOMIC_RELAXED), i;

    __atomic_store_n(&m->limit, limit, __ATOMIC_RELAXED);
    do {
        if (n >= limit) return 0;
    } while (
        !__atomic_compare_exchange_n(&m->busy, &n, n + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    for (i = 0; i < M_HOLDERS; i++) {
        pid_t z = 0;
        if (__atomic_compare_exchange_n(&m->holder[i], &z, me, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            break;
    }
    return 1;
}

static int gate_release(pid_t pid)
{
    metrics *m = metrics_get();
    int i;

    for (i = 0; i < M_HOLDERS; i++) {
        pid_t p = pid;
        if (__atomic_compare_exchange_n(&m->holder[i], &p, 0, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            __atomic_fetch_sub(&m->busy, 1, __ATOMIC_ACQ_REL);
            /* seq before waiters, both sequentially consistent: a waiter counted after this
             * read finds seq changed and does not sleep */
            __atomic_fetch_add(&m->gate_seq, 1, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&m->gate_waiters, __ATOMIC_SEQ_CST) > 0)
                syscall(SYS_futex, &m->gate_seq, FUTEX_WAKE, 1, NULL, NULL, 0);
            return 1;
        }
    }
    return 0;
}

int gate_seq_now(void)
{
    return __atomic_load_n(&metrics_get()->gate_seq, __ATOMIC_ACQUIRE);
}

void gate_wait_change(int seen, long timeout_ms)
{
    struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
    metrics *m = metrics_get();

    /* (a worker killed while waiting leaves the count high: places given back then always
     * wake, as they did before the count) */
    __atomic_fetch_add(&m->gate_waiters, 1, __ATOMIC_SEQ_CST);
    /* (shared, not FUTEX_PRIVATE: the word is in the mapping every worker inherits) */
    syscall(SYS_futex, &m->gate_seq, FUTEX_WAIT, seen, &ts, NULL, 0);
    __atomic_fetch_sub(&m->gate_waiters, 1, __ATOMIC_SEQ_CST);
}

void gate_leave(void)
{
    gate_release(log_pid());
}

void gate_reap(pid_t pid)
{
    gate_release(pid);
}
