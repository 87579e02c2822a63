/* worker -- a pre-forked worker: accepts FastCGI requests one at a time on the shared
 * listening socket and routes them; owns its t2ctx (database, Redis, model connections).
 * Between requests, and every T2CTX_CHECK_MS while idle, it ticks the t2ctx (state.h), so
 * catalog, glossary and examples refresh happens outside the requests. */
#ifndef T2_WORKER_H
#define T2_WORKER_H

#include "conf.h"

/* Runs until SIGTERM or SIGHUP (after finishing the request in hand) or max_requests; returns the
 * process exit code. gated: a query worker, which takes a place at the shared gate (at most
 * cf->workers work at once) before it works on a request other than /health and /ready, and
 * answers 503 overloaded when none frees up within queue_timeout_ms of the front end
 * receiving it; 0: a health worker (its own socket), never waiting. */
int worker_run(const conf *cf, int listen_fd, int gated);

#endif
