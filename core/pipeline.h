/* pipeline -- question -> validated SQL, over the process state of state.h (t2ctx).
 *
 * Order of a question: question cache -> a verified example that matches closely ->
 * the model (reply cache, prompt from retrieval) -> guard -> names against the catalog ->
 * PREPARE in the read-only transaction -> on an unknown name or a PostgreSQL error, one
 * repair round with the model -> store under a query_id (queries.h). Without a model (or
 * with a failing one and planner_fallback on) the offline planner answers. The pipeline
 * reads the catalog, glossary and examples the state holds and refreshes none of them.
 * gen_result owns its sql buffer (gen_result_free); its source is a static string. */
#ifndef T2_PIPELINE_H
#define T2_PIPELINE_H

#include "buf.h"
#include "err.h"
#include "state.h"

typedef struct gen_result {
    buf sql;
    char query_id[QUERY_ID_LEN];
    const char *source; /* "llm", "cache", "example", "planner" */
    double generate_ms;
} gen_result;

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
