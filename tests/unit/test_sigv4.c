/* test_sigv4 -- SigV4 against AWS's published S3 examples, plus canonicalisation edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "sigv4.h"

/* 20130524T000000Z, the instant every AWS example is signed at. */
#define AWS_T ((time_t)1369353600)

static const sigv4_cred aws_cred = {
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL, "us-east-1", "s3"};

static void test_get_object_range(void **state)
{
    sigv4_kv h[] = {{"Range", "bytes=0-9"}};
    sigv4_req r = {"GET", "examplebucket.s3.amazonaws.com", "/test.txt", NULL, 0, h, 1, NULL, 0};
    sigv4_result res;

    (void)state;
    assert_int_equal(sigv4_sign_headers(&r, &aws_cred, AWS_T, &res, NULL, NULL), 0);
    assert_string_equal(res.amz_date, "20130524T000000Z");
    assert_string_equal(res.authorization,
                        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/"
                        "s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;"
                        "x-amz-date,Signature="
                        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void test_put_object(void **state)
{
    const char *body = "Welcome to Amazon S3.";
    char sha[65];
    sigv4_kv h[] = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                    {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    sigv4_req r = {"PUT", "examplebucket.s3.amazonaws.com", "/test$file.text", NULL, 0, h, 2, sha,
                   0};
    sigv4_result res;
    buf path = BUF_INIT(0);

    (void)state;
    sigv4_sha256_hex(body, strlen(body), sha);
    assert_string_equal(sha, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    assert_int_equal(sigv4_sign_headers(&r, &aws_cred, AWS_T, &res, &path, NULL), 0);
    assert_string_equal(buf_cstr(&path), "/test%24file.text");
    assert_string_equal(res.signature,
                        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    assert_non_null(strstr(res.authorization,
                           "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
                           "x-amz-storage-class,"));
    buf_free(&path);
}

/* Canonical query strings: AWS's own examples (GET ?lifecycle, a listing) with their
 * signatures, and the multipart forms S3 uploads use; sorted by encoded name in byte order
 * (uppercase first), then value; values percent-encoded. */
static void test_canonical_queries(void **state)
{
    static const struct {
        const char *method, *path;
        sigv4_kv q[4];
        size_t nq;
        const char *payload, *want, *signature; /* signature NULL: not checked */
    } cases[] = {
        {"GET",
         "/",
         {{"lifecycle", NULL}},
         1,
         NULL,
         "lifecycle=",
         "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
        {"GET",
         "/",
         {{"prefix", "J"}, {"max-keys", "2"}},
         2,
         NULL,
         "max-keys=2&prefix=J",
         "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
        {"POST", "/b/k", {{"uploads", ""}}, 1, NULL, "uploads=", NULL},
        {"PUT",
         "/b/k",
         {{"uploadId", "VXBsb2FkIElE+/=x"}, {"partNumber", "10"}},
         2,
         SIGV4_UNSIGNED_PAYLOAD,
         "partNumber=10&uploadId=VXBsb2FkIElE%2B%2F%3Dx",
         NULL},
        {"GET",
         "/",
         {{"b", "x y"}, {"a", "2"}, {"a", "1"}, {"Z", "~-_."}},
         4,
         NULL,
         "Z=~-_.&a=1&a=2&b=x%20y",
         NULL},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sigv4_req r = {cases[i].method,
                       "examplebucket.s3.amazonaws.com",
                       cases[i].path,
                       cases[i].q,
                       cases[i].nq,
                       NULL,
                       0,
                       cases[i].payload,
                       0};
        sigv4_result res;
        buf query = BUF_INIT(0);

        assert_int_equal(sigv4_sign_headers(&r, &aws_cred, AWS_T, &res, NULL, &query), 0);
        assert_string_equal(buf_cstr(&query), cases[i].want);
        if (cases[i].signature) assert_string_equal(res.signature, cases[i].signature);
        buf_free(&query);
    }
}

static void test_presigned_get(void **state)
{
    sigv4_req r = {"GET", "examplebucket.s3.amazonaws.com", "/test.txt", NULL, 0, NULL, 0, NULL, 0};
    sigv4_result res;
    buf path = BUF_INIT(0), query = BUF_INIT(0);

    (void)state;
    assert_int_equal(sigv4_presign(&r, &aws_cred, AWS_T, 86400, &res, &path, &query), 0);
    assert_string_equal(buf_cstr(&path), "/test.txt");
    assert_string_equal(buf_cstr(&query),
                        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE"
                        "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z"
                        "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
                        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    buf_free(&path);
    buf_free(&query);
}

static void test_presign_bounds(void **state)
{
    sigv4_req r = {"GET", "h", "/k", NULL, 0, NULL, 0, NULL, 0};
    sigv4_result res;

    (void)state;
    assert_int_equal(sigv4_presign(&r, &aws_cred, AWS_T, 0, &res, NULL, NULL), -1);
    assert_int_equal(sigv4_presign(&r, &aws_cred, AWS_T, 604801, &res, NULL, NULL), -1);
    assert_int_equal(sigv4_presign(&r, &aws_cred, AWS_T, 604800, &res, NULL, NULL), 0);
}

static void test_path_encoding(void **state)
{
    sigv4_req r = {
        "GET", "h", "/b/dir one/\xe2\x82\xac+r\xc3\xa9sum\xc3\xa9*.csv", NULL, 0, NULL, 0, NULL, 0};
    sigv4_result res;
    buf path = BUF_INIT(0);

    (void)state;
    assert_int_equal(sigv4_sign_headers(&r, &aws_cred, AWS_T, &res, &path, NULL), 0);
    assert_string_equal(buf_cstr(&path), "/b/dir%20one/%E2%82%AC%2Br%C3%A9sum%C3%A9%2A.csv");
    buf_free(&path);
}

static void test_header_canonicalisation(void **state)
{
    /* values trimmed and whitespace runs collapsed; names case-insensitive */
    sigv4_kv h1[] = {{"X-Amz-Meta-A", "  a   b  "}}, h2[] = {{"x-amz-meta-a", "a b"}};
    sigv4_req r1 = {"GET", "h", "/", NULL, 0, h1, 1, NULL, 0}, r2 = r1;
    sigv4_result a, b;

    (void)state;
    r2.headers = h2;
    assert_int_equal(sigv4_sign_headers(&r1, &aws_cred, AWS_T, &a, NULL, NULL), 0);
    assert_int_equal(sigv4_sign_headers(&r2, &aws_cred, AWS_T, &b, NULL, NULL), 0);
    assert_string_equal(a.signature, b.signature);
}

static void test_session_token(void **state)
{
    sigv4_cred c = aws_cred;
    sigv4_req r = {"GET", "h", "/k", NULL, 0, NULL, 0, NULL, 0};
    sigv4_result res;
    buf query = BUF_INIT(0);

    (void)state;
    c.session_token = "tok/en+=";
    assert_int_equal(sigv4_sign_headers(&r, &c, AWS_T, &res, NULL, NULL), 0);
    assert_non_null(strstr(res.authorization, ";x-amz-security-token,"));
    assert_int_equal(sigv4_presign(&r, &c, AWS_T, 60, &res, NULL, &query), 0);
    assert_non_null(strstr(buf_cstr(&query), "&X-Amz-Security-Token=tok%2Fen%2B%3D&"));
    buf_free(&query);
}

/* RFC 4231 test case 2; MD5 of RFC 1321's "abc" */
static void test_digests(void **state)
{
    char out[65];

    (void)state;
    sigv4_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, out);
    assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    sigv4_md5_hex("abc", 3, out);
    assert_string_equal(out, "900150983cd24fb0d6963f7d28e17f72");
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_get_object_range), cmocka_unit_test(test_put_object),
             cmocka_unit_test(test_canonical_queries), cmocka_unit_test(test_presigned_get),
             cmocka_unit_test(test_presign_bounds), cmocka_unit_test(test_path_encoding),
             cmocka_unit_test(test_header_canonicalisation), cmocka_unit_test(test_session_token),
             cmocka_unit_test(test_digests))
