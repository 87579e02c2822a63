/* auth -- API keys (looked up by their sha256 in t2sql.api_keys, scopes) and per-key rate
 * limits (a token bucket in Redis, per process when Redis is down).
 *
 * A key is never stored, logged or copied into an error detail; only its hash leaves this
 * module. Nothing here allocates memory the caller must free. Routing (which endpoint needs
 * which scope) and turning errors into responses belong to the HTTP layer. */
#ifndef T2_AUTH_H
#define T2_AUTH_H

#include "cache.h"
#include "err.h"
#include "txn.h"

#include <libpq-fe.h>

#define AUTH_KEY_MAX 256 /* longer keys are refused without a lookup */

#define AUTH_CLAIMS_MAX      16   /* claims per identity */
#define AUTH_CLAIMS_JSON_MAX 2048 /* their JSON text */

/* Who asks: the principal, its scopes, its database role and its claims. The txn_identity in
 * it points into the struct itself: fill one in place (auth_check, auth_identity_set) and
 * never copy it. */
typedef struct auth_ctx {
    char owner[64];     /* "key:<id>" (+ "#<hash>" of role and claims when it has any):
                         * owner of queries and jobs, so that no identity sees another's */
    char subject[64];   /* "key:<id>" or "jwt:<sub>", for the audit trail */
    char scopes[64];    /* comma-separated, e.g. "query,export" */
    long limit_per_min; /* the key's own limit; -1 = none set (use rate_limit_per_min) */
    char role[64];      /* database role generated SQL runs as; "" = query_role */
    char claims_json[AUTH_CLAIMS_JSON_MAX]; /* a JSON object, "{}" when none */
    char id_hash[17]; /* 16 hex of sha256(role NUL claims_json); "" = no role, no claims */
    char cstore[AUTH_CLAIMS_JSON_MAX + AUTH_CLAIMS_MAX * 2];
    txn_claim claims[AUTH_CLAIMS_MAX];
    txn_identity id; /* role + claims for txn_begin() */
} auth_ctx;

/* Sets a's role and claims (claims_json: a JSON object of at most AUTH_CLAIMS_MAX members,
 * each a simple identifier; a string value is the claim's text, any other value its JSON
 * text; NULL or "" = none), fills a->id, a->id_hash and appends "#<id_hash>" to a->owner.
 * 0, or -1 with E_FORBIDDEN naming what is wrong (never a value). */
int auth_identity_set(auth_ctx *a, const char *role, const char *claims_json, t2err *err);
/* 0 if the connection's login may SET ROLE to role (it exists and the login is a member of
 * it), else -1 with E_FORBIDDEN (E_DB_UNAVAILABLE when the check fails). Answers are kept
 * per process for 60 s. */
int auth_role_allowed(PGconn *c, const char *role, t2err *err);
/* The txn identity of a (NULL when a is NULL or has neither role nor claims). */
const txn_identity *auth_txn_identity(const auth_ctx *a);

/* Hex sha256 of key into hex[65]. */
void auth_hash_key(const char *key, char hex[65]);

/* Looks key up (t2sql.api_keys, not revoked). 0 with out filled; -1 with E_UNAUTHORIZED
 * if key is NULL, empty, malformed or unknown, E_FORBIDDEN if it lacks scope ("query",
 * "export", "admin"; NULL or "" = any valid key), E_DB_UNAVAILABLE/E_INTERNAL when the
 * lookup fails. err->detail never contains the key. */
int auth_check(PGconn *c, const char *key, const char *scope, auth_ctx *out, t2err *err);

/* 1 if a has scope in its list, else 0. */
int auth_has_scope(const auth_ctx *a, const char *scope);

/* Takes one token from a's bucket: a->limit_per_min tokens per minute, burst of the same
 * size (so N quick requests pass and the N+1st is refused). The bucket lives in Redis
 * (key "t2sql:rl:<owner>", shared by every worker) and, while Redis is down, in this
 * process. 0 = allowed (also when limit_per_min <= 0: unlimited); -1 with E_RATE_LIMITED,
 * err->retry_after and *retry_after (may be NULL) set to the seconds until a token is
 * back. c may be NULL (per-process only). */
int auth_rate_limit(cache *c, const auth_ctx *a, long *retry_after, t2err *err);

/* The key from an "Authorization: Bearer <key>" value or else an "X-API-Key" value (either
 * may be NULL). Points into the argument; NULL if there is none. */
const char *auth_key_from_headers(const char *authorization, const char *x_api_key);

#endif
