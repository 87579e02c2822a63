/* notify_send -- one webhook POST or one SQS SendMessage; see notify.h. */
#include "notify.h"

#include "awsreq.h"
#include "buf.h"
#include "sigv4.h"

#include <stdio.h>
#include <string.h>

#define NOTIFY_MAX_REPLY (64u << 10)

static size_t keep_reply(char *p, size_t size, size_t n, void *ud)
{
    buf *b = ud;

    return buf_add(b, p, size * n) < 0 ? 0 : size * n;
}

/* POSTs body to url with hdrs; the HTTP status into *status and the reply (bounded) into
 * reply. 0, or -1 with a transport error in err. */
static int post(CURL *h, const conf *cf, const char *url, struct curl_slist *hdrs, const char *body,
                size_t len, long *status, buf *reply, char *err, size_t errlen)
{
    CURLcode cc;

    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, cf->export_notify_timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_reply);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, reply);
    cc = curl_easy_perform(h);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && *status)) {
        snprintf(err, errlen, "%s", curl_easy_strerror(cc));
        return -1;
    }
    return 0;
}

int notify_webhook(CURL *h, const conf *cf, const char *job_id, const char *body, time_t now,
                   char *err, size_t errlen)
{
    buf msg = BUF_INIT(0), reply = BUF_INIT(NOTIFY_MAX_REPLY);
    struct curl_slist *hdrs = NULL, *n;
    const char *secret = cf->export_notify_secret;
    char sig[65], line[160];
    long status = 0;
    int rc = -1, i;

    if (buf_printf(&msg, "%lld.%s", (long long)now, body) < 0) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    sigv4_hmac_sha256_hex(secret, strlen(secret), msg.p, msg.len, sig);
    for (i = 0; i < 4; i++) {
        if (i == 0) snprintf(line, sizeof line, "Content-Type: application/json");
        if (i == 1) snprintf(line, sizeof line, "X-T2SQL-Timestamp: %lld", (long long)now);
        if (i == 2) snprintf(line, sizeof line, "X-T2SQL-Signature: v1=%s", sig);
        if (i == 3) snprintf(line, sizeof line, "X-T2SQL-Job-Id: %s", job_id);
        if (!(n = curl_slist_append(hdrs, line))) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
        hdrs = n;
    }
    if (post(h, cf, cf->export_notify_url, hdrs, body, strlen(body), &status, &reply, err, errlen) <
        0)
        goto done;
    if (status < 200 || status > 299) {
        snprintf(err, errlen, "webhook answered HTTP %ld", status);
        goto done;
    }
    rc = 0;
done:
    curl_slist_free_all(hdrs);
    buf_free(&msg);
    buf_free(&reply);
    return rc;
}

/* The region of an SQS URL (https://sqs.<region>.amazonaws.com/...), else aws_region. */
static void sqs_region(const conf *cf, const char *host, char *out, size_t n)
{
    const char *e;

    if (strncmp(host, "sqs.", 4) == 0 && (e = strchr(host + 4, '.')) != NULL &&
        strncmp(e, ".amazonaws.com", 14) == 0 && (size_t)(e - host - 4) < n) {
        memcpy(out, host + 4, (size_t)(e - host - 4));
        out[e - host - 4] = '\0';
        return;
    }
    snprintf(out, n, "%s", cf->aws_region);
}

/* The form body of SendMessage. 0 or -1 (no memory). */
static int sqs_form(buf *form, const char *job_id, const char *body, int fifo)
{
    if (buf_adds(form, "Action=SendMessage&MessageBody=") < 0 ||
        sigv4_uri_encode(form, body, strlen(body), 0) < 0)
        return -1;
    if (fifo && buf_printf(form, "&MessageGroupId=t2sql&MessageDeduplicationId=%s", job_id) < 0)
        return -1;
    return buf_adds(form, "&Version=2012-11-05");
}

/* 0 if SQS's reply names MD5OfMessageBody md5, else -1 with SQS's error code in err. */
static int sqs_check(const buf *reply, long status, const char *md5, char *err, size_t errlen)
{
    const char *s = buf_cstr(reply), *c = strstr(s, "<Code>"), *m;

    if (status == 200 && (m = strstr(s, "<MD5OfMessageBody>")) != NULL &&
        strncmp(m + 18, md5, 32) == 0)
        return 0;
    if (status == 200)
        snprintf(err, errlen, "SQS answered without the message's MD5");
    else
        snprintf(err, errlen, "SQS answered HTTP %ld %.*s", status,
                 c ? (int)strcspn(c + 6, "<") : 0, c ? c + 6 : "");
    return -1;
}

int notify_sqs(CURL *h, const conf *cf, const char *job_id, const char *body, char *err,
               size_t errlen)
{
    const char *url = cf->export_notify_sqs_url, *hs = strstr(url, "://") + 3;
    size_t hl = strcspn(hs, "/?#");
    char host[256], region[64], md5[33], full[1024];
    buf form = BUF_INIT(0), path = BUF_INIT(0), reply = BUF_INIT(NOTIFY_MAX_REPLY);
    struct curl_slist *hdrs = NULL;
    awsreq r = {cf->aws_access_key_id,
                cf->aws_secret_access_key,
                cf->aws_session_token,
                "sqs",
                region,
                host,
                NULL,
                "application/x-www-form-urlencoded",
                NULL,
                0};
    long status = 0;
    int rc = -1;

    snprintf(host, sizeof host, "%.*s", (int)hl, hs);
    sqs_region(cf, host, region, sizeof region);
    r.path = hs[hl] == '/' ? hs + hl : "/";
    if (strpbrk(r.path, "?#") || hl >= sizeof host) {
        snprintf(err, errlen, "export_notify_sqs_url: a queue URL has no query");
        goto done;
    }
    if (sqs_form(&form, job_id, body, strlen(url) > 5 && !strcmp(url + strlen(url) - 5, ".fifo")) <
        0) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    r.body = form.p;
    r.len = form.len;
    if (!(hdrs = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded")) ||
        awsreq_sign(&r, &path, &hdrs) < 0) {
        snprintf(err, errlen, "cannot sign the SQS request (no AWS credentials?)");
        goto done;
    }
    snprintf(full, sizeof full, "%.*s%s", (int)(hs + hl - url), url, buf_cstr(&path));
    if (post(h, cf, full, hdrs, form.p, form.len, &status, &reply, err, errlen) < 0) goto done;
    sigv4_md5_hex(body, strlen(body), md5);
    rc = sqs_check(&reply, status, md5, err, errlen);
done:
    curl_slist_free_all(hdrs);
    buf_free(&form);
    buf_free(&path);
    buf_free(&reply);
    return rc;
}
