/* unit -- what the cmocka test programs share: T2_UNIT_MAIN(group setup, group teardown,
 * cmocka_unit_test(a), ...) is a program's main(), running the listed tests as one group;
 * unit_write_tmp() makes a file to read. Included after <cmocka.h>. */
#ifndef T2_UNIT_H
#define T2_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes text to a new file /tmp/t2sql-test-<tag>-XXXXXX; path receives its name (the test
 * unlinks it). */
static inline void unit_write_tmp(char path[64], const char *tag, const char *text)
{
    int fd;
    size_t n = strlen(text);

    snprintf(path, 64, "/tmp/t2sql-test-%s-XXXXXX", tag);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* A case table's row of the commonest shapes: a text given, a text wanted ... */
typedef struct unit_text_text {
    const char *text;
    const char *want;
} unit_text_text;

/* ... a text given, a number wanted. */
typedef struct unit_text_num {
    const char *text;
    int want;
} unit_text_num;

/* ... and a text given with a number (a length, a flag, a line), a text wanted. */
typedef struct unit_text_num_text {
    const char *text;
    size_t num;
    const char *want;
} unit_text_num_text;

#define T2_UNIT_MAIN(setup, teardown, ...)                                                         \
    int main(void)                                                                                 \
    {                                                                                              \
        const struct CMUnitTest tests[] = {__VA_ARGS__};                                           \
        return cmocka_run_group_tests(tests, setup, teardown);                                     \
    }

#endif
