/* test_rowjson -- COPY text rows decoded exactly (\N, every backslash escape, tabs and
 * newlines inside values, the field count) and rows written as JSON by column kind (numbers,
 * non-finite values, numeric strings, bools, embedded json, escaped strings, invalid UTF-8),
 * all or nothing against a buffer's maximum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "rowjson.h"

/* Decodes line (a COPY text row) with kinds and returns the JSON row (static buffer). */
static const char *copy_json(const char *line, const int *kinds, int nf, int numeric_strings)
{
    static char out[512];
    char tmp[256];
    rowjson_field f[8];
    buf b = BUF_INIT(0);
    size_t n = strlen(line);

    memcpy(tmp, line, n + 1);
    if (rowjson_copy_fields(tmp, n, f, nf) < 0) return "(fields)";
    assert_int_equal(rowjson_row(&b, f, kinds, nf, numeric_strings, 0, 0), 0);
    str_copy(out, sizeof out, buf_cstr(&b));
    buf_free(&b);
    return out;
}

static void test_copy_decoding(void **state)
{
    static const unit_text_text cases[] = {
        /* a COPY text line, its JSON row */
        {"abc\n", "[\"abc\"]"},
        {"\\N\n", "[null]"},
        {"\\\\N\n", "[\"\\\\N\"]"}, /* a literal backslash then N is a value, not NULL */
        {"\n", "[\"\"]"},           /* the empty string */
        {"a\\tb\\nc\\rd\n", "[\"a\\tb\\nc\\rd\"]"},
        {"\\b\\f\\v\n", "[\"\\u0008\\u000c\\u000b\"]"},
        {"x\\\\y\n", "[\"x\\\\y\"]"},
        {"\\x41\\x4a\\x4\\xg\n", "[\"AJ\\u0004xg\"]"}, /* hex: two digits, one, none */
        {"\\101\\60\\0q\n", "[\"A0\\u0000q\"]"},       /* octal: up to three digits */
        {"\\q\\\"\n", "[\"q\\\"\"]"},                  /* any other character is itself */
        {"\\\\x00ff\n", "[\"\\\\x00ff\"]"},            /* bytea's hex text */
        {"{\"a\\\\\\\\b\",NULL}\n", "[\"{\\\"a\\\\\\\\b\\\",NULL}\"]"}, /* an array */
        {"no newline", "[\"no newline\"]"},
    };
    int k = K_STR;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(copy_json(cases[i].text, &k, 1, 0), cases[i].want);
}

static void test_copy_fields(void **state)
{
    int k[3] = {K_INT, K_STR, K_INT};
    rowjson_field f[3];
    char line[32];

    (void)state;
    assert_string_equal(copy_json("1\t\\N\t3\n", k, 3, 0), "[1,null,3]");
    assert_string_equal(copy_json("1\ta\\tb\t3\n", k, 3, 0), "[1,\"a\\tb\",3]");
    assert_string_equal(copy_json("1\t2\n", k, 3, 0), "(fields)");       /* too few */
    assert_string_equal(copy_json("1\t2\t3\t4\n", k, 3, 0), "(fields)"); /* too many */
    memcpy(line, "\n", 2);
    assert_int_equal(rowjson_copy_fields(line, 1, f, 0), 0); /* a row of no columns */
    memcpy(line, "x\n", 3);
    assert_int_equal(rowjson_copy_fields(line, 2, f, 0), -1);
}

static void test_kinds(void **state)
{
    int k[7] = {K_INT, K_NUMERIC, K_FLOAT, K_BOOL, K_BOOL, K_JSON, K_STR};

    (void)state;
    assert_string_equal(
        copy_json("-42\t12345678901234567890.000000000001\t1.5e+300\tt\tf\t{\"a\": [1, "
                  "\"x\\\\ty\"]}\t\xff\xc3\xa9\n",
                  k, 7, 0),
        "[-42,12345678901234567890.000000000001,1.5e+300,true,false,{\"a\": [1, \"x\\ty\"]},"
        "\"\xEF\xBF\xBD\xc3\xa9\"]");
    assert_string_equal(copy_json("1\tNaN\tInfinity\tt\tf\tnull\tx\n", k, 7, 0),
                        "[1,null,null,true,false,null,\"x\"]");
    assert_string_equal(copy_json("1\t-Infinity\t-Infinity\tt\tf\t1\tx\n", k, 7, 0),
                        "[1,null,null,true,false,1,\"x\"]");
    /* numeric as strings: every value, non-finite ones too; floats stay numbers */
    assert_string_equal(copy_json("1\tNaN\t-0.5\tt\tf\t1\tx\n", k, 7, 1),
                        "[1,\"NaN\",-0.5,true,false,1,\"x\"]");
}

static void test_row_framing_and_limit(void **state)
{
    rowjson_field f[2] = {{"1", 1}, {NULL, 0}};
    int k[2] = {K_INT, K_STR};
    buf b = BUF_INIT(9);

    (void)state;
    assert_int_equal(rowjson_row(&b, f, k, 2, 0, 0, 1), 0);
    assert_string_equal(buf_cstr(&b), "[1,null]\n");
    /* ",[1,null]" does not fit the maximum (9 bytes): nothing of it is written */
    assert_int_equal(rowjson_row(&b, f, k, 2, 0, 1, 0), -1);
    assert_string_equal(buf_cstr(&b), "[1,null]\n");
    f[1].v = "x";
    f[1].len = 1;
    buf_reset(&b);
    /* exactly the maximum fits, though the worst case would not: the row is counted */
    assert_int_equal(rowjson_row(&b, f, k, 2, 0, 1, 1), 0);
    assert_string_equal(buf_cstr(&b), ",[1,\"x\"]\n");
    assert_int_equal(b.len, 9);
    buf_free(&b);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_copy_decoding), cmocka_unit_test(test_copy_fields),
             cmocka_unit_test(test_kinds), cmocka_unit_test(test_row_framing_and_limit))
