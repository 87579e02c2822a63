/* cache -- Redis get/set that degrades to "miss" when Redis is down; see cache.h. */
#include "cache.h"

#include "log.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cache {
    redisContext *rc;
    char host[256];
    int port;
    char password[256];
    long timeout_ms;
    time_t retry_at;
    char hint[128];      /* a key to read with the next GET of another key ("" = none) */
    char ahead_key[128]; /* the key read ahead ("" = none) */
    redisReply *ahead;   /* its reply, owned; never kept past cache_ahead_drop() */
};

cache *cache_new(const conf *cf)
{
    cache *c = calloc(1, sizeof *c);

    if (!c) return NULL;
    str_copy(c->host, sizeof c->host, cf->redis_host);
    str_copy(c->password, sizeof c->password, cf->redis_password);
    c->port = (int)cf->redis_port;
    c->timeout_ms = cf->redis_timeout_ms;
    return c;
}

void cache_free(cache *c)
{
    if (!c) return;
    cache_ahead_drop(c);
    if (c->rc) redisFree(c->rc);
    free(c);
}

static void cache_drop(cache *c)
{
    if (c->rc) redisFree(c->rc);
    c->rc = NULL;
    c->retry_at = time(NULL) + 1;
}

static redisContext *cache_conn(cache *c)
{
    struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
    redisReply *r;

    if (c->rc) return c->rc;
    if (c->port == 0 || time(NULL) < c->retry_at) return NULL;
    /* a path: Redis's Unix socket (unixsocket), no TCP on the way to a Redis on this host */
    c->rc = c->host[0] == '/' ? redisConnectUnixWithTimeout(c->host, tv)
                              : redisConnectWithTimeout(c->host, c->port, tv);
    if (!c->rc || c->rc->err) {
        log_debug("redis unavailable: %s", c->rc ? c->rc->errstr : "out of memory");
        cache_drop(c);
        return NULL;
    }
    redisSetTimeout(c->rc, tv);
    if (c->password[0]) {
        r = redisCommand(c->rc, "AUTH %s", c->password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            log_warn("redis AUTH failed");
            if (r) freeReplyObject(r);
            cache_drop(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    return c->rc;
}

/* Runs a command; on a transport error drops the connection. A connection that had worked
 * and then failed (Redis restarted) is replaced at once, once; only a failed connect waits a
 * second before the next try. Caller frees the reply. */
static redisReply *cache_cmd(cache *c, const char *fmt, ...)
{
    int had = c->rc != NULL, attempt;
    redisReply *r = NULL;
    va_list ap;

    for (attempt = 0; attempt < 1 + had && !r; attempt++) {
        redisContext *rc = cache_conn(c);
        if (!rc) return NULL;
        va_start(ap, fmt);
        r = redisvCommand(rc, fmt, ap);
        va_end(ap);
        if (!r) {
            log_debug("redis command failed: %s", rc->errstr);
            redisFree(c->rc);
            c->rc = NULL;
        }
    }
    if (!r) c->retry_at = time(NULL) + 1;
    return r;
}

void cache_read_ahead(cache *c, const char *key)
{
    if (!c) return;
    cache_ahead_drop(c);
    str_copy(c->hint, sizeof c->hint, key);
}

void cache_ahead_drop(cache *c)
{
    if (!c) return;
    if (c->ahead) freeReplyObject(c->ahead);
    c->ahead = NULL;
    c->ahead_key[0] = c->hint[0] = '\0';
}

/* GET key and GET c->hint in one round trip: key's reply returned, the hint's kept as
 * c->ahead. NULL (and no connection) on a transport error: the caller asks again alone. */
static redisReply *get_with_hint(cache *c, const char *key)
{
    redisContext *rc = cache_conn(c);
    redisReply *r = NULL, *h = NULL;

    if (!rc) return NULL;
    if (redisAppendCommand(rc, "GET %s", key) != REDIS_OK ||
        redisAppendCommand(rc, "GET %s", c->hint) != REDIS_OK ||
        redisGetReply(rc, (void **)&r) != REDIS_OK || redisGetReply(rc, (void **)&h) != REDIS_OK) {
        log_debug("redis command failed: %s", rc->errstr);
        if (r) freeReplyObject(r);
        redisFree(c->rc);
        c->rc = NULL;
        return NULL;
    }
    memcpy(c->ahead_key, c->hint, sizeof c->ahead_key);
    c->ahead = h;
    return r;
}

int cache_get(cache *c, const char *key, buf *out)
{
    redisReply *r = NULL;
    int hit = 0;

    if (!c) return 0;
    if (c->ahead && strcmp(c->ahead_key, key) == 0) { /* read in this request's round trip */
        r = c->ahead;
        c->ahead = NULL;
        c->ahead_key[0] = '\0';
    } else if (c->hint[0] && strcmp(c->hint, key) != 0) {
        r = get_with_hint(c, key);
    }
    c->hint[0] = '\0';
    if (!r && !(r = cache_cmd(c, "GET %s", key))) return 0;
    if (r->type == REDIS_REPLY_STRING && buf_add(out, r->str, r->len) == 0) hit = 1;
    freeReplyObject(r);
    return hit;
}

/* A write to the key read ahead makes what was read stale. */
static void ahead_forget(cache *c, const char *key)
{
    if (c->ahead && strcmp(c->ahead_key, key) == 0) cache_ahead_drop(c);
}

void cache_set(cache *c, const char *key, const char *val, size_t len, long ttl)
{
    redisReply *r;

    if (!c) return;
    ahead_forget(c, key);
    r = ttl > 0 ? cache_cmd(c, "SET %s %b EX %ld", key, val, len, ttl)
                : cache_cmd(c, "SET %s %b", key, val, len);
    if (r) freeReplyObject(r);
}

void cache_del(cache *c, const char *key)
{
    redisReply *r;

    if (!c) return;
    ahead_forget(c, key);
    if ((r = cache_cmd(c, "DEL %s", key))) freeReplyObject(r);
}

long cache_incr(cache *c, const char *key, long ttl)
{
    redisReply *r;
    long v = -1;

    if (!c || !(r = cache_cmd(c, "INCR %s", key))) return -1;
    if (r->type == REDIS_REPLY_INTEGER) v = (long)r->integer;
    freeReplyObject(r);
    if (v == 1 && ttl > 0 && (r = cache_cmd(c, "EXPIRE %s %ld", key, ttl))) freeReplyObject(r);
    return v;
}

/* KEYS[1] bucket; ARGV rate per minute, burst. Returns {allowed, retry_after_s}. */
static const char bucket_lua[] =
    "local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')\n"
    "local tokens, ts = tonumber(b[1]), tonumber(b[2])\n"
    "if tokens == nil or ts == nil then tokens, ts = burst, now end\n"
    "tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 60000)\n"
    "local ok, wait = 0, 0\n"
    "if tokens >= 1 then ok, tokens = 1, tokens - 1\n"
    "else wait = math.floor((1 - tokens) * 60 / rate) + 1 end\n"
    "redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))\n"
    "redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 60000 / rate) + 1000)\n"
    "return {ok, wait}\n";

long cache_eval_bucket(cache *c, const char *key, long rate_per_min, long burst,
                       long *retry_after_s)
{
    redisReply *r;
    long v = -1;

    if (!c || rate_per_min <= 0 || burst <= 0 ||
        !(r = cache_cmd(c, "EVAL %s 1 %s %ld %ld", bucket_lua, key, rate_per_min, burst)))
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER) {
        v = r->element[0]->integer ? 1 : 0;
        if (retry_after_s) *retry_after_s = (long)r->element[1]->integer;
    } else if (r->type == REDIS_REPLY_ERROR) {
        log_warn("redis rate-limit script failed: %s", r->str);
    }
    freeReplyObject(r);
    return v;
}

int cache_ping(cache *c)
{
    redisReply *r;
    int ok;

    if (!c || !(r = cache_cmd(c, "PING"))) return 0;
    ok = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return ok;
}

/* dst is a plain pointer: va_start after a parameter declared as an array is undefined
 * (C11 7.16.1.4). */
/* SHA-256 fetched once per process (an implicit fetch on every digest costs a provider
 * lookup each time). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void cache_key_hash(char *dst, ...)
{
    static const char hex[] = "0123456789abcdef";
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char out[32];
    unsigned int n = 0, i;
    const char *part;
    va_list ap;

    dst[0] = '\0';
    if (!md) return;
    pthread_once(&sha256_once, sha256_fetch);
    EVP_DigestInit_ex(md, sha256_md ? sha256_md : EVP_sha256(), NULL);
    va_start(ap, dst);
    while ((part = va_arg(ap, const char *)) != NULL)
        EVP_DigestUpdate(md, part, strlen(part) + 1); /* the NUL separates parts */
    va_end(ap);
    EVP_DigestFinal_ex(md, out, &n);
    EVP_MD_CTX_free(md);
    for (i = 0; i < n; i++) {
        dst[2 * i] = hex[out[i] >> 4];
        dst[2 * i + 1] = hex[out[i] & 15];
    }
    dst[2 * n] = '\0';
}
