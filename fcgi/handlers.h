/* handlers -- one function per endpoint; each answers the request completely (status,
 * headers, body) and returns 0, or -1 when the client went away. Grouped by file:
 * h_query.c (/query), h_export.c (/export/...), h_misc.c (/health, /ready, /schema,
 * /metrics), h_examples.c (/examples), h_convo.c (/conversations, and the conversation part
 * of /query and /export/start). */
#ifndef T2_HANDLERS_H
#define T2_HANDLERS_H

#include "http.h"

int h_health(req *r);
int h_ready(req *r);
int h_schema(req *r);
int h_semantic(req *r);
int h_metrics(req *r);
int h_audit(req *r);
int h_query(req *r);
int h_export_start(req *r);
int h_export_status(req *r);
int h_export_cancel(req *r);
int h_examples_list(req *r);
int h_examples_add(req *r);
int h_examples_delete(req *r);
int h_convo_get(req *r);
int h_convo_delete(req *r);

/* h_convo.c, for /query and /export/start. convo_begin: the request's conversation from its
 * conversation_id (loaded, 422 / 404 as API.md says), a new one for "new"; *in_context = 1
 * then. Without conversation_id: *in_context = 0 and no conversation (the old contract).
 * 0 or -1 with err; convo_free() after. */
int convo_begin(req *r, convo *c, int *in_context, t2err *err);
/* req_sql(), in the conversation's context when in_context (pipeline_converse()). */
int convo_ask(req *r, const char *question, const char *query_id, const char *missing, buf *qtext,
              gen_result *g, const convo *c, int in_context, t2err *err);
/* Stores the turn: g's answer (columns a JSON array or NULL, total -1 = unknown, rows the
 * first rows comma-separated or NULL), its clarification, or failed's error. A turn that
 * cannot be stored is logged, not answered. */
void convo_record(req *r, const convo *c, const char *question, const gen_result *g,
                  const char *columns, long long total, const char *rows, const t2err *failed);
/* How many first rows a turn keeps for the model's prompt (conversation_prompt_rows). */
#define CONVO_PROMPT_ROWS 5
/* The 200 answer of a question asked back: conversation_id, clarification, no rows. */
int convo_clarify(req *r, const convo *c, const gen_result *g);

#endif
