/* pipeline -- question -> validated SQL, and the per-process state it needs (t2ctx):
 * the database connection, the cache, the model client, the catalog, glossary and
 * verified examples, the guard policy and execution limits.
 *
 * Order of a question: question cache -> a verified example that matches closely ->
 * the model (reply cache, prompt from retrieval) -> guard -> names against the catalog ->
 * PREPARE in the read-only transaction -> on an unknown name or a PostgreSQL error, one
 * repair round with the model -> store under a query_id. Without a model (or with a failing
 * one and planner_fallback on) the offline planner answers. t2ctx owns everything in it;
 * t2ctx_free() releases it. gen_result owns its sql buffer (gen_result_free). */
#ifndef T2_PIPELINE_H
#define T2_PIPELINE_H

#include "auth.h"
#include "buf.h"
#include "cache.h"
#include "catalog.h"
#include "conf.h"
#include "err.h"
#include "exec.h"
#include "glossary.h"
#include "llm.h"
#include "pg.h"
#include "rag.h"
#include "rcache.h"
#include "rolecat.h"
#include "sqlguard.h"

#include <time.h>

typedef struct t2example {
    char *question;
    char *sql;
} t2example;

typedef struct t2ctx {
    const conf *cf;
    pgc db;
    cache *cache;
    llm *llm;
    catalog *cat;
    glossary *gl;
    char **schemas;
    int nschemas;
    guard_policy policy;
    txn_limits lim;
    const auth_ctx *who;        /* the request's identity (role, claims) while one is served; NULL =
                                 * anonymous or auth off. Set and cleared by the caller. */
    rolecat *rcat;              /* per-role views of cat (made on first use) */
    struct t2example *examples; /* verified examples, reloaded when t2sql.examples changes */
    int nexamples;
    char examples_ver[64];
    char cat_probe[64];
    struct timespec checked; /* last catalog/examples freshness check */
    long llm_calls;          /* model calls made by this process (for tests and metrics) */
    rcache *rc;              /* the result cache's versions and decisions (result_cache) */
    char guard_ok[64][65];   /* sha256 of cached SQL that passed the guard (direct-mapped) */
    char stored[256][40];    /* query_ids this process stored lately (direct-mapped by hash):
                                a repeated question skips the INSERT into t2sql.queries */
} t2ctx;

typedef struct gen_result {
    buf sql;
    char query_id[40];
    const char *source; /* "llm", "cache", "example", "planner" */
    double generate_ms;
} gen_result;

int t2ctx_init(t2ctx *x, const conf *cf, const char *appname);
void t2ctx_free(t2ctx *x);
/* Makes sure the catalog, glossary and examples are loaded and fresh (checked at most every
 * two seconds). 0 or -1 with err (E_DB_UNAVAILABLE when the database is down). */
int t2ctx_refresh(t2ctx *x, t2err *err);

/* The catalog the request's identity sees: cat itself without a role, else the part of it the
 * role may SELECT (rolecat; valid until the next call). NULL with err when it cannot be
 * known (never the whole catalog then). */
const catalog *pipeline_catalog(t2ctx *x, t2err *err);

void gen_result_init(gen_result *g);
void gen_result_free(gen_result *g);
/* A question -> validated SQL stored under a query_id. 0 or -1 with err. */
int pipeline_question(t2ctx *x, const char *question, const char *owner, gen_result *out,
                      t2err *err);
/* The SQL behind a query_id returned earlier to the same owner. 0 or -1 (E_NOT_FOUND). */
int pipeline_query_id(t2ctx *x, const char *query_id, const char *owner, gen_result *out,
                      t2err *err);
/* Guard + catalog names + PREPARE. On success the single statement's text (no trailing
 * semicolon) is appended to clean. E_UNSAFE_SQL / E_INVALID_SQL on failure. */
int pipeline_validate(t2ctx *x, const char *sql, buf *clean, t2err *err);

#endif
