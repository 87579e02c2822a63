/* cache -- the optional Redis connection: get/set with TTL and counters for rate limits.
 *
 * Redis is never required: when it is down every call reports a miss (or -1 for counters)
 * quickly, and reconnecting is tried at most once a second. A cache owns its redisContext;
 * cache_free() releases it. */
#ifndef T2_CACHE_H
#define T2_CACHE_H

#include "buf.h"
#include "conf.h"

typedef struct cache cache;

cache *cache_new(const conf *cf);
void cache_free(cache *c);
/* 1 = hit (value appended to out), 0 = miss or Redis unavailable. */
int cache_get(cache *c, const char *key, buf *out);
/* Best effort; ttl seconds (0 = no expiry). */
void cache_set(cache *c, const char *key, const char *val, size_t len, long ttl);
void cache_del(cache *c, const char *key);
/* INCR key with expiry ttl on first use; the new value, or -1 if Redis is unavailable. */
long cache_incr(cache *c, const char *key, long ttl);
/* 1 if connected now (tries to connect if allowed). */
int cache_ping(cache *c);
/* Hex sha256 of the concatenated parts (NULL-terminated list) into dst[65]. */
void cache_key_hash(char *dst, ...);

#endif
