/* awsreq -- SigV4 header signing of non-S3 AWS requests for libcurl; see awsreq.h. */
#include "awsreq.h"

#include "awscred.h"
#include "log.h"
#include "sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Appends "name: value" to *hdrs; the stack copy is wiped. 0 or -1. */
static int add_header(struct curl_slist **hdrs, const char *name, const char *value)
{
    char line[8400];
    struct curl_slist *n;

    snprintf(line, sizeof line, "%s: %s", name, value);
    n = curl_slist_append(*hdrs, line);
    memset(line, 0, sizeof line);
    if (!n) return -1;
    *hdrs = n;
    return 0;
}

int awsreq_sign(const awsreq *r, buf *path_out, struct curl_slist **hdrs)
{
    sigv4_kv h[] = {{"content-type", r->content_type}};
    sigv4_cred c = {r->access_key, r->secret_key, r->token, r->region, r->service};
    sigv4_req q = {"POST", r->host, r->path, NULL, 0, h, 1, NULL, 1};
    sigv4_result res;
    char sha[65];
    awscred *chain = NULL;
    t2err e;
    int rc = -1;

    if (!r->access_key || !*r->access_key) { /* none configured: the chain's */
        if (!(chain = malloc(sizeof *chain)) || awscred_get(r->region, chain, &e) < 0) {
            if (chain) log_warn("%s: %s", r->service, e.detail);
            goto done;
        }
        c.access_key = chain->access_key;
        c.secret_key = chain->secret_key;
        c.session_token = chain->token;
    }
    sigv4_sha256_hex(r->body, r->len, sha);
    q.payload_sha256 = sha;
    if (sigv4_sign_headers(&q, &c, time(NULL), &res, path_out, NULL) < 0 ||
        add_header(hdrs, "Authorization", res.authorization) < 0 ||
        add_header(hdrs, "x-amz-date", res.amz_date) < 0 ||
        add_header(hdrs, "x-amz-content-sha256", sha) < 0)
        goto done;
    if (c.session_token && *c.session_token &&
        add_header(hdrs, "x-amz-security-token", c.session_token) < 0)
        goto done;
    rc = 0;
done:
    if (chain) {
        awscred_wipe(chain);
        free(chain);
    }
    memset(&res, 0, sizeof res);
    return rc;
}
