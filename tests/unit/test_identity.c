/* test_identity -- an identity's role and claims (core/auth: auth_identity_set), the role's
 * part of a catalog (core/rolecat: catalog_subset) and JWT verification (core/jwtauth) with
 * tokens libjwt signs here. No servers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "unit.h"
#include <jwt.h>

#include "auth.h"
#include "catalog.h"
#include "conf.h"
#include "jwtauth.h"
#include "rolecat.h"

static void test_identity_set(void **state)
{
    static auth_ctx a, b;
    t2err e;

    (void)state;
    str_copy(a.owner, sizeof a.owner, "key:7");
    assert_int_equal(auth_identity_set(&a, "tenant_a", "{\"city\":\"Pune\",\"n\":5}", &e), 0);
    assert_string_equal(a.role, "tenant_a");
    assert_int_equal(a.id.nclaims, 2);
    assert_string_equal(a.claims[0].name, "city");
    assert_string_equal(a.claims[0].value, "Pune");
    assert_string_equal(a.claims[1].value, "5"); /* a number: its JSON text */
    assert_non_null(auth_txn_identity(&a));
    assert_int_equal(strlen(a.id_hash), 16);
    assert_true(strncmp(a.owner, "key:7#", 6) == 0);
    /* another claim value: another hash, so another owner and other cache keys */
    str_copy(b.owner, sizeof b.owner, "key:7");
    assert_int_equal(auth_identity_set(&b, "tenant_a", "{\"city\":\"Delhi\"}", &e), 0);
    assert_string_not_equal(a.id_hash, b.id_hash);
    /* no role, no claims: the service's own identity, owner unchanged */
    str_copy(b.owner, sizeof b.owner, "key:8");
    assert_int_equal(auth_identity_set(&b, "", "{}", &e), 0);
    assert_null(auth_txn_identity(&b));
    assert_string_equal(b.owner, "key:8");
    assert_string_equal(b.id_hash, "");
    /* refused */
    assert_int_equal(auth_identity_set(&b, NULL, "{\"bad-name\":\"x\"}", &e), -1);
    assert_int_equal(e.code, E_FORBIDDEN);
    assert_int_equal(auth_identity_set(&b, NULL, "[1,2]", &e), -1);
    assert_int_equal(auth_identity_set(&b, NULL, "not json", &e), -1);
}

static void test_catalog_subset(void **state)
{
    catalog *c = catalog_new(), *s;
    unsigned char k0[3] = {1, 1, 0}, k1[2] = {0, 0}, k2[2] = {1, 1};
    unsigned char *keep[3] = {k0, k1, k2};

    (void)state;
    catalog_add_table(c, "public", "customers", 'r', NULL, 10);
    catalog_add_column(c, 0, "customer_id", "integer", NULL, 1, 1);
    catalog_add_column(c, 0, "city", "text", NULL, 0, 1);
    catalog_add_column(c, 0, "email", "text", NULL, 0, 1);
    catalog_add_value(c, 0, 1, "Pune");
    catalog_add_table(c, "public", "merch_orders", 'r', NULL, 10);
    catalog_add_column(c, 1, "order_id", "bigint", NULL, 1, 1);
    catalog_add_column(c, 1, "customer_id", "integer", NULL, 0, 1);
    catalog_add_table(c, "public", "ticket_sales", 'r', NULL, 10);
    catalog_add_column(c, 2, "sale_id", "bigint", NULL, 1, 1);
    catalog_add_column(c, 2, "customer_id", "integer", NULL, 0, 1);
    catalog_add_fk(c, 1, 1, 0, 0);
    catalog_add_fk(c, 2, 1, 0, 0);
    catalog_fingerprint(c);
    assert_non_null(s = catalog_subset(c, keep));
    assert_int_equal(s->ntables, 2);
    assert_int_equal(catalog_find_table(s, "merch_orders"), -1);
    assert_int_equal(s->tables[0].ncols, 2);
    assert_int_equal(catalog_find_column(s, 0, "email"), -1);
    assert_int_equal(s->tables[0].cols[1].nvalues, 1);
    assert_int_equal(s->nfks, 1); /* ticket_sales -> customers; merch_orders' is gone */
    assert_int_equal(s->fks[0].table, catalog_find_table(s, "ticket_sales"));
    assert_string_not_equal(s->fingerprint, c->fingerprint);
    catalog_free(s);
    catalog_free(c);
}

static char *sign(const char *alg_secret, jwt_alg_t alg, const char *grants)
{
    jwt_t *j = NULL;
    char *t;

    assert_int_equal(jwt_new(&j), 0);
    assert_int_equal(jwt_add_grants_json(j, grants), 0);
    if (alg != JWT_ALG_NONE)
        assert_int_equal(
            jwt_set_alg(j, alg, (const unsigned char *)alg_secret, (int)strlen(alg_secret)), 0);
    t = jwt_encode_str(j);
    jwt_free(j);
    return t;
}

static void test_jwt_hs256(void **state)
{
    static auth_ctx a;
    conf cf;
    char msg[256], g[512], *t;
    jwtauth_keys *k;
    long now = (long)time(NULL);
    t2err e;
    static const char text[] = "jwt_secret = s3cret-s3cret-s3cret\njwt_issuer = iss1\n"
                               "jwt_audience = api\njwt_claims = city, tier\njwt_leeway_s = 10\n";

    (void)state;
    assert_int_equal(conf_load_buffer(text, sizeof text - 1, &cf, msg, sizeof msg), 0);
    assert_true(jwtauth_enabled(&cf));
    assert_int_equal(jwtauth_load(&cf, &k, msg, sizeof msg), 0);
    snprintf(g, sizeof g,
             "{\"sub\":\"u1\",\"iss\":\"iss1\",\"aud\":[\"x\",\"api\"],\"exp\":%ld,"
             "\"role\":\"tenant_b\",\"city\":\"Pune\",\"tier\":3,\"other\":\"no\"}",
             now + 60);
    t = sign("s3cret-s3cret-s3cret", JWT_ALG_HS256, g);
    assert_true(jwtauth_looks_like(t));
    assert_int_equal(jwtauth_verify(k, &cf, t, now, &a, &e), 0);
    assert_string_equal(a.subject, "jwt:u1");
    assert_string_equal(a.role, "tenant_b");
    assert_int_equal(a.id.nclaims, 2); /* only the configured claims */
    assert_true(strncmp(a.owner, "jwt:", 4) == 0 && strchr(a.owner, '#'));
    /* expired past the leeway, inside it */
    assert_int_equal(jwtauth_verify(k, &cf, t, now + 75, &a, &e), -1);
    assert_int_equal(e.code, E_UNAUTHORIZED);
    assert_non_null(strstr(e.detail, "expired"));
    assert_int_equal(jwtauth_verify(k, &cf, t, now + 65, &a, &e), 0);
    free(t);
    /* the wrong secret; alg none */
    t = sign("another-secret-entirely", JWT_ALG_HS256, g);
    assert_int_equal(jwtauth_verify(k, &cf, t, now, &a, &e), -1);
    assert_non_null(strstr(e.detail, "signature"));
    free(t);
    t = sign("", JWT_ALG_NONE, g);
    assert_int_equal(jwtauth_verify(k, &cf, t, now, &a, &e), -1);
    assert_non_null(strstr(e.detail, "none"));
    free(t);
    assert_int_equal(jwtauth_verify(k, &cf, "a.b.c", now, &a, &e), -1);
    assert_false(jwtauth_looks_like("t2k_abcdefgh"));
    jwtauth_free(k);
    conf_free(&cf);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_identity_set), cmocka_unit_test(test_catalog_subset),
             cmocka_unit_test(test_jwt_hs256))
