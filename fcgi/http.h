/* http -- one FastCGI request as the handlers see it: method, path, headers, a size-limited
 * body, and the response helpers (JSON documents, JSON errors, streamed bodies).
 *
 * A req lives for one request; req_free() releases its body and parsed JSON. Every
 * response carries X-Request-Id, and the CORS headers when the request's Origin is allowed
 * (cors_allow_origins). The request helpers at the end (path_tail, field_*, question_text)
 * are the one place handlers read paths, JSON fields and questions. */
#ifndef T2_HTTP_H
#define T2_HTTP_H

#include "auth.h"
#include "buf.h"
#include "conf.h"
#include "err.h"
#include "metrics.h"
#include "pipeline.h"

#include <fcgiapp.h>
#include <json-c/json.h>

typedef struct req {
    FCGX_Request *fr;
    const conf *cf;
    t2ctx *x;
    const char *method;
    const char *path; /* decoded path, no query string */
    const char *accept;
    const char *ctype;
    char id[80]; /* X-Request-Id */
    buf body;
    json_object *json;        /* parsed body (req_json), owned */
    char owner[64];           /* the API key's id, "" when anonymous */
    char scopes[64];          /* comma-separated scopes of the key */
    auth_ctx auth;            /* who asks (filled when auth is on); r->x->who points here */
    const char *audit_action; /* the route's audit action (t2sql.audit), NULL = not audited */
    buf audit_question;       /* what was asked and run, copied by the handler */
    buf audit_sql;
    const char *audit_source; /* a static string, NULL = none */
    long long audit_rows;     /* -1 = unknown */
    char audit_detail[128];
    const char *stream_ctype; /* Content-Type of a streamed body */
    const char *stream_extra; /* more header lines for a streamed body ("...\r\n"), or NULL */
    const char *cors_origin;  /* Access-Control-Allow-Origin to send ("*" or the request's
                               * Origin), NULL = none: CORS off or the origin not allowed */
    int cors_vary;            /* the answer depends on Origin (a list is configured) */
    int headers_sent;
    int status;
    long bytes_out;
    /* what the request log and the metrics report */
    int route;          /* index in the worker's route table, -1 = none */
    err_code code;      /* of the error answered, E_OK for a success */
    const char *source; /* where the SQL came from, NULL = no question */
    long rows;          /* rows of the page sent, -1 = none */
    double db_ms;       /* database time of the page, -1 = none */
    double queue_ms;    /* wait for a free query worker, -1 = none */
    char *sql;          /* the SQL run (for the slow-request log), owned */
    char detail[256];   /* the error's detail, "" = none */
} req;

/* Fills r from the FastCGI environment. */
void req_init(req *r, FCGX_Request *fr, const conf *cf, t2ctx *x);
void req_free(req *r);
const char *req_header(req *r, const char *cgi_name); /* e.g. "HTTP_ACCEPT"; NULL if absent */
/* Records what the request asked and ran for its audit row (copies; each may be NULL, the
 * source a static string). */
void req_audit_what(req *r, const char *question, const char *sql, const char *source);
/* Reads and parses the JSON body into r->json (must be an object). 0 or -1 with err
 * (413, 415, 400 bad_json, 422 when it is not an object). */
int req_json(req *r, t2err *err);

/* Writes the status line and headers. length < 0: no Content-Length (streamed); ctype NULL:
 * no Content-Type (204). extra may hold more header lines, each ending in "\r\n". */
int http_headers(req *r, int status, const char *ctype, long length, const char *extra);
/* Sends a complete body (with Content-Length). */
int http_body(req *r, int status, const char *ctype, const char *body, size_t len,
              const char *extra);
/* Sends a JSON document; takes ownership of j. */
int http_json(req *r, int status, json_object *j);
int http_json_extra(req *r, int status, json_object *j, const char *extra);
/* Answers OPTIONS on a known path: 204 with Allow (allow: "GET, POST"), and for a CORS
 * preflight from an allowed origin the Access-Control-Allow-Methods/-Headers/-Max-Age. */
int http_options(req *r, const char *allow);
/* Sends API.md's error document for err (Retry-After where it applies). */
int http_error(req *r, const t2err *err);
int http_error_extra(req *r, const t2err *err, const char *extra);
/* Like http_error_extra() with more's members added to the body (more is consumed). */
int http_error_more(req *r, const t2err *err, const char *extra, json_object *more);
/* Sink callback: the first call sends "200" headers without Content-Length. */
int http_stream_write(void *ctx, const char *p, size_t n);

/* Request helpers every handler uses. */
/* The last path segment after prefix ("/export/status/"), or NULL if there is none. */
const char *path_tail(const req *r, const char *prefix);
/* Reads optional JSON fields with type checks; 0 (absent: *out untouched), 1 (set), or -1
 * with a 422 naming the field. */
int field_int(json_object *o, const char *name, long min, long max, long *out, t2err *err);
int field_str(json_object *o, const char *name, const char **out, t2err *err);
int field_bool(json_object *o, const char *name, int *out, t2err *err);
/* Appends the trimmed question to out if it has 1..max_question_chars characters (UTF-8),
 * else -1 with a 422 on field "question". */
int question_text(const req *r, const char *question, buf *out, t2err *err);
/* The SQL a request names: the user's own (the body's "sql", pipeline_user_sql(); with
 * question or query_id too: 422 on "sql"), the one stored under query_id (when given), else
 * generated from question (trimmed into qtext). None: 422 on "question" saying missing.
 * With the body's "sort" ([{"column": name, "desc": bool}], order.h) g->sql is then that SQL
 * sorted (exec_sorted()); a bad sort is a 422 on "sort". */
int req_sql(req *r, const char *question, const char *query_id, const char *missing, buf *qtext,
            gen_result *g, t2err *err);

#endif
