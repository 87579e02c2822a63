/* awscred -- the AWS credential chain with a per-process cache; see awscred.h. */
#include "awscred.h"

#include "buf.h"
#include "log.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CRED_HTTP_MAX (64u << 10)

static pthread_mutex_t cred_mu = PTHREAD_MUTEX_INITIALIZER;
static awscred cred_cache;
static time_t cred_obtained;
static int cred_have;

void awscred_wipe(awscred *c)
{
    volatile unsigned char *p = (volatile unsigned char *)c;
    size_t i;

    for (i = 0; i < sizeof *c; i++)
        p[i] = 0;
}

void awscred_reset(void)
{
    pthread_mutex_lock(&cred_mu);
    awscred_wipe(&cred_cache);
    cred_have = 0;
    pthread_mutex_unlock(&cred_mu);
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int cred_set(awscred *c, const char *ak, const char *sk, const char *tok, time_t exp,
                    const char *source)
{
    if (!ak || !*ak || !sk || !*sk || str_copy(c->access_key, sizeof c->access_key, ak) < 0 ||
        str_copy(c->secret_key, sizeof c->secret_key, sk) < 0 ||
        str_copy(c->token, sizeof c->token, tok ? tok : "") < 0)
        return -1;
    c->expires = exp;
    str_copy(c->source, sizeof c->source, source);
    return 0;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

static size_t http_write(char *p, size_t size, size_t n, void *ud)
{
    return buf_add(ud, p, size * n) == 0 ? size * n : 0;
}

/* One request; out gets the body. Returns the HTTP status, or -1 (transport error). */
static long http_call(const char *method, const char *url, const char *h1, const char *h2,
                      const char *body, long timeout_ms, buf *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    long status = -1;

    if (!c) return -1;
    if (h1) hl = curl_slist_append(hl, h1);
    if (h2) hl = curl_slist_append(hl, h2);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    else if (strcmp(method, "PUT") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms * 2);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return status;
}

/* "2026-12-02T07:00:00Z" (fractions and a "+00:00" offset tolerated) -> time_t, 0 if none. */
static time_t parse_expiration(const char *s)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
    return timegm(&tm);
}

/* {AccessKeyId, SecretAccessKey, Token, Expiration} (ECS, IMDS). 0 or -1. */
static int from_json(const char *body, awscred *c, const char *source)
{
    json_object *o = json_tokener_parse(body), *ak, *sk, *tok = NULL, *exp = NULL;
    int rc = -1;

    if (o && json_object_object_get_ex(o, "AccessKeyId", &ak) &&
        json_object_object_get_ex(o, "SecretAccessKey", &sk)) {
        json_object_object_get_ex(o, "Token", &tok);
        json_object_object_get_ex(o, "Expiration", &exp);
        rc = cred_set(c, json_object_get_string(ak), json_object_get_string(sk),
                      tok ? json_object_get_string(tok) : NULL,
                      exp ? parse_expiration(json_object_get_string(exp)) : 0, source);
    }
    json_object_put(o);
    return rc;
}

/* ---- the sources ---------------------------------------------------------------------------- */

static int src_env(awscred *c)
{
    return env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY")
               ? cred_set(c, env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"),
                          env("AWS_SESSION_TOKEN"), 0, "environment")
               : 1;
}

/* The three keys of section [want] of an INI file into c. 0 found, 1 not there. */
static int ini_profile(const char *path, const char *want, awscred *c, const char *source)
{
    FILE *f = fopen(path, "r");
    char line[8448], ak[256] = "", sk[256] = "", tok[8192] = "";
    int in = 0, rc = 1;

    if (!f) return 1;
    while (fgets(line, sizeof line, f)) {
        char *p = line, *e, *v;
        while (*p == ' ' || *p == '\t')
            p++;
        e = p + strlen(p);
        while (e > p && strchr(" \t\r\n", e[-1]))
            *--e = '\0';
        if (*p == '[') {
            if ((e = strchr(p, ']'))) *e = '\0';
            in = strcmp(p + 1, want) == 0;
            continue;
        }
        if (!in || *p == '#' || *p == ';' || !(v = strchr(p, '='))) continue;
        for (e = v; e > p && (e[-1] == ' ' || e[-1] == '\t'); e--)
            ;
        *e = '\0';
        for (v++; *v == ' ' || *v == '\t'; v++)
            ;
        if (strcmp(p, "aws_access_key_id") == 0)
            str_copy(ak, sizeof ak, v);
        else if (strcmp(p, "aws_secret_access_key") == 0)
            str_copy(sk, sizeof sk, v);
        else if (strcmp(p, "aws_session_token") == 0)
            str_copy(tok, sizeof tok, v);
    }
    fclose(f);
    if (*ak && *sk) rc = cred_set(c, ak, sk, tok, 0, source) < 0 ? -1 : 0;
    memset(line, 0, sizeof line);
    memset(sk, 0, sizeof sk);
    memset(tok, 0, sizeof tok);
    return rc;
}

static int src_profile(awscred *c)
{
    const char *name = env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
    const char *home = env("HOME");
    char path[1024], section[300], source[64];
    int rc;

    snprintf(source, sizeof source, "profile %s", name);
    if (env("AWS_SHARED_CREDENTIALS_FILE"))
        str_copy(path, sizeof path, env("AWS_SHARED_CREDENTIALS_FILE"));
    else
        snprintf(path, sizeof path, "%s/.aws/credentials", home ? home : "");
    if ((rc = ini_profile(path, name, c, source)) != 1) return rc;
    if (env("AWS_CONFIG_FILE"))
        str_copy(path, sizeof path, env("AWS_CONFIG_FILE"));
    else
        snprintf(path, sizeof path, "%s/.aws/config", home ? home : "");
    if (strcmp(name, "default") == 0)
        str_copy(section, sizeof section, "default");
    else
        snprintf(section, sizeof section, "profile %s", name);
    return ini_profile(path, section, c, source);
}

/* The text of the first <tag>...</tag> in xml into out (no entities in these values). */
static int xml_text(const char *xml, const char *tag, char *out, size_t n)
{
    char open[64], close[64];
    const char *a, *b;

    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    if (!(a = strstr(xml, open)) || !(b = strstr(a, close))) return -1;
    a += strlen(open);
    if ((size_t)(b - a) >= n) return -1;
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = '\0';
    return 0;
}

static int src_web_identity(const char *region, awscred *c, t2err *err)
{
    const char *role = env("AWS_ROLE_ARN"), *file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
    buf tok = BUF_INIT(CRED_HTTP_MAX), form = BUF_INIT(0), url = BUF_INIT(0);
    buf out = BUF_INIT(CRED_HTTP_MAX);
    char *e, *ak = malloc(256), *sk = malloc(256), *st = malloc(8192), exp[64];
    FILE *f;
    long status;
    int rc = -1;

    if (!role || !file) {
        rc = 1;
        goto done;
    }
    if (!ak || !sk || !st || !(f = fopen(file, "r"))) {
        err_set(err, E_INTERNAL, "web identity: cannot read AWS_WEB_IDENTITY_TOKEN_FILE");
        goto done;
    }
    while (!feof(f) && !ferror(f)) {
        char chunk[4096];
        size_t n = fread(chunk, 1, sizeof chunk, f);
        if (n && buf_add(&tok, chunk, n) < 0) break;
    }
    fclose(f);
    while (tok.len && strchr(" \r\n", tok.p[tok.len - 1]))
        tok.p[--tok.len] = '\0';
    if (buf_printf(&form, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=") < 0)
        goto done;
    e = curl_easy_escape(NULL, role, 0);
    buf_printf(&form, "%s&RoleSessionName=", e ? e : "");
    curl_free(e);
    e = curl_easy_escape(NULL,
                         env("AWS_ROLE_SESSION_NAME") ? env("AWS_ROLE_SESSION_NAME") : "t2sql", 0);
    buf_printf(&form, "%s&WebIdentityToken=", e ? e : "");
    curl_free(e);
    e = curl_easy_escape(NULL, buf_cstr(&tok), (int)tok.len);
    if (!e || buf_printf(&form, "%s", e) < 0) {
        curl_free(e);
        goto done;
    }
    curl_free(e);
    if (env("AWS_ENDPOINT_URL_STS"))
        buf_printf(&url, "%s/", env("AWS_ENDPOINT_URL_STS"));
    else
        buf_printf(&url, "https://sts.%s.amazonaws.com/", region);
    status = http_call("POST", buf_cstr(&url), "Content-Type: application/x-www-form-urlencoded",
                       NULL, buf_cstr(&form), 5000, &out);
    if (status != 200 || xml_text(buf_cstr(&out), "AccessKeyId", ak, 256) < 0 ||
        xml_text(buf_cstr(&out), "SecretAccessKey", sk, 256) < 0 ||
        xml_text(buf_cstr(&out), "SessionToken", st, 8192) < 0 ||
        xml_text(buf_cstr(&out), "Expiration", exp, sizeof exp) < 0) {
        err_set(err, E_INTERNAL, "web identity: STS AssumeRoleWithWebIdentity answered %ld",
                status);
        goto done;
    }
    rc = cred_set(c, ak, sk, st, parse_expiration(exp), "web-identity");
done:
    if (tok.p) memset(tok.p, 0, tok.cap);
    if (form.p) memset(form.p, 0, form.cap);
    if (out.p) memset(out.p, 0, out.cap);
    if (sk) memset(sk, 0, 256);
    if (st) memset(st, 0, 8192);
    buf_free(&tok);
    buf_free(&form);
    buf_free(&out);
    buf_free(&url);
    free(ak);
    free(sk);
    free(st);
    return rc;
}

static int src_ecs(awscred *c, t2err *err)
{
    const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    const char *tfile = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    char url[1024], auth[4200] = "";
    buf out = BUF_INIT(CRED_HTTP_MAX);
    long status;
    int rc = -1;

    if (!rel && !full) return 1;
    if (rel)
        snprintf(url, sizeof url, "http://169.254.170.2%s", rel);
    else
        str_copy(url, sizeof url, full);
    if (tfile) {
        FILE *f = fopen(tfile, "r");
        char t[4096] = "";
        if (f) {
            if (fgets(t, sizeof t, f)) t[strcspn(t, "\r\n")] = '\0';
            fclose(f);
        }
        snprintf(auth, sizeof auth, "Authorization: %s", t);
        memset(t, 0, sizeof t);
    } else if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
        snprintf(auth, sizeof auth, "Authorization: %s", env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
    status = http_call("GET", url, *auth ? auth : NULL, NULL, NULL, 2000, &out);
    if (status != 200 || from_json(buf_cstr(&out), c, "ecs") < 0)
        err_set(err, E_INTERNAL, "ECS container credentials answered %ld", status);
    else
        rc = 0;
    memset(auth, 0, sizeof auth);
    if (out.p) memset(out.p, 0, out.cap);
    buf_free(&out);
    return rc;
}

static int src_imds(awscred *c, t2err *err)
{
    const char *base = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *off = env("AWS_EC2_METADATA_DISABLED");
    char url[1024], hdr[512], role[256];
    buf tok = BUF_INIT(4096), out = BUF_INIT(CRED_HTTP_MAX);
    long status;
    int rc = -1;
    size_t n;

    if (off && strcasecmp(off, "true") == 0) return 1;
    if (!base) base = "http://169.254.169.254";
    n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    snprintf(url, sizeof url, "%.*s/latest/api/token", (int)n, base);
    status = http_call("PUT", url, "X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL, NULL, 1000,
                       &tok);
    if (status != 200) {
        err_set(err, E_INTERNAL, "IMDSv2: no session token (%ld)", status);
        goto done;
    }
    snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token: %s", buf_cstr(&tok));
    snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/", (int)n, base);
    status = http_call("GET", url, hdr, NULL, NULL, 1000, &out);
    if (status != 200 || !out.len) {
        err_set(err, E_INTERNAL, "IMDSv2: no instance role (%ld)", status);
        goto done;
    }
    str_copy(role, sizeof role, buf_cstr(&out));
    role[strcspn(role, "\r\n")] = '\0';
    buf_reset(&out);
    snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/%s", (int)n, base,
             role);
    status = http_call("GET", url, hdr, NULL, NULL, 1000, &out);
    if (status != 200 || from_json(buf_cstr(&out), c, "imds") < 0)
        err_set(err, E_INTERNAL, "IMDSv2: role credentials answered %ld", status);
    else
        rc = 0;
done:
    memset(hdr, 0, sizeof hdr);
    if (out.p) memset(out.p, 0, out.cap);
    buf_free(&tok);
    buf_free(&out);
    return rc;
}

/* The chain: the first source that applies decides (its failure is the answer). */
static int resolve(const char *region, awscred *c, t2err *err)
{
    int rc;

    if ((rc = src_env(c)) != 1) return rc;
    if ((rc = src_profile(c)) != 1) return rc;
    if ((rc = src_web_identity(region, c, err)) != 1) return rc;
    if ((rc = src_ecs(c, err)) != 1) return rc;
    if ((rc = src_imds(c, err)) == 0) return 0;
    if (rc == 1)
        err_set(err, E_INTERNAL,
                "no AWS credentials: none in the environment, the shared "
                "files, web identity, ECS or IMDS");
    return -1;
}

int awscred_get(const char *region, awscred *out, t2err *err)
{
    time_t now = time(NULL), margin;
    awscred *fresh;
    int rc = 0;

    pthread_mutex_lock(&cred_mu);
    margin = cred_have && cred_cache.expires ? (cred_cache.expires - cred_obtained) / 4 : 0;
    if (margin > 300) margin = 300;
    if (!cred_have || (cred_cache.expires && now >= cred_cache.expires - margin)) {
        if (!(fresh = calloc(1, sizeof *fresh))) {
            rc = err_set(err, E_INTERNAL, "out of memory");
        } else if (resolve(region && *region ? region : "us-east-1", fresh, err) == 0) {
            if (!cred_have || strcmp(fresh->source, cred_cache.source) != 0)
                log_info("aws credentials from %s", fresh->source);
            cred_cache = *fresh;
            cred_obtained = now;
            cred_have = 1;
        } else if (cred_have && now < cred_cache.expires) {
            log_warn("aws credentials: refresh failed (%s); the current ones stay until they "
                     "expire",
                     err->detail);
        } else {
            rc = -1;
        }
        if (fresh) {
            awscred_wipe(fresh);
            free(fresh);
        }
    }
    if (rc == 0) *out = cred_cache;
    pthread_mutex_unlock(&cred_mu);
    return rc;
}
