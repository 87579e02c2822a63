/* unit -- what the cmocka test programs share: T2_UNIT_MAIN(group setup, group teardown,
 * cmocka_unit_test(a), ...) is a program's main(), running the listed tests as one group;
 * unit_write_tmp() makes a file to read; unit_case_file() runs the cases of a JSON-lines file
 * under tests/cases/. Included after <cmocka.h>. */
#ifndef T2_UNIT_H
#define T2_UNIT_H

#include <json-c/json.h>
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

/* Runs check on each case of tests/cases/NAME (one JSON object a line; a line with a
 * "section" member only titles the cases after it). check gets where the case is ("file:line")
 * and returns 1 if it went wrong, having printed why. Fails the test if any went wrong or the
 * file holds no case. */
static inline void unit_case_file(const char *name, int (*check)(const char *where, json_object *o))
{
    char path[128], where[160], *line = NULL;
    size_t cap = 0;
    int n = 0, cases = 0, failures = 0;
    json_object *o;
    FILE *f;

    snprintf(path, sizeof path, "tests/cases/%s", name);
    if (!(f = fopen(path, "r"))) fail_msg("cannot read %s (run from the project root)", path);
    while (getline(&line, &cap, f) > 0) {
        snprintf(where, sizeof where, "%s:%d", path, ++n);
        if (!(o = json_tokener_parse(line))) {
            print_message("%s: not JSON\n", where);
            failures++;
            continue;
        }
        if (!json_object_object_get_ex(o, "section", NULL)) {
            cases++;
            failures += check(where, o);
        }
        json_object_put(o);
    }
    free(line);
    fclose(f);
    print_message("%s: %d cases, %d wrong\n", path, cases, failures);
    assert_true(cases > 0);
    assert_int_equal(failures, 0);
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
