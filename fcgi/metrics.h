/* metrics -- counters shared by the master and all workers (one anonymous shared mapping
 * made before the workers are forked), rendered as Prometheus text by GET /metrics.
 * Updates are atomic adds; nothing here allocates after metrics_init(). */
#ifndef T2_METRICS_H
#define T2_METRICS_H

#include "buf.h"
#include "err.h"

enum { M_SRC_LLM, M_SRC_CACHE, M_SRC_EXAMPLE, M_SRC_PLANNER, M_SRC__COUNT };

typedef struct metrics {
    unsigned long requests;
    unsigned long status[6]; /* by class: 1xx..5xx, index 1..5 */
    unsigned long errors[E__COUNT];
    unsigned long queries[M_SRC__COUNT];
    unsigned long bytes;
    unsigned long llm_calls;
    unsigned long worker_restarts;
    unsigned long client_aborts;
    unsigned long result_cache_hits, result_cache_misses;
} metrics;

/* Maps the shared block; 0 or -1. */
int metrics_init(void);
metrics *metrics_get(void); /* never NULL after metrics_init() */
void metrics_add(unsigned long *counter, unsigned long n);
void metrics_render(buf *out);

#endif
