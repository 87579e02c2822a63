/* conf -- the configuration table and its loader; see conf.h. */
#include "conf.h"

#include "buf.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum { CT_STR, CT_INT, CT_BOOL };

typedef struct conf_key {
    const char *key;
    int type;
    size_t off;
    const char *def;
    long min, max;
    const char *alias; /* the old service's environment name, if any */
    int secret;
    int reloadable;
} conf_key;

#define S(k, d, alias, secret, rl)                                                                 \
    {                                                                                              \
#k, CT_STR, offsetof(conf, k), d, 0, 0, alias, secret, rl                                  \
    }
#define I(k, d, lo, hi, alias, rl)                                                                 \
    {                                                                                              \
#k, CT_INT, offsetof(conf, k), #d, lo, hi, alias, 0, rl                                    \
    }
#define B(k, d, rl)                                                                                \
    {                                                                                              \
#k, CT_BOOL, offsetof(conf, k), #d, 0, 1, NULL, 0, rl                                      \
    }

static const conf_key conf_keys[] = {
    S(listen, "var/run/t2sql.sock", NULL, 0, 0),
    I(workers, 0, 0, 256, NULL, 1),
    I(queue_workers, -1, -1, 256, NULL, 1),
    I(queue_timeout_ms, 2000, 0, 600000, NULL, 1),
    S(health_listen, "", NULL, 0, 0),
    I(health_workers, 1, 0, 16, NULL, 1),
    I(max_requests, 0, 0, 100000000, NULL, 1),
    I(worker_max_kept_mb, 16, 0, 1048576, NULL, 1),
    S(log_file, "", NULL, 0, 1),
    S(log_level, "info", NULL, 0, 1),
    S(log_format, "text", NULL, 0, 1),
    I(slow_request_ms, 5000, 0, 86400000, NULL, 1),
    S(exportd_metrics_file, "", NULL, 0, 1),
    S(pid_file, "", NULL, 0, 0),
    S(base_path, "", NULL, 0, 1),
    S(db_host, "127.0.0.1", "DB_HOST", 0, 1),
    I(db_port, 5432, 1, 65535, "DB_PORT", 1),
    S(db_name, "postgres", "DB_NAME", 0, 1),
    S(db_user, "postgres", "DB_USER", 0, 1),
    S(db_pass, "", "DB_PASS", 1, 1),
    I(db_connect_timeout, 5, 1, 300, NULL, 1),
    S(db_pool_host, "", NULL, 0, 1),
    I(db_pool_port, 6432, 1, 65535, NULL, 1),
    S(db_replica_host, "", NULL, 0, 1),
    I(db_replica_port, 5432, 1, 65535, NULL, 1),
    I(replica_max_lag_ms, 5000, 0, 86400000, NULL, 1),
    S(replica_fallback, "primary", NULL, 0, 1),
    I(replica_check_ms, 1000, 0, 600000, NULL, 1),
    S(schemas, "public", NULL, 0, 1),
    S(query_role, "", NULL, 0, 1),
    I(statement_timeout_ms, 30000, 1, 86400000, NULL, 1),
    I(lock_timeout_ms, 1000, 0, 86400000, NULL, 1),
    I(idle_tx_timeout_ms, 60000, 0, 86400000, NULL, 1),
    I(temp_file_limit_kb, 1048576, -1, 2147483647L, NULL, 1),
    S(work_mem, "", NULL, 0, 1),
    I(max_body_bytes, 65536, 256, 16777216, NULL, 1),
    I(max_question_chars, 2000, 1, 100000, NULL, 1),
    I(max_page_size, 10000, 1, 100000000, NULL, 1),
    I(default_page_size, 50, 1, 100000000, NULL, 1),
    I(max_result_bytes, 268435456, 65536, 2147483647L, NULL, 1),
    B(numeric_as_string, 0, 1),
    S(redis_host, "127.0.0.1", NULL, 0, 1),
    I(redis_port, 6379, 0, 65535, NULL, 1),
    S(redis_password, "", NULL, 1, 1),
    I(redis_timeout_ms, 200, 1, 60000, NULL, 1),
    I(cache_ttl_sql, 86400, 0, 31536000, NULL, 1),
    I(cache_ttl_llm, 604800, 0, 31536000, NULL, 1),
    I(cache_ttl_catalog, 300, 0, 31536000, NULL, 1),
    I(catalog_sample_rows, 10000, 0, 100000000, NULL, 1),
    I(catalog_sample_ms, 500, 1, 60000, NULL, 1),
    B(result_cache, 0, 1),
    I(result_cache_ttl, 300, 1, 31536000, NULL, 1),
    I(result_cache_max_bytes, 1048576, 1024, 67108864, NULL, 1),
    I(result_cache_version_ms, 1000, 0, 3600000, NULL, 1),
    S(llm_provider, "openai", NULL, 0, 1),
    S(llm_base_url, "", "OPENAI_BASE_URL", 0, 1),
    S(llm_api_key, "", "OPENAI_API_KEY", 1, 1),
    S(llm_model, "gpt-4o-mini", "OPENAI_MODEL", 0, 1),
    I(llm_connect_timeout_ms, 5000, 1, 600000, NULL, 1),
    I(llm_timeout_ms, 60000, 1, 3600000, NULL, 1),
    I(llm_max_tokens, 1024, 16, 65536, NULL, 1),
    S(bedrock_model_id, "", NULL, 0, 1),
    S(bedrock_region, "", NULL, 0, 1),
    S(bedrock_endpoint, "", NULL, 0, 1),
    B(planner_enabled, 1, 1),
    B(planner_fallback, 1, 1),
    I(prompt_budget_tokens, 3000, 200, 200000, NULL, 1),
    S(glossary_file, "conf/glossary", NULL, 0, 1),
    S(semantic_file, "conf/semantic.yaml", NULL, 0, 1),
    I(example_match_pct, 90, 50, 101, NULL, 1),
    I(few_shot_examples, 3, 0, 20, NULL, 1),
    I(conversation_retention_s, 604800, 60, 31536000, NULL, 1),
    I(conversation_max_turns, 50, 1, 10000, NULL, 1),
    I(conversation_context_turns, 5, 1, 50, NULL, 1),
    B(conversation_prompt_rows, 0, 1),
    B(guard_enabled, 1, 1),
    B(guard_allowlist, 1, 1),
    B(allow_catalogs, 0, 1),
    B(allow_session_functions, 0, 1),
    B(allow_user_sql, 1, 1),
    I(max_sql_bytes, 65536, 64, 16777216, NULL, 1),
    I(max_nesting, 32, 1, 1000, NULL, 1),
    I(max_joins, 24, 0, 1000, NULL, 1),
    B(auth_required, 0, 1),
    I(rate_limit_per_min, 600, 0, 100000000, NULL, 1),
    S(jwt_secret, "", NULL, 1, 1),
    S(jwt_jwks_file, "", NULL, 0, 1),
    S(jwt_issuer, "", NULL, 0, 1),
    S(jwt_audience, "", NULL, 0, 1),
    I(jwt_leeway_s, 30, 0, 3600, NULL, 1),
    S(jwt_role_claim, "role", NULL, 0, 1),
    S(jwt_claims, "", NULL, 0, 1),
    S(jwt_scopes, "query,export", NULL, 0, 1),
    I(audit_retention_days, 90, 0, 36500, NULL, 1),
    S(cors_allow_origins, "", NULL, 0, 1),
    B(cors_any_origin_with_auth, 0, 1),
    I(cors_max_age, 600, 0, 86400, NULL, 1),
    S(aws_region, "us-east-1", "AWS_REGION", 0, 1),
    S(export_bucket, "t2sql-exports", "EXPORT_BUCKET", 0, 1),
    S(export_prefix, "exports/", "EXPORT_PREFIX", 0, 1),
    S(s3_endpoint, "", "S3_ENDPOINT", 0, 1),
    S(s3_public_endpoint, "", NULL, 0, 1),
    S(aws_access_key_id, "", "AWS_ACCESS_KEY_ID", 0, 1),
    S(aws_secret_access_key, "", "AWS_SECRET_ACCESS_KEY", 1, 1),
    S(aws_session_token, "", "AWS_SESSION_TOKEN", 1, 1),
    I(presign_expires, 3600, 1, 604800, NULL, 1),
    I(export_concurrency, 2, 1, 64, NULL, 1),
    I(export_lease_s, 30, 5, 86400, NULL, 1),
    I(export_max_attempts, 3, 1, 100, NULL, 1),
    I(export_part_mb, 8, 5, 5120, NULL, 1),
    I(export_part_uploads, 2, 1, 8, NULL, 1),
    I(export_statement_timeout_ms, 600000, 1, 86400000, NULL, 1),
    I(export_max_bytes, 5368709120, 0, 1099511627776, NULL, 1),
    I(export_max_rows, 100000000, 0, 1000000000000, NULL, 1),
    I(export_max_per_owner, 0, 0, 64, NULL, 1),
    I(export_retries, 4, 0, 20, NULL, 1),
    I(export_sweep_s, 60, 1, 86400, NULL, 1),
    S(export_notify_url, "", NULL, 0, 1),
    S(export_notify_secret, "", NULL, 1, 1),
    S(export_notify_sqs_url, "", NULL, 0, 1),
    B(export_notify_download_url, 0, 1),
    I(export_notify_timeout_ms, 5000, 100, 600000, NULL, 1),
    I(export_notify_backoff_ms, 1000, 10, 3600000, NULL, 1),
    I(export_notify_backoff_max_s, 300, 1, 86400, NULL, 1),
};

#define NKEYS (sizeof conf_keys / sizeof conf_keys[0])

#define CONF_FILE_MAX      (16 << 20)
#define CONF_SECRET_MAX    65536
#define CONF_INCLUDE_DEPTH 8

/* A load in progress: the conf being built and, per secret key, the file its <key>_file
 * setting names (read once every layer is in, so that a later layer's direct value wins). */
typedef struct conf_ld {
    conf c;
    char *file_of[NKEYS]; /* owned; NULL = none */
    int depth;            /* include nesting */
} conf_ld;

static char **conf_str(conf *c, const conf_key *k)
{
    return (char **)((char *)c + k->off);
}

static const conf_key *conf_find(const char *key)
{
    size_t i;

    for (i = 0; i < NKEYS; i++)
        if (strcmp(conf_keys[i].key, key) == 0) return &conf_keys[i];
    return NULL;
}

/* The secret key that "<key>_file" names, or NULL. */
static const conf_key *conf_find_file(const char *name)
{
    char key[64];
    size_t n = strlen(name);
    const conf_key *k;

    if (n <= 5 || n - 5 >= sizeof key || strcmp(name + n - 5, "_file") != 0) return NULL;
    memcpy(key, name, n - 5);
    key[n - 5] = '\0';
    k = conf_find(key);
    return k && k->secret ? k : NULL;
}

static int conf_parse_bool(const char *v, int *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    size_t i;

    for (i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) return *out = 1, 0;
        if (strcasecmp(v, no[i]) == 0) return *out = 0, 0;
    }
    return -1;
}

/* Sets one key from text; -1 with err on a bad value. */
static int conf_set(conf *c, const conf_key *k, const char *v, const char *origin, char *err,
                    size_t errlen)
{
    long n;
    int b;
    char *dup;

    switch (k->type) {
    case CT_STR:
        if (!(dup = strdup(v))) goto oom;
        free(*conf_str(c, k));
        *conf_str(c, k) = dup;
        return 0;
    case CT_INT:
        if (str_to_long(v, k->min, k->max, &n) < 0) {
            snprintf(err, errlen, "%s: %s must be an integer in [%ld, %ld]", origin, k->key, k->min,
                     k->max);
            return -1;
        }
        *(long *)((char *)c + k->off) = n;
        return 0;
    default:
        if (conf_parse_bool(v, &b) < 0) {
            snprintf(err, errlen, "%s: %s must be true or false", origin, k->key);
            return -1;
        }
        *(int *)((char *)c + k->off) = b;
        return 0;
    }
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* Sets k directly; a <key>_file given earlier no longer applies. */
static int conf_put(conf_ld *ld, const conf_key *k, const char *v, const char *origin, char *err,
                    size_t errlen)
{
    size_t i = (size_t)(k - conf_keys);

    free(ld->file_of[i]);
    ld->file_of[i] = NULL;
    return conf_set(&ld->c, k, v, origin, err, errlen);
}

/* Records that secret k is in the file at path (relative to dir unless absolute or dir is
 * NULL); conf_read_secrets() reads it. */
static int conf_put_file(conf_ld *ld, const conf_key *k, const char *path, const char *dir,
                         const char *origin, char *err, size_t errlen)
{
    size_t i = (size_t)(k - conf_keys);
    buf b = BUF_INIT(0);
    int rel = dir && path[0] != '/';

    if (!*path) {
        snprintf(err, errlen, "%s: %s_file names no file", origin, k->key);
        return -1;
    }
    if (buf_printf(&b, "%s%s%s", rel ? dir : "", rel ? "/" : "", path) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(ld->file_of[i]);
    ld->file_of[i] = buf_steal(&b);
    return 0;
}

/* Reads the file named for secret key i: one value, a trailing newline (CR LF too) dropped,
 * never empty. The message names the key and the file, never the content. */
static int conf_read_secret(conf_ld *ld, size_t i, char *err, size_t errlen)
{
    const conf_key *k = &conf_keys[i];
    const char *path = ld->file_of[i];
    FILE *f = fopen(path, "r");
    buf v = BUF_INIT(CONF_SECRET_MAX);
    char chunk[4096];
    size_t n;
    int rc = -1;

    if (!f) {
        snprintf(err, errlen, "%s_file: %s: %s", k->key, path, strerror(errno));
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_add(&v, chunk, n) < 0) {
            snprintf(err, errlen, "%s_file: %s is larger than %d bytes", k->key, path,
                     CONF_SECRET_MAX);
            goto done;
        }
    if (ferror(f)) {
        snprintf(err, errlen, "%s_file: %s: %s", k->key, path, strerror(errno));
        goto done;
    }
    while (v.len && (v.p[v.len - 1] == '\n' || v.p[v.len - 1] == '\r'))
        v.p[--v.len] = '\0';
    if (v.len == 0)
        snprintf(err, errlen, "%s_file: %s is empty", k->key, path);
    else if (memchr(v.p, '\0', v.len))
        snprintf(err, errlen, "%s_file: %s holds a NUL byte", k->key, path);
    else
        rc = conf_set(&ld->c, k, v.p, path, err, errlen);
done:
    if (v.p) memset(v.p, 0, v.cap);
    buf_free(&v);
    memset(chunk, 0, sizeof chunk);
    fclose(f);
    return rc;
}

static int conf_read_file(conf_ld *ld, const char *path, char *err, size_t errlen);

/* "include = path" / "include_if_exists = path", relative to the including file's dir. */
static int conf_include(conf_ld *ld, const char *path, const char *dir, int if_exists,
                        const char *origin, char *err, size_t errlen)
{
    buf full = BUF_INIT(0);
    int rel = path[0] != '/', rc;

    if (!dir) {
        snprintf(err, errlen, "%s: include is read only from a config file", origin);
        return -1;
    }
    if (!*path || ld->depth >= CONF_INCLUDE_DEPTH) {
        snprintf(err, errlen, "%s: %s", origin,
                 *path ? "includes nested too deeply" : "include names no file");
        return -1;
    }
    if (buf_printf(&full, "%s%s%s", rel ? dir : "", rel ? "/" : "", path) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (if_exists && access(buf_cstr(&full), F_OK) != 0 && errno == ENOENT) {
        buf_free(&full);
        return 0;
    }
    ld->depth++;
    rc = conf_read_file(ld, buf_cstr(&full), err, errlen);
    ld->depth--;
    buf_free(&full);
    return rc;
}

/* One "key = value" line: a key, a secret's <key>_file, or an include. dir is the file's
 * directory (NULL for a buffer, where files are neither included nor read). */
static int conf_apply(conf_ld *ld, const char *key, const char *val, const char *dir,
                      const char *origin, char *err, size_t errlen)
{
    const conf_key *k;

    if (strcmp(key, "include") == 0 || strcmp(key, "include_if_exists") == 0)
        return conf_include(ld, val, dir, key[7] == '_', origin, err, errlen);
    if ((k = conf_find(key))) return conf_put(ld, k, val, origin, err, errlen);
    if ((k = conf_find_file(key))) {
        if (dir) return conf_put_file(ld, k, val, dir, origin, err, errlen);
        snprintf(err, errlen, "%s: %s is read only from a config file", origin, key);
        return -1;
    }
    snprintf(err, errlen, "%s: unknown key '%s'", origin, key);
    return -1;
}

/* Parses the text of a config file; name prefixes messages ("name:line"). Lines are cut
 * like fgets() into a 4096-byte buffer would cut them, so a file reads the same either way. */
static int conf_parse_text(conf_ld *ld, const char *text, size_t len, const char *name,
                           const char *dir, char *err, size_t errlen)
{
    char line[4096], origin[512];
    size_t pos = 0;
    int lineno = 0, rc = 0;

    while (pos < len) {
        char *s, *eq, *key, *val;
        size_t n = 0;

        while (n < sizeof line - 1 && pos + n < len && text[pos + n] != '\n')
            n++;
        if (n < sizeof line - 1 && pos + n < len) n++; /* the newline, as fgets keeps it */
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n;
        lineno++;
        snprintf(origin, sizeof origin, "%s:%d", name, lineno);
        if (!strchr(line, '\n') && pos < len && text[pos] != '\n') {
            /* else the rest would be read as the next line and the value cut short */
            snprintf(err, errlen, "%s: line too long (over %zu bytes)", origin, sizeof line - 1);
            rc = -1;
            break;
        }
        s = str_trim(line);
        if (!*s || *s == '#' || *s == ';' || *s == '[') continue;
        if (!(eq = strchr(s, '='))) {
            snprintf(err, errlen, "%s: expected key = value", origin);
            rc = -1;
            break;
        }
        *eq = '\0';
        key = str_trim(s);
        val = str_trim(eq + 1);
        if (*val != '"') { /* " # comment" after an unquoted value */
            char *h;
            for (h = val; *h; h++)
                if (*h == '#' && h > val && isspace((unsigned char)h[-1])) {
                    *h = '\0';
                    val = str_trim(val);
                    break;
                }
            if (*val == '#') *val = '\0';
        }
        if (*val == '"') { /* "quoted", maybe followed by " # comment" */
            char *q, *r;
            for (q = strchr(val + 1, '"'); q; q = strchr(q + 1, '"')) {
                for (r = q + 1; isspace((unsigned char)*r); r++)
                    ;
                if (!*r || *r == '#') {
                    *q = '\0';
                    val++;
                    break;
                }
            }
        }
        if ((rc = conf_apply(ld, key, val, dir, origin, err, errlen)) < 0) break;
    }
    return rc;
}

static int conf_read_file(conf_ld *ld, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    buf text = BUF_INIT(CONF_FILE_MAX), dir = BUF_INIT(0);
    const char *slash = strrchr(path, '/');
    char chunk[8192];
    size_t n;
    int rc = -1;

    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_add(&text, chunk, n) < 0) {
            snprintf(err, errlen, "%s: larger than %d bytes", path, CONF_FILE_MAX);
            goto done;
        }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto done;
    }
    if ((slash ? buf_add(&dir, path, slash == path ? 1 : (size_t)(slash - path))
               : buf_adds(&dir, ".")) < 0) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    rc = conf_parse_text(ld, buf_cstr(&text), text.len, path, buf_cstr(&dir), err, errlen);
done:
    buf_free(&text);
    buf_free(&dir);
    fclose(f);
    return rc;
}

/* T2SQL_<KEY>, then for a secret T2SQL_<KEY>_FILE, then the old name and <OLD>_FILE: the
 * first one set (a _FILE variable that is empty counts as unset) gives the key its value. */
static int conf_read_env(conf_ld *ld, char *err, size_t errlen)
{
    size_t i, j;
    char names[4][140];

    for (i = 0; i < NKEYS; i++) {
        const conf_key *k = &conf_keys[i];
        int m;

        snprintf(names[0], sizeof names[0], "T2SQL_%s", k->key);
        for (j = 6; names[0][j]; j++)
            names[0][j] = (char)toupper((unsigned char)names[0][j]);
        snprintf(names[1], sizeof names[1], "%.120s_FILE", names[0]);
        snprintf(names[2], sizeof names[2], "%.120s", k->alias ? k->alias : "");
        snprintf(names[3], sizeof names[3], "%.120s_FILE", names[2]);
        for (m = 0; m < 4; m++) {
            const char *v;

            if ((m & 1 && !k->secret) || (m >= 2 && !k->alias) || !(v = getenv(names[m]))) continue;
            if (!(m & 1)) {
                if (conf_put(ld, k, v, names[m], err, errlen) < 0) return -1;
                break;
            }
            if (!*v) continue;
            if (conf_put_file(ld, k, v, NULL, names[m], err, errlen) < 0) return -1;
            break;
        }
    }
    return 0;
}

#define ORIGIN_MAX 256

/* The next entry of a cors_allow_origins list (separated by commas or spaces) from *p:
 * its start and length, or 0 at the end. */
static size_t origin_next(const char **p, const char **start)
{
    size_t n;

    *p += strspn(*p, ", \t");
    *start = *p;
    n = strcspn(*p, ", \t");
    *p += n;
    return n;
}

/* Each entry must be "*" alone or an origin as browsers send it: http(s)://host[:port], no
 * path, no trailing slash, printable ASCII (it is echoed in a response header). */
static int cors_check(const conf *c, char *err, size_t errlen)
{
    const char *p = c->cors_allow_origins, *e;
    size_t n, i, scheme;
    int entries = 0, star = 0;

    while ((n = origin_next(&p, &e)) > 0) {
        entries++;
        if (n == 1 && *e == '*') {
            star = 1;
            continue;
        }
        for (i = 0; i < n; i++)
            if (e[i] <= ' ' || e[i] > '~') break;
        scheme = strncmp(e, "http://", 7) == 0 ? 7 : strncmp(e, "https://", 8) == 0 ? 8 : 0;
        if (n >= ORIGIN_MAX || i < n || !scheme || n == scheme ||
            memchr(e + scheme, '/', n - scheme)) {
            snprintf(err, errlen,
                     "cors_allow_origins: '%.*s' is not an origin like https://app.example.com "
                     "or http://127.0.0.1:3000 (scheme, host, optional port; no path)",
                     (int)(n < 80 ? n : 80), e);
            return -1;
        }
    }
    if (star && entries > 1) {
        snprintf(err, errlen, "cors_allow_origins: \"*\" stands alone, without other origins");
        return -1;
    }
    if (star && c->auth_required && !c->cors_any_origin_with_auth) {
        snprintf(err, errlen,
                 "cors_allow_origins = * with auth_required = true lets any web page use a key "
                 "it holds: list the origins, or set cors_any_origin_with_auth = true");
        return -1;
    }
    return 0;
}

/* "" or digits with an optional kB/MB/GB/TB unit (PostgreSQL's memory units). */
static int work_mem_check(const char *s)
{
    const char *u = s;

    if (!*s) return 0;
    while (*u >= '0' && *u <= '9')
        u++;
    if (u == s || u - s > 10) return -1;
    return !*u || strcmp(u, "kB") == 0 || strcmp(u, "MB") == 0 || strcmp(u, "GB") == 0 ||
                   strcmp(u, "TB") == 0
               ? 0
               : -1;
}

static int is_http_url(const char *u)
{
    return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

/* The notification targets: http(s) URLs; a webhook needs its signing secret. */
static int notify_check(const conf *c, char *err, size_t errlen)
{
    if ((*c->export_notify_url && !is_http_url(c->export_notify_url)) ||
        (*c->export_notify_sqs_url && !is_http_url(c->export_notify_sqs_url))) {
        snprintf(err, errlen, "export_notify_url and export_notify_sqs_url must be http(s) URLs");
        return -1;
    }
    if (*c->export_notify_url && !*c->export_notify_secret) {
        snprintf(err, errlen, "export_notify_url needs export_notify_secret");
        return -1;
    }
    return 0;
}

/* Checks and normalises values that depend on others. */
static int conf_finish(conf *c, char *err, size_t errlen)
{
    char *slash;
    size_t n;

    if (c->default_page_size > c->max_page_size) c->default_page_size = c->max_page_size;
    if (log_level_parse(c->log_level) < 0) {
        snprintf(err, errlen, "log_level must be error, warn, info or debug");
        return -1;
    }
    if (strcmp(c->log_format, "text") != 0 && strcmp(c->log_format, "json") != 0) {
        snprintf(err, errlen, "log_format must be text or json");
        return -1;
    }
    if (c->workers == 0) { /* follow the cores: two per core, 2 to 64 */
        long cores2 = sysconf(_SC_NPROCESSORS_ONLN) * 2;
        c->workers = cores2 < 2 ? 2 : cores2 > 64 ? 64 : cores2;
    }
    if (c->queue_workers < 0) c->queue_workers = c->workers;
    if (c->workers + c->queue_workers + c->health_workers > 256) {
        snprintf(err, errlen, "workers + queue_workers + health_workers must be at most 256");
        return -1;
    }
    if (strcmp(c->llm_provider, "openai") != 0 && strcmp(c->llm_provider, "anthropic") != 0 &&
        strcmp(c->llm_provider, "bedrock") != 0) {
        snprintf(err, errlen, "llm_provider must be openai, anthropic or bedrock");
        return -1;
    }
    if (strcmp(c->llm_provider, "bedrock") == 0 && !*c->bedrock_model_id) {
        snprintf(err, errlen, "llm_provider = bedrock needs bedrock_model_id");
        return -1;
    }
    if ((slash = strstr(c->llm_base_url, "/chat/completions")) != NULL)
        *slash = '\0'; /* accept a full endpoint URL as well as a base URL */
    for (n = strlen(c->base_path); n > 0 && c->base_path[n - 1] == '/'; n--)
        c->base_path[n - 1] = '\0'; /* "/prod/" is "/prod"; "/" is none */
    if (*c->base_path && (c->base_path[0] != '/' || strpbrk(c->base_path, " \t?#%"))) {
        snprintf(err, errlen, "base_path must be a path like /prod (no spaces, ?, # or %%)");
        return -1;
    }
    if (strcmp(c->replica_fallback, "primary") != 0 && strcmp(c->replica_fallback, "error") != 0) {
        snprintf(err, errlen, "replica_fallback must be primary or error");
        return -1;
    }
    if (cors_check(c, err, errlen) < 0 || notify_check(c, err, errlen) < 0) return -1;
    if (work_mem_check(c->work_mem) < 0) {
        snprintf(err, errlen, "work_mem must be a size like 4096kB, 64MB or 1GB (or empty)");
        return -1;
    }
    return 0;
}

int conf_origin_allowed(const conf *c, const char *origin)
{
    const char *p = c->cors_allow_origins, *e;
    size_t n, olen;

    if (!p || !*p) return CONF_ORIGIN_NO;
    olen = origin ? strlen(origin) : 0;
    while ((n = origin_next(&p, &e)) > 0) {
        if (n == 1 && *e == '*') return CONF_ORIGIN_ANY;
        if (olen && n == olen && memcmp(e, origin, n) == 0) return CONF_ORIGIN_LISTED;
    }
    return CONF_ORIGIN_NO;
}

/* Defaults, then the file (path) or the text, then the environment (use_env), then the files
 * the secrets' <key>_file settings name. */
static int conf_build(const char *path, const char *text, size_t len, int use_env, conf *out,
                      char *err, size_t errlen)
{
    conf_ld ld;
    size_t i;
    int rc = -1;

    memset(&ld, 0, sizeof ld);
    for (i = 0; i < NKEYS; i++)
        if (conf_set(&ld.c, &conf_keys[i], conf_keys[i].def, "default", err, errlen) < 0) goto done;
    if (path && conf_read_file(&ld, path, err, errlen) < 0) goto done;
    if (text && conf_parse_text(&ld, text, len, "buffer", NULL, err, errlen) < 0) goto done;
    if (use_env && conf_read_env(&ld, err, errlen) < 0) goto done;
    for (i = 0; i < NKEYS; i++)
        if (ld.file_of[i] && conf_read_secret(&ld, i, err, errlen) < 0) goto done;
    if (conf_finish(&ld.c, err, errlen) < 0) goto done;
    *out = ld.c;
    rc = 0;
done:
    for (i = 0; i < NKEYS; i++)
        free(ld.file_of[i]);
    if (rc < 0) conf_free(&ld.c);
    return rc;
}

int conf_load(const char *path, conf *out, char *err, size_t errlen)
{
    return conf_build(path, NULL, 0, 1, out, err, errlen);
}

int conf_load_buffer(const char *text, size_t len, conf *out, char *err, size_t errlen)
{
    return conf_build(NULL, text ? text : "", text ? len : 0, 0, out, err, errlen);
}

void conf_free(conf *c)
{
    size_t i;

    for (i = 0; i < NKEYS; i++)
        if (conf_keys[i].type == CT_STR) {
            free(*conf_str(c, &conf_keys[i]));
            *conf_str(c, &conf_keys[i]) = NULL;
        }
}

int conf_keep_fixed(conf *nw, const conf *old)
{
    size_t i;

    for (i = 0; i < NKEYS; i++) {
        const conf_key *k = &conf_keys[i];
        char *dup;

        if (k->reloadable) continue;
        if (k->type == CT_STR) {
            const char *was = *(char *const *)((const char *)old + k->off);
            const char *is = *conf_str(nw, k);
            if (strcmp(was, is) == 0) continue;
            log_warn("%s changes need a restart; keeping %s", k->key, k->secret ? "it" : was);
            if (!(dup = strdup(was))) return -1;
            free(*conf_str(nw, k));
            *conf_str(nw, k) = dup;
        } else {
            size_t sz = k->type == CT_INT ? sizeof(long) : sizeof(int);
            if (memcmp((char *)nw + k->off, (const char *)old + k->off, sz) == 0) continue;
            log_warn("%s changes need a restart; keeping the old value", k->key);
            memcpy((char *)nw + k->off, (const char *)old + k->off, sz);
        }
    }
    return 0;
}

void conf_print(const conf *c, FILE *f)
{
    size_t i;

    for (i = 0; i < NKEYS; i++) {
        const conf_key *k = &conf_keys[i];
        const char *p = (const char *)c + k->off;

        if (k->type == CT_STR) {
            const char *v = *(char *const *)p;
            fprintf(f, "%s = %s\n", k->key, k->secret && v && *v ? "********" : v ? v : "");
        } else if (k->type == CT_INT) {
            fprintf(f, "%s = %ld\n", k->key, *(const long *)p);
        } else {
            fprintf(f, "%s = %s\n", k->key, *(const int *)p ? "true" : "false");
        }
    }
}

void conf_register_secrets(const conf *c)
{
    size_t i;

    for (i = 0; i < NKEYS; i++)
        if (conf_keys[i].secret)
            log_add_secret(*(char *const *)((const char *)c + conf_keys[i].off));
}

/* Appends key='value' with libpq quoting (backslash before ' and \). */
static int conninfo_add(char *dst, size_t len, size_t *pos, const char *key, const char *val)
{
    int n = snprintf(dst + *pos, len - *pos, "%s%s='", *pos ? " " : "", key);

    if (n < 0 || (size_t)n >= len - *pos) return -1;
    *pos += (size_t)n;
    for (; *val; val++) {
        if (*pos + 3 >= len) return -1;
        if (*val == '\'' || *val == '\\') dst[(*pos)++] = '\\';
        dst[(*pos)++] = *val;
    }
    if (*pos + 2 >= len) return -1;
    dst[(*pos)++] = '\'';
    dst[*pos] = '\0';
    return 0;
}

int conf_pg_conninfo(const conf *c, char *dst, size_t len, const char *appname)
{
    return conf_pg_conninfo_at(c, CONF_DB_PRIMARY, dst, len, appname);
}

int conf_pg_conninfo_at(const conf *c, conf_db which, char *dst, size_t len, const char *appname)
{
    size_t pos = 0;
    char port[16], tmo[16];
    const char *host = c->db_host;
    long portn = c->db_port;

    if (which == CONF_DB_POOL && *c->db_pool_host) host = c->db_pool_host, portn = c->db_pool_port;
    if (which == CONF_DB_REPLICA) host = c->db_replica_host, portn = c->db_replica_port;
    snprintf(port, sizeof port, "%ld", portn);
    snprintf(tmo, sizeof tmo, "%ld", c->db_connect_timeout);
    dst[0] = '\0';
    if (conninfo_add(dst, len, &pos, "host", host) < 0 ||
        conninfo_add(dst, len, &pos, "port", port) < 0 ||
        conninfo_add(dst, len, &pos, "dbname", c->db_name) < 0 ||
        conninfo_add(dst, len, &pos, "user", c->db_user) < 0 ||
        (*c->db_pass && conninfo_add(dst, len, &pos, "password", c->db_pass) < 0) ||
        conninfo_add(dst, len, &pos, "connect_timeout", tmo) < 0 ||
        conninfo_add(dst, len, &pos, "keepalives", "1") < 0 ||
        conninfo_add(dst, len, &pos, "keepalives_idle", "10") < 0 ||
        conninfo_add(dst, len, &pos, "keepalives_interval", "5") < 0 ||
        conninfo_add(dst, len, &pos, "keepalives_count", "3") < 0 ||
        conninfo_add(dst, len, &pos, "application_name", appname) < 0)
        return -1;
    return 0;
}

int conf_schema_list(const conf *c, char ***names, int max)
{
    size_t slen = strlen(c->schemas);
    char **v = malloc((size_t)max * sizeof(char *) + slen + 1);
    char *s, *p;
    int n = 0;

    if (!v) return -1;
    s = (char *)(v + max);
    memcpy(s, c->schemas, slen + 1);
    for (p = strtok_r(s, ",", &s); p && n < max; p = strtok_r(NULL, ",", &s)) {
        p = str_trim(p);
        if (*p) v[n++] = p;
    }
    *names = v;
    return n;
}
