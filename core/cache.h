/* cache -- the optional Redis connection: get/set with TTL and counters for rate limits.
 *
 * Redis is never required: when it is down every call reports a miss (or -1 for counters)
 * quickly, and reconnecting is tried at most once a second. A cache owns its redisContext
 * and a reply read ahead (cache_read_ahead); cache_free() releases them. */
#ifndef T2_CACHE_H
#define T2_CACHE_H

#include "buf.h"
#include "conf.h"

typedef struct cache cache;

cache *cache_new(const conf *cf);
void cache_free(cache *c);
/* 1 = hit (value appended to out), 0 = miss or Redis unavailable. */
int cache_get(cache *c, const char *key, buf *out);
/* Reads key along with the next cache_get() of another key, in the same round trip, when a
 * caller can guess a key it will probably want next; the next cache_get(key) then takes
 * that reply. What was read ahead is dropped by cache_ahead_drop() (at the latest when the
 * request ends: it is never served later), by a cache_set() or cache_del() of key and by
 * the next cache_read_ahead(). */
void cache_read_ahead(cache *c, const char *key);
void cache_ahead_drop(cache *c);
/* Best effort; ttl seconds (0 = no expiry). */
void cache_set(cache *c, const char *key, const char *val, size_t len, long ttl);
void cache_del(cache *c, const char *key);
/* INCR key with expiry ttl on first use; the new value, or -1 if Redis is unavailable. */
long cache_incr(cache *c, const char *key, long ttl);
/* Token bucket at key: rate_per_min tokens per minute, at most burst, one taken per call,
 * atomically (a Lua script; Redis's clock). 1 = allowed, 0 = refused with *retry_after_s
 * set to the seconds until a token is back, -1 = Redis unavailable. */
long cache_eval_bucket(cache *c, const char *key, long rate_per_min, long burst,
                       long *retry_after_s);
/* 1 if connected now (tries to connect if allowed). */
int cache_ping(cache *c);
/* Hex sha256 of the concatenated parts (NULL-terminated list) into dst[65]. */
void cache_key_hash(char *dst, ...);

#endif
