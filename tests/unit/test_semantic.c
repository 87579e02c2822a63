/* test_semantic -- the semantic layer file (conf/semantic.yaml): the shipped layer loads,
 * definitions of every kind are read, invalid definitions are refused naming the definition
 * and its line, and semantic_check() reports the failing definition of a check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"

#include "semantic.h"

static void write_tmp(char path[64], const char *text)
{
    int fd;
    size_t n = strlen(text);

    snprintf(path, 64, "/tmp/t2sql-test-sem-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* Loads text; returns the layer (NULL on refusal, err filled). */
static semantic *load_text(const char *text, t2err *err, char path[64])
{
    semantic *s;

    write_tmp(path, text);
    s = semantic_load(path, err);
    unlink(path);
    return s;
}

static void test_shipped_layer(void **state)
{
    t2err err = {0};
    semantic *s = semantic_load("conf/semantic.yaml", &err);
    int i;

    (void)state;
    assert_non_null(s);
    i = semantic_find(s, SEM_MEASURE, "tickets sold");
    assert_true(i >= 0);
    assert_string_equal(s->d[i].table, "ticket_sales");
    assert_string_equal(s->d[i].expr, "sum(ticket_sales.quantity)");
    assert_non_null(strstr(s->d[i].filter, "'refunded'"));
    i = semantic_find(s, SEM_MEASURE, "total revenue");
    assert_true(i >= 0);
    assert_int_equal(s->d[i].nparts, 2);
    assert_null(s->d[i].table);
    i = semantic_find(s, SEM_RATIO, "refund rate");
    assert_true(i >= 0);
    assert_int_equal(s->d[i].percent, 1);
    assert_string_equal(s->d[i].parts[0], "refunded sales");
    assert_true(semantic_find(s, SEM_RATIO, "online share") >= 0);
    assert_true(semantic_find(s, SEM_RATIO, "average order value") >= 0);
    assert_true(semantic_find(s, SEM_ENTITY, "concerts") >= 0);
    i = semantic_find(s, SEM_DIMENSION, "date");
    assert_true(i >= 0 && (s->d[i].grains & SEMG_MONTH));
    semantic_free(s);
}

static void test_missing_file_is_empty(void **state)
{
    t2err err = {0};
    semantic *s = semantic_load("/nonexistent/semantic.yaml", &err);

    (void)state;
    assert_non_null(s);
    assert_int_equal(s->n, 0);
    semantic_free(s);
}

static const char GOOD[] = "measures:\n"
                           "  - name: units\n"
                           "    synonyms: [items, pieces]\n"
                           "    table: orders\n"
                           "    expr: sum(orders.qty)\n"
                           "    time: orders.day\n"
                           "  - name: orders count\n"
                           "    table: orders\n"
                           "    expr: count(*)\n"
                           "ratios:\n"
                           "  - name: units per order\n"
                           "    numerator: units\n"
                           "    denominator: orders count\n"
                           "entities:\n"
                           "  - name: big orders\n"
                           "    table: orders\n"
                           "    filter: orders.qty > 10\n";

static void test_kinds_and_lines(void **state)
{
    t2err err = {0};
    char path[64];
    semantic *s = load_text(GOOD, &err, path);
    int i;

    (void)state;
    assert_non_null(s);
    assert_int_equal(s->n, 4);
    i = semantic_find(s, 0, "UNITS");
    assert_int_equal(s->d[i].line, 2);
    assert_int_equal(s->d[i].nsyn, 2);
    assert_string_equal(s->d[i].syn[1], "pieces");
    i = semantic_find(s, SEM_RATIO, "units per order");
    assert_int_equal(s->d[i].line, 11);
    assert_int_equal(s->d[i].percent, 0);
    semantic_free(s);
}

/* Each invalid text is refused, and the message names the definition and its line. */
static void test_invalid_definitions(void **state)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"measures:\n  - name: a\n    table: t\n",
         ":2: measure \"a\": a measure needs table and expr"},
        {"ratios:\n  - name: r\n    numerator: nope\n    denominator: nope\n",
         ":2: ratio \"r\": \"nope\" is not a measure"},
        {"measures:\n  - name: a\n    table: t\n    expr: count(*)\n    colour: red\n",
         ":5: measure \"a\": unknown key \"colour\""},
        {"measures:\n  - name: a\n    table: t\n    expr: count(*)\n"
         "entities:\n  - name: a\n    table: t\n    filter: true\n",
         ":6: entity \"a\": the name is defined twice"},
        {"dimensions:\n  - name: d\n    grains: [fortnight]\n", ":3: dimension \"d\": grains are"},
        {"metrics:\n  - name: x\n", ":2: sections are measures"},
        {"measures: [\n", ":"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t2err err = {0};
        char path[64];
        semantic *s = load_text(cases[i].text, &err, path);
        if (s || !strstr(err.detail, cases[i].want))
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, err.detail, cases[i].want);
        assert_non_null(strstr(err.detail, path)); /* the file is named */
    }
}

static int refuse_big(void *arg, const char *sql, t2err *err)
{
    (*(int *)arg)++;
    if (strstr(sql, "qty > 10")) return err_set(err, E_INVALID_SQL, "column \"qty\" is wrong");
    return 0;
}

static void test_check_names_the_definition(void **state)
{
    t2err err = {0};
    char path[64];
    semantic *s = load_text(GOOD, &err, path);
    int calls = 0;
    buf sql = BUF_INIT(4096);

    (void)state;
    assert_int_equal(semantic_probe_sql(s, semantic_find(s, 0, "units"), &sql), 0);
    assert_string_equal(buf_cstr(&sql), "SELECT sum(orders.qty), min(orders.day) FROM orders "
                                        "WHERE (true)");
    assert_int_equal(semantic_probe_sql(s, semantic_find(s, 0, "units per order"), &sql), 1);
    assert_int_equal(semantic_check(s, "x.yaml", refuse_big, &calls, &err), -1);
    assert_int_equal(calls, 3); /* two measures, then the entity; the ratio has no SQL */
    assert_int_equal(err.code, E_INVALID_SQL);
    assert_string_equal(err.detail, "x.yaml:15: entity \"big orders\": column \"qty\" is wrong");
    buf_free(&sql);
    semantic_free(s);
}

static void test_json(void **state)
{
    t2err err = {0};
    char path[64];
    semantic *s = load_text(GOOD, &err, path);
    json_object *j = semantic_to_json(s), *a, *m;

    (void)state;
    assert_true(json_object_object_get_ex(j, "measures", &a));
    assert_int_equal(json_object_array_length(a), 2);
    m = json_object_array_get_idx(a, 0);
    assert_true(json_object_object_get_ex(m, "expr", &m));
    assert_string_equal(json_object_get_string(m), "sum(orders.qty)");
    assert_true(json_object_object_get_ex(j, "ratios", &a));
    m = json_object_array_get_idx(a, 0);
    assert_true(json_object_object_get_ex(m, "denominator", &m));
    assert_string_equal(json_object_get_string(m), "orders count");
    assert_true(json_object_object_get_ex(j, "dimensions", &a));
    assert_int_equal(json_object_array_length(a), 0);
    json_object_put(j);
    semantic_free(s);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_shipped_layer),
             cmocka_unit_test(test_missing_file_is_empty), cmocka_unit_test(test_kinds_and_lines),
             cmocka_unit_test(test_invalid_definitions),
             cmocka_unit_test(test_check_names_the_definition), cmocka_unit_test(test_json))
