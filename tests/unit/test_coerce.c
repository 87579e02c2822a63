/* test_coerce -- pydantic v1's coercions, the cases a JSON body reaches less easily: Python's
 * float repr() at the notation boundaries, integers past long long, underscores. The
 * table-driven comparison with pydantic itself is tests/integration/test_coercion.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "coerce.h"

static void test_float_repr(void **state)
{
    static const struct {
        double d;
        const char *want;
    } cases[] = {
        {0.0, "0.0"},
        {-0.0, "-0.0"},
        {1.0, "1.0"},
        {0.1, "0.1"},
        {0.0001, "0.0001"},
        {0.00001, "1e-05"},
        {1e15, "1000000000000000.0"},
        {1e16, "1e+16"},
        {1.5e16, "1.5e+16"},
        {123.456, "123.456"},
        {1e300, "1e+300"},
        {2.5e-310, "2.5e-310"},
        {-7.25, "-7.25"},
        {0.30000000000000004, "0.30000000000000004"},
    };
    char out[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object *v = json_object_new_double(cases[i].d);
        assert_int_equal(coerce_str(v, out, sizeof out), 1);
        assert_string_equal(out, cases[i].want);
        json_object_put(v);
    }
}

static void test_int_strings(void **state)
{
    static const struct {
        const char *s;
        int rc;
        long long want;
    } cases[] = {
        {"12", 0, 12},
        {"-12", 0, -12},
        {" 1_000 ", 0, 1000},
        {"007", 0, 7},
        {"1_", -1, 0},
        {"+", -1, 0},
        {"1 2", -1, 0},
        {"\xd9\xa3", 0, 3},
        {"99999999999999999999", -2, 0},
        {"9223372036854775807", 0, 9223372036854775807LL},
        {"-9223372036854775808", 0, (-9223372036854775807LL - 1)},
    };
    long long n;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object *v = json_object_new_string(cases[i].s);
        n = 0;
        assert_int_equal(coerce_int(v, &n), cases[i].rc);
        if (cases[i].rc == 0) assert_true(n == cases[i].want);
        json_object_put(v);
    }
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_float_repr), cmocka_unit_test(test_int_strings))
