/* test_mem -- the resident size reading and the allocator trim a worker relies on after a
 * request that grew it. */
#include "mem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#define CHUNKS 256
#define CHUNK  (256 * 1024) /* below the mmap threshold: heap memory only a trim returns */

static void test_rss_grows_and_trim_returns_it(void **state)
{
    static char *p[CHUNKS];
    long base, grown, trimmed;
    int i;

    (void)state;
    base = mem_rss_kb();
    assert_true(base > 0);
    for (i = 0; i < CHUNKS; i++) {
        assert_non_null(p[i] = malloc(CHUNK));
        memset(p[i], 'x', CHUNK);
    }
    grown = mem_rss_kb();
    assert_true(grown >= base + (long)CHUNKS * CHUNK / 1024 * 9 / 10); /* ~64 MiB touched */
    /* free all but the last: the heap's top stays in use, so free() alone cannot shrink it */
    for (i = 0; i < CHUNKS - 1; i++)
        free(p[i]);
    mem_trim();
    trimmed = mem_rss_kb();
    assert_true(trimmed < grown - (long)CHUNKS * CHUNK / 1024 / 2);
    free(p[CHUNKS - 1]);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_rss_grows_and_trim_returns_it))
