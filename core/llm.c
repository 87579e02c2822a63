/* llm -- OpenAI-compatible chat-completions, Anthropic Messages and Bedrock Converse client
 * and SQL extraction; see llm.h. */
#include "llm.h"

#include "awsreq.h"
#include "log.h"
#include "sigv4.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LLM_MAX_REPLY (4u << 20)

enum { PROV_OPENAI, PROV_ANTHROPIC, PROV_BEDROCK };

struct llm {
    CURL *curl;
    int provider;
    char url[1024];
    char auth[1024];
    char model[256];
    long connect_ms, timeout_ms, max_tokens;
    double call_ms[LLM_TIMINGS]; /* durations of the calls since llm_take_timings() */
    int ncalls;
    /* Bedrock: endpoint base (scheme://host[:port]), its host, the region and copies of the
     * AWS credentials (the secret and token wiped on free) */
    char base[512], host[256], region[64];
    char *access_key, *secret_key, *token;
};

/* Bedrock's part of llm_new: endpoint, host, region, credentials. 0 or -1 (no memory). */
static int llm_bedrock_new(llm *m, const conf *cf)
{
    const char *region = *cf->bedrock_region ? cf->bedrock_region : cf->aws_region, *h, *e;
    size_t n;

    str_copy(m->region, sizeof m->region, region);
    if (*cf->bedrock_endpoint)
        str_copy(m->base, sizeof m->base, cf->bedrock_endpoint);
    else
        snprintf(m->base, sizeof m->base, "https://bedrock-runtime.%s.amazonaws.com", region);
    for (n = strlen(m->base); n > 0 && m->base[n - 1] == '/'; n--)
        m->base[n - 1] = '\0';
    h = strstr(m->base, "://");
    h = h ? h + 3 : m->base;
    e = strchr(h, '/');
    snprintf(m->host, sizeof m->host, "%.*s", (int)(e ? (size_t)(e - h) : strlen(h)), h);
    str_copy(m->model, sizeof m->model, cf->bedrock_model_id);
    m->access_key = strdup(cf->aws_access_key_id);
    m->secret_key = strdup(cf->aws_secret_access_key);
    m->token = strdup(cf->aws_session_token);
    if (!m->access_key || !m->secret_key || !m->token) return -1;
    if (*m->model) /* the URL is set per request; no keys = the credential chain's */
        snprintf(m->url, sizeof m->url, "%s/model/", m->base);
    return 0;
}

llm *llm_new(const conf *cf)
{
    llm *m = calloc(1, sizeof *m);

    const char *base = cf->llm_base_url;
    size_t n;

    if (!m) return NULL;
    m->connect_ms = cf->llm_connect_timeout_ms;
    m->timeout_ms = cf->llm_timeout_ms;
    m->max_tokens = cf->llm_max_tokens;
    if (strcmp(cf->llm_provider, "bedrock") == 0) {
        m->provider = PROV_BEDROCK;
        if (llm_bedrock_new(m, cf) < 0) {
            llm_free(m);
            return NULL;
        }
        return m;
    }
    m->provider = strcmp(cf->llm_provider, "anthropic") == 0 ? PROV_ANTHROPIC : PROV_OPENAI;
    if (!*base && *cf->llm_api_key) /* a key alone means the provider's own service */
        base = m->provider == PROV_ANTHROPIC ? "https://api.anthropic.com/v1"
                                             : "https://api.openai.com/v1";
    if (*base) {
        n = strlen(base);
        snprintf(m->url, sizeof m->url, "%.*s/%s", (int)(n && base[n - 1] == '/' ? n - 1 : n), base,
                 m->provider == PROV_ANTHROPIC ? "messages" : "chat/completions");
    }
    if (*cf->llm_api_key)
        snprintf(m->auth, sizeof m->auth, "%s%s",
                 m->provider == PROV_ANTHROPIC ? "x-api-key: " : "Authorization: Bearer ",
                 cf->llm_api_key);
    str_copy(m->model, sizeof m->model, cf->llm_model);
    return m;
}

static void wipe_free(char *s)
{
    if (!s) return;
    memset(s, 0, strlen(s));
    free(s);
}

void llm_free(llm *m)
{
    if (!m) return;
    if (m->curl) curl_easy_cleanup(m->curl);
    free(m->access_key);
    wipe_free(m->secret_key);
    wipe_free(m->token);
    memset(m->auth, 0, sizeof m->auth);
    free(m);
}

int llm_configured(const llm *m)
{
    return m && m->url[0];
}

const char *llm_model(const llm *m)
{
    return m->model;
}

static size_t llm_write(char *p, size_t size, size_t n, void *ud)
{
    return buf_add(ud, p, size * n) == 0 ? size * n : 0;
}

static json_object *llm_message(const char *role, const char *content)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "role", json_object_new_string(role));
    json_object_object_add(o, "content", json_object_new_string(content));
    return o;
}

/* Takes the text out of a reply body: choices[0].message.content (OpenAI), or the first
 * "text" block of content[] (Anthropic). */
static int llm_parse(int provider, const char *body, buf *reply, t2err *err)
{
    json_object *root = json_tokener_parse(body), *choices, *msg, *content = NULL, *ch;
    int rc = -1;
    size_t i;

    if (provider == PROV_BEDROCK) { /* output.message.content[]: the first {"text": ...} */
        json_object *out, *blocks, *t;
        if (root && json_object_object_get_ex(root, "output", &out) &&
            json_object_object_get_ex(out, "message", &msg) &&
            json_object_object_get_ex(msg, "content", &blocks) &&
            json_object_is_type(blocks, json_type_array))
            for (i = 0; i < json_object_array_length(blocks) && !content; i++)
                if (json_object_object_get_ex(json_object_array_get_idx(blocks, i), "text", &t) &&
                    json_object_is_type(t, json_type_string))
                    content = t;
        if (!content) {
            err_set(err, E_LLM_ERROR, "the model's reply was not a Converse message with text");
            goto done;
        }
    } else if (provider == PROV_ANTHROPIC) {
        json_object *blocks, *type;
        if (root && json_object_object_get_ex(root, "content", &blocks) &&
            json_object_is_type(blocks, json_type_array))
            for (i = 0; i < json_object_array_length(blocks) && !content; i++) {
                json_object *b = json_object_array_get_idx(blocks, i), *t;
                if (json_object_object_get_ex(b, "type", &type) &&
                    strcmp(json_object_get_string(type), "text") == 0 &&
                    json_object_object_get_ex(b, "text", &t) &&
                    json_object_is_type(t, json_type_string))
                    content = t;
            }
        if (!content) {
            err_set(err, E_LLM_ERROR, "the model's reply was not a message with text");
            goto done;
        }
    } else if (!root || !json_object_object_get_ex(root, "choices", &choices) ||
               !json_object_is_type(choices, json_type_array) ||
               json_object_array_length(choices) == 0 ||
               !(ch = json_object_array_get_idx(choices, 0)) ||
               !json_object_object_get_ex(ch, "message", &msg) ||
               !json_object_object_get_ex(msg, "content", &content) ||
               !json_object_is_type(content, json_type_string)) {
        err_set(err, E_LLM_ERROR, "the model's reply was not a chat completion");
        goto done;
    }
    if (buf_add(reply, json_object_get_string(content),
                (size_t)json_object_get_string_len(content)) < 0) {
        err_set(err, E_LLM_ERROR, "the model's reply is too large");
        goto done;
    }
    rc = 0;
done:
    json_object_put(root);
    return rc;
}

/* {"text": s} */
static json_object *llm_text(const char *s)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "text", json_object_new_string(s));
    return o;
}

/* The request body: chat completions, Messages, or Converse (system[], messages[] of
 * content blocks, inferenceConfig). */
static json_object *llm_body(const llm *m, const char *system, const char *user)
{
    json_object *req = json_object_new_object(), *msgs = json_object_new_array();

    if (m->provider == PROV_BEDROCK) {
        json_object *sys = json_object_new_array(), *content = json_object_new_array();
        json_object *msg = json_object_new_object(), *ic = json_object_new_object();
        json_object_array_add(sys, llm_text(system));
        json_object_array_add(content, llm_text(user));
        json_object_object_add(msg, "role", json_object_new_string("user"));
        json_object_object_add(msg, "content", content);
        json_object_array_add(msgs, msg);
        json_object_object_add(req, "system", sys);
        json_object_object_add(req, "messages", msgs);
        json_object_object_add(ic, "maxTokens", json_object_new_int64(m->max_tokens));
        json_object_object_add(ic, "temperature", json_object_new_double(0));
        json_object_object_add(req, "inferenceConfig", ic);
        return req;
    }
    json_object_object_add(req, "model", json_object_new_string(m->model));
    if (m->provider == PROV_ANTHROPIC)
        json_object_object_add(req, "system", json_object_new_string(system));
    else
        json_object_array_add(msgs, llm_message("system", system));
    json_object_array_add(msgs, llm_message("user", user));
    json_object_object_add(req, "messages", msgs);
    json_object_object_add(req, "temperature", json_object_new_double(0));
    json_object_object_add(req, "max_tokens", json_object_new_int64(m->max_tokens));
    return req;
}

/* Bedrock: signs POST /model/<id>/converse (SigV4, service "bedrock"), sets m->url and
 * appends the signed headers. 0 or -1. */
static int llm_bedrock_sign(llm *m, const char *body, struct curl_slist **hdrs)
{
    buf path = BUF_INIT(0), sent = BUF_INIT(0);
    awsreq r = {m->access_key, m->secret_key, m->token,           "bedrock", m->region,
                m->host,       NULL,          "application/json", body,      strlen(body)};
    int rc = -1;

    /* the model id is one path segment: its '/' and ':' (ARNs, versions) are encoded */
    if (buf_add(&path, "/model/", 7) < 0 ||
        sigv4_uri_encode(&path, m->model, strlen(m->model), 0) < 0 ||
        buf_add(&path, "/converse", 9) < 0)
        goto done;
    r.path = buf_cstr(&path);
    if (awsreq_sign(&r, &sent, hdrs) < 0) goto done;
    snprintf(m->url, sizeof m->url, "%s%s", m->base, buf_cstr(&sent));
    rc = 0;
done:
    buf_free(&path);
    buf_free(&sent);
    return rc;
}

/* The error for a non-200 answer. Bedrock: ThrottlingException (429) and 5xx are
 * "unavailable", ModelTimeoutException (408) a timeout, the rest (ValidationException,
 * AccessDenied, ModelError...) an llm_error. */
static void llm_status_error(const llm *m, long status, t2err *err)
{
    log_warn("model answered HTTP %ld", status);
    if (status == 401 || status == 403)
        err_set(err, E_LLM_ERROR, "the model provider refused the credentials (HTTP %ld)", status);
    else if (status == 429 || status == 503 || status == 529 ||
             (m->provider == PROV_BEDROCK && status >= 500))
        err_set(err, E_LLM_UNAVAILABLE,
                "the model provider is overloaded or rate limiting"
                " (HTTP %ld)",
                status);
    else if (m->provider == PROV_BEDROCK && status == 408)
        err_set(err, E_LLM_TIMEOUT, "the model timed out (HTTP 408)");
    else
        err_set(err, E_LLM_ERROR, "the language model answered HTTP %ld", status);
}

int llm_chat(llm *m, const char *system, const char *user, buf *reply, t2err *err)
{
    json_object *req = NULL;
    struct curl_slist *hdrs = NULL;
    buf body = BUF_INIT(LLM_MAX_REPLY);
    const char *payload;
    long status = 0;
    CURLcode cc;
    int rc = -1;

    if (!llm_configured(m))
        return err_set(err, E_LLM_NOT_CONFIGURED, "no language model is configured");
    if (!m->curl && !(m->curl = curl_easy_init()))
        return err_set(err, E_INTERNAL, "curl_easy_init failed");
    req = llm_body(m, system, user);
    payload = json_object_to_json_string_ext(req, T2_JSON_FLAGS);

    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (m->auth[0]) hdrs = curl_slist_append(hdrs, m->auth);
    if (m->provider == PROV_ANTHROPIC)
        hdrs = curl_slist_append(hdrs, "anthropic-version: 2023-06-01");
    if (m->provider == PROV_BEDROCK && llm_bedrock_sign(m, payload, &hdrs) < 0) {
        err_set(err, E_LLM_UNAVAILABLE, "cannot sign the Bedrock request: no AWS credentials");
        goto done;
    }
    curl_easy_reset(m->curl);
    curl_easy_setopt(m->curl, CURLOPT_URL, m->url);
    curl_easy_setopt(m->curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(m->curl, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(m->curl, CURLOPT_CONNECTTIMEOUT_MS, m->connect_ms);
    curl_easy_setopt(m->curl, CURLOPT_TIMEOUT_MS, m->timeout_ms);
    curl_easy_setopt(m->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(m->curl, CURLOPT_WRITEFUNCTION, llm_write);
    curl_easy_setopt(m->curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(m->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(m->curl, CURLOPT_TCP_KEEPALIVE, 1L);

    cc = curl_easy_perform(m->curl);
    {
        curl_off_t us = 0;
        curl_easy_getinfo(m->curl, CURLINFO_TOTAL_TIME_T, &us);
        if (m->ncalls < LLM_TIMINGS) m->call_ms[m->ncalls++] = (double)us / 1e3;
    }
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        long sent = 0; /* request bytes sent: 0 = never connected (a kept-alive connection
                        * reports no connect time, so that cannot tell) */
        curl_easy_getinfo(m->curl, CURLINFO_REQUEST_SIZE, &sent);
        if (sent == 0) { /* never connected: the host is unreachable, not slow */
            log_warn("model request failed: connect timeout");
            err_set(err, E_LLM_UNAVAILABLE, "the language model is unreachable");
            goto done;
        }
        err_set(err, E_LLM_TIMEOUT, "the language model did not answer within %ld ms",
                m->timeout_ms);
        goto done;
    }
    if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST) {
        log_warn("model request failed: %s", curl_easy_strerror(cc));
        err_set(err, E_LLM_UNAVAILABLE, "the language model is unreachable");
        goto done;
    }
    if (cc != CURLE_OK) {
        log_warn("model request failed: %s", curl_easy_strerror(cc));
        err_set(err, E_LLM_ERROR, "the language model request failed: %s", curl_easy_strerror(cc));
        goto done;
    }
    curl_easy_getinfo(m->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        llm_status_error(m, status, err);
        goto done;
    }
    rc = llm_parse(m->provider, buf_cstr(&body), reply, err);
done:
    curl_slist_free_all(hdrs);
    json_object_put(req);
    buf_free(&body);
    return rc;
}

/* Finds needle case-insensitively in s. */
static const char *find_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);

    for (; *s; s++)
        if (strncasecmp(s, needle, n) == 0) return s;
    return NULL;
}

static int add_trimmed(buf *sql, const char *s, size_t n)
{
    while (n && strchr(" \t\r\n", *s))
        s++, n--;
    while (n && strchr(" \t\r\n", s[n - 1]))
        n--;
    return n ? buf_add(sql, s, n) : -1;
}

int llm_extract_sql(const char *text, buf *sql)
{
    const char *a, *b, *nl, *lang;

    if ((a = find_ci(text, "<sql>")) != NULL) {
        a += 5;
        b = find_ci(a, "</sql>");
        return add_trimmed(sql, a, b ? (size_t)(b - a) : strlen(a));
    }
    if ((a = strstr(text, "```")) != NULL) {
        a += 3;
        nl = strchr(a, '\n');
        if (!nl) return -1;
        for (lang = a; lang < nl && strchr(" \t\r", *lang); lang++)
            ; /* "```\r\n" and "``` \n" have no language */
        if (lang < nl && strncasecmp(lang, "sql", 3) != 0 &&
            strncasecmp(lang, "postgres", 8) != 0 && strncasecmp(lang, "pgsql", 5) != 0 &&
            strncasecmp(lang, "psql", 4) != 0)
            return -1; /* a fenced block of another language */
        a = nl + 1;
        b = strstr(a, "```");
        return add_trimmed(sql, a, b ? (size_t)(b - a) : strlen(a));
    }
    return -1;
}

int llm_take_timings(llm *m, double *ms, int max)
{
    int i, n = m ? m->ncalls : 0;

    if (n > max) n = max;
    for (i = 0; i < n; i++)
        ms[i] = m->call_ms[i];
    if (m) m->ncalls = 0;
    return n;
}
