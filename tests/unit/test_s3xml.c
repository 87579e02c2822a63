/* test_s3xml -- S3 XML replies (UploadId, Error, CompleteMultipartUpload), part sizing and
 * addressing (virtual-hosted for AWS, path-style for an endpoint) of presigned URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "s3.h"
#include "s3part.h"
#include "s3xml.h"

static void test_upload_id(void **state)
{
    const char *xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<InitiateMultipartUploadResult "
                      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                      "<Bucket>example-bucket</Bucket><Key>example-object</Key>"
                      "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
                      "</UploadId></InitiateMultipartUploadResult>";
    char *id = NULL;

    (void)state;
    assert_int_equal(s3_xml_upload_id(xml, strlen(xml), &id), 0);
    assert_string_equal(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
    free(id);
}

static void test_upload_id_missing_or_garbage(void **state)
{
    const char *none = "<InitiateMultipartUploadResult><Key>k</Key>"
                       "</InitiateMultipartUploadResult>";
    const char *empty = "<R><UploadId></UploadId></R>";
    char *id = (char *)1;

    (void)state;
    assert_int_equal(s3_xml_upload_id(none, strlen(none), &id), -1);
    assert_null(id);
    assert_int_equal(s3_xml_upload_id(empty, strlen(empty), &id), -1);
    assert_int_equal(s3_xml_upload_id("not xml <", 9, &id), -1);
    assert_int_equal(s3_xml_upload_id("", 0, &id), -1);
}

static void test_error_document(void **state)
{
    const char *xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"
                      "<Code>NoSuchUpload</Code><Message>The specified upload does not exist. "
                      "The upload ID may be invalid.</Message><UploadId>abc</UploadId>"
                      "<RequestId>4442587FB7D0A2F9</RequestId></Error>";
    char code[64], msg[32];

    (void)state;
    assert_int_equal(s3_xml_error(xml, strlen(xml), code, sizeof code, msg, sizeof msg), 1);
    assert_string_equal(code, "NoSuchUpload");
    assert_int_equal(strlen(msg), sizeof msg - 1); /* truncated, still terminated */
    assert_memory_equal(msg, "The specified upload", 20);
}

/* Error bodies, where they hide and what is not one; rc as s3_xml_error returns it, code
 * NULL where only its absence of file contents is checked. */
static void test_error_bodies(void **state)
{
    static const struct {
        const char *xml;
        int rc;
        const char *code;
    } cases[] = {
        {"<CompleteMultipartUploadResult><ETag>\"x\"</ETag></CompleteMultipartUploadResult>", 0,
         ""},
        {"<<<", -1, NULL},
        /* CompleteMultipartUpload can answer 200 with an <Error> body */
        {"\n\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please "
         "try again.</Message></Error>",
         1, "InternalError"},
        /* an external entity is never read */
        {"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
         "<Error><Code>&x;</Code></Error>",
         1, NULL},
    };
    char code[64], msg[128];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *x = cases[i].xml;

        code[0] = '\0';
        assert_int_equal(s3_xml_error(x, strlen(x), code, sizeof code, msg, sizeof msg),
                         cases[i].rc);
        if (cases[i].code) assert_string_equal(code, cases[i].code);
        assert_null(strstr(code, "root:"));
    }
    assert_int_equal(s3_xml_error(NULL, 0, code, sizeof code, msg, sizeof msg), -1);
}

static void test_complete_body(void **state)
{
    s3_part p[2] = {{1, "\"a54357aff0632cce46d942af68356b38\""}, {2, "\"0c78aef8<&>\""}};
    buf b = BUF_INIT(0);

    (void)state;
    assert_int_equal(s3_xml_complete_body(&b, p, 2), 0);
    assert_string_equal(buf_cstr(&b),
                        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
                        "2006-03-01/\"><Part><PartNumber>1</PartNumber><ETag>&quot;"
                        "a54357aff0632cce46d942af68356b38&quot;</ETag></Part><Part><PartNumber>"
                        "2</PartNumber><ETag>&quot;0c78aef8&lt;&amp;&gt;&quot;</ETag></Part>"
                        "</CompleteMultipartUpload>");
    buf_free(&b);
}

static void test_part_sizes(void **state)
{
    const size_t mib = (size_t)1 << 20;
    size_t base, total;
    int i;

    (void)state;
    assert_int_equal(s3_part_size(1, 1), S3_MIN_PART); /* never below 5 MiB */
    assert_int_equal(s3_part_size(5 * mib, 1), 5 * mib);
    assert_int_equal(s3_part_size(5 * mib, 900), 5 * mib);
    assert_int_equal(s3_part_size(5 * mib, 901), 10 * mib);
    for (base = 5 * mib; base <= 64 * mib; base += 59 * mib) {
        total = 0;
        for (i = 1; i <= S3_MAX_PARTS; i++) {
            size_t s = s3_part_size(base, i);
            assert_true(s >= S3_MIN_PART && s <= S3_MAX_PART);
            assert_true(i == 1 || s >= s3_part_size(base, i - 1));
            total += s;
        }
        /* 10,000 parts carry S3's largest object (5 TiB) */
        assert_true(total >= ((size_t)5 << 40));
    }
    assert_int_equal(s3_part_size((size_t)6 << 30, 1), S3_MAX_PART);
}

static void presign_conf(conf *c, const char *endpoint)
{
    static char region[] = "eu-west-1", bucket[] = "t2sql-exports", ak[] = "AKIAIOSFODNN7EXAMPLE",
                sk[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", none[] = "", ep[128];

    snprintf(ep, sizeof ep, "%s", endpoint);
    *c = (conf){.aws_region = region,
                .export_bucket = bucket,
                .s3_endpoint = ep,
                .aws_access_key_id = ak,
                .aws_secret_access_key = sk,
                .aws_session_token = none};
}

static void test_presign_addressing(void **state)
{
    static const unit_text_text cases[] = {
        /* an endpoint, how its URL starts */
        {"", "https://t2sql-exports.s3.eu-west-1.amazonaws.com/exports/a%20b.csv?"},
        {"http://127.0.0.1:24569", "http://127.0.0.1:24569/t2sql-exports/exports/a%20b.csv?"},
        {"https://minio.local:9000/s3/", "https://minio.local:9000/s3/t2sql-exports/exports/"
                                         "a%20b.csv?"},
        {"storage.example", "https://storage.example/t2sql-exports/exports/a%20b.csv?"},
    };
    conf c;
    char *url = NULL;
    t2err e;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        presign_conf(&c, cases[i].text);
        assert_int_equal(s3_presign_get(&c, "exports/a b.csv", 600, 1369353600, &url, &e), 0);
        assert_memory_equal(url, cases[i].want, strlen(cases[i].want));
        assert_non_null(strstr(url, "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
                                    "eu-west-1%2Fs3%2Faws4_request"));
        assert_non_null(strstr(url, "&X-Amz-Expires=600&"));
        assert_non_null(strstr(url, "&X-Amz-Signature="));
        assert_null(strstr(url, "wJalrXUtnFEMI")); /* the secret never appears */
        free(url);
    }
    { /* the URL names s3_public_endpoint when set: the address clients reach */
        static char pub[] = "http://127.0.0.1:9000";
        const char *want = "http://127.0.0.1:9000/t2sql-exports/exports/a%20b.csv?";
        presign_conf(&c, "http://minio:9000");
        c.s3_public_endpoint = pub;
        assert_int_equal(s3_presign_get(&c, "exports/a b.csv", 600, 1369353600, &url, &e), 0);
        assert_memory_equal(url, want, strlen(want));
        free(url);
    }
    presign_conf(&c, "");
    c.export_bucket = c.aws_session_token; /* "" */
    assert_int_equal(s3_presign_get(&c, "k", 600, 1369353600, &url, &e), -1);
    assert_null(url);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_upload_id),
             cmocka_unit_test(test_upload_id_missing_or_garbage),
             cmocka_unit_test(test_error_document), cmocka_unit_test(test_error_bodies),
             cmocka_unit_test(test_complete_body), cmocka_unit_test(test_part_sizes),
             cmocka_unit_test(test_presign_addressing))
