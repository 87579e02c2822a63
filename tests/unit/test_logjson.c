/* test_logjson -- the two line formats: JSON lines parse and carry the record's fields, secrets
 * are masked in both (a secret with JSON's special characters too), text lines stay one
 * line. */
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
#include <json-c/json.h>

#include "log.h"

static char path[64];

static char *slurp(void)
{
    FILE *f = fopen(path, "r");
    static char text[65536];
    size_t n;

    assert_non_null(f);
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static int setup(void **state)
{
    int fd;

    (void)state;
    snprintf(path, sizeof path, "/tmp/t2sql-test-log-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(log_init(path, LOG_INFO, "test"), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_init(NULL, LOG_INFO, "test");
    log_set_json(0);
    log_clear_secrets();
    unlink(path);
    return 0;
}

static void test_json_fields(void **state)
{
    log_kv kv[4] = {LOG_S("route", "/query"), LOG_I("status", 200), LOG_N("duration_ms", 1.5),
                    LOG_S("absent", NULL)};
    json_object *j, *v;
    char *text, *nl;

    (void)state;
    log_set_json(1);
    log_set_reqid("abc-1");
    log_add_secret("s3cr\"et\\pw");
    log_fields(LOG_INFO, "request with s3cr\"et\\pw\nin it", kv, 4);
    log_set_reqid(NULL);
    log_debug("not at this level");
    log_warn("plain %d", 7);
    text = slurp();
    nl = strchr(text, '\n');
    assert_non_null(nl);
    *nl = '\0';
    j = json_tokener_parse(text);
    assert_non_null(j);
    assert_true(json_object_object_get_ex(j, "msg", &v));
    assert_string_equal(json_object_get_string(v), "request with ***\nin it");
    assert_true(json_object_object_get_ex(j, "request_id", &v));
    assert_string_equal(json_object_get_string(v), "abc-1");
    assert_true(json_object_object_get_ex(j, "level", &v));
    assert_string_equal(json_object_get_string(v), "info");
    assert_true(json_object_object_get_ex(j, "status", &v));
    assert_int_equal(json_object_get_int(v), 200);
    assert_true(json_object_object_get_ex(j, "duration_ms", &v));
    assert_true(json_object_get_double(v) == 1.5);
    assert_true(json_object_object_get_ex(j, "route", &v));
    assert_false(json_object_object_get_ex(j, "absent", &v));
    assert_true(json_object_object_get_ex(j, "time", &v));
    assert_int_equal(strlen(json_object_get_string(v)), 24);
    json_object_put(j);
    j = json_tokener_parse(nl + 1); /* the second line: no request id, level warn */
    assert_non_null(j);
    assert_false(json_object_object_get_ex(j, "request_id", &v));
    assert_true(json_object_object_get_ex(j, "msg", &v));
    assert_string_equal(json_object_get_string(v), "plain 7");
    json_object_put(j);
    assert_null(strstr(nl + 1, "not at this level"));
}

static void test_text_fields(void **state)
{
    log_kv kv[3] = {LOG_S("route", "/query"), LOG_S("xff", "a b"), LOG_I("rows", 3)};
    const char *text;

    (void)state;
    log_set_json(0);
    log_add_secret("hunter22");
    log_fields(LOG_INFO, "request hunter22", kv, 3);
    text = slurp();
    assert_non_null(strstr(text, " INFO request *** route=/query xff=\"a b\" rows=3\n"));
    assert_null(strstr(text, "hunter22"));
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test_setup_teardown(test_json_fields, setup, teardown),
             cmocka_unit_test_setup_teardown(test_text_fields, setup, teardown))
