/* test_audit -- a batch of audit rows is one JSON array in the order queued, with what a
 * record leaves out as null or its default, and it refuses rows past AUDIT_BATCH_ROWS and
 * AUDIT_BATCH_BYTES (the statement that writes it needs PostgreSQL: the integration tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "audit.h"

/* b's rows as the statement gets them: the array closed. Caller puts it. */
static json_object *rows_of(const audit_batch *b)
{
    buf t = BUF_INIT(0);
    json_object *j;

    assert_int_equal(buf_add(&t, b->json.p, b->json.len), 0);
    assert_int_equal(buf_addc(&t, ']'), 0);
    j = json_tokener_parse(buf_cstr(&t));
    buf_free(&t);
    assert_non_null(j);
    assert_true(json_object_is_type(j, json_type_array));
    return j;
}

static const char *str_of(json_object *row, const char *k)
{
    json_object *v;

    if (!json_object_object_get_ex(row, k, &v) || json_object_is_type(v, json_type_null))
        return NULL;
    return json_object_get_string(v);
}

static void test_rows_in_order_with_nulls(void **state)
{
    audit_batch b;
    audit_rec a;
    json_object *rows, *r0, *r1, *v;
    (void)state;

    audit_batch_init(&b);
    assert_int_equal(audit_batch_wait_ms(&b), -1); /* empty: nothing to write */
    audit_init(&a, "query");
    a.question = "how \"many\"\n\tévents?";
    a.sql = "SELECT 1";
    a.status = 200;
    a.rows = 3;
    a.bytes = 120;
    a.duration_ms = 1.25;
    a.request_id = "r1";
    assert_int_equal(audit_queue(&b, &a, 1796276835.5), 0);
    audit_init(&a, "example.add");
    a.subject = "key:7";
    a.claims = "{\"city\": \"Delhi\"}";
    a.detail = "example 4";
    assert_int_equal(audit_queue(&b, &a, 1796276836.0), 0);
    assert_int_equal(b.n, 2);
    assert_true(audit_batch_wait_ms(&b) > 0 && audit_batch_wait_ms(&b) <= AUDIT_BATCH_MS);
    rows = rows_of(&b);
    assert_int_equal(json_object_array_length(rows), 2);
    r0 = json_object_array_get_idx(rows, 0);
    r1 = json_object_array_get_idx(rows, 1);
    assert_string_equal(str_of(r0, "action"), "query");
    assert_string_equal(str_of(r0, "question"), "how \"many\"\n\tévents?");
    assert_string_equal(str_of(r0, "subject"), ""); /* anonymous */
    assert_string_equal(str_of(r0, "claims"), "{}");
    assert_null(str_of(r0, "detail"));
    assert_true(json_object_object_get_ex(r0, "status", &v) && json_object_get_int(v) == 200);
    assert_true(json_object_object_get_ex(r0, "at", &v) &&
                json_object_get_double(v) > 1796276835.4 &&
                json_object_get_double(v) < 1796276835.6);
    assert_string_equal(str_of(r1, "action"), "example.add");
    assert_string_equal(str_of(r1, "claims"), "{\"city\": \"Delhi\"}");
    assert_null(str_of(r1, "sql"));
    /* unknown counts are left out (NULL in the table) */
    assert_false(json_object_object_get_ex(r1, "status", &v));
    assert_false(json_object_object_get_ex(r1, "rows", &v));
    assert_false(json_object_object_get_ex(r1, "duration_ms", &v));
    json_object_put(rows);
    audit_batch_free(&b);
}

static void test_full_batch_refuses(void **state)
{
    audit_batch b;
    audit_rec a;
    char *big;
    int i;
    (void)state;

    audit_batch_init(&b);
    audit_init(&a, "query");
    for (i = 0; i < AUDIT_BATCH_ROWS; i++)
        assert_int_equal(audit_queue(&b, &a, 1.0), 0);
    assert_int_equal(audit_batch_wait_ms(&b), 0); /* full: write it now */
    assert_int_equal(audit_queue(&b, &a, 1.0), -1);
    assert_int_equal(b.n, AUDIT_BATCH_ROWS);
    audit_batch_free(&b);

    /* a row past the byte limit is refused whole, the batch left as it was */
    audit_batch_init(&b);
    assert_int_equal(audit_queue(&b, &a, 1.0), 0);
    big = malloc(AUDIT_BATCH_BYTES);
    assert_non_null(big);
    memset(big, 'x', AUDIT_BATCH_BYTES - 1);
    big[AUDIT_BATCH_BYTES - 1] = '\0';
    a.sql = big;
    assert_int_equal(audit_queue(&b, &a, 1.0), -1);
    assert_int_equal(b.n, 1);
    json_object_put(rows_of(&b));
    free(big);
    audit_batch_free(&b);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_rows_in_order_with_nulls),
             cmocka_unit_test(test_full_batch_refuses))
