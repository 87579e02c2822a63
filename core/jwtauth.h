/* jwtauth -- sign-in with a JSON Web Token ("Authorization: Bearer <JWT>"): HS256 with the
 * configured secret (jwt_secret, or jwt_secret_file), RS256 and ES256 (P-256) with the public
 * keys of a JWKS file (jwt_jwks_file; read when a worker starts, so SIGHUP's new workers see a
 * changed file). Parsing and signatures are libjwt's; JWKS keys become PEM with OpenSSL.
 *
 * A token is accepted only if: its header's alg is HS256, RS256 or ES256 (never "none") and a
 * key of that type is configured (an RS/ES token's kid must name a JWKS key, unless the file
 * holds exactly one key of that type); the signature verifies; "exp" is present and not past,
 * "nbf" (if present) not in the future, both with jwt_leeway_s of slack; "iss" equals
 * jwt_issuer and "aud" (a string or an array) holds jwt_audience when those are set; "sub" is a
 * non-empty string. The role is the jwt_role_claim claim (absent: query_role); the claims
 * named in jwt_claims become the RLS claims (t2sql.claim.<name>).
 *
 * Every failure is E_UNAUTHORIZED with a detail that says which check failed and never holds
 * the token or a claim's value; nothing here logs. jwtauth_keys is owned by the caller
 * (jwtauth_free). */
#ifndef T2_JWTAUTH_H
#define T2_JWTAUTH_H

#include "auth.h"
#include "conf.h"
#include "err.h"

#include <stddef.h>

#define JWTAUTH_TOKEN_MAX 8192

typedef struct jwtauth_keys jwtauth_keys;

/* 1 if cf configures JWT sign-in (a secret or a JWKS file), else 0. */
int jwtauth_enabled(const conf *cf);
/* 1 if token has the shape of a JWT (three base64url parts separated by dots), else 0. */
int jwtauth_looks_like(const char *token);
/* Reads cf->jwt_jwks_file (none configured: an empty set). 0 with *out, or -1 with msg. */
int jwtauth_load(const conf *cf, jwtauth_keys **out, char *msg, size_t msglen);
void jwtauth_free(jwtauth_keys *k);
/* Number of keys loaded. */
int jwtauth_count(const jwtauth_keys *k);

/* Verifies token (see above) at time now (seconds since the epoch) and fills out: owner
 * "jwt:<16 hex of sha256(iss NUL sub)>" (+ the identity's hash), subject "jwt:<sub>", scopes
 * jwt_scopes, role and claims. 0, or -1 with E_UNAUTHORIZED (E_FORBIDDEN for claims that
 * cannot be passed on). */
int jwtauth_verify(const jwtauth_keys *k, const conf *cf, const char *token, long now,
                   auth_ctx *out, t2err *err);

#endif
