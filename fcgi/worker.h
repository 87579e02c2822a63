/* worker -- a pre-forked worker: accepts FastCGI requests one at a time on the shared
 * listening socket and routes them; owns its t2ctx (database, Redis, model connections).
 * Between requests, and every T2CTX_CHECK_MS while idle, it ticks the t2ctx (state.h), so
 * catalog, glossary and examples refresh happens outside the requests. */
#ifndef T2_WORKER_H
#define T2_WORKER_H

#include "conf.h"

/* Runs until SIGTERM or SIGHUP (after finishing the request in hand) or max_requests; returns the
 * process exit code. */
int worker_run(const conf *cf, int listen_fd);

#endif
