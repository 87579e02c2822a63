/* metrics -- shared counters and their Prometheus text; see metrics.h. */
#include "metrics.h"

#include <string.h>
#include <sys/mman.h>

static metrics *m_shared;
static metrics m_local; /* until metrics_init() (and in tools) */

int metrics_init(void)
{
    void *p =
        mmap(NULL, sizeof(metrics), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) return -1;
    memset(p, 0, sizeof(metrics));
    m_shared = p;
    return 0;
}

metrics *metrics_get(void)
{
    return m_shared ? m_shared : &m_local;
}

void metrics_add(unsigned long *counter, unsigned long n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

void metrics_render(buf *out)
{
    static const char *src[] = {"llm", "cache", "example", "planner"};
    metrics *m = metrics_get();
    int i;

    buf_printf(out, "# HELP t2sql_requests_total HTTP requests handled by the workers.\n"
                    "# TYPE t2sql_requests_total counter\n");
    for (i = 1; i <= 5; i++)
        buf_printf(out, "t2sql_requests_total{class=\"%dxx\"} %lu\n", i, m->status[i]);
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
               "# TYPE t2sql_client_aborts_total counter\nt2sql_client_aborts_total %lu\n",
               m->bytes, m->llm_calls, m->worker_restarts, m->client_aborts);
    buf_printf(out,
               "# HELP t2sql_result_cache_total Pages asked for with the result cache on.\n"
               "# TYPE t2sql_result_cache_total counter\n"
               "t2sql_result_cache_total{result=\"hit\"} %lu\n"
               "t2sql_result_cache_total{result=\"miss\"} %lu\n",
               m->result_cache_hits, m->result_cache_misses);
}
