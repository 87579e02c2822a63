/* pipeline_convo -- a question inside a conversation (pipeline_converse() of pipeline.h):
 * the earlier turns in the model's prompt, the planner's follow-up edit, and answers to a
 * clarification. The turns themselves are stored by the caller (convo.h). */
#include "pipeline.h"

#include "planner.h"
#include "text.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char CONTEXT_TAIL[] =
    "The new question may refer to those turns (\"now by month\", \"only members\", \"what "
    "about Mumbai?\"). Answer it with one standalone SELECT that needs none of the earlier "
    "queries. If it is ambiguous (two join paths, a word naming several columns or values, a "
    "count or a sum), answer <clarify>{\"question\": \"what to ask the user\", \"options\": "
    "[{\"label\": \"short\", \"question\": \"the whole question, unambiguous\"}]}</clarify> "
    "instead.\n";

/* The earlier answered turns for the model's prompt: question and SQL, and the first rows
 * only when conversation_prompt_rows allows data to reach the model. */
static int model_context(const t2ctx *x, const convo *c, buf *ctx)
{
    int i, bad = buf_adds(ctx, "\nEarlier turns of this conversation, oldest first:\n") < 0;

    for (i = 0; i < c->nt && !bad; i++) {
        const convo_turn *t = &c->t[i];
        if (!t->sql) continue;
        bad = buf_printf(ctx, "Turn %d question: %s\nTurn %d SQL: %s\n", t->n,
                         t->standalone ? t->standalone : t->question, t->n, t->sql) < 0;
        if (!bad && x->cf->conversation_prompt_rows && t->rows)
            bad = buf_printf(ctx, "Turn %d first rows: %s\n", t->n, t->rows) < 0;
    }
    return bad || buf_adds(ctx, CONTEXT_TAIL) < 0 ? -1 : 0;
}

/* 1 when question is the label or the question of an option of the last turn's
 * clarification; the option's question goes into q. */
static int clarification_answer(const convo *c, const char *question, buf *q)
{
    json_object *j, *opts, *o, *v;
    const convo_turn *t = c->nt ? &c->t[c->nt - 1] : NULL;
    size_t i, n;
    int found = 0;

    if (!t || !t->clarification || !(j = json_tokener_parse(t->clarification))) return 0;
    if (json_object_object_get_ex(j, "options", &opts) &&
        json_object_is_type(opts, json_type_array)) {
        n = json_object_array_length(opts);
        for (i = 0; i < n && !found; i++) {
            const char *label = NULL, *oq = NULL;
            o = json_object_array_get_idx(opts, i);
            if (json_object_object_get_ex(o, "label", &v)) label = json_object_get_string(v);
            if (json_object_object_get_ex(o, "question", &v)) oq = json_object_get_string(v);
            if (oq &&
                ((label && strcasecmp(label, question) == 0) || strcasecmp(oq, question) == 0))
                found = buf_adds(q, oq) == 0;
        }
    }
    json_object_put(j);
    return found;
}

/* The planner's turn: a follow-up of prev becomes the standalone question it edits. */
static int planner_standalone(t2ctx *x, const convo_turn *prev, const char *question,
                              buf *standalone, t2err *err)
{
    const catalog *cat;
    buf sql = BUF_INIT(1u << 20);
    char why[600];
    int alone;

    if (t2ctx_ready(x, err) < 0 || !(cat = pipeline_catalog(x, err))) return -1;
    /* a whole question stands alone when it plans, or when it is ambiguous: it is asked
     * back then rather than read as an edit of the previous one */
    alone = !prev || (!planner_is_followup(cat, x->gl, question) &&
                      (planner_plan(cat, x->gl, question, &sql, why, sizeof why) == 0 ||
                       (buf_reset(&sql), planner_clarify(cat, x->gl, x->sem, question, &sql))));
    buf_free(&sql);
    if (alone) return buf_adds(standalone, question) < 0 ? err_set(err, E_INTERNAL, "oom") : 0;
    if (planner_followup(cat, x->gl, prev->standalone ? prev->standalone : prev->question, question,
                         standalone, why, sizeof why) < 0)
        return err_set(err, E_CANNOT_ANSWER,
                       "This follow-up cannot be answered from the previous question: %s", why);
    return 0;
}

/* The planner declined q: 1 with out->clarification when it was for two equal readings. */
static int ask_back(t2ctx *x, const char *q, gen_result *out)
{
    t2err e;
    const catalog *cat = pipeline_catalog(x, &e);

    return cat && planner_clarify(cat, x->gl, x->sem, q, &out->clarification);
}

int pipeline_converse(t2ctx *x, const char *question, const char *owner, const convo *c,
                      gen_result *out, t2err *err)
{
    const convo_turn *prev = convo_last_answered(c);
    buf chosen = BUF_INIT(1u << 16), ctx = BUF_INIT(1u << 20);
    int rc = -1;

    if (clarification_answer(c, question, &chosen)) {
        question = buf_cstr(&chosen); /* the option is a whole question */
        prev = NULL;
    }
    if (llm_configured(x->llm)) {
        if (buf_adds(&out->standalone, question) < 0 || (prev && model_context(x, c, &ctx) < 0)) {
            err_set(err, E_INTERNAL, "out of memory building the prompt");
            goto done;
        }
        rc = pipeline_in_context(x, question, ctx.len ? buf_cstr(&ctx) : NULL, owner, out, err);
        goto done;
    }
    if (planner_standalone(x, prev, question, &out->standalone, err) < 0) goto done;
    rc = pipeline_question(x, buf_cstr(&out->standalone), owner, out, err);
    if (rc < 0 && err->code == E_CANNOT_ANSWER && ask_back(x, buf_cstr(&out->standalone), out))
        rc = 0; /* ambiguous: a question back instead of a decline */
done:
    buf_free(&chosen);
    buf_free(&ctx);
    return rc;
}

int pipeline_clarification(const char *reply, gen_result *out)
{
    const char *a = strstr(reply, "<clarify>"), *e;
    json_object *j, *q, *opts;
    int ok;

    if (!a || !(e = strstr(a, "</clarify>"))) return 0;
    a += strlen("<clarify>");
    {
        buf tmp = BUF_INIT(1u << 16);
        j = buf_add(&tmp, a, (size_t)(e - a)) == 0 ? json_tokener_parse(buf_cstr(&tmp)) : NULL;
        buf_free(&tmp);
    }
    ok = j && json_object_object_get_ex(j, "question", &q) &&
         json_object_is_type(q, json_type_string) &&
         json_object_object_get_ex(j, "options", &opts) &&
         json_object_is_type(opts, json_type_array) && json_object_array_length(opts) > 0;
    if (ok) {
        buf_reset(&out->clarification);
        ok = buf_adds(&out->clarification,
                      json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN)) == 0;
    }
    json_object_put(j);
    return ok;
}
