/* auth -- API key lookup, scopes and token-bucket rate limits; see auth.h. */
#include "auth.h"

#include "buf.h"
#include "log.h"
#include "pg.h"
#include "sigv4.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void auth_hash_key(const char *key, char hex[65])
{
    sigv4_sha256_hex(key, strlen(key), hex);
}

/* Keys are printable ASCII without spaces; anything else cannot be one of ours. */
static int key_plausible(const char *key)
{
    size_t n = 0;

    for (; key[n]; n++)
        if (n >= AUTH_KEY_MAX || key[n] <= ' ' || key[n] > '~') return 0;
    return n >= 8;
}

int auth_has_scope(const auth_ctx *a, const char *scope)
{
    size_t sl;
    const char *p;

    if (!scope || !*scope) return 1;
    sl = strlen(scope);
    for (p = a->scopes; *p;) {
        size_t n = strcspn(p, ",");
        if (n == sl && strncmp(p, scope, sl) == 0) return 1;
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

/* Copies one claim's name and text into a->cstore at *at; -1 when it does not fit. */
static int claim_put(auth_ctx *a, size_t *at, const char *name, const char *val)
{
    size_t nl = strlen(name) + 1, vl = strlen(val) + 1;

    if (*at + nl + vl > sizeof a->cstore) return -1;
    memcpy(a->cstore + *at, name, nl);
    a->claims[a->id.nclaims].name = a->cstore + *at;
    memcpy(a->cstore + *at + nl, val, vl);
    a->claims[a->id.nclaims].value = a->cstore + *at + nl;
    *at += nl + vl;
    a->id.nclaims++;
    return 0;
}

static int claims_parse(auth_ctx *a, json_object *o, t2err *err)
{
    size_t at = 0;

    if (!json_object_is_type(o, json_type_object))
        return err_set(err, E_FORBIDDEN, "the claims are not a JSON object");
    json_object_object_foreach(o, k, v)
    {
        const char *t = json_object_is_type(v, json_type_string)
                            ? json_object_get_string(v)
                            : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        if (a->id.nclaims >= AUTH_CLAIMS_MAX)
            return err_set(err, E_FORBIDDEN, "more than %d claims", AUTH_CLAIMS_MAX);
        if (!txn_claim_name_ok(k))
            return err_set(err, E_FORBIDDEN, "a claim's name is not a simple identifier");
        if (claim_put(a, &at, k, t ? t : "") < 0)
            return err_set(err, E_FORBIDDEN, "the claims are too long");
    }
    return 0;
}

int auth_identity_set(auth_ctx *a, const char *role, const char *claims_json, t2err *err)
{
    json_object *o = NULL;
    const char *js;
    char hex[65];
    buf h = BUF_INIT(AUTH_CLAIMS_JSON_MAX + 80);
    int rc = -1;

    memset(&a->id, 0, sizeof a->id);
    a->id_hash[0] = 0;
    str_copy(a->role, sizeof a->role, role ? role : "");
    if (role && strlen(role) >= sizeof a->role)
        return err_set(err, E_FORBIDDEN, "the role name is too long");
    if (!claims_json || !*claims_json) claims_json = "{}";
    if (!(o = json_tokener_parse(claims_json))) {
        err_set(err, E_FORBIDDEN, "the claims are not JSON");
        goto done;
    }
    if (claims_parse(a, o, err) < 0) goto done;
    js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    if (strlen(js) >= sizeof a->claims_json) {
        err_set(err, E_FORBIDDEN, "the claims are too long");
        goto done;
    }
    str_copy(a->claims_json, sizeof a->claims_json, js);
    a->id.role = a->role;
    a->id.claims = a->claims;
    a->id.claims_json = a->id.nclaims ? a->claims_json : NULL;
    if (a->role[0] || a->id.nclaims) {
        size_t ol = strlen(a->owner);
        buf_add(&h, a->role, strlen(a->role) + 1);
        buf_adds(&h, a->claims_json);
        sigv4_sha256_hex(h.p ? h.p : "", h.len, hex);
        memcpy(a->id_hash, hex, 16);
        a->id_hash[16] = 0;
        if (ol + 18 < sizeof a->owner)
            snprintf(a->owner + ol, sizeof a->owner - ol, "#%s", a->id_hash);
    }
    rc = 0;
done:
    json_object_put(o);
    buf_free(&h);
    return rc;
}

#define ROLE_CACHE 32

int auth_role_allowed(PGconn *c, const char *role, t2err *err)
{
    static struct {
        char role[64];
        int ok;
        time_t at;
    } rc_[ROLE_CACHE];
    static unsigned next;
    const char *params[1] = {role};
    time_t now = time(NULL);
    PGresult *r;
    int i, ok;

    for (i = 0; i < ROLE_CACHE; i++)
        if (rc_[i].role[0] && strcmp(rc_[i].role, role) == 0 && now - rc_[i].at < 60) {
            ok = rc_[i].ok;
            goto out;
        }
    r = PQexecParams(c,
                     "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)"
                     " THEN pg_has_role(current_user, $1, 'MEMBER') ELSE false END",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_result_err(c, r, E_DB_UNAVAILABLE, err, "role check");
        PQclear(r);
        return -1;
    }
    ok = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    i = (int)(next++ % ROLE_CACHE);
    str_copy(rc_[i].role, sizeof rc_[i].role, role);
    rc_[i].ok = ok;
    rc_[i].at = now;
out:
    return ok ? 0
              : err_set(err, E_FORBIDDEN,
                        "the identity's database role is not one the service may switch to");
}

const txn_identity *auth_txn_identity(const auth_ctx *a)
{
    return a && (a->role[0] || a->id.nclaims) ? &a->id : NULL;
}

int auth_check(PGconn *c, const char *key, const char *scope, auth_ctx *out, t2err *err)
{
    static const char q[] =
        "SELECT id::text, array_to_string(scopes, ','), coalesce(rate_limit_per_min, -1),"
        " coalesce(role, ''), claims::text"
        " FROM t2sql.api_keys WHERE key_hash = $1 AND revoked_at IS NULL";
    char hex[65];
    const char *params[1] = {hex};
    PGresult *r = NULL;
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (!key || !*key)
        return err_set(err, E_UNAUTHORIZED,
                       "an API key is required (Authorization: Bearer <key> or X-API-Key)");
    if (!key_plausible(key)) return err_set(err, E_UNAUTHORIZED, "invalid API key");
    auth_hash_key(key, hex);
    if (!hex[0]) return err_set(err, E_INTERNAL, "sha256 failed");
    r = PQexecParams(c, q, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_result_err(c, r, E_DB_UNAVAILABLE, err, "api key lookup");
        goto done;
    }
    if (PQntuples(r) != 1) {
        err_set(err, E_UNAUTHORIZED, "invalid API key");
        goto done;
    }
    snprintf(out->owner, sizeof out->owner, "key:%s", PQgetvalue(r, 0, 0));
    str_copy(out->subject, sizeof out->subject, out->owner);
    if (auth_identity_set(out, PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4), err) < 0) goto done;
    str_copy(out->scopes, sizeof out->scopes, PQgetvalue(r, 0, 1));
    if (str_to_long(PQgetvalue(r, 0, 2), -1, 100000000L, &out->limit_per_min) < 0)
        out->limit_per_min = -1;
    if (!auth_has_scope(out, scope)) {
        err_set(err, E_FORBIDDEN, "this API key lacks the '%s' scope", scope);
        goto done;
    }
    rc = 0;
done:
    PQclear(r);
    return rc;
}

/* Per-process buckets, used while Redis is down. A small table; when full, the bucket
 * touched longest ago is reused (it is then simply full again: failing open for the
 * coldest owner rather than refusing a new one). */
#define LOCAL_BUCKETS 128

static struct {
    char owner[64];
    double tokens;
    double at; /* monotonic seconds of the last update */
} local_b[LOCAL_BUCKETS];

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* 1 allowed, 0 refused with *wait seconds. */
static int local_take(const char *owner, long rate, long burst, long *wait)
{
    double t = now_s();
    int i, slot = -1, oldest = 0;

    for (i = 0; i < LOCAL_BUCKETS; i++) {
        if (local_b[i].owner[0] && strcmp(local_b[i].owner, owner) == 0) {
            slot = i;
            break;
        }
        if (!local_b[i].owner[0] || local_b[i].at < local_b[oldest].at ||
            (local_b[oldest].owner[0] && !local_b[i].owner[0]))
            oldest = i;
    }
    if (slot < 0) {
        slot = oldest;
        str_copy(local_b[slot].owner, sizeof local_b[slot].owner, owner);
        local_b[slot].tokens = (double)burst;
        local_b[slot].at = t;
    }
    local_b[slot].tokens += (t - local_b[slot].at) * (double)rate / 60.0;
    if (local_b[slot].tokens > (double)burst) local_b[slot].tokens = (double)burst;
    local_b[slot].at = t;
    if (local_b[slot].tokens >= 1.0) {
        local_b[slot].tokens -= 1.0;
        return 1;
    }
    *wait = (long)((1.0 - local_b[slot].tokens) * 60.0 / (double)rate) + 1;
    return 0;
}

int auth_rate_limit(cache *c, const auth_ctx *a, long *retry_after, t2err *err)
{
    char key[128];
    long rate = a->limit_per_min, wait = 1;
    int ok;

    if (retry_after) *retry_after = 0;
    if (rate <= 0) return 0;
    snprintf(key, sizeof key, "t2sql:rl:%s", a->owner);
    ok = c ? (int)cache_eval_bucket(c, key, rate, rate, &wait) : -1;
    if (ok < 0) /* Redis unavailable */
        ok = local_take(a->owner, rate, rate, &wait);
    if (ok) return 0;
    if (wait < 1) wait = 1;
    if (retry_after) *retry_after = wait;
    err_set(err, E_RATE_LIMITED, "rate limit of %ld requests per minute exceeded; retry in %ld s",
            rate, wait);
    if (err) err->retry_after = (int)wait;
    return -1;
}

/* Skips leading blanks; NULL if nothing is left. */
static const char *nonblank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return *s ? s : NULL;
}

const char *auth_key_from_headers(const char *authorization, const char *x_api_key)
{
    const char *k;

    if (authorization && (k = nonblank(authorization)) && strncasecmp(k, "Bearer", 6) == 0 &&
        (k[6] == ' ' || k[6] == '\t') && (k = nonblank(k + 6)))
        return k;
    if (x_api_key && (k = nonblank(x_api_key))) return k;
    return NULL;
}
