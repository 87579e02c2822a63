/* test_order -- the tie-breaker decided on the parse tree: after the user's own ORDER BY
 * (never instead of it), before a LIMIT (inside parentheses too), outside a DISTINCT ON,
 * only orderable columns, nothing when proven unique or under WITH TIES; strings, quoted
 * names and comments that look like LIMIT are not taken for it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "body.h"
#include "buf.h"
#include "order.h"

/* One case of tests/cases/order.jsonl: {"sql", "orderable" ('1' per orderable column),
 * "unique" (1: proven unique), "want" (the rewrite)}. */
static int check_case(const char *where, json_object *o)
{
    json_object *u;
    const char *sql = body_str(o, "sql"), *orderable = body_str(o, "orderable"),
               *want = body_str(o, "want");
    char ok[8];
    buf out = BUF_INIT(0);
    int k, n, wrong = 0;

    if (!sql || !orderable || !want || !json_object_object_get_ex(o, "unique", &u) ||
        (n = (int)strlen(orderable)) > (int)sizeof ok) {
        print_message("%s: needs sql, orderable (at most 8), unique and want\n", where);
        return 1;
    }
    for (k = 0; k < n; k++)
        ok[k] = orderable[k] == '1';
    if (order_rewrite(sql, n, ok, json_object_get_int(u), &out) != 0 ||
        strcmp(buf_cstr(&out), want) != 0) {
        print_message("%s: %s\n got: [%s]\nwant: [%s]\n", where, sql, buf_cstr(&out), want);
        wrong = 1;
    }
    buf_free(&out);
    return wrong;
}

static void test_cases(void **state)
{
    (void)state;
    unit_case_file("order.jsonl", check_case);
}

static void test_not_a_select(void **state)
{
    char ok[1] = {1};
    buf out = BUF_INIT(0);

    (void)state;
    assert_int_equal(order_rewrite("DELETE FROM t", 1, ok, 0, &out), -1);
    assert_string_equal(buf_cstr(&out), "DELETE FROM t");
    buf_free(&out);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_cases), cmocka_unit_test(test_not_a_select))
