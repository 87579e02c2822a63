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

#include "order.h"

typedef struct order_case {
    const char *sql;
    int ncols;
    const char *orderable; /* '1' per orderable column */
    int unique;
    const char *want;
} order_case;

static const order_case cases[] = {
    {"SELECT a, b FROM t", 2, "11", 0, "SELECT a, b FROM t\nORDER BY 1, 2\n"},
    {"SELECT city FROM t ORDER BY city", 1, "1", 0, "SELECT city FROM t ORDER BY city\n, 1\n"},
    {"SELECT city, n FROM t ORDER BY n DESC NULLS LAST LIMIT 10", 2, "11", 0,
     "SELECT city, n FROM t ORDER BY n DESC NULLS LAST \n, 1, 2\nLIMIT 10"},
    {"SELECT a FROM t OFFSET 5 LIMIT 2", 1, "1", 0,
     "SELECT a FROM t \nORDER BY 1\nOFFSET 5 LIMIT 2"},
    {"SELECT a, j, p FROM t", 3, "100", 0, "SELECT a, j, p FROM t\nORDER BY 1\n"},
    {"SELECT a FROM t ORDER BY id", 1, "1", 1, "SELECT a FROM t ORDER BY id"},
    {"SELECT j FROM t", 1, "0", 0, "SELECT j FROM t"},
    {"SELECT a FROM t ORDER BY a FETCH FIRST 3 ROWS WITH TIES", 1, "1", 0,
     "SELECT a FROM t ORDER BY a FETCH FIRST 3 ROWS WITH TIES"},
    {"SELECT 'limit' AS \"offset\", a FROM t -- limit\nWHERE a <> $$ fetch $$", 2, "11", 0,
     "SELECT 'limit' AS \"offset\", a FROM t -- limit\nWHERE a <> $$ fetch $$\nORDER BY 1, 2\n"},
    {"SELECT a FROM (SELECT a FROM t ORDER BY a LIMIT 5) s", 1, "1", 0,
     "SELECT a FROM (SELECT a FROM t ORDER BY a LIMIT 5) s\nORDER BY 1\n"},
    {"(SELECT a FROM t ORDER BY a LIMIT 5)", 1, "1", 0,
     "(SELECT a FROM t ORDER BY a \n, 1\nLIMIT 5)"},
    {"(SELECT a FROM t) UNION (SELECT b FROM u)", 1, "1", 0,
     "(SELECT a FROM t) UNION (SELECT b FROM u)\nORDER BY 1\n"},
    {"SELECT a FROM t UNION ALL SELECT b FROM u ORDER BY 1 LIMIT 3", 1, "1", 0,
     "SELECT a FROM t UNION ALL SELECT b FROM u ORDER BY 1 \n, 1\nLIMIT 3"},
    {"SELECT DISTINCT ON (b) a, b FROM t", 2, "11", 0,
     "SELECT * FROM (\nSELECT DISTINCT ON (b) a, b FROM t\n) t2sql_ordered ORDER BY 1, 2"},
    {"SELECT DISTINCT ON (b) a, b FROM t ORDER BY b, a", 2, "11", 0,
     "SELECT DISTINCT ON (b) a, b FROM t ORDER BY b, a\n, 1, 2\n"},
    {"SELECT a, count(*) FROM t GROUP BY a -- the end", 2, "11", 0,
     "SELECT a, count(*) FROM t GROUP BY a -- the end\nORDER BY 1, 2\n"},
    {"SELECT E'it\\'s limit' AS x FROM t", 1, "1", 0,
     "SELECT E'it\\'s limit' AS x FROM t\nORDER BY 1\n"},
};

static void test_cases(void **state)
{
    size_t i;
    int k;
    char ok[8];
    buf out = BUF_INIT(0);

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (k = 0; k < cases[i].ncols; k++)
            ok[k] = cases[i].orderable[k] == '1';
        assert_int_equal(order_rewrite(cases[i].sql, cases[i].ncols, ok, cases[i].unique, &out), 0);
        if (strcmp(buf_cstr(&out), cases[i].want) != 0)
            fail_msg("case %zu: %s\n got: [%s]\nwant: [%s]", i, cases[i].sql, buf_cstr(&out),
                     cases[i].want);
    }
    buf_free(&out);
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
