/* sigv4 -- SigV4 canonical requests, string to sign and signatures for S3; see sigv4.h. */
#include "sigv4.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGV4_MAX_PAIRS 64

typedef struct sv_pair {
    char *name;  /* owned */
    char *value; /* owned */
} sv_pair;

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256(data, n, md);
    hex_encode(md, sizeof md, out);
}

static void hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int olen = 32;

    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &olen);
}

void sigv4_hmac_sha256_hex(const void *key, size_t klen, const void *msg, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int olen = 32;

    HMAC(EVP_sha256(), key, (int)klen, msg, n, md, &olen);
    hex_encode(md, sizeof md, out);
    memset(md, 0, sizeof md);
}

void sigv4_md5_hex(const void *data, size_t n, char out[33])
{
    unsigned char md[16];
    unsigned int olen = 16;

    EVP_Digest(data, n, md, &olen, EVP_md5(), NULL);
    hex_encode(md, sizeof md, out);
}

int sigv4_uri_encode(buf *out, const char *s, size_t n, int keep_slash)
{
    static const char hx[] = "0123456789ABCDEF";
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~' ||
            (keep_slash && ch == '/')) {
            if (buf_addc(out, (char)ch) < 0) return -1;
        } else {
            char e[3] = {'%', hx[ch >> 4], hx[ch & 15]};
            if (buf_add(out, e, 3) < 0) return -1;
        }
    }
    return 0;
}

static int pair_cmp(const void *a, const void *b)
{
    const sv_pair *x = a, *y = b;
    int d = strcmp(x->name, y->name);

    return d ? d : strcmp(x->value, y->value);
}

static void pairs_free(sv_pair *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].value);
    }
}

/* Moves a and b into p[*n] as one pair. 0, or -1 (both freed). */
static int pair_take(sv_pair *p, size_t *n, buf *a, buf *b)
{
    p[*n].name = buf_steal(a);
    p[*n].value = buf_steal(b);
    if (!p[*n].name || !p[*n].value) {
        free(p[*n].name);
        free(p[*n].value);
        return -1;
    }
    (*n)++;
    return 0;
}

/* Adds a query pair, URI-encoding name and value. */
static int qpair_add(sv_pair *p, size_t *n, const char *name, const char *value)
{
    buf a = BUF_INIT(0), b = BUF_INIT(0);

    if (*n >= SIGV4_MAX_PAIRS || !name) return -1;
    if (!value) value = "";
    if (sigv4_uri_encode(&a, name, strlen(name), 0) < 0 ||
        sigv4_uri_encode(&b, value, strlen(value), 0) < 0)
        goto fail;
    return pair_take(p, n, &a, &b);
fail:
    buf_free(&a);
    buf_free(&b);
    return -1;
}

/* Adds a header pair: name lowercased, value trimmed with inner whitespace runs collapsed. */
static int hpair_add(sv_pair *p, size_t *n, const char *name, const char *value)
{
    buf a = BUF_INIT(0), b = BUF_INIT(0);
    const char *s;
    int pend = 0;

    if (*n >= SIGV4_MAX_PAIRS || !name || !value) return -1;
    for (s = name; *s; s++)
        if (buf_addc(&a, (char)tolower((unsigned char)*s)) < 0) goto fail;
    for (s = value; *s; s++) {
        if (isspace((unsigned char)*s)) {
            pend = b.len > 0;
            continue;
        }
        if ((pend && buf_addc(&b, ' ') < 0) || buf_addc(&b, *s) < 0) goto fail;
        pend = 0;
    }
    return pair_take(p, n, &a, &b);
fail:
    buf_free(&a);
    buf_free(&b);
    return -1;
}

static int join_pairs(buf *out, sv_pair *p, size_t n)
{
    size_t i;

    qsort(p, n, sizeof *p, pair_cmp);
    for (i = 0; i < n; i++)
        if (buf_printf(out, "%s%s=%s", i ? "&" : "", p[i].name, p[i].value) < 0) return -1;
    return 0;
}

static const char *svc(const sigv4_cred *c)
{
    return c->service && *c->service ? c->service : "s3";
}

/* The common core: canonical request -> string to sign -> signature into res. */
static int sign_core(const sigv4_req *r, const sigv4_cred *c, const char *amz_date,
                     const char *enc_path, const char *canon_query, sv_pair *hp, size_t nh,
                     const char *payload, sigv4_result *res, buf *signed_headers)
{
    buf cr = BUF_INIT(0), sts = BUF_INIT(0), twice = BUF_INIT(0);
    char crhash[65], date[9];
    unsigned char k[32], k2[32];
    size_t i, slen;
    char *kin = NULL;
    int rc = -1;

    qsort(hp, nh, sizeof *hp, pair_cmp);
    for (i = 0; i < nh; i++)
        if (buf_printf(signed_headers, "%s%s", i ? ";" : "", hp[i].name) < 0) goto fail;
    /* S3 signs the path as sent; every other service signs it URI-encoded once more */
    if (strcmp(svc(c), "s3") != 0) {
        if (sigv4_uri_encode(&twice, enc_path, strlen(enc_path), 1) < 0) goto fail;
        enc_path = buf_cstr(&twice);
    }
    if (buf_printf(&cr, "%s\n%s\n%s\n", r->method, enc_path, canon_query) < 0) goto fail;
    for (i = 0; i < nh; i++)
        if (buf_printf(&cr, "%s:%s\n", hp[i].name, hp[i].value) < 0) goto fail;
    if (buf_printf(&cr, "\n%s\n%s", buf_cstr(signed_headers), payload) < 0) goto fail;
    sigv4_sha256_hex(cr.p, cr.len, crhash);
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    if (buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date,
                   c->region, svc(c), crhash) < 0)
        goto fail;
    slen = strlen(c->secret_key);
    if (!(kin = malloc(slen + 5))) goto fail;
    memcpy(kin, "AWS4", 4);
    memcpy(kin + 4, c->secret_key, slen + 1);
    hmac((const unsigned char *)kin, slen + 4, date, k);
    hmac(k, 32, c->region, k2);
    hmac(k2, 32, svc(c), k);
    hmac(k, 32, "aws4_request", k2);
    hmac(k2, 32, buf_cstr(&sts), k);
    hex_encode(k, 32, res->signature);
    rc = 0;
fail:
    if (kin) {
        memset(kin, 0, slen + 5);
        free(kin);
    }
    memset(k, 0, sizeof k);
    memset(k2, 0, sizeof k2);
    buf_free(&cr);
    buf_free(&sts);
    buf_free(&twice);
    return rc;
}

static int fmt_date(time_t now, char out[17])
{
    struct tm tm;

    if (!gmtime_r(&now, &tm)) return -1;
    return strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) == 16 ? 0 : -1;
}

static int check_req(const sigv4_req *r, const sigv4_cred *c)
{
    if (!r->method || !r->host || !r->path || r->path[0] != '/' || !c->access_key ||
        !c->secret_key || !c->region || r->nquery + r->nheaders + 8 > SIGV4_MAX_PAIRS)
        return -1;
    return 0;
}

/* Hands the encoded path and query to the caller's buffers when signing worked (rc == 0), then
 * frees the request's pairs and work buffers either way; returns rc, or -1 if a copy failed. */
static int sign_finish(int rc, sv_pair *qp, size_t nq, sv_pair *hp, size_t nh, buf *path,
                       buf *query, buf *sh, buf *path_out, buf *query_out)
{
    if (rc == 0 && ((path_out && buf_add(path_out, buf_cstr(path), path->len) < 0) ||
                    (query_out && buf_add(query_out, buf_cstr(query), query->len) < 0)))
        rc = -1;
    pairs_free(qp, nq);
    pairs_free(hp, nh);
    buf_free(path);
    buf_free(query);
    buf_free(sh);
    return rc;
}

int sigv4_sign_headers(const sigv4_req *r, const sigv4_cred *c, time_t now, sigv4_result *res,
                       buf *path_out, buf *query_out)
{
    sv_pair qp[SIGV4_MAX_PAIRS], hp[SIGV4_MAX_PAIRS];
    size_t nq = 0, nh = 0, i;
    buf path = BUF_INIT(0), query = BUF_INIT(0), sh = BUF_INIT(0);
    const char *payload = r->payload_sha256 ? r->payload_sha256 : SIGV4_EMPTY_SHA256;
    int rc = -1, n;

    if (check_req(r, c) < 0 || fmt_date(now, res->amz_date) < 0) return -1;
    for (i = 0; i < r->nquery; i++)
        if (qpair_add(qp, &nq, r->query[i].name, r->query[i].value) < 0) goto fail;
    for (i = 0; i < r->nheaders; i++)
        if (hpair_add(hp, &nh, r->headers[i].name, r->headers[i].value) < 0) goto fail;
    if (hpair_add(hp, &nh, "host", r->host) < 0 ||
        hpair_add(hp, &nh, "x-amz-content-sha256", payload) < 0 ||
        hpair_add(hp, &nh, "x-amz-date", res->amz_date) < 0 ||
        (c->session_token && *c->session_token &&
         hpair_add(hp, &nh, "x-amz-security-token", c->session_token) < 0))
        goto fail;
    if ((r->path_encoded ? buf_add(&path, r->path, strlen(r->path))
                         : sigv4_uri_encode(&path, r->path, strlen(r->path), 1)) < 0 ||
        join_pairs(&query, qp, nq) < 0)
        goto fail;
    if (sign_core(r, c, res->amz_date, buf_cstr(&path), buf_cstr(&query), hp, nh, payload, res,
                  &sh) < 0)
        goto fail;
    n = snprintf(res->authorization, sizeof res->authorization,
                 "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request,SignedHeaders=%s,"
                 "Signature=%s",
                 c->access_key, res->amz_date, c->region, svc(c), buf_cstr(&sh), res->signature);
    if (n < 0 || (size_t)n >= sizeof res->authorization) goto fail;
    rc = 0;
fail:
    return sign_finish(rc, qp, nq, hp, nh, &path, &query, &sh, path_out, query_out);
}

int sigv4_presign(const sigv4_req *r, const sigv4_cred *c, time_t now, long expires,
                  sigv4_result *res, buf *path_out, buf *query_out)
{
    sv_pair qp[SIGV4_MAX_PAIRS], hp[SIGV4_MAX_PAIRS];
    size_t nq = 0, nh = 0, i;
    buf path = BUF_INIT(0), query = BUF_INIT(0), sh = BUF_INIT(0), cred = BUF_INIT(0);
    char exp[24];
    int rc = -1;

    if (check_req(r, c) < 0 || expires < 1 || expires > 604800 || fmt_date(now, res->amz_date) < 0)
        return -1;
    res->authorization[0] = '\0';
    snprintf(exp, sizeof exp, "%ld", expires);
    for (i = 0; i < r->nheaders; i++)
        if (hpair_add(hp, &nh, r->headers[i].name, r->headers[i].value) < 0) goto fail;
    if (hpair_add(hp, &nh, "host", r->host) < 0) goto fail;
    /* X-Amz-SignedHeaders is part of the signed query; sign_core rebuilds the same list. */
    qsort(hp, nh, sizeof *hp, pair_cmp);
    for (i = 0; i < nh; i++)
        if (buf_printf(&sh, "%s%s", i ? ";" : "", hp[i].name) < 0) goto fail;
    if (buf_printf(&cred, "%s/%.8s/%s/%s/aws4_request", c->access_key, res->amz_date, c->region,
                   svc(c)) < 0)
        goto fail;
    for (i = 0; i < r->nquery; i++)
        if (qpair_add(qp, &nq, r->query[i].name, r->query[i].value) < 0) goto fail;
    if (qpair_add(qp, &nq, "X-Amz-Algorithm", "AWS4-HMAC-SHA256") < 0 ||
        qpair_add(qp, &nq, "X-Amz-Credential", buf_cstr(&cred)) < 0 ||
        qpair_add(qp, &nq, "X-Amz-Date", res->amz_date) < 0 ||
        qpair_add(qp, &nq, "X-Amz-Expires", exp) < 0 ||
        qpair_add(qp, &nq, "X-Amz-SignedHeaders", buf_cstr(&sh)) < 0 ||
        (c->session_token && *c->session_token &&
         qpair_add(qp, &nq, "X-Amz-Security-Token", c->session_token) < 0))
        goto fail;
    if (sigv4_uri_encode(&path, r->path, strlen(r->path), 1) < 0 || join_pairs(&query, qp, nq) < 0)
        goto fail;
    buf_reset(&sh);
    if (sign_core(r, c, res->amz_date, buf_cstr(&path), buf_cstr(&query), hp, nh,
                  SIGV4_UNSIGNED_PAYLOAD, res, &sh) < 0)
        goto fail;
    if (buf_printf(&query, "&X-Amz-Signature=%s", res->signature) < 0) goto fail;
    rc = 0;
fail:
    buf_free(&cred);
    return sign_finish(rc, qp, nq, hp, nh, &path, &query, &sh, path_out, query_out);
}
