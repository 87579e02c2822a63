/* jwtauth -- JWT sign-in (libjwt, OpenSSL for JWKS keys); see jwtauth.h. */
#include "jwtauth.h"

#include "body.h"
#include "buf.h"
#include "sigv4.h"

#include <json-c/json.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JWKS_MAX_BYTES (1 << 20)
#define JWKS_MAX_KEYS  64

typedef struct jwk {
    char kid[128];
    jwt_alg_t alg; /* JWT_ALG_RS256 or JWT_ALG_ES256 */
    char *pem;     /* public key, PEM */
} jwk;

struct jwtauth_keys {
    jwk k[JWKS_MAX_KEYS];
    int n;
};

int jwtauth_enabled(const conf *cf)
{
    return (cf->jwt_secret && *cf->jwt_secret) || (cf->jwt_jwks_file && *cf->jwt_jwks_file);
}

int jwtauth_looks_like(const char *t)
{
    int dots = 0;

    for (; *t; t++) {
        if (*t == '.')
            dots++;
        else if (!((*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z') ||
                   (*t >= '0' && *t <= '9') || *t == '-' || *t == '_' || *t == '='))
            return 0;
    }
    return dots == 2;
}

/* base64url (no padding) -> bytes, with OpenSSL's decoder; *out is the caller's (free). */
static int b64url_decode(const char *s, unsigned char **out, int *outlen)
{
    size_t n = strlen(s), i, padded = (n + 3) / 4 * 4;
    char *t = malloc(padded + 1);
    int len, pad = (int)(padded - n);

    *out = malloc(padded / 4 * 3 + 1);
    if (!t || !*out || n == 0 || n % 4 == 1) goto fail;
    for (i = 0; i < n; i++)
        t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    memset(t + n, '=', padded - n);
    t[padded] = 0;
    if ((len = EVP_DecodeBlock(*out, (unsigned char *)t, (int)padded)) < 0) goto fail;
    *outlen = len - pad;
    free(t);
    return 0;
fail:
    free(t);
    free(*out);
    *out = NULL;
    return -1;
}

static BIGNUM *b64_bn(json_object *o, const char *name)
{
    json_object *v;
    unsigned char *b;
    int n;
    BIGNUM *bn;

    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string) ||
        b64url_decode(json_object_get_string(v), &b, &n) < 0)
        return NULL;
    bn = BN_bin2bn(b, n, NULL);
    free(b);
    return bn;
}

/* EC P-256 public point 0x04 || x || y into pt[65]; -1 if x or y is not 32 bytes. */
static int ec_point(json_object *o, unsigned char pt[65])
{
    static const char *xy[2] = {"x", "y"};
    json_object *v;
    unsigned char *b;
    int i, n;

    pt[0] = 4;
    for (i = 0; i < 2; i++) {
        if (!json_object_object_get_ex(o, xy[i], &v) || !json_object_is_type(v, json_type_string) ||
            b64url_decode(json_object_get_string(v), &b, &n) < 0)
            return -1;
        if (n != 32) {
            free(b);
            return -1;
        }
        memcpy(pt + 1 + 32 * i, b, 32);
        free(b);
    }
    return 0;
}

/* A JWK (RSA, or EC on P-256) as a PEM public key; NULL if it is neither or malformed. */
static char *jwk_pem(json_object *o, jwt_alg_t alg)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    BIGNUM *n = NULL, *e = NULL;
    BIO *bio = NULL;
    unsigned char pt[65];
    char *pem = NULL, *p;
    long len;

    if (!bld) return NULL;
    if (alg == JWT_ALG_RS256) {
        if (!(n = b64_bn(o, "n")) || !(e = b64_bn(o, "e")) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
            goto done;
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    } else {
        if (ec_point(o, pt) < 0 ||
            !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt))
            goto done;
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    }
    if (!ctx || !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        goto done;
    if (!(bio = BIO_new(BIO_s_mem())) || !PEM_write_bio_PUBKEY(bio, pk)) goto done;
    len = BIO_get_mem_data(bio, &p);
    if (len > 0 && (pem = malloc((size_t)len + 1))) {
        memcpy(pem, p, (size_t)len);
        pem[len] = 0;
    }
done:
    BIO_free(bio);
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pem;
}

/* Adds one JWKS entry; keys of other types or uses are skipped (0), a malformed one is -1. */
static int add_key(jwtauth_keys *k, json_object *o, char *msg, size_t msglen)
{
    const char *kty = body_str(o, "kty"), *alg = body_str(o, "alg"), *use = body_str(o, "use");
    const char *kid = body_str(o, "kid"), *crv = body_str(o, "crv");
    jwt_alg_t a;
    jwk *e;

    if (use && strcmp(use, "sig") != 0) return 0;
    if (kty && strcmp(kty, "RSA") == 0 && (!alg || strcmp(alg, "RS256") == 0))
        a = JWT_ALG_RS256;
    else if (kty && strcmp(kty, "EC") == 0 && crv && strcmp(crv, "P-256") == 0 &&
             (!alg || strcmp(alg, "ES256") == 0))
        a = JWT_ALG_ES256;
    else
        return 0;
    if (k->n >= JWKS_MAX_KEYS) {
        snprintf(msg, msglen, "more than %d keys", JWKS_MAX_KEYS);
        return -1;
    }
    e = &k->k[k->n];
    str_copy(e->kid, sizeof e->kid, kid ? kid : "");
    e->alg = a;
    if (!(e->pem = jwk_pem(o, a))) {
        snprintf(msg, msglen, "key %d (kid \"%.60s\") is not a valid %s public key", k->n, e->kid,
                 a == JWT_ALG_RS256 ? "RSA" : "P-256");
        return -1;
    }
    k->n++;
    return 0;
}

int jwtauth_load(const conf *cf, jwtauth_keys **out, char *msg, size_t msglen)
{
    jwtauth_keys *k = calloc(1, sizeof *k);
    json_object *j = NULL, *arr;
    buf text = BUF_INIT(JWKS_MAX_BYTES);
    char m[200] = "";
    FILE *f = NULL;
    size_t i;

    *out = NULL;
    if (!k) return snprintf(msg, msglen, "out of memory"), -1;
    if (cf->jwt_jwks_file && *cf->jwt_jwks_file) {
        char chunk[8192];
        size_t got;
        if (!(f = fopen(cf->jwt_jwks_file, "r"))) {
            snprintf(msg, msglen, "jwt_jwks_file %s: cannot be read", cf->jwt_jwks_file);
            goto fail;
        }
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
            if (buf_add(&text, chunk, got) < 0) {
                snprintf(msg, msglen, "jwt_jwks_file %s: larger than 1 MiB", cf->jwt_jwks_file);
                goto fail;
            }
        if (!(j = json_tokener_parse(text.p ? text.p : "")) ||
            !json_object_object_get_ex(j, "keys", &arr) ||
            !json_object_is_type(arr, json_type_array)) {
            snprintf(msg, msglen, "jwt_jwks_file %s: not a JWKS (an object with \"keys\": [...])",
                     cf->jwt_jwks_file);
            goto fail;
        }
        for (i = 0; i < json_object_array_length(arr); i++)
            if (add_key(k, json_object_array_get_idx(arr, i), m, sizeof m) < 0) {
                snprintf(msg, msglen, "jwt_jwks_file %s: %s", cf->jwt_jwks_file, m);
                goto fail;
            }
    }
    if (f) fclose(f);
    json_object_put(j);
    buf_free(&text);
    *out = k;
    return 0;
fail:
    if (f) fclose(f);
    json_object_put(j);
    buf_free(&text);
    jwtauth_free(k);
    return -1;
}

void jwtauth_free(jwtauth_keys *k)
{
    int i;

    if (!k) return;
    for (i = 0; i < k->n; i++)
        free(k->k[i].pem);
    free(k);
}

int jwtauth_count(const jwtauth_keys *k)
{
    return k ? k->n : 0;
}

static int unauthorized(t2err *err, const char *why)
{
    return err_set(err, E_UNAUTHORIZED, "invalid token: %s", why);
}

/* The JWKS key for alg and kid: the one named by kid, or without a kid the only key of alg. */
static const jwk *find_key(const jwtauth_keys *k, jwt_alg_t alg, const char *kid)
{
    const jwk *only = NULL;
    int i, n = 0;

    for (i = 0; k && i < k->n; i++) {
        if (k->k[i].alg != alg) continue;
        if (kid && strcmp(kid, k->k[i].kid) == 0) return &k->k[i];
        n++;
        only = &k->k[i];
    }
    return !kid && n == 1 ? only : NULL;
}

/* 1 if the numeric claim name is present (into *v), 0 if absent, -1 if not a number. */
static int num_claim(json_object *g, const char *name, double *v)
{
    json_object *o;

    if (!json_object_object_get_ex(g, name, &o) || !o) return 0;
    if (!json_object_is_type(o, json_type_int) && !json_object_is_type(o, json_type_double))
        return -1;
    *v = json_object_get_double(o);
    return 1;
}

static int aud_ok(json_object *g, const char *want)
{
    json_object *a;
    size_t i;

    if (!json_object_object_get_ex(g, "aud", &a) || !a) return 0;
    if (json_object_is_type(a, json_type_string))
        return strcmp(json_object_get_string(a), want) == 0;
    if (!json_object_is_type(a, json_type_array)) return 0;
    for (i = 0; i < json_object_array_length(a); i++) {
        json_object *e = json_object_array_get_idx(a, i);
        if (json_object_is_type(e, json_type_string) &&
            strcmp(json_object_get_string(e), want) == 0)
            return 1;
    }
    return 0;
}

/* Time, issuer, audience and subject checks; 0 or -1 with err. */
static int check_claims(json_object *g, const conf *cf, long now, t2err *err)
{
    double exp = 0, nbf = 0;
    const char *iss = body_str(g, "iss"), *sub = body_str(g, "sub");
    int r;

    if ((r = num_claim(g, "exp", &exp)) <= 0)
        return unauthorized(err, r < 0 ? "exp is not a number" : "it has no expiry (exp)");
    if ((double)now > exp + (double)cf->jwt_leeway_s) return unauthorized(err, "it has expired");
    if ((r = num_claim(g, "nbf", &nbf)) < 0) return unauthorized(err, "nbf is not a number");
    if (r > 0 && (double)now + (double)cf->jwt_leeway_s < nbf)
        return unauthorized(err, "it is not valid yet (nbf)");
    if (cf->jwt_issuer && *cf->jwt_issuer && (!iss || strcmp(iss, cf->jwt_issuer) != 0))
        return unauthorized(err, "wrong issuer (iss)");
    if (cf->jwt_audience && *cf->jwt_audience && !aud_ok(g, cf->jwt_audience))
        return unauthorized(err, "wrong audience (aud)");
    if (!sub || !*sub) return unauthorized(err, "it has no subject (sub)");
    return 0;
}

/* The identity from verified claims g: owner, subject, scopes, role and the RLS claims. */
static int fill_identity(json_object *g, const conf *cf, auth_ctx *out, t2err *err)
{
    const char *iss = body_str(g, "iss"), *sub = body_str(g, "sub"), *role = NULL, *p;
    json_object *claims = json_object_new_object(), *v;
    buf h = BUF_INIT(0);
    char hex[65];
    int rc;

    if (cf->jwt_role_claim && *cf->jwt_role_claim &&
        json_object_object_get_ex(g, cf->jwt_role_claim, &v) && v) {
        if (!json_object_is_type(v, json_type_string)) {
            json_object_put(claims);
            return unauthorized(err, "the role claim is not a string");
        }
        role = json_object_get_string(v);
    }
    for (p = cf->jwt_claims ? cf->jwt_claims : ""; *p;) {
        size_t n = strcspn(p, ", ");
        char name[64];
        if (n > 0 && n < sizeof name) {
            memcpy(name, p, n);
            name[n] = 0;
            if (json_object_object_get_ex(g, name, &v) && v)
                json_object_object_add(claims, name, json_object_get(v));
        }
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    buf_adds(&h, iss ? iss : "");
    buf_addc(&h, 0);
    buf_adds(&h, sub);
    sigv4_sha256_hex(h.p, h.len, hex);
    buf_free(&h);
    memset(out, 0, sizeof *out);
    snprintf(out->owner, sizeof out->owner, "jwt:%.16s", hex);
    snprintf(out->subject, sizeof out->subject, "jwt:%.59s", sub);
    str_copy(out->scopes, sizeof out->scopes, cf->jwt_scopes ? cf->jwt_scopes : "");
    out->limit_per_min = -1;
    rc = auth_identity_set(out, role,
                           json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN), err);
    json_object_put(claims);
    return rc;
}

int jwtauth_verify(const jwtauth_keys *k, const conf *cf, const char *token, long now,
                   auth_ctx *out, t2err *err)
{
    jwt_t *h = NULL, *j = NULL;
    const unsigned char *key = NULL;
    json_object *g = NULL;
    char kid[128], *grants = NULL;
    const char *kh;
    const jwk *jk;
    jwt_alg_t alg;
    int keylen = 0, rc = -1;

    memset(out, 0, sizeof *out);
    if (strlen(token) > JWTAUTH_TOKEN_MAX) return unauthorized(err, "it is too long");
    if (!jwtauth_looks_like(token) || jwt_decode(&h, token, NULL, 0) != 0)
        return unauthorized(err, "it is malformed");
    /* without a key libjwt reports every token as alg none: read the header's own alg */
    kh = jwt_get_header(h, "alg");
    alg = kh ? jwt_str_alg(kh) : JWT_ALG_INVAL;
    if (kh && strcmp(kh, "none") == 0) alg = JWT_ALG_NONE;
    kh = jwt_get_header(h, "kid");
    str_copy(kid, sizeof kid, kh ? kh : "");
    jwt_free(h);
    if (alg == JWT_ALG_NONE) return unauthorized(err, "unsigned tokens (alg \"none\") are refused");
    if (alg == JWT_ALG_HS256) {
        if (!cf->jwt_secret || !*cf->jwt_secret)
            return unauthorized(err, "HS256 is not accepted here (no jwt_secret)");
        key = (const unsigned char *)cf->jwt_secret;
        keylen = (int)strlen(cf->jwt_secret);
    } else if (alg == JWT_ALG_RS256 || alg == JWT_ALG_ES256) {
        if (!(jk = find_key(k, alg, kid[0] ? kid : NULL)))
            return unauthorized(err, "its key (kid) is not in the JWKS");
        key = (const unsigned char *)jk->pem;
        keylen = (int)strlen(jk->pem);
    } else {
        return unauthorized(err, "its algorithm is not accepted (HS256, RS256, ES256 are)");
    }
    if (jwt_decode(&j, token, key, keylen) != 0 || jwt_get_alg(j) != alg) {
        unauthorized(err, "the signature does not verify");
        goto done;
    }
    if (!(grants = jwt_get_grants_json(j, NULL)) || !(g = json_tokener_parse(grants)) ||
        !json_object_is_type(g, json_type_object)) {
        unauthorized(err, "its claims are not a JSON object");
        goto done;
    }
    rc = check_claims(g, cf, now, err) < 0 || fill_identity(g, cf, out, err) < 0 ? -1 : 0;
done:
    json_object_put(g);
    free(grants);
    jwt_free(j);
    return rc;
}
