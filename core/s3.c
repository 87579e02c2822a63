/* s3 -- S3 requests on libcurl with SigV4, retries, XML via libxml2, and the part writer;
 * see s3.h. Does not know about jobs or PostgreSQL. */
#include "s3.h"

#include "log.h"
#include "sigv4.h"

#include <curl/curl.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define S3_RESP_MAX (1 << 20)

struct s3_client {
    CURL *curl;
    char *scheme; /* "http" or "https" */
    char *host;   /* Host header value */
    char *base;   /* path prefix: "/<bucket>" (path-style, after any endpoint path) or "" */
    char *region, *access_key, *secret_key, *token;
    long retries;
    long last_attempts;  /* requests sent by the last s3_request (1 = no retry) */
    char last_code[64];  /* S3 error code of the last failed s3_request, or "" */
    int64_t last_length; /* Content-Length of the last reply, or -1 */
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
    xmlInitParser();
}

/* ---- addressing ------------------------------------------------------------------------- */

/* Splits conf's endpoint/bucket/region into scheme, Host and base path. */
static int s3_addr(const conf *cf, char **scheme, char **host, char **base)
{
    buf h = BUF_INIT(0), b = BUF_INIT(0);
    const char *ep = cf->s3_endpoint, *p, *slash;

    *scheme = *host = *base = NULL;
    if (!cf->export_bucket || !*cf->export_bucket) return -1;
    if (ep && *ep) {
        if (strncmp(ep, "http://", 7) == 0) {
            *scheme = strdup("http");
            p = ep + 7;
        } else if (strncmp(ep, "https://", 8) == 0) {
            *scheme = strdup("https");
            p = ep + 8;
        } else {
            *scheme = strdup("https");
            p = ep;
        }
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
        *scheme = strdup("https");
        if (buf_printf(&h, "%s.s3.%s.amazonaws.com", cf->export_bucket, cf->aws_region) < 0 ||
            buf_adds(&b, "") < 0)
            goto fail;
    }
    *host = buf_steal(&h);
    *base = buf_steal(&b);
    if (!*scheme || !*host || !*base) goto fail;
    return 0;
fail:
    buf_free(&h);
    buf_free(&b);
    free(*scheme);
    free(*host);
    free(*base);
    *scheme = *host = *base = NULL;
    return -1;
}

/* The raw (unencoded) request path for key. */
static int s3_path(buf *out, const char *base, const char *key)
{
    while (*key == '/')
        key++;
    return buf_printf(out, "%s/%s", base, key);
}

s3_client *s3_new(const conf *cf, t2err *err)
{
    s3_client *s = calloc(1, sizeof *s);

    pthread_once(&s3_once, s3_global_init);
    if (!s) {
        err_set(err, E_INTERNAL, "out of memory");
        return NULL;
    }
    if (s3_addr(cf, &s->scheme, &s->host, &s->base) < 0) {
        err_set(err, E_INTERNAL, "S3: bad endpoint or bucket configuration");
        goto fail;
    }
    s->region = strdup(cf->aws_region ? cf->aws_region : "us-east-1");
    s->access_key = strdup(cf->aws_access_key_id ? cf->aws_access_key_id : "");
    s->secret_key = strdup(cf->aws_secret_access_key ? cf->aws_secret_access_key : "");
    s->token = strdup(cf->aws_session_token ? cf->aws_session_token : "");
    s->retries = cf->export_retries;
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
    free(s->scheme);
    free(s->host);
    free(s->base);
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

/* ---- transport -------------------------------------------------------------------------- */

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

/* One signed request with retries. query/headers are raw; body may be NULL. On 2xx returns
 * 0 with r filled (the caller frees r->body); otherwise -1 with err set. */
static int s3_request(s3_client *s, const char *op, const char *method, const char *key,
                      const sigv4_kv *query, size_t nq, const sigv4_kv *hdrs, size_t nh,
                      const void *body, size_t blen, s3_resp *r, t2err *err)
{
    sigv4_cred cred = {s->access_key, s->secret_key, s->token, s->region, "s3"};
    char sha[65], code[64], msg[256], line[8192]; /* session tokens run to kilobytes */
    buf path = BUF_INIT(0), epath = BUF_INIT(0), equery = BUF_INIT(0), url = BUF_INIT(0);
    struct curl_slist *hl = NULL;
    long attempt, backoff = 250;
    CURLcode cc = CURLE_OK;
    int rc = -1, aborted = 0;
    size_t i;

    memset(r, 0, sizeof *r);
    r->body.max = S3_RESP_MAX;
    s->last_attempts = 0;
    s->last_code[0] = '\0';
    s->last_length = -1;
    code[0] = '\0';
    sigv4_sha256_hex(body ? body : "", blen, sha);
    if (s3_path(&path, s->base, key) < 0) goto oom;
    for (attempt = 0; attempt <= s->retries; attempt++) {
        sigv4_req req = {method, s->host, buf_cstr(&path), query, nq, hdrs, nh, sha};
        sigv4_result sig;
        s3_body b = {body, blen, 0};

        if (attempt > 0) {
            long d = backoff / 2 + (long)(random() % (backoff / 2 + 1));
            if (s3_sleep(s, d) < 0) {
                aborted = 1;
                break;
            }
            backoff = backoff * 2 > 8000 ? 8000 : backoff * 2;
        }
        buf_reset(&epath);
        buf_reset(&equery);
        buf_reset(&url);
        buf_reset(&r->body);
        r->etag[0] = '\0';
        r->length = -1;
        r->status = 0;
        code[0] = '\0';
        s->last_attempts = attempt + 1;
        curl_slist_free_all(hl);
        hl = NULL;
        if (sigv4_sign_headers(&req, &cred, time(NULL), &sig, &epath, &equery) < 0) goto oom;
        if (buf_printf(&url, "%s://%s%s%s%s", s->scheme, s->host, buf_cstr(&epath),
                       equery.len ? "?" : "", buf_cstr(&equery)) < 0)
            goto oom;
#define HL(...)                                                                                    \
    do {                                                                                           \
        struct curl_slist *t_;                                                                     \
        snprintf(line, sizeof line, __VA_ARGS__);                                                  \
        if (!(t_ = curl_slist_append(hl, line))) goto oom;                                         \
        hl = t_;                                                                                   \
    } while (0)
        HL("Host: %s", s->host);
        HL("x-amz-date: %s", sig.amz_date);
        HL("x-amz-content-sha256: %s", sha);
        HL("Authorization: %s", sig.authorization);
        if (*s->token) HL("x-amz-security-token: %s", s->token);
        for (i = 0; i < nh; i++)
            HL("%s: %s", hdrs[i].name, hdrs[i].value);
        HL("Expect:");
#undef HL
        curl_easy_reset(s->curl);
        curl_easy_setopt(s->curl, CURLOPT_URL, buf_cstr(&url));
        /* the path is signed as sent: curl must not squash "./" and "../" in keys */
        curl_easy_setopt(s->curl, CURLOPT_PATH_AS_IS, 1L);
        curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_TIME, 30L);
        curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, s3_write_cb);
        curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, s3_header_cb);
        curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, r);
        curl_easy_setopt(s->curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(s->curl, CURLOPT_XFERINFOFUNCTION, s3_progress_cb);
        curl_easy_setopt(s->curl, CURLOPT_XFERINFODATA, s);
        if (strcmp(method, "PUT") == 0) {
            curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(s->curl, CURLOPT_READFUNCTION, s3_read_cb);
            curl_easy_setopt(s->curl, CURLOPT_READDATA, &b);
            curl_easy_setopt(s->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)blen);
        } else if (strcmp(method, "POST") == 0) {
            curl_easy_setopt(s->curl, CURLOPT_POST, 1L);
            curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
            curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
        } else if (strcmp(method, "HEAD") == 0) {
            curl_easy_setopt(s->curl, CURLOPT_NOBODY, 1L);
        } else {
            curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, method);
        }
        cc = curl_easy_perform(s->curl);
        if (cc == CURLE_ABORTED_BY_CALLBACK) {
            aborted = 1;
            break;
        }
        if (cc != CURLE_OK) {
            log_warn("s3: %s %s: %s (attempt %ld of %ld)", op, key, curl_easy_strerror(cc),
                     attempt + 1, s->retries + 1);
            continue;
        }
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &r->status);
        if (r->status >= 200 && r->status < 300 &&
            s3_xml_error(buf_cstr(&r->body), r->body.len, code, sizeof code, msg, sizeof msg) !=
                1) {
            s->last_length = r->length;
            rc = 0;
            goto done;
        }
        code[0] = msg[0] = '\0';
        s3_xml_error(buf_cstr(&r->body), r->body.len, code, sizeof code, msg, sizeof msg);
        if (r->status < 300 || s3_retryable_status(r->status)) {
            log_warn("s3: %s %s: HTTP %ld %s %s (attempt %ld of %ld)", op, key, r->status, code,
                     msg, attempt + 1, s->retries + 1);
            continue;
        }
        if (!code[0] && r->status == 404) snprintf(code, sizeof code, "NotFound"); /* HEAD */
        err_set(err, E_INTERNAL, "S3 %s %s: HTTP %ld %s%s%s", op, key, r->status,
                code[0] ? code : "error", msg[0] ? ": " : "", msg);
        goto done;
    }
    if (aborted)
        err_set(err, E_INTERNAL, "S3 %s %s: aborted", op, key);
    else if (cc != CURLE_OK)
        err_set(err, E_INTERNAL, "S3 %s %s: %s (after %ld attempts)", op, key,
                curl_easy_strerror(cc), s->retries + 1);
    else
        err_set(err, E_INTERNAL, "S3 %s %s: HTTP %ld %s%s%s (after %ld attempts)", op, key,
                r->status, code[0] ? code : "error", msg[0] ? ": " : "", msg, s->retries + 1);
    goto done;
oom:
    err_set(err, E_INTERNAL, "S3 %s: out of memory", op);
done:
    if (rc < 0) snprintf(s->last_code, sizeof s->last_code, "%s", code);
    curl_slist_free_all(hl);
    buf_free(&path);
    buf_free(&epath);
    buf_free(&equery);
    buf_free(&url);
    if (rc < 0) buf_free(&r->body);
    return rc;
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
    char *scheme = NULL, *host = NULL, *base = NULL;
    buf path = BUF_INIT(0), epath = BUF_INIT(0), equery = BUF_INIT(0), u = BUF_INIT(0);
    sigv4_cred cred = {cf->aws_access_key_id, cf->aws_secret_access_key, cf->aws_session_token,
                       cf->aws_region, "s3"};
    sigv4_result res;
    int rc = -1;

    conf pub = *cf; /* the URL names the endpoint its clients reach */

    if (cf->s3_public_endpoint && *cf->s3_public_endpoint) pub.s3_endpoint = cf->s3_public_endpoint;
    *url = NULL;
    if (s3_addr(&pub, &scheme, &host, &base) < 0 || s3_path(&path, base, key) < 0) {
        err_set(err, E_INTERNAL, "S3: bad endpoint or bucket configuration");
        goto fail;
    }
    {
        sigv4_req req = {"GET", host, buf_cstr(&path), NULL, 0, NULL, 0, NULL};
        if (sigv4_presign(&req, &cred, now, expires, &res, &epath, &equery) < 0 ||
            buf_printf(&u, "%s://%s%s?%s", scheme, host, buf_cstr(&epath), buf_cstr(&equery)) < 0) {
            err_set(err, E_INTERNAL, "S3: cannot presign the download URL");
            goto fail;
        }
    }
    *url = buf_steal(&u);
    rc = *url ? 0 : -1;
fail:
    free(scheme);
    free(host);
    free(base);
    buf_free(&path);
    buf_free(&epath);
    buf_free(&equery);
    buf_free(&u);
    return rc;
}

size_t s3_part_size(size_t base, int part_no)
{
    size_t sz = base < S3_MIN_PART ? S3_MIN_PART : base;
    int tier = part_no > 0 ? (part_no - 1) / 900 : 0;

    while (tier-- > 0 && sz < S3_MAX_PART)
        sz *= 2;
    return sz > S3_MAX_PART ? S3_MAX_PART : sz;
}

/* ---- XML -------------------------------------------------------------------------------- */

static xmlDocPtr s3_xml_read(const char *xml, size_t len)
{
    pthread_once(&s3_once, s3_global_init);
    if (!xml || len == 0 || len > S3_RESP_MAX) return NULL;
    return xmlReadMemory(xml, (int)len, "s3.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

/* First element named name (local name, any namespace) in document order under n. */
static xmlNodePtr s3_xml_find(xmlNodePtr n, const char *name)
{
    for (; n; n = n->next) {
        xmlNodePtr hit;
        if (n->type != XML_ELEMENT_NODE) continue;
        if (strcmp((const char *)n->name, name) == 0) return n;
        if ((hit = s3_xml_find(n->children, name)) != NULL) return hit;
    }
    return NULL;
}

static void s3_xml_text(xmlNodePtr n, char *dst, size_t len)
{
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;

    snprintf(dst, len, "%s", t ? (const char *)t : "");
    xmlFree(t);
}

int s3_xml_upload_id(const char *xml, size_t len, char **out)
{
    xmlDocPtr d = s3_xml_read(xml, len);
    xmlNodePtr n;
    xmlChar *t = NULL;
    int rc = -1;

    *out = NULL;
    if (!d) return -1;
    if ((n = s3_xml_find(xmlDocGetRootElement(d), "UploadId")) && (t = xmlNodeGetContent(n)) &&
        *t && (*out = strdup((const char *)t)))
        rc = 0;
    xmlFree(t);
    xmlFreeDoc(d);
    return rc;
}

int s3_xml_error(const char *xml, size_t len, char *code, size_t codelen, char *msg, size_t msglen)
{
    xmlDocPtr d;
    xmlNodePtr root;
    int rc = 0;

    if (codelen) code[0] = '\0';
    if (msglen) msg[0] = '\0';
    if (!(d = s3_xml_read(xml, len))) return -1;
    root = xmlDocGetRootElement(d);
    if (root && strcmp((const char *)root->name, "Error") == 0) {
        s3_xml_text(s3_xml_find(root->children, "Code"), code, codelen);
        s3_xml_text(s3_xml_find(root->children, "Message"), msg, msglen);
        rc = 1;
    }
    xmlFreeDoc(d);
    return rc;
}

static int xml_escape(buf *out, const char *s)
{
    for (; *s; s++) {
        const char *e = *s == '&'    ? "&amp;"
                        : *s == '<'  ? "&lt;"
                        : *s == '>'  ? "&gt;"
                        : *s == '"'  ? "&quot;"
                        : *s == '\'' ? "&apos;"
                                     : NULL;
        if (e ? buf_adds(out, e) < 0 : buf_addc(out, *s) < 0) return -1;
    }
    return 0;
}

int s3_xml_complete_body(buf *out, const s3_part *parts, int n)
{
    int i;

    if (buf_adds(out, "<CompleteMultipartUpload "
                      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">") < 0)
        return -1;
    for (i = 0; i < n; i++)
        if (buf_printf(out, "<Part><PartNumber>%d</PartNumber><ETag>", parts[i].number) < 0 ||
            xml_escape(out, parts[i].etag) < 0 || buf_adds(out, "</ETag></Part>") < 0)
            return -1;
    return buf_adds(out, "</CompleteMultipartUpload>");
}

/* ---- the writer ------------------------------------------------------------------------- */

struct s3_writer {
    s3_client *main; /* caller's thread: create, put, complete, abort */
    s3_client *up;   /* uploader thread: parts */
    char *key, *ctype, *upload_id;
    size_t base;
    char *pbuf[2];
    size_t pcap[2], plen[2];
    int cur;        /* the buffer being filled */
    s3_part *parts; /* one per part handed to the uploader */
    int nparts, partscap;
    uint64_t bytes;
    s3_tick_fn tick;
    s3_upload_id_fn on_upload_id;
    s3_tick_fn gate;
    void *arg;
    int final_sent; /* the final PutObject/CompleteMultipartUpload was started */
    /* uploader thread */
    pthread_t thr;
    int thr_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int job;      /* buffer index queued for upload, -1 = none */
    int job_part; /* index into parts */
    int busy, quit, failed;
    atomic_int stop;
    t2err up_err;
};

static int s3_writer_up_tick(void *arg)
{
    s3_writer *w = arg;

    return atomic_load(&w->stop);
}

static void *s3_writer_thread(void *arg)
{
    s3_writer *w = arg;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        int j, pi;
        while (w->job < 0 && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->quit) break;
        j = w->job;
        pi = w->job_part;
        pthread_mutex_unlock(&w->mu);
        {
            t2err e;
            char etag[S3_ETAG_MAX];
            int rc;
            err_clear(&e);
            rc = s3_upload_part(w->up, w->key, w->upload_id, w->parts[pi].number, w->pbuf[j],
                                w->plen[j], etag, &e);
            pthread_mutex_lock(&w->mu);
            if (rc < 0) {
                w->failed = 1;
                w->up_err = e;
            } else {
                memcpy(w->parts[pi].etag, etag, sizeof etag);
            }
            w->plen[j] = 0;
            w->job = -1;
            w->busy = 0;
            pthread_cond_broadcast(&w->cv);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

s3_writer *s3_writer_new(const conf *cf, const char *key, const char *content_type, t2err *err)
{
    s3_writer *w = calloc(1, sizeof *w);

    if (!w) {
        err_set(err, E_INTERNAL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->job = -1;
    w->base = (size_t)cf->export_part_mb << 20;
    if (!(w->main = s3_new(cf, err)) || !(w->up = s3_new(cf, err))) goto fail;
    s3_set_tick(w->up, s3_writer_up_tick, w);
    w->key = strdup(key);
    w->ctype = strdup(content_type ? content_type : "application/octet-stream");
    if (!w->key || !w->ctype) {
        err_set(err, E_INTERNAL, "out of memory");
        goto fail;
    }
    return w;
fail:
    s3_writer_free(w);
    return NULL;
}

void s3_writer_set_callbacks(s3_writer *w, s3_tick_fn tick, s3_upload_id_fn on_upload_id, void *arg)
{
    w->tick = tick;
    w->on_upload_id = on_upload_id;
    w->arg = arg;
    s3_set_tick(w->main, tick, arg);
}

void s3_writer_set_gate(s3_writer *w, s3_tick_fn gate)
{
    w->gate = gate;
}

const char *s3_writer_upload_id(const s3_writer *w)
{
    return w->upload_id;
}

int s3_writer_final_sent(const s3_writer *w)
{
    return w->final_sent;
}

/* Waits until the uploader is idle, running the tick; -1 with err if the last part failed
 * or the tick asked to stop (the running part is then cancelled). */
static int s3_writer_wait(s3_writer *w, t2err *err)
{
    int stopped = 0;

    pthread_mutex_lock(&w->mu);
    while (w->busy) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (w->busy && !stopped && w->tick) {
            pthread_mutex_unlock(&w->mu);
            if (w->tick(w->arg)) {
                stopped = 1;
                atomic_store(&w->stop, 1);
            }
            pthread_mutex_lock(&w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
    if (w->failed) {
        if (err) *err = w->up_err;
        return -1;
    }
    if (stopped) return err_set(err, E_INTERNAL, "S3 upload of %s: aborted", w->key);
    return 0;
}

/* Queues the full current buffer as the next part and switches to the other buffer. */
static int s3_writer_ship(s3_writer *w, t2err *err)
{
    if (!w->upload_id) {
        if (s3_create_multipart(w->main, w->key, w->ctype, &w->upload_id, err) < 0) return -1;
        if (w->on_upload_id && w->on_upload_id(w->arg, w->upload_id) != 0)
            return err_set(err, E_INTERNAL, "S3 upload of %s: aborted (upload id not recorded)",
                           w->key);
    }
    if (!w->thr_started) {
        if (pthread_create(&w->thr, NULL, s3_writer_thread, w) != 0)
            return err_set(err, E_INTERNAL, "pthread_create: %s", strerror(errno));
        w->thr_started = 1;
    }
    if (s3_writer_wait(w, err) < 0) return -1;
    if (w->nparts == S3_MAX_PARTS)
        return err_set(err, E_INTERNAL, "S3 upload of %s: more than %d parts", w->key,
                       S3_MAX_PARTS);
    if (w->nparts == w->partscap) {
        int nc = w->partscap ? w->partscap * 2 : 64;
        s3_part *np = realloc(w->parts, (size_t)nc * sizeof *np);
        if (!np) return err_set(err, E_INTERNAL, "out of memory");
        w->parts = np;
        w->partscap = nc;
    }
    w->parts[w->nparts].number = w->nparts + 1;
    w->parts[w->nparts].etag[0] = '\0';
    pthread_mutex_lock(&w->mu);
    w->job = w->cur;
    w->job_part = w->nparts++;
    w->busy = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    w->cur ^= 1;
    return 0;
}

int s3_writer_write(s3_writer *w, const void *data, size_t n, t2err *err)
{
    const char *p = data;

    while (n > 0) {
        int c = w->cur;
        size_t want = s3_part_size(w->base, w->nparts + 1), k;
        if (w->pcap[c] < want) {
            char *nb = realloc(w->pbuf[c], want);
            if (!nb) return err_set(err, E_INTERNAL, "out of memory for a %zu-byte part", want);
            w->pbuf[c] = nb;
            w->pcap[c] = want;
        }
        k = want - w->plen[c];
        if (k > n) k = n;
        memcpy(w->pbuf[c] + w->plen[c], p, k);
        w->plen[c] += k;
        w->bytes += k;
        p += k;
        n -= k;
        if (w->plen[c] == want && s3_writer_ship(w, err) < 0) return -1;
    }
    return 0;
}

/* The gate, right before the request that makes the object visible: nonzero = stop. */
static int s3_writer_gate(s3_writer *w, t2err *err)
{
    if (w->gate && w->gate(w->arg))
        return err_set(err, E_INTERNAL, "S3 upload of %s: aborted before the final request",
                       w->key);
    w->final_sent = 1;
    return 0;
}

int s3_writer_finish(s3_writer *w, t2err *err)
{
    t2err he;
    int64_t size;
    char etag[S3_ETAG_MAX], want[16];
    int hr;

    if (!w->upload_id) {
        if (s3_writer_gate(w, err) < 0) return -1;
        return s3_put_object(w->main, w->key, w->pbuf[w->cur], w->plen[w->cur], w->ctype, err);
    }
    if (w->plen[w->cur] > 0 && s3_writer_ship(w, err) < 0) return -1;
    if (s3_writer_wait(w, err) < 0) return -1;
    if (s3_writer_gate(w, err) < 0) return -1;
    log_debug("s3: completing multipart upload of %s, %d parts", w->key, w->nparts);
    if (s3_complete_multipart(w->main, w->key, w->upload_id, w->parts, w->nparts, err) < 0) {
        /* A retry after a lost reply (ours, or libcurl's own on a reused connection) finds
         * the upload gone because the first try completed it: the object is there, with our
         * size (and a multipart ETag of our part count, when it has that form). */
        if (strcmp(w->main->last_code, "NoSuchUpload") != 0) return -1;
        err_clear(&he);
        hr = s3_head_object(w->main, w->key, &size, etag, &he);
        snprintf(want, sizeof want, "-%d\"", w->nparts);
        if (hr != 1 || size < 0 || (uint64_t)size != w->bytes ||
            (strchr(etag, '-') && strcmp(strchr(etag, '-'), want) != 0)) {
            log_warn("s3: %s: NoSuchUpload on a retried complete, and the object is %s", w->key,
                     hr == 1   ? "of another size"
                     : hr == 0 ? "missing"
                               : "unreadable");
            return -1;
        }
        log_info("s3: %s: the retried complete found the upload completed already (%lld bytes)",
                 w->key, (long long)size);
        err_clear(err);
    }
    log_debug("s3: completed multipart upload of %s", w->key);
    return 0;
}

int s3_writer_abort(s3_writer *w, t2err *err)
{
    t2err e;

    atomic_store(&w->stop, 1);
    if (w->thr_started) s3_writer_wait(w, NULL);
    if (!w->upload_id) return 0;
    log_info("s3: aborting multipart upload of %s", w->key);
    s3_set_tick(w->main, NULL, NULL); /* the abort must run even when the tick says stop */
    err_clear(&e);
    if (s3_abort_multipart(w->main, w->key, w->upload_id, &e) < 0) {
        log_warn("s3: abort of multipart upload of %s failed: %s", w->key, e.detail);
        if (err) *err = e;
        return -1;
    }
    log_info("s3: aborted multipart upload of %s", w->key);
    return 0;
}

uint64_t s3_writer_bytes(const s3_writer *w)
{
    return w->bytes;
}

int s3_writer_parts(const s3_writer *w)
{
    return w->nparts;
}

void s3_writer_free(s3_writer *w)
{
    if (!w) return;
    if (w->thr_started) {
        atomic_store(&w->stop, 1);
        pthread_mutex_lock(&w->mu);
        w->quit = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thr, NULL);
    }
    s3_free(w->main);
    s3_free(w->up);
    free(w->key);
    free(w->ctype);
    free(w->upload_id);
    free(w->pbuf[0]);
    free(w->pbuf[1]);
    free(w->parts);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

s3_client *s3_writer_client(s3_writer *w)
{
    return w->main;
}
