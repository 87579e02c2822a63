/* metrics -- counters, histograms and the query-worker gate, in one anonymous shared mapping
 * made by the master before the workers are forked, so that every worker's observations add
 * up in one place and /metrics (answered by any worker) renders the whole service.
 * Updates are atomic adds; nothing here allocates after metrics_init().
 *
 * Histograms are Prometheus-style: cumulative buckets are computed at render time from
 * per-bucket counts; the sum is kept in microseconds. Route indexes are the worker's route
 * table's (M_ROUTE_OTHER for no route); statuses are folded into a fixed list (others: the
 * last entry). */
#ifndef T2_METRICS_H
#define T2_METRICS_H

#include "buf.h"
#include "err.h"

#include <libpq-fe.h>
#include <sys/types.h>

enum { M_SRC_LLM, M_SRC_CACHE, M_SRC_EXAMPLE, M_SRC_PLANNER, M_SRC_USER, M_SRC__COUNT };

#define M_BUCKETS     14 /* + the +Inf bucket */
#define M_ROUTES      24 /* route table entries; the last is "other" */
#define M_ROUTE_OTHER (M_ROUTES - 1)
#define M_STATUSES    20
#define M_HOLDERS     512

typedef struct m_hist {
    unsigned long bucket[M_BUCKETS + 1]; /* per bucket (not cumulative); last = over the top */
    unsigned long count;
    unsigned long sum_us;
} m_hist;

typedef struct metrics {
    unsigned long requests;
    unsigned long status[6]; /* by class: 1xx..5xx, index 1..5 */
    unsigned long errors[E__COUNT];
    unsigned long responses[M_STATUSES][E__COUNT]; /* by status and code (E_OK = success) */
    unsigned long queries[M_SRC__COUNT];
    unsigned long bytes;
    unsigned long llm_calls;
    unsigned long worker_restarts;
    unsigned long client_aborts;
    unsigned long overloaded;
    m_hist request[M_ROUTES][M_STATUSES];
    m_hist llm;   /* one model call */
    m_hist db;    /* one page's statement, first row to last */
    m_hist queue; /* from the front end's receipt to a free query worker */
    /* the gate: query workers executing now, and who (pid) holds each place */
    int busy;
    int limit;
    pid_t holder[M_HOLDERS];
    int gate_seq;     /* a futex word: counts the places given back (gate_wait_change) */
    int gate_waiters; /* workers in gate_wait_change: a place given back wakes only if > 0 */
    unsigned long result_cache_hits, result_cache_misses;
} metrics;

/* Maps the shared block; 0 or -1. */
int metrics_init(void);
metrics *metrics_get(void); /* never NULL after metrics_init() */
void metrics_add(unsigned long *counter, unsigned long n);
void metrics_observe(m_hist *h, double seconds);
/* Index of a status in the fixed list (M_STATUSES - 1 for one not listed). */
int metrics_status_index(int status);
/* Counts one finished request. code: E_OK for a success. */
void metrics_request(int route, int status, err_code code, double seconds);
/* The route table's paths, for the route label (set once by the worker). */
void metrics_set_routes(const char *const *names, int n);
/* Renders everything; conn (may be NULL) is used for the export jobs gauge. */
void metrics_render(buf *out, PGconn *conn);

/* The gate: a query worker takes a place before it works on a request, and gives it back.
 * Returns 1 (taken) or 0 (all limit places are taken). */
int gate_try_enter(int limit);
void gate_leave(void);
/* The count of places given back so far; read it before gate_try_enter() and pass it to
 * gate_wait_change(), which sleeps until a place is given back after that read (or
 * timeout_ms), so a worker waiting for a place takes it as soon as it is free. */
int gate_seq_now(void);
void gate_wait_change(int seen, long timeout_ms);
/* The master: a worker (pid) is gone; the place it held, if any, is given back. */
void gate_reap(pid_t pid);

#endif
