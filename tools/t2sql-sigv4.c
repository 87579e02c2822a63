/* t2sql-sigv4 -- signs request descriptions read from stdin with core/sigv4, one per line.
 *
 * Input: one JSON object per line: {"mode": "header"|"presign", "method", "host", "path",
 * "query": [[name, value|null], ...], "headers": [[name, value], ...], "payload" (hex or
 * "UNSIGNED-PAYLOAD"; absent = empty body), "access_key", "secret_key", "token", "region",
 * "time" (unix seconds), "expires" (presign)}. Output: one line per request, the
 * Authorization header value (header) or "<path>?<query>" (presign), or "ERROR". Used by
 * tests/integration/test_sigv4_botocore.py to compare with botocore. */
#include "buf.h"
#include "sigv4.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KV 48

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
        return NULL;
    return json_object_get_string(v);
}

/* Reads [[name, value], ...] into kv; returns the count or -1. */
static int jpairs(json_object *o, const char *key, sigv4_kv *kv)
{
    json_object *a;
    size_t i, n;

    if (!json_object_object_get_ex(o, key, &a)) return 0;
    n = json_object_array_length(a);
    if (n > MAX_KV) return -1;
    for (i = 0; i < n; i++) {
        json_object *p = json_object_array_get_idx(a, i), *v;
        kv[i].name = json_object_get_string(json_object_array_get_idx(p, 0));
        v = json_object_array_get_idx(p, 1);
        kv[i].value =
            v && !json_object_is_type(v, json_type_null) ? json_object_get_string(v) : NULL;
    }
    return (int)n;
}

static int sign_line(const char *line)
{
    json_object *o = json_tokener_parse(line), *t;
    sigv4_kv q[MAX_KV], h[MAX_KV];
    sigv4_req r;
    sigv4_cred c;
    sigv4_result res;
    buf path = BUF_INIT(0), query = BUF_INIT(0);
    int nq, nh, rc = -1;
    time_t now;
    const char *mode;

    if (!o) return -1;
    nq = jpairs(o, "query", q);
    nh = jpairs(o, "headers", h);
    if (nq < 0 || nh < 0 || !json_object_object_get_ex(o, "time", &t)) goto fail;
    now = (time_t)json_object_get_int64(t);
    memset(&r, 0, sizeof r);
    r.method = jstr(o, "method");
    r.host = jstr(o, "host");
    r.path = jstr(o, "path");
    r.query = q;
    r.nquery = (size_t)nq;
    r.headers = h;
    r.nheaders = (size_t)nh;
    r.payload_sha256 = jstr(o, "payload");
    c.access_key = jstr(o, "access_key");
    c.secret_key = jstr(o, "secret_key");
    c.session_token = jstr(o, "token");
    c.region = jstr(o, "region");
    c.service = "s3";
    mode = jstr(o, "mode");
    if (mode && strcmp(mode, "presign") == 0) {
        json_object *e;
        long exp = json_object_object_get_ex(o, "expires", &e) ? json_object_get_int(e) : 3600;
        if (sigv4_presign(&r, &c, now, exp, &res, &path, &query) < 0) goto fail;
        printf("%s?%s\n", buf_cstr(&path), buf_cstr(&query));
    } else {
        if (sigv4_sign_headers(&r, &c, now, &res, &path, &query) < 0) goto fail;
        printf("%s\n", res.authorization);
    }
    rc = 0;
fail:
    buf_free(&path);
    buf_free(&query);
    json_object_put(o);
    return rc;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (sign_line(line) < 0) printf("ERROR\n");
    }
    free(line);
    return 0;
}
