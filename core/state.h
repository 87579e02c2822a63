/* state -- the per-process state (t2ctx) every request of a worker uses: the database
 * connection (through db_pool_host when set), the read replica's (replica.h), the cache, the model
 * client, the catalog, glossary, semantic layer and verified examples, the guard policy and
 * execution limits, and the refresh that keeps the catalog, glossary and examples current.
 *
 * Refresh is done between requests: the worker loop calls t2ctx_tick() while idle and after
 * each request, and the check it makes (a catalog probe and the examples' version, one round
 * trip each) runs at most every T2CTX_CHECK_MS, over the connection the process holds (a
 * tick never connects: that is left to the next request). A request only calls t2ctx_ready(), which
 * loads nothing unless the process has no catalog yet or its last check is overdue (a worker
 * that had no moment between requests for longer than T2CTX_CHECK_MS).
 *
 * t2ctx owns everything in it; t2ctx_free() releases it. The catalog and glossary a request
 * reads stay valid until the next t2ctx_tick() or t2ctx_ready() of the same process. */
#ifndef T2_STATE_H
#define T2_STATE_H

#include "auth.h"
#include "cache.h"
#include "catalog.h"
#include "conf.h"
#include "err.h"
#include "examples.h"
#include "exec.h"
#include "glossary.h"
#include "llm.h"
#include "pg.h"
#include "queries.h"
#include "rcache.h"
#include "replica.h"
#include "rolecat.h"
#include "semantic.h"
#include "sqlguard.h"

#include <time.h>

#define T2CTX_CHECK_MS 2000

typedef struct t2ctx {
    const conf *cf;
    pgc db;      /* the primary, or the pooler in front of it (db_pool_host) */
    replica rep; /* the read replica generated SQL's pages read from (REPLICA_NONE = none) */
    cache *cache;
    llm *llm;
    catalog *cat;
    glossary *gl;
    semantic *sem;      /* the semantic layer (pipeline_sem.c); NULL until one has checked */
    glossary *semgl;    /* gl plus one entry per name and synonym of sem, for the model's prompt
                         * (a glossary term the layer defines too is left out); NULL without sem */
    int *semdef;        /* per semgl entry: the definition of sem it stands for, -1 for gl's */
    char sem_probe[64]; /* the catalog probe the layer was last checked against */
    char **schemas;
    int nschemas;
    guard_policy policy;
    txn_limits lim;
    const auth_ctx *who;  /* the request's identity (role, claims) while one is served; NULL =
                           * anonymous or auth off. Set and cleared by the caller. */
    rolecat *rcat;        /* per-role views of cat (made on first use) */
    example_set examples; /* verified examples, reloaded when t2sql.examples changes */
    query_memo stored;    /* query_ids this process stored lately */
    char cat_probe[64];
    struct timespec checked; /* last successful catalog/examples check */
    struct timespec tried;   /* last check, failed or not (ticks are paced by it) */
    long llm_calls;          /* model calls made by this process (for tests and metrics) */
    rcache *rc;              /* the result cache's versions and decisions (result_cache) */
    char guard_ok[64][65];   /* sha256 of cached SQL that passed the guard (direct-mapped) */
} t2ctx;

int t2ctx_init(t2ctx *x, const conf *cf, const char *appname);
void t2ctx_free(t2ctx *x);
/* Between requests: checks the catalog, glossary and examples if the last check is
 * T2CTX_CHECK_MS old, and reloads what changed. Failures are logged; what is loaded stays. */
void t2ctx_tick(t2ctx *x);
/* Milliseconds until the next tick's check is due (0 when it is due now); counted from the
 * last attempt, so a database that is down is asked every T2CTX_CHECK_MS, not in a loop. */
long t2ctx_tick_in_ms(const t2ctx *x);
/* In a request: 0 when a catalog is loaded (checking first only if the last check is
 * overdue), or -1 with err (E_DB_UNAVAILABLE) when none can be had. */
int t2ctx_ready(t2ctx *x, t2err *err);
/* The examples changed (this process wrote them): the next tick checks again at once. */
void t2ctx_examples_changed(t2ctx *x);

#endif
