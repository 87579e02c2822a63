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
#include "convo.h"
#include "err.h"
#include "state.h"

typedef struct gen_result {
    buf sql;
    char query_id[QUERY_ID_LEN];
    const char *source; /* "llm", "cache", "example", "planner", "user" */
    double generate_ms;
    buf explanation;   /* plain English of what the SQL computes ("" when not known) */
    buf measures_used; /* the semantic layer's measures and ratios used, NUL-separated */
    int nmeasures;
    buf standalone;    /* pipeline_converse(): the question as resolved against earlier turns */
    buf clarification; /* pipeline_converse(): the question asked back (JSON), "" = none */
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
/* pipeline_question() with context (NULL = none): text the model's prompt carries before the
 * question, also part of the question cache's key. A model reply that asks back (see
 * pipeline_clarification()) fills out->clarification when context is given. */
int pipeline_in_context(t2ctx *x, const char *question, const char *context, const char *owner,
                        gen_result *out, t2err *err);
/* pipeline_convo.c: a question in a conversation; c holds its earlier turns (convo.h; none
 * for a new one). With a model the prompt carries the last turns (question and SQL, and
 * rows only with conversation_prompt_rows); without one the planner reads the question as
 * an edit of the last answered turn's standalone question (planner_followup()). An answer
 * to the previous turn's clarification is planned as the option it names. Fills
 * out->standalone; an ambiguous question fills out->clarification and returns 0 with no
 * SQL. 0 or -1 with err. */
int pipeline_converse(t2ctx *x, const char *question, const char *owner, const convo *c,
                      gen_result *out, t2err *err);
/* If reply holds <clarify>{"question": "...", "options": [{"label", "question"}...]}
 * </clarify> (the format the system prompt offers), its JSON goes into out->clarification:
 * 1; else 0. */
int pipeline_clarification(const char *reply, gen_result *out);
/* The SQL behind a query_id returned earlier to the same owner. 0 or -1 (E_NOT_FOUND). */
int pipeline_query_id(t2ctx *x, const char *query_id, const char *owner, gen_result *out,
                      t2err *err);
/* SQL the user wrote (POST /query's "sql"), checked as model SQL is: pipeline_validate(),
 * then stored under a query_id with source "user". E_FORBIDDEN when cf->allow_user_sql is
 * off (or the guard is); else 0 or -1 as pipeline_validate(). */
int pipeline_user_sql(t2ctx *x, const char *sql, const char *owner, gen_result *out, t2err *err);
/* Guard + catalog names + PREPARE. On success the single statement's text (no trailing
 * semicolon) is appended to clean. E_UNSAFE_SQL / E_INVALID_SQL on failure. */
int pipeline_validate(t2ctx *x, const char *sql, buf *clean, t2err *err);

/* pipeline_sem.c: the semantic layer (x->sem, semantic.h). Loads cf->semantic_file and
 * checks every definition with pipeline_validate(); on success x->sem is replaced, on failure
 * it is kept (the old layer) and err names the file, line and definition. 0 or -1. */
int pipeline_semantic_load(t2ctx *x, t2err *err);
/* Loads the layer again when the catalog changed since it was last checked (a refusal is
 * logged and the old layer kept), and rebuilds x->semgl / x->semdef. Called by every
 * question and by GET /semantic after t2ctx_ready(). */
void pipeline_semantic_refresh(t2ctx *x);
/* For the daemons' start-up and SIGHUP (master_ops.check): 0 if cf's semantic layer loads and
 * every definition validates against the database (when the database is reachable; the shape
 * only when it is not), else -1 with the reason in errbuf. */
int pipeline_semantic_check(const conf *cf, char *errbuf, size_t len);
/* Rebuilds x->semgl / x->semdef from x->gl and x->sem (after either changed). 0 or -1. */
int pipeline_semantic_merge(t2ctx *x);
/* The measures and ratios of x->sem that question names (by name or synonym), NUL-separated
 * into names; returns their count. */
int pipeline_semantic_named(const t2ctx *x, const char *question, buf *names);
/* For SQL not written from the layer (the model's, the ordinary planner's, a cache hit): the
 * named measures whose expressions the SQL uses go into out->measures_used, and
 * out->explanation says which tables it reads and which measures it uses. 0 or -1. */
int pipeline_semantic_explain(t2ctx *x, const char *question, gen_result *out);

#endif
