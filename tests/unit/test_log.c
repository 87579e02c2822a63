/* test_log -- core/log: the line's shape (time, program, pid, level, request id), levels,
 * one line per record whatever the message holds, secret redaction (also across the cut to
 * the longest line) and re-opening the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"

#include "log.h"

static char path[64];

/* Reads the whole log file (caller frees). */
static char *slurp(void)
{
    FILE *f = fopen(path, "rb");
    char *s = calloc(1, 1 << 16);
    size_t n;

    assert_non_null(f);
    assert_non_null(s);
    n = fread(s, 1, (1 << 16) - 1, f);
    s[n] = 0;
    fclose(f);
    return s;
}

/* A new, empty log file for each test. */
static int fresh(void **state)
{
    int fd;

    (void)state;
    if (path[0]) unlink(path);
    snprintf(path, sizeof path, "/tmp/t2sql-test-log.XXXXXX");
    fd = mkstemp(path);
    if (fd < 0) return -1;
    close(fd);
    log_clear_secrets();
    log_set_reqid(NULL);
    return log_init(path, LOG_INFO, "tlog");
}

static int teardown(void **state)
{
    (void)state;
    log_init(NULL, LOG_INFO, "t2sql");
    log_clear_secrets();
    log_set_reqid(NULL);
    unlink(path);
    return 0;
}

static void test_line_shape(void **state)
{
    char *s, want[64];

    assert_int_equal(fresh(state), 0);
    log_info("hello %d", 42);
    log_set_reqid("r-123");
    log_warn("with id");
    assert_string_equal(log_reqid(), "r-123");
    log_set_reqid(NULL);
    assert_string_equal(log_reqid(), "");
    s = slurp();
    snprintf(want, sizeof want, " tlog[%d] INFO hello 42\n", (int)getpid());
    assert_non_null(strstr(s, want));
    snprintf(want, sizeof want, " tlog[%d] WARN req=r-123 with id\n", (int)getpid());
    assert_non_null(strstr(s, want));
    /* 2026-01-02T03:04:05.678Z */
    assert_int_equal(s[4], '-');
    assert_int_equal(s[10], 'T');
    assert_int_equal(s[19], '.');
    assert_int_equal(s[23], 'Z');
    free(s);
}

static void test_levels(void **state)
{
    char *s;

    assert_int_equal(fresh(state), 0);
    log_debug("not at info");
    log_error("an error");
    log_init(path, LOG_DEBUG, "tlog");
    log_debug("now shown");
    log_init(path, LOG_ERR, "tlog");
    log_warn("hidden warning");
    s = slurp();
    assert_null(strstr(s, "not at info"));
    assert_non_null(strstr(s, "ERROR an error"));
    assert_non_null(strstr(s, "DEBUG now shown"));
    assert_null(strstr(s, "hidden warning"));
    free(s);
    assert_int_equal(log_level_parse("error"), LOG_ERR);
    assert_int_equal(log_level_parse("WARN"), LOG_WARN);
    assert_int_equal(log_level_parse("info"), LOG_INFO);
    assert_int_equal(log_level_parse("Debug"), LOG_DEBUG);
    assert_int_equal(log_level_parse("verbose"), -1);
}

static void test_one_line_per_record(void **state)
{
    char *s, *c;
    int lines = 0;

    assert_int_equal(fresh(state), 0);
    log_info("first\nsecond\r\nthird");
    s = slurp();
    for (c = s; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 1);
    assert_non_null(strstr(s, "first second  third"));
    free(s);
}

static void test_secrets_redacted(void **state)
{
    char *s;

    assert_int_equal(fresh(state), 0);
    log_add_secret("s3cr3t-password");
    log_add_secret("abc"); /* too short to be a secret: ignored */
    log_add_secret("s3cr3t-password");
    log_info("connecting with s3cr3t-password and again s3cr3t-password; abc stays");
    s = slurp();
    assert_null(strstr(s, "s3cr3t"));
    assert_non_null(strstr(s, "connecting with *** and again ***; abc stays"));
    free(s);
    log_clear_secrets();
    log_info("after clear s3cr3t-password");
    s = slurp();
    assert_non_null(strstr(s, "after clear s3cr3t-password"));
    free(s);
}

static void test_long_line_cut_after_redaction(void **state)
{
    char *msg = malloc(9000), *s, *nl, head[64];
    size_t len, at;

    assert_int_equal(fresh(state), 0);
    assert_non_null(msg);
    memset(msg, 'x', 8999);
    msg[8999] = 0;
    /* where the message starts in the line: "<time>Z tlog[pid] INFO " */
    at = 25 + (size_t)snprintf(head, sizeof head, "tlog[%d] INFO ", (int)getpid());
    memcpy(msg + 4094 - at - 7, "TOPSECRETVALUE", 14); /* unredacted, it straddles the cut */
    log_add_secret("TOPSECRETVALUE");
    log_info("%s", msg);
    s = slurp();
    nl = strchr(s, '\n');
    assert_non_null(nl);
    len = (size_t)(nl - s);
    assert_true(len <= 4094);
    assert_null(strstr(s, "TOPSEC"));
    assert_non_null(strstr(s, "***"));
    free(s);
    free(msg);
}

static void test_unwritable_path(void **state)
{
    assert_int_equal(fresh(state), 0);
    assert_int_equal(log_init("/nonexistent-dir/x/t2sql.log", LOG_INFO, "tlog"), -1);
    log_info("goes to stderr"); /* must not crash */
    assert_int_equal(log_init(path, LOG_INFO, "tlog"), 0);
}

T2_UNIT_MAIN(NULL, teardown, cmocka_unit_test(test_line_shape), cmocka_unit_test(test_levels),
             cmocka_unit_test(test_one_line_per_record), cmocka_unit_test(test_secrets_redacted),
             cmocka_unit_test(test_long_line_cut_after_redaction),
             cmocka_unit_test(test_unwritable_path))
