/* h_convo -- GET and DELETE /conversations/{id}, and the conversation part of /query and
 * /export/start: which conversation a request belongs to, its question read in context, and
 * the turn it leaves (core/convo.c stores it). */
#include "handlers.h"

#include "log.h"

#include <string.h>

int convo_begin(req *r, convo *c, int *in_context, t2err *err)
{
    const char *id = NULL;
    PGconn *conn;

    memset(c, 0, sizeof *c);
    *in_context = 0;
    if (field_str(r->json, "conversation_id", &id, err) < 0) return -1;
    if (!id) return 0; /* the old contract: no conversation */
    if (strcmp(id, "new") == 0) {
        *in_context = 1;
        return convo_start(c, err);
    }
    if (!convo_valid_id(id))
        return err_field(err, "conversation_id",
                         "conversation_id must be an id returned by /query (\"c_\" and 32 hex "
                         "digits) or \"new\"");
    if (!(conn = pgc_get(&r->x->db, err))) return -1;
    if (convo_load(conn, id, r->owner, r->cf->conversation_retention_s,
                   (int)r->cf->conversation_context_turns, c, err) < 0) {
        if (err->code != E_NOT_FOUND && err->code != E_VALIDATION) pgc_check(&r->x->db);
        return -1;
    }
    if (c->nturns >= r->cf->conversation_max_turns) {
        convo_free(c);
        return err_field(err, "conversation_id",
                         "the conversation holds its %ld turns already; start a new one",
                         r->cf->conversation_max_turns);
    }
    *in_context = 1;
    return 0;
}

int convo_ask(req *r, const char *question, const char *query_id, const char *missing, buf *qtext,
              gen_result *g, const convo *c, int in_context, t2err *err)
{
    if (query_id || !in_context) return req_sql(r, question, query_id, missing, qtext, g, err);
    if (!question) return err_field(err, "question", "%s", missing);
    if (question_text(r, question, qtext, err) < 0) return -1;
    req_audit_what(r, buf_cstr(qtext), NULL, NULL);
    return pipeline_converse(r->x, buf_cstr(qtext), r->owner, c, g, err);
}

void convo_record(req *r, const convo *c, const char *question, const gen_result *g,
                  const char *columns, long long total, const char *rows, const t2err *failed)
{
    convo_turn_in t;
    char ej[700];
    buf rj = BUF_INIT(1u << 20);
    t2err err;
    PGconn *conn;
    json_object *e = NULL;

    memset(&t, 0, sizeof t);
    t.question = question;
    t.row_count = total;
    if (failed) {
        e = json_object_new_object();
        json_object_object_add(e, "detail", json_object_new_string(failed->detail));
        json_object_object_add(e, "code", json_object_new_string(err_name(failed->code)));
        str_copy(ej, sizeof ej, json_object_to_json_string(e));
        json_object_put(e);
        t.error_json = ej;
    } else if (g->clarification.len) {
        t.clarification_json = buf_cstr(&g->clarification);
        t.standalone = g->standalone.len ? buf_cstr(&g->standalone) : question;
        t.source = g->source;
    } else {
        t.standalone = g->standalone.len ? buf_cstr(&g->standalone) : question;
        t.sql = buf_cstr(&g->sql);
        t.query_id = g->query_id;
        t.columns_json = columns && columns[0] ? columns : NULL;
        t.source = g->source;
        t.explanation = g->explanation.len ? buf_cstr(&g->explanation) : NULL;
        if (rows && buf_printf(&rj, "[%s]", rows[0] == ',' ? rows + 1 : rows) == 0)
            t.rows_json = buf_cstr(&rj);
    }
    err_clear(&err);
    if (!(conn = pgc_get(&r->x->db, &err)) ||
        convo_add_turn(conn, c, r->owner, r->cf->conversation_max_turns,
                       r->cf->conversation_retention_s, &t, &err) < 0) {
        log_warn("[%s] conversation %s: the turn was not stored: %s", r->id, c->id, err.detail);
        if (conn && err.code != E_NOT_FOUND && err.code != E_VALIDATION) pgc_check(&r->x->db);
    }
    buf_free(&rj);
}

int convo_clarify(req *r, const convo *c, const gen_result *g)
{
    json_object *j = json_object_new_object(),
                *cl = json_tokener_parse(buf_cstr(&g->clarification));

    json_object_object_add(j, "conversation_id", json_object_new_string(c->id));
    json_object_object_add(j, "clarification", cl);
    json_object_object_add(j, "source", json_object_new_string(g->source ? g->source : "planner"));
    json_object_object_add(j, "columns", json_object_new_array());
    json_object_object_add(j, "rows", json_object_new_array());
    return http_json(r, 200, j);
}

int h_convo_get(req *r)
{
    t2err err;
    const char *id = path_tail(r, "/conversations/");
    json_object *j = NULL;
    PGconn *conn;

    err_clear(&err);
    if (!(conn = pgc_get(&r->x->db, &err))) return http_error(r, &err);
    if (convo_list_json(conn, id ? id : "", r->owner, r->cf->conversation_retention_s, &j, &err) <
        0) {
        if (err.code != E_NOT_FOUND && err.code != E_VALIDATION) pgc_check(&r->x->db);
        return http_error(r, &err);
    }
    return http_json(r, 200, j);
}

int h_convo_delete(req *r)
{
    t2err err;
    const char *id = path_tail(r, "/conversations/");
    PGconn *conn;

    err_clear(&err);
    if (!(conn = pgc_get(&r->x->db, &err))) return http_error(r, &err);
    if (convo_delete(conn, id ? id : "", r->owner, &err) < 0) {
        if (err.code != E_NOT_FOUND && err.code != E_VALIDATION) pgc_check(&r->x->db);
        return http_error(r, &err);
    }
    snprintf(r->audit_detail, sizeof r->audit_detail, "conversation %.40s", id);
    return http_body(r, 204, "application/json", "", 0, NULL);
}
