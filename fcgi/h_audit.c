/* h_audit -- GET /audit: the audit trail (t2sql.audit), filtered and paged, newest first. */
#include "handlers.h"

#include "audit.h"

#include <curl/curl.h>
#include <string.h>

#define AUDIT_PARAMS 10

typedef struct qparam {
    char *name, *value; /* decoded, owned (curl_free) */
} qparam;

/* Splits and percent-decodes QUERY_STRING into at most AUDIT_PARAMS pairs; -1 when there are
 * more or one cannot be decoded. */
static int parse_query(const char *qs, qparam *out, int *n)
{
    const char *p = qs ? qs : "";

    *n = 0;
    while (*p) {
        size_t len = strcspn(p, "&"), k = strcspn(p, "=");
        int nl = 0, vl = 0;
        if (len == 0) {
            p++;
            continue;
        }
        if (*n >= AUDIT_PARAMS) return -1;
        if (k > len) k = len;
        out[*n].name = curl_easy_unescape(NULL, p, (int)k, &nl);
        out[*n].value = curl_easy_unescape(NULL, k < len ? p + k + 1 : "",
                                           k < len ? (int)(len - k - 1) : 0, &vl);
        (*n)++;
        if (!out[*n - 1].name || !out[*n - 1].value || (int)strlen(out[*n - 1].name) != nl ||
            (int)strlen(out[*n - 1].value) != vl)
            return -1;
        p += len;
        if (*p == '&') p++;
    }
    return 0;
}

static int set_filter(audit_filter *f, const char *k, const char *v, t2err *err)
{
    if (strcmp(k, "subject") == 0)
        f->subject = v;
    else if (strcmp(k, "role") == 0)
        f->role = v;
    else if (strcmp(k, "action") == 0)
        f->action = v;
    else if (strcmp(k, "request_id") == 0)
        f->request_id = v;
    else if (strcmp(k, "since") == 0)
        f->since = v;
    else if (strcmp(k, "until") == 0)
        f->until = v;
    else if (strcmp(k, "status") == 0) {
        if (str_to_long(v, 100, 599, &f->status) < 0)
            return err_field(err, "status", "status must be an HTTP status (100 to 599)");
    } else if (strcmp(k, "page") == 0) {
        if (str_to_long(v, 1, 1000000, &f->page) < 0)
            return err_field(err, "page", "page must be an integer from 1 to 1000000");
    } else if (strcmp(k, "page_size") == 0) {
        if (str_to_long(v, 1, 1000, &f->page_size) < 0)
            return err_field(err, "page_size", "page_size must be an integer from 1 to 1000");
    } else {
        return err_field(err, "query",
                         "unknown parameter '%.40s'; known: subject, role, action, "
                         "request_id, since, until, status, page, page_size",
                         k);
    }
    return 0;
}

int h_audit(req *r)
{
    qparam qp[AUDIT_PARAMS];
    audit_filter f;
    json_object *j = NULL;
    PGconn *conn;
    t2err err;
    int i, n = 0, rc;

    err_clear(&err);
    memset(qp, 0, sizeof qp);
    memset(&f, 0, sizeof f);
    f.page = 1;
    f.page_size = 50;
    if (parse_query(req_header(r, "QUERY_STRING"), qp, &n) < 0) {
        err_field(&err, "query", "the query string is malformed or has more than %d parameters",
                  AUDIT_PARAMS);
        goto done;
    }
    for (i = 0; i < n; i++)
        if (set_filter(&f, qp[i].name, qp[i].value, &err) < 0) goto done;
    if ((conn = pgc_get(&r->x->db, &err)) && audit_list_json(conn, &f, &j, &err) < 0)
        pgc_check(&r->x->db);
done:
    rc = j ? http_json(r, 200, j) : http_error(r, &err);
    for (i = 0; i < n; i++) {
        curl_free(qp[i].name);
        curl_free(qp[i].value);
    }
    return rc;
}
