/* s3 -- S3 addressing and transport: where a request goes, signing it (core/sigv4), sending
 * it with libcurl and retrying it; the S3 operations on top. See s3.h. Does not know about
 * jobs, PostgreSQL or part sizes; S3's XML is core/s3xml's. */
#include "s3.h"

#include "awscred.h"

#include "log.h"
#include "sigv4.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S3_RESP_MAX S3_XML_MAX /* a reply body is kept up to what the XML reader accepts */

/* Where requests go. Each string is malloc'd and owned by the s3_addr. */
typedef struct s3_addr {
    char *scheme; /* "http" or "https" */
    char *host;   /* Host header value */
    char *base;   /* path prefix: "/<bucket>" (path-style, after any endpoint path) or "" */
} s3_addr;

struct s3_client {
    CURL *curl;
    s3_addr addr;
    char *region, *access_key, *secret_key, *token;
    int chain; /* no keys configured: core/awscred's, refreshed before each request */
    long retries;
    char last_code[64]; /* S3 error code of the last failed s3_request, or "" */
    s3_tick_fn tick;
    void *tick_arg;
};

typedef struct s3_body {
    const char *p;
    size_t len, off;
} s3_body;

typedef struct s3_resp {
    long status;
    buf body;
    char etag[S3_ETAG_MAX];
    int64_t length; /* Content-Length header, -1 if none */
} s3_resp;

static pthread_once_t s3_once = PTHREAD_ONCE_INIT;

static void s3_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- addressing ------------------------------------------------------------------------- */

static void s3_addr_free(s3_addr *a)
{
    free(a->scheme);
    free(a->host);
    free(a->base);
    a->scheme = a->host = a->base = NULL;
}

/* Splits endpoint ep ("" = AWS) and conf's bucket/region into scheme, Host and base path. 0,
 * or -1 (no bucket, an endpoint without a host, out of memory) with a left empty. */
static int s3_addr_init(s3_addr *a, const conf *cf, const char *ep)
{
    buf h = BUF_INIT(0), b = BUF_INIT(0);
    const char *p, *slash;

    a->scheme = a->host = a->base = NULL;
    if (!cf->export_bucket || !*cf->export_bucket) return -1;
    if (ep && *ep) {
        p = strncmp(ep, "http://", 7) == 0 ? ep + 7 : strncmp(ep, "https://", 8) == 0 ? ep + 8 : ep;
        a->scheme = strdup(p == ep + 7 ? "http" : "https");
        slash = strchr(p, '/');
        if (buf_add(&h, p, slash ? (size_t)(slash - p) : strlen(p)) < 0 || h.len == 0) goto fail;
        if (slash) {
            size_t n = strlen(slash);
            while (n > 0 && slash[n - 1] == '/')
                n--;
            if (buf_add(&b, slash, n) < 0) goto fail;
        }
        if (buf_printf(&b, "/%s", cf->export_bucket) < 0) goto fail;
    } else {
        a->scheme = strdup("https");
        if (buf_printf(&h, "%s.s3.%s.amazonaws.com", cf->export_bucket, cf->aws_region) < 0 ||
            buf_adds(&b, "") < 0)
            goto fail;
    }
    a->host = buf_steal(&h);
    a->base = buf_steal(&b);
    if (!a->scheme || !a->host || !a->base) goto fail;
    return 0;
fail:
    buf_free(&h);
    buf_free(&b);
    s3_addr_free(a);
    return -1;
}

/* The endpoint presigned URLs name: the one their clients reach (s3_public_endpoint), when
 * it is not the one the service uses. */
static const char *s3_presign_endpoint(const conf *cf)
{
    return cf->s3_public_endpoint && *cf->s3_public_endpoint ? cf->s3_public_endpoint
                                                             : cf->s3_endpoint;
}

/* The raw (unencoded) request path for key. */
static int s3_addr_path(const s3_addr *a, buf *out, const char *key)
{
    while (*key == '/')
        key++;
    return buf_printf(out, "%s/%s", a->base, key);
}

s3_client *s3_new(const conf *cf, t2err *err)
{
    s3_client *s = calloc(1, sizeof *s);

    pthread_once(&s3_once, s3_global_init);
    if (!s) {
        err_set(err, E_INTERNAL, "out of memory");
        return NULL;
    }
    if (s3_addr_init(&s->addr, cf, cf->s3_endpoint) < 0) {
        err_set(err, E_INTERNAL, "S3: bad endpoint or bucket configuration");
        goto fail;
    }
    s->region = strdup(cf->aws_region ? cf->aws_region : "us-east-1");
    s->access_key = strdup(cf->aws_access_key_id ? cf->aws_access_key_id : "");
    s->secret_key = strdup(cf->aws_secret_access_key ? cf->aws_secret_access_key : "");
    s->token = strdup(cf->aws_session_token ? cf->aws_session_token : "");
    s->retries = cf->export_retries;
    s->chain = !*s->access_key;
    if (!s->region || !s->access_key || !s->secret_key || !s->token ||
        !(s->curl = curl_easy_init())) {
        err_set(err, E_INTERNAL, "out of memory");
        goto fail;
    }
    return s;
fail:
    s3_free(s);
    return NULL;
}

void s3_free(s3_client *s)
{
    if (!s) return;
    if (s->curl) curl_easy_cleanup(s->curl);
    s3_addr_free(&s->addr);
    free(s->region);
    free(s->access_key);
    if (s->secret_key) {
        memset(s->secret_key, 0, strlen(s->secret_key));
        free(s->secret_key);
    }
    free(s->token);
    free(s);
}

void s3_set_tick(s3_client *s, s3_tick_fn fn, void *arg)
{
    s->tick = fn;
    s->tick_arg = arg;
}

const char *s3_last_code(const s3_client *s)
{
    return s->last_code;
}

/* ---- transport -------------------------------------------------------------------------- */

/* One request as an operation describes it; everything is borrowed from the caller. */
typedef struct s3_call {
    const char *op, *method, *key;
    const sigv4_kv *query, *hdrs;
    size_t nq, nh;
    const void *body;
    size_t blen;
    const char *path; /* raw path (s3_addr_path) */
    char sha[65];     /* payload hash, hex */
} s3_call;

/* What one attempt left behind, for the retry decision and the final error. */
typedef struct s3_try {
    buf epath, equery, url;
    struct curl_slist *hl;
    CURLcode cc;
    char code[64], msg[256];
} s3_try;

enum { S3_DONE, S3_RETRY, S3_FAILED, S3_ABORTED, S3_NOMEM };

static size_t s3_read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
    s3_body *b = arg;
    size_t n = size * nmemb;

    if (n > b->len - b->off) n = b->len - b->off;
    memcpy(dst, b->p + b->off, n);
    b->off += n;
    return n;
}

static size_t s3_write_cb(char *src, size_t size, size_t nmemb, void *arg)
{
    s3_resp *r = arg;
    size_t n = size * nmemb;

    if (r->body.len + n <= S3_RESP_MAX) buf_add(&r->body, src, n);
    return n; /* an oversized body is truncated, never an error */
}

static size_t s3_header_cb(char *src, size_t size, size_t nmemb, void *arg)
{
    s3_resp *r = arg;
    size_t n = size * nmemb, vl;
    const char *v;

    if (n > 5 && strncasecmp(src, "etag:", 5) == 0) {
        v = src + 5;
        vl = n - 5;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl < sizeof r->etag) {
            memcpy(r->etag, v, vl);
            r->etag[vl] = '\0';
        }
    } else if (n > 15 && strncasecmp(src, "content-length:", 15) == 0) {
        r->length = strtoll(src + 15, NULL, 10);
    }
    return n;
}

static int s3_progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    s3_client *s = arg;

    (void)dt, (void)dn, (void)ut, (void)un;
    return s->tick && s->tick(s->tick_arg) ? 1 : 0;
}

/* Sleeps ms milliseconds in slices, running the tick; -1 if the tick asks to stop. */
static int s3_sleep(s3_client *s, long ms)
{
    while (ms > 0) {
        long step = ms > 100 ? 100 : ms;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
        if (s->tick && s->tick(s->tick_arg)) return -1;
    }
    return 0;
}

static int s3_retryable_status(long st)
{
    return st >= 500 || st == 429 || st == 408;
}

/* The credentials a request is signed with (borrowed from the client). */
static sigv4_cred s3_cred(const s3_client *s)
{
    sigv4_cred cred = {s->access_key, s->secret_key, s->token, s->region, "s3"};

    return cred;
}

static int s3_replace(char **dst, const char *src)
{
    char *n = strdup(src);

    if (!n) return -1;
    memset(*dst, 0, strlen(*dst));
    free(*dst);
    *dst = n;
    return 0;
}

/* A chain client takes the current credentials (core/awscred caches and refreshes them). */
static int s3_cred_refresh(s3_client *s, t2err *err)
{
    awscred c;
    int rc = 0;

    if (!s->chain) return 0;
    if (awscred_get(s->region, &c, err) < 0) return -1;
    if (strcmp(c.access_key, s->access_key) != 0 || strcmp(c.secret_key, s->secret_key) != 0 ||
        strcmp(c.token, s->token) != 0)
        if (s3_replace(&s->access_key, c.access_key) < 0 ||
            s3_replace(&s->secret_key, c.secret_key) < 0 || s3_replace(&s->token, c.token) < 0)
            rc = err_set(err, E_INTERNAL, "out of memory");
    awscred_wipe(&c);
    return rc;
}

/* Appends one formatted header line to *hl. 0 or -1 (out of memory). */
static int s3_header(struct curl_slist **hl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int s3_header(struct curl_slist **hl, const char *fmt, ...)
{
    char line[8192]; /* session tokens run to kilobytes */
    struct curl_slist *t;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (!(t = curl_slist_append(*hl, line))) return -1;
    *hl = t;
    return 0;
}

/* Signs c for now into t: the encoded URL and the header list. 0 or -1 (out of memory). */
static int s3_sign(const s3_client *s, const s3_call *c, s3_try *t)
{
    sigv4_req req = {c->method, s->addr.host, c->path, c->query, c->nq, c->hdrs, c->nh, c->sha, 0};
    sigv4_cred cred = s3_cred(s);
    sigv4_result sig;
    size_t i;

    if (sigv4_sign_headers(&req, &cred, time(NULL), &sig, &t->epath, &t->equery) < 0 ||
        buf_printf(&t->url, "%s://%s%s%s%s", s->addr.scheme, s->addr.host, buf_cstr(&t->epath),
                   t->equery.len ? "?" : "", buf_cstr(&t->equery)) < 0 ||
        s3_header(&t->hl, "Host: %s", s->addr.host) < 0 ||
        s3_header(&t->hl, "x-amz-date: %s", sig.amz_date) < 0 ||
        s3_header(&t->hl, "x-amz-content-sha256: %s", c->sha) < 0 ||
        s3_header(&t->hl, "Authorization: %s", sig.authorization) < 0 ||
        (*s->token && s3_header(&t->hl, "x-amz-security-token: %s", s->token) < 0))
        return -1;
    for (i = 0; i < c->nh; i++)
        if (s3_header(&t->hl, "%s: %s", c->hdrs[i].name, c->hdrs[i].value) < 0) return -1;
    return s3_header(&t->hl, "Expect:");
}

/* Sets up the client's CURL handle for one attempt of c (t signed, r and b the reply and
 * the request body it reads and writes). */
static void s3_curl_setup(s3_client *s, const s3_call *c, s3_try *t, s3_resp *r, s3_body *b)
{
    CURL *h = s->curl;

    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, buf_cstr(&t->url));
    /* the path is signed as sent: curl must not squash "./" and "../" in keys */
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s3_write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, s3_header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, s3_progress_cb);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
    if (strcmp(c->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, s3_read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, b);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->blen);
    } else if (strcmp(c->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body ? (const char *)c->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->blen);
    } else if (strcmp(c->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    }
}

/* Attempt number attempt (0-based) of c: signs, sends, and classifies the reply into
 * S3_DONE (2xx that is not an <Error>), S3_RETRY (transport error, 5xx/429/408, or an
 * <Error> inside a 2xx, logged), S3_FAILED (any other status, err set), S3_ABORTED (the
 * tick) or S3_NOMEM. */
static int s3_attempt(s3_client *s, const s3_call *c, long attempt, s3_try *t, s3_resp *r,
                      t2err *err)
{
    s3_body b = {c->body, c->blen, 0};

    buf_reset(&t->epath);
    buf_reset(&t->equery);
    buf_reset(&t->url);
    curl_slist_free_all(t->hl);
    t->hl = NULL;
    t->code[0] = t->msg[0] = '\0';
    buf_reset(&r->body);
    r->etag[0] = '\0';
    r->length = -1;
    r->status = 0;
    if (s3_cred_refresh(s, err) < 0) {
        snprintf(t->code, sizeof t->code, "NoCredentials");
        return S3_FAILED;
    }
    if (s3_sign(s, c, t) < 0) return S3_NOMEM;
    s3_curl_setup(s, c, t, r, &b);
    t->cc = curl_easy_perform(s->curl);
    if (t->cc == CURLE_ABORTED_BY_CALLBACK) return S3_ABORTED;
    if (t->cc != CURLE_OK) {
        log_warn("s3: %s %s: %s (attempt %ld of %ld)", c->op, c->key, curl_easy_strerror(t->cc),
                 attempt + 1, s->retries + 1);
        return S3_RETRY;
    }
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &r->status);
    if (s3_xml_error(buf_cstr(&r->body), r->body.len, t->code, sizeof t->code, t->msg,
                     sizeof t->msg) != 1) {
        t->code[0] = t->msg[0] = '\0';
        if (r->status >= 200 && r->status < 300) return S3_DONE;
    }
    if (r->status < 300 || s3_retryable_status(r->status)) {
        log_warn("s3: %s %s: HTTP %ld %s %s (attempt %ld of %ld)", c->op, c->key, r->status,
                 t->code, t->msg, attempt + 1, s->retries + 1);
        return S3_RETRY;
    }
    if (!t->code[0] && r->status == 404) snprintf(t->code, sizeof t->code, "NotFound"); /* HEAD */
    err_set(err, E_INTERNAL, "S3 %s %s: HTTP %ld %s%s%s", c->op, c->key, r->status,
            t->code[0] ? t->code : "error", t->msg[0] ? ": " : "", t->msg);
    return S3_FAILED;
}

/* One signed request with retries. query/headers are raw; body may be NULL. On 2xx returns
 * 0 with r filled (the caller frees r->body); otherwise -1 with err set and r->body freed. */
static int s3_request(s3_client *s, const char *op, const char *method, const char *key,
                      const sigv4_kv *query, size_t nq, const sigv4_kv *hdrs, size_t nh,
                      const void *body, size_t blen, s3_resp *r, t2err *err)
{
    s3_call c = {op, method, key, query, hdrs, nq, nh, body, blen, NULL, ""};
    s3_try t = {BUF_INIT(0), BUF_INIT(0), BUF_INIT(0), NULL, CURLE_OK, "", ""};
    buf path = BUF_INIT(0);
    long attempt, backoff = 250;
    int out = S3_NOMEM;

    memset(r, 0, sizeof *r);
    r->body.max = S3_RESP_MAX;
    s->last_code[0] = '\0';
    sigv4_sha256_hex(body ? body : "", blen, c.sha);
    if (s3_addr_path(&s->addr, &path, key) < 0) {
        err_set(err, E_INTERNAL, "S3 %s: out of memory", op);
        goto done;
    }
    c.path = buf_cstr(&path);
    for (attempt = 0; attempt <= s->retries; attempt++) {
        if (attempt > 0) {
            long d = backoff / 2 + (long)(random() % (backoff / 2 + 1));
            if (s3_sleep(s, d) < 0) {
                out = S3_ABORTED;
                break;
            }
            backoff = backoff * 2 > 8000 ? 8000 : backoff * 2;
        }
        if ((out = s3_attempt(s, &c, attempt, &t, r, err)) != S3_RETRY) break;
    }
    if (out == S3_ABORTED)
        err_set(err, E_INTERNAL, "S3 %s %s: aborted", op, key);
    else if (out == S3_NOMEM)
        err_set(err, E_INTERNAL, "S3 %s: out of memory", op);
    else if (out == S3_RETRY && t.cc != CURLE_OK)
        err_set(err, E_INTERNAL, "S3 %s %s: %s (after %ld attempts)", op, key,
                curl_easy_strerror(t.cc), s->retries + 1);
    else if (out == S3_RETRY)
        err_set(err, E_INTERNAL, "S3 %s %s: HTTP %ld %s%s%s (after %ld attempts)", op, key,
                r->status, t.code[0] ? t.code : "error", t.msg[0] ? ": " : "", t.msg,
                s->retries + 1);
done:
    if (out != S3_DONE) {
        snprintf(s->last_code, sizeof s->last_code, "%s", t.code);
        buf_free(&r->body);
    }
    curl_slist_free_all(t.hl);
    buf_free(&path);
    buf_free(&t.epath);
    buf_free(&t.equery);
    buf_free(&t.url);
    return out == S3_DONE ? 0 : -1;
}

/* ---- operations ------------------------------------------------------------------------- */

int s3_put_object(s3_client *s, const char *key, const void *data, size_t len,
                  const char *content_type, t2err *err)
{
    sigv4_kv h[] = {{"Content-Type", content_type ? content_type : "application/octet-stream"}};
    s3_resp r;

    if (s3_request(s, "PutObject", "PUT", key, NULL, 0, h, 1, data, len, &r, err) < 0) return -1;
    buf_free(&r.body);
    return 0;
}

int s3_create_multipart(s3_client *s, const char *key, const char *content_type, char **upload_id,
                        t2err *err)
{
    sigv4_kv q[] = {{"uploads", ""}};
    sigv4_kv h[] = {{"Content-Type", content_type ? content_type : "application/octet-stream"}};
    s3_resp r;
    int rc;

    *upload_id = NULL;
    if (s3_request(s, "CreateMultipartUpload", "POST", key, q, 1, h, 1, NULL, 0, &r, err) < 0)
        return -1;
    rc = s3_xml_upload_id(buf_cstr(&r.body), r.body.len, upload_id);
    if (rc < 0)
        err_set(err, E_INTERNAL, "S3 CreateMultipartUpload %s: no UploadId in the reply", key);
    buf_free(&r.body);
    return rc;
}

int s3_upload_part(s3_client *s, const char *key, const char *upload_id, int part_no,
                   const void *data, size_t len, char etag[S3_ETAG_MAX], t2err *err)
{
    char num[16];
    sigv4_kv q[] = {{"partNumber", num}, {"uploadId", upload_id}};
    s3_resp r;

    snprintf(num, sizeof num, "%d", part_no);
    if (s3_request(s, "UploadPart", "PUT", key, q, 2, NULL, 0, data, len, &r, err) < 0) return -1;
    buf_free(&r.body);
    if (!r.etag[0])
        return err_set(err, E_INTERNAL, "S3 UploadPart %s #%d: no ETag in the reply", key, part_no);
    memcpy(etag, r.etag, sizeof r.etag);
    return 0;
}

int s3_complete_multipart(s3_client *s, const char *key, const char *upload_id,
                          const s3_part *parts, int nparts, t2err *err)
{
    sigv4_kv q[] = {{"uploadId", upload_id}};
    sigv4_kv h[] = {{"Content-Type", "application/xml"}};
    buf body = BUF_INIT(0);
    s3_resp r;
    int rc = -1;

    if (s3_xml_complete_body(&body, parts, nparts) < 0) {
        err_set(err, E_INTERNAL, "out of memory");
        goto fail;
    }
    if (s3_request(s, "CompleteMultipartUpload", "POST", key, q, 1, h, 1, body.p, body.len, &r,
                   err) < 0)
        goto fail;
    buf_free(&r.body);
    rc = 0;
fail:
    buf_free(&body);
    return rc;
}

int s3_abort_multipart(s3_client *s, const char *key, const char *upload_id, t2err *err)
{
    sigv4_kv q[] = {{"uploadId", upload_id}};
    s3_resp r;

    if (s3_request(s, "AbortMultipartUpload", "DELETE", key, q, 1, NULL, 0, NULL, 0, &r, err) < 0)
        return strcmp(s->last_code, "NoSuchUpload") == 0 ? 0 : -1; /* gone already */
    buf_free(&r.body);
    return 0;
}

int s3_delete_object(s3_client *s, const char *key, t2err *err)
{
    s3_resp r;

    if (s3_request(s, "DeleteObject", "DELETE", key, NULL, 0, NULL, 0, NULL, 0, &r, err) < 0)
        return -1;
    buf_free(&r.body);
    return 0;
}

int s3_head_object(s3_client *s, const char *key, int64_t *size, char etag[S3_ETAG_MAX], t2err *err)
{
    s3_resp r;

    *size = -1;
    if (etag) etag[0] = '\0';
    if (s3_request(s, "HeadObject", "HEAD", key, NULL, 0, NULL, 0, NULL, 0, &r, err) < 0)
        return s->last_code[0] && strcmp(s->last_code, "NotFound") == 0 ? 0 : -1;
    buf_free(&r.body);
    *size = r.length;
    if (etag) memcpy(etag, r.etag, sizeof r.etag);
    return 1;
}

int s3_presign_get(const conf *cf, const char *key, long expires, time_t now, char **url,
                   t2err *err)
{
    s3_addr a;
    buf path = BUF_INIT(0), epath = BUF_INIT(0), equery = BUF_INIT(0), u = BUF_INIT(0);
    sigv4_cred cred = {cf->aws_access_key_id, cf->aws_secret_access_key, cf->aws_session_token,
                       cf->aws_region, "s3"};
    sigv4_result res;
    awscred *chain = NULL;
    int rc = -1;

    *url = NULL;
    if (s3_addr_init(&a, cf, s3_presign_endpoint(cf)) < 0 || s3_addr_path(&a, &path, key) < 0) {
        err_set(err, E_INTERNAL, "S3: bad endpoint or bucket configuration");
        goto fail;
    }
    if (!*cf->aws_access_key_id) { /* none configured: the credential chain's */
        if (!(chain = malloc(sizeof *chain))) {
            err_set(err, E_INTERNAL, "out of memory");
            goto fail;
        }
        if (awscred_get(cf->aws_region, chain, err) < 0) goto fail;
        cred.access_key = chain->access_key;
        cred.secret_key = chain->secret_key;
        cred.session_token = chain->token;
    }
    {
        sigv4_req req = {"GET", a.host, buf_cstr(&path), NULL, 0, NULL, 0, NULL, 0};
        if (sigv4_presign(&req, &cred, now, expires, &res, &epath, &equery) < 0 ||
            buf_printf(&u, "%s://%s%s?%s", a.scheme, a.host, buf_cstr(&epath), buf_cstr(&equery)) <
                0) {
            err_set(err, E_INTERNAL, "S3: cannot presign the download URL");
            goto fail;
        }
    }
    *url = buf_steal(&u);
    rc = *url ? 0 : -1;
fail:
    if (chain) {
        awscred_wipe(chain);
        free(chain);
    }
    s3_addr_free(&a);
    buf_free(&path);
    buf_free(&epath);
    buf_free(&equery);
    buf_free(&u);
    return rc;
}
