/* http -- request parsing and response writing over libfcgi; see http.h. */
#include "http.h"

#include "coerce.h"

#include "body.h"
#include "fwd.h"
#include "log.h"

#include <ctype.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

/* An incoming request id is kept only if it is short and plain. */
static int id_ok(const char *s)
{
    size_t n = 0;

    for (; *s; s++, n++)
        if (n >= 64 || !(isalnum((unsigned char)*s) || strchr("-_.:", *s))) return 0;
    return n > 0;
}

void req_init(req *r, FCGX_Request *fr, const conf *cf, t2ctx *x)
{
    const char *rid;
    unsigned char rnd[12];
    int i;

    memset(r, 0, sizeof *r);
    r->fr = fr;
    r->cf = cf;
    r->x = x;
    r->route = -1;
    r->rows = -1;
    r->db_ms = -1;
    r->queue_ms = -1;
    r->body.max = (size_t)cf->max_body_bytes;
    r->audit_rows = -1;
    r->method = req_header(r, "REQUEST_METHOD");
    r->path = req_header(r, "DOCUMENT_URI");
    if (!r->path) r->path = req_header(r, "SCRIPT_NAME");
    if (!r->method) r->method = "GET";
    if (!r->path) r->path = "/";
    r->path = fwd_strip(r->path, cf->base_path, req_header(r, "HTTP_X_FORWARDED_PREFIX"));
    r->accept = req_header(r, "HTTP_ACCEPT");
    r->ctype = req_header(r, "CONTENT_TYPE");
    switch (conf_origin_allowed(cf, req_header(r, "HTTP_ORIGIN"))) {
    case CONF_ORIGIN_ANY:
        r->cors_origin = "*";
        break;
    case CONF_ORIGIN_LISTED:
        r->cors_origin = req_header(r, "HTTP_ORIGIN");
        break;
    default:
        break;
    }
    r->cors_vary = *cf->cors_allow_origins && !(r->cors_origin && *r->cors_origin == '*');
    rid = req_header(r, "HTTP_X_REQUEST_ID");
    if (rid && id_ok(rid)) {
        str_copy(r->id, sizeof r->id, rid);
    } else {
        if (RAND_bytes(rnd, sizeof rnd) != 1) memset(rnd, 0, sizeof rnd);
        for (i = 0; i < (int)sizeof rnd; i++)
            snprintf(r->id + 2 * i, 3, "%02x", rnd[i]);
    }
    log_set_reqid(r->id);
}

void req_free(req *r)
{
    buf_free(&r->body);
    free(r->sql);
    r->sql = NULL;
    buf_free(&r->audit_question);
    buf_free(&r->audit_sql);
    json_object_put(r->json);
    r->json = NULL;
    log_set_reqid(NULL);
}

void req_audit_what(req *r, const char *question, const char *sql, const char *source)
{
    if (question) {
        buf_reset(&r->audit_question);
        buf_adds(&r->audit_question, question);
    }
    if (sql) {
        buf_reset(&r->audit_sql);
        buf_adds(&r->audit_sql, sql);
    }
    if (source) r->audit_source = source;
}

const char *req_header(req *r, const char *name)
{
    return FCGX_GetParam(name, r->fr->envp);
}

static int ctype_is_json(const char *ct)
{
    size_t n = strcspn(ct, ";");

    while (n && ct[n - 1] == ' ')
        n--;
    return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
           (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

int req_json(req *r, t2err *err)
{
    const char *cl = req_header(r, "CONTENT_LENGTH");
    long len = -1;
    char chunk[16384];
    int n;

    if (cl && *cl && str_to_long(cl, 0, 1L << 40, &len) < 0)
        return err_set(err, E_BAD_JSON, "invalid Content-Length");
    if (len > r->cf->max_body_bytes)
        return err_set(err, E_TOO_LARGE, "the request body is larger than %ld bytes",
                       r->cf->max_body_bytes);
    if (r->ctype && *r->ctype && !ctype_is_json(r->ctype))
        return err_set(err, E_MEDIA_TYPE, "the request body must be application/json");
    while ((n = FCGX_GetStr(chunk, sizeof chunk, r->fr->in)) > 0)
        if (buf_add(&r->body, chunk, (size_t)n) < 0)
            return err_set(err, E_TOO_LARGE, "the request body is larger than %ld bytes",
                           r->cf->max_body_bytes);
    if (r->body.len == 0)
        return err_set(err, E_BAD_JSON, "the request body is empty; a JSON object is expected");
    return body_parse(r->body.p, r->body.len, &r->json, err);
}

int http_headers(req *r, int status, const char *ctype, long length, const char *extra)
{
    char h[1024];
    int n;

    if (r->headers_sent) return 0;
    r->headers_sent = 1;
    r->status = status;
    n = snprintf(h, sizeof h,
                 "Status: %d %s\r\n%s%s%sX-Request-Id: %s\r\n"
                 "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
                 status, reason(status), ctype ? "Content-Type: " : "", ctype ? ctype : "",
                 ctype ? "\r\n" : "", r->id);
    if (length >= 0 && n > 0 && (size_t)n < sizeof h)
        n += snprintf(h + n, sizeof h - (size_t)n, "Content-Length: %ld\r\n", length);
    if (r->cors_vary && n > 0 && (size_t)n < sizeof h)
        n += snprintf(h + n, sizeof h - (size_t)n, "Vary: Origin\r\n");
    if (r->cors_origin && n > 0 && (size_t)n < sizeof h) /* never -Allow-Credentials */
        n += snprintf(h + n, sizeof h - (size_t)n,
                      "Access-Control-Allow-Origin: %s\r\n"
                      "Access-Control-Expose-Headers: X-Request-Id, Retry-After, X-Cache\r\n",
                      r->cors_origin);
    if (n < 0 || (size_t)n >= sizeof h) return -1;
    if (FCGX_PutStr(h, n, r->fr->out) < 0) return -1;
    if (extra && *extra && FCGX_PutS(extra, r->fr->out) < 0) return -1;
    return FCGX_PutStr("\r\n", 2, r->fr->out) < 0 ? -1 : 0;
}

int http_body(req *r, int status, const char *ctype, const char *body, size_t len,
              const char *extra)
{
    if (http_headers(r, status, ctype, (long)len, extra) < 0) return -1;
    r->bytes_out += (long)len;
    return len && FCGX_PutStr(body, (int)len, r->fr->out) < 0 ? -1 : 0;
}

int http_json_extra(req *r, int status, json_object *j, const char *extra)
{
    size_t len;
    const char *s = json_object_to_json_string_length(j, T2_JSON_FLAGS, &len);
    int rc = http_body(r, status, "application/json", s, len, extra);

    json_object_put(j);
    return rc;
}

int http_json(req *r, int status, json_object *j)
{
    return http_json_extra(r, status, j, NULL);
}

int http_options(req *r, const char *allow)
{
    char h[512];
    int n;

    n = snprintf(h, sizeof h, "Allow: %s, OPTIONS\r\n", allow);
    if (r->cors_origin && req_header(r, "HTTP_ACCESS_CONTROL_REQUEST_METHOD") && n > 0 &&
        (size_t)n < sizeof h)
        snprintf(h + n, sizeof h - (size_t)n,
                 "Access-Control-Allow-Methods: %s, OPTIONS\r\n"
                 "Access-Control-Allow-Headers: content-type, authorization, x-api-key, "
                 "x-request-id\r\nAccess-Control-Max-Age: %ld\r\n",
                 allow, r->cf->cors_max_age);
    return http_headers(r, 204, NULL, -1, h);
}

int http_error_more(req *r, const t2err *err, const char *extra, json_object *more)
{
    json_object *j = json_object_new_object();
    char hdr[256] = "";
    int status = err_status(err->code);
    int ra = err->retry_after > 0 ? err->retry_after : err_retry_after(err->code);

    if (err->code == E_INTERNAL) { /* the log has the details; the client gets the id */
        char d[160];
        snprintf(d, sizeof d, "internal error; the server log has the details under request id %s",
                 r->id);
        json_object_object_add(j, "detail", json_object_new_string(d));
    } else {
        json_object_object_add(
            j, "detail",
            json_object_new_string(err->detail[0] ? err->detail : err_name(err->code)));
    }
    json_object_object_add(j, "code", json_object_new_string(err_name(err->code)));
    if (err->field[0]) json_object_object_add(j, "field", json_object_new_string(err->field));
    if (more) {
        json_object_object_foreach(more, k, v) json_object_object_add(j, k, json_object_get(v));
        json_object_put(more);
    }
    if (ra) snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n", ra);
    if (err->code == E_UNAUTHORIZED)
        snprintf(hdr + strlen(hdr), sizeof hdr - strlen(hdr), "WWW-Authenticate: Bearer\r\n");
    if (extra) snprintf(hdr + strlen(hdr), sizeof hdr - strlen(hdr), "%s", extra);
    metrics_add(&metrics_get()->errors[err->code < E__COUNT ? err->code : E_INTERNAL], 1);
    r->code = err->code < E__COUNT ? err->code : E_INTERNAL;
    str_copy(r->detail, sizeof r->detail, err->detail); /* for the request's log line */
    if (r->headers_sent) { /* too late for a status: nothing sensible to add */
        json_object_put(j);
        return -1;
    }
    return http_json_extra(r, status, j, hdr);
}

int http_error_extra(req *r, const t2err *err, const char *extra)
{
    return http_error_more(r, err, extra, NULL);
}

int http_error(req *r, const t2err *err)
{
    return http_error_extra(r, err, NULL);
}

int http_stream_write(void *ctx, const char *p, size_t n)
{
    req *r = ctx;

    if (!r->headers_sent &&
        http_headers(r, 200, r->stream_ctype ? r->stream_ctype : "application/json", -1,
                     r->stream_extra) < 0)
        return -1;
    r->bytes_out += (long)n;
    if (FCGX_PutStr(p, (int)n, r->fr->out) < 0 || FCGX_FFlush(r->fr->out) < 0) return -1;
    return 0;
}

const char *path_tail(const req *r, const char *prefix)
{
    size_t n = strlen(prefix);
    const char *t;

    if (strncmp(r->path, prefix, n) != 0) return NULL;
    t = r->path + n;
    return *t && !strchr(t, '/') ? t : NULL;
}

/* The scalar fields follow the old service's rules (pydantic v1: coerce.h); a member that
 * is absent keeps the default, one that is null is refused as pydantic refuses it. */
int field_int(json_object *o, const char *name, long min, long max, long *out, t2err *err)
{
    json_object *v;
    long long n;
    int rc;

    if (!json_object_object_get_ex(o, name, &v)) return 0;
    if ((rc = coerce_int(v, &n)) == -1) return err_field(err, name, "%s must be an integer", name);
    if (rc < 0 || n < min || n > max)
        return err_field(err, name, "%s must be between %ld and %ld", name, min, max);
    *out = (long)n;
    return 1;
}

int field_str(json_object *o, const char *name, const char **out, t2err *err)
{
    json_object *v, *s;
    char tmp[64];
    int rc;

    if (!json_object_object_get_ex(o, name, &v)) return 0;
    if ((rc = coerce_str(v, tmp, sizeof tmp)) < 0)
        return err_field(err, name, "%s must be a string", name);
    if (rc == 1) { /* a number as pydantic's str() of it, kept in the body's object */
        if (!(s = json_object_new_string(tmp)) || json_object_object_add(o, name, s) < 0)
            return err_set(err, E_INTERNAL, "out of memory");
        v = s;
    }
    *out = json_object_get_string(v);
    return 1;
}

int field_bool(json_object *o, const char *name, int *out, t2err *err)
{
    json_object *v;

    if (!json_object_object_get_ex(o, name, &v)) return 0;
    if (coerce_bool(v, out) < 0) return err_field(err, name, "%s must be true or false", name);
    return 1;
}

int question_text(const req *r, const char *question, buf *out, t2err *err)
{
    const char *a = question, *e = question + strlen(question);
    long chars = 0;
    const char *c;

    if (body_text("question", question, strlen(question), err) < 0) return -1;
    while (*a && strchr(" \t\r\n\f\v", *a))
        a++;
    while (e > a && strchr(" \t\r\n\f\v", e[-1]))
        e--;
    for (c = a; c < e; c++) /* characters, not bytes: count UTF-8 lead bytes */
        chars += ((unsigned char)*c & 0xC0) != 0x80;
    if (chars < 1 || chars > r->cf->max_question_chars || buf_add(out, a, (size_t)(e - a)) < 0)
        return err_field(err, "question", "question must be 1 to %ld characters after trimming",
                         r->cf->max_question_chars);
    return 0;
}

/* Reads "sort" ([{"column": name, "desc": bool}, ...]) into keys: the count, 0 when absent,
 * or -1 with a 422 on "sort". Names point into o. */
static int sort_keys(json_object *o, order_key *keys, t2err *err)
{
    json_object *v, *it, *c, *d;
    size_t i, n;
    int has_desc;

    if (!json_object_object_get_ex(o, "sort", &v)) return 0;
    if (!json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) < 1 ||
        n > ORDER_MAX_SORT)
        return err_field(err, "sort",
                         "sort must be a list of 1 to %d {\"column\": name, \"desc\": "
                         "true|false}",
                         ORDER_MAX_SORT);
    for (i = 0; i < n; i++) {
        it = json_object_array_get_idx(v, i);
        if (!json_object_is_type(it, json_type_object) ||
            !json_object_object_get_ex(it, "column", &c) ||
            !json_object_is_type(c, json_type_string) || !json_object_get_string_len(c) ||
            strlen(json_object_get_string(c)) != (size_t)json_object_get_string_len(c))
            return err_field(err, "sort", "sort[%zu].column must be a column's name", i);
        keys[i].column = json_object_get_string(c);
        keys[i].desc = 0;
        has_desc = json_object_object_get_ex(it, "desc", &d);
        if (has_desc && coerce_bool(d, &keys[i].desc) < 0)
            return err_field(err, "sort", "sort[%zu].desc must be true or false", i);
        if (json_object_object_length(it) != 1 + has_desc)
            return err_field(err, "sort", "sort[%zu] has members other than column and desc", i);
    }
    return (int)n;
}

/* With "sort": g->sql replaced by that SQL sorted (exec_sorted()). */
static int sorted_sql(req *r, gen_result *g, t2err *err)
{
    order_key keys[ORDER_MAX_SORT];
    buf sorted = BUF_INIT(0);
    PGconn *conn;
    int n = sort_keys(r->json, keys, err);

    if (n <= 0) return n;
    sorted.max = g->sql.max;
    if (!(conn = pgc_get(&r->x->db, err))) return -1;
    if (exec_sorted(conn, &r->x->lim, auth_txn_identity(r->x->who), buf_cstr(&g->sql), keys, n,
                    &sorted, err) < 0) {
        if (err->code != E_VALIDATION) pgc_check(&r->x->db);
        buf_free(&sorted);
        return -1;
    }
    buf_free(&g->sql);
    g->sql = sorted;
    return 0;
}

/* req_sql() before the sort. */
static int named_sql(req *r, const char *question, const char *query_id, const char *missing,
                     buf *qtext, gen_result *g, t2err *err)
{
    const char *sql = NULL;

    if (field_str(r->json, "sql", &sql, err) < 0) return -1;
    if (sql && (question || query_id))
        return err_field(err, "sql", "give sql, question or query_id: one of them");
    if (sql) {
        req_audit_what(r, NULL, sql, "user"); /* audited even when the guard refuses it */
        return pipeline_user_sql(r->x, sql, r->owner, g, err);
    }
    if (query_id) return pipeline_query_id(r->x, query_id, r->owner, g, err);
    if (!question) return err_field(err, "question", "%s", missing);
    if (question_text(r, question, qtext, err) < 0) return -1;
    req_audit_what(r, buf_cstr(qtext), NULL, NULL); /* audited even if no SQL comes of it */
    return pipeline_question(r->x, buf_cstr(qtext), r->owner, g, err);
}

int req_sql(req *r, const char *question, const char *query_id, const char *missing, buf *qtext,
            gen_result *g, t2err *err)
{
    if (named_sql(r, question, query_id, missing, qtext, g, err) < 0) return -1;
    return sorted_sql(r, g, err);
}
