/* test_conf -- the configuration loader: defaults, the file format, environment precedence,
 * masking of secrets, failure atomicity, the libpq conninfo, the schema list and the keys a
 * reload keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"

/* Every variable that could leak in from the shell running the tests. */
static const char *const aliases[] = {"DB_HOST",           "DB_PORT",
                                      "DB_NAME",           "DB_USER",
                                      "DB_PASS",           "OPENAI_BASE_URL",
                                      "OPENAI_API_KEY",    "OPENAI_MODEL",
                                      "AWS_REGION",        "EXPORT_BUCKET",
                                      "EXPORT_PREFIX",     "S3_ENDPOINT",
                                      "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                      "AWS_SESSION_TOKEN", NULL};

static int clean_env(void **state)
{
    char name[256];
    size_t i;
    int again = 1;

    (void)state;
    for (i = 0; aliases[i]; i++)
        unsetenv(aliases[i]);
    while (again) { /* unsetenv reshuffles environ: rescan after each removal */
        again = 0;
        for (i = 0; environ[i]; i++)
            if (strncmp(environ[i], "T2SQL_", 6) == 0) {
                size_t n = strcspn(environ[i], "=");
                snprintf(name, sizeof name, "%.*s", (int)n, environ[i]);
                unsetenv(name);
                again = 1;
                break;
            }
    }
    return 0;
}

/* Writes text to a new temp file; path receives its name. */
static void write_tmp(char path[64], const char *text)
{
    int fd;
    size_t n = strlen(text);

    snprintf(path, 64, "/tmp/t2sql-test-conf-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* Loads text as a config file; returns conf_load's result. */
static int load_text(const char *text, conf *c, char *err, size_t errlen, char path[64])
{
    int rc;

    write_tmp(path, text);
    rc = conf_load(path, c, err, errlen);
    unlink(path);
    return rc;
}

static void test_defaults(void **state)
{
    conf c;
    char err[256] = "";

    (void)state;
    assert_int_equal(conf_load(NULL, &c, err, sizeof err), 0);
    assert_string_equal(c.listen, "var/run/t2sql.sock");
    assert_int_equal(c.workers, 4);
    assert_string_equal(c.db_host, "127.0.0.1");
    assert_int_equal(c.db_port, 5432);
    assert_string_equal(c.db_pass, "");
    assert_string_equal(c.schemas, "public");
    assert_int_equal(c.max_page_size, 10000);
    assert_int_equal(c.default_page_size, 50);
    assert_int_equal(c.max_result_bytes, 268435456);
    assert_string_equal(c.llm_base_url, "");
    assert_string_equal(c.llm_model, "gpt-4o-mini");
    assert_int_equal(c.planner_fallback, 1);
    assert_int_equal(c.allow_catalogs, 0);
    assert_int_equal(c.guard_enabled, 1);
    assert_int_equal(c.auth_required, 0);
    assert_string_equal(c.export_prefix, "exports/");
    assert_int_equal(c.temp_file_limit_kb, 1048576);
    conf_free(&c);
    assert_null(c.listen); /* conf_free clears the pointers */
}

static void test_file_parsing(void **state)
{
    conf c;
    char err[256] = "", path[64];

    (void)state;
    assert_int_equal(load_text("# a comment\n"
                               "; another comment\n"
                               "[database]\n"
                               "\n"
                               "   db_host   =   db.example   # inline comment\n"
                               "db_pass = \"pa#ss word\"\n"
                               "db_user = us#er\n"
                               "db_name = \"quoted\"   # trailing comment after quotes\n"
                               "schemas = \"a # b\" # and a comment\n"
                               "log_file =\n"
                               "pid_file = # only a comment\n"
                               "llm_base_url = http://h:1/v1?x=y\n"
                               "workers = 8\n"
                               "guard_allowlist = off\n"
                               "allow_catalogs = YES\n"
                               "temp_file_limit_kb = -1\n",
                               &c, err, sizeof err, path),
                     0);
    assert_string_equal(c.db_host, "db.example");
    assert_string_equal(c.db_pass, "pa#ss word");
    assert_string_equal(c.db_user, "us#er"); /* '#' without a space before is data */
    assert_string_equal(c.db_name, "quoted");
    assert_string_equal(c.schemas, "a # b");
    assert_string_equal(c.log_file, "");
    assert_string_equal(c.pid_file, "");
    assert_string_equal(c.llm_base_url, "http://h:1/v1?x=y");
    assert_int_equal(c.workers, 8);
    assert_int_equal(c.guard_allowlist, 0);
    assert_int_equal(c.allow_catalogs, 1);
    assert_int_equal(c.temp_file_limit_kb, -1);
    conf_free(&c);
}

static void test_compact_lines_and_clamp(void **state)
{
    conf c;
    char err[256] = "", path[64];

    (void)state;
    assert_int_equal(load_text("workers=5\nmax_page_size=20\r\ndb_name=\"\"\n"
                               "default_page_size = 100\n",
                               &c, err, sizeof err, path),
                     0);
    assert_int_equal(c.workers, 5);
    assert_int_equal(c.max_page_size, 20); /* CRLF line end */
    assert_string_equal(c.db_name, "");
    assert_int_equal(c.default_page_size, 20); /* never above max_page_size */
    conf_free(&c);
}

static void test_file_errors(void **state)
{
    static const struct {
        const char *text;
        int line;
        const char *mention;
    } cases[] = {
        {"workers = 2\n\nno_such_key = 1\n", 3, "no_such_key"},
        {"workers = many\n", 1, "workers"},
        {"workers = 0\n", 1, "workers"},   /* below the minimum */
        {"workers = 257\n", 1, "workers"}, /* above the maximum */
        {"db_port = 5432x\n", 1, "db_port"},
        {"# c\nguard_enabled = maybe\n", 2, "guard_enabled"},
        {"[x]\njust some words\n", 2, "key = value"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conf c;
        char err[512] = "", path[64], where[96];
        assert_int_equal(load_text(cases[i].text, &c, err, sizeof err, path), -1);
        snprintf(where, sizeof where, "%s:%d:", path, cases[i].line);
        assert_non_null(strstr(err, where));
        assert_non_null(strstr(err, cases[i].mention));
    }
}

static void test_long_lines(void **state)
{
    static char text[6000];
    conf c;
    char err[256] = "", path[64];
    size_t i;

    (void)state;
    /* 4095 bytes before the newline: the longest line that fits */
    i = (size_t)snprintf(text, sizeof text, "db_pass = ");
    memset(text + i, 'x', 4095 - i);
    snprintf(text + 4095, sizeof text - 4095, "\nworkers = 3\n");
    assert_int_equal(load_text(text, &c, err, sizeof err, path), 0);
    assert_int_equal(strlen(c.db_pass), 4085);
    assert_int_equal(c.workers, 3);
    conf_free(&c);
    /* longer: an error on that line, not a truncated value or a bogus next line */
    memset(text + 10, 'y', 5000);
    snprintf(text + 5010, sizeof text - 5010, "\n");
    memset(&c, 0, sizeof c);
    assert_int_equal(load_text(text, &c, err, sizeof err, path), -1);
    assert_non_null(strstr(err, ":1:"));
    assert_non_null(strstr(err, "too long"));
    /* a long value followed by blanks must not pass as the value cut short */
    i = (size_t)snprintf(text, sizeof text, "db_pass = secret");
    memset(text + i, ' ', 4500);
    snprintf(text + i + 4500, sizeof text - i - 4500, "\n");
    assert_int_equal(load_text(text, &c, err, sizeof err, path), -1);
    assert_non_null(strstr(err, "too long"));
}

static void test_missing_file_and_bad_level(void **state)
{
    conf c;
    char err[256] = "", path[64];

    (void)state;
    assert_int_equal(conf_load("/nonexistent/t2sql.conf", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/t2sql.conf"));
    assert_int_equal(load_text("log_level = loud\n", &c, err, sizeof err, path), -1);
    assert_non_null(strstr(err, "log_level"));
}

static void test_failure_leaves_output_untouched(void **state)
{
    conf c, before;
    char err[256] = "", path[64];

    (void)state;
    memset(&c, 0xA5, sizeof c);
    memcpy(&before, &c, sizeof c);
    assert_int_equal(load_text("workers = 4\nbogus = 1\n", &c, err, sizeof err, path), -1);
    assert_memory_equal(&c, &before, sizeof c);
    setenv("T2SQL_DB_PORT", "99999", 1); /* an environment failure too */
    assert_int_equal(conf_load(NULL, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "T2SQL_DB_PORT"));
    assert_memory_equal(&c, &before, sizeof c);
    unsetenv("T2SQL_DB_PORT");
}

static void test_env_precedence(void **state)
{
    conf c;
    char err[256] = "", path[64];
    const char *file = "db_host = filehost\n"
                       "db_port = 1111\n"
                       "llm_api_key = filekey\n"
                       "workers = 2\n";

    (void)state;
    /* file only */
    assert_int_equal(load_text(file, &c, err, sizeof err, path), 0);
    assert_string_equal(c.db_host, "filehost");
    assert_int_equal(c.db_port, 1111);
    conf_free(&c);
    /* old alias beats the file */
    setenv("DB_HOST", "aliashost", 1);
    setenv("DB_PORT", "2222", 1);
    setenv("OPENAI_API_KEY", "aliaskey", 1);
    assert_int_equal(load_text(file, &c, err, sizeof err, path), 0);
    assert_string_equal(c.db_host, "aliashost");
    assert_int_equal(c.db_port, 2222);
    assert_string_equal(c.llm_api_key, "aliaskey");
    conf_free(&c);
    /* T2SQL_<KEY> beats the alias */
    setenv("T2SQL_DB_HOST", "newhost", 1);
    setenv("T2SQL_LLM_API_KEY", "newkey", 1);
    setenv("T2SQL_WORKERS", "16", 1);
    setenv("T2SQL_GUARD_ENABLED", "false", 1);
    assert_int_equal(load_text(file, &c, err, sizeof err, path), 0);
    assert_string_equal(c.db_host, "newhost");
    assert_int_equal(c.db_port, 2222);
    assert_string_equal(c.llm_api_key, "newkey");
    assert_int_equal(c.workers, 16);
    assert_int_equal(c.guard_enabled, 0);
    conf_free(&c);
    /* a bad alias value is reported under the alias' name */
    unsetenv("T2SQL_DB_HOST");
    setenv("DB_PORT", "port", 1);
    assert_int_equal(conf_load(NULL, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "DB_PORT"));
    assert_null(strstr(err, "T2SQL_DB_PORT"));
    clean_env(NULL);
}

static void test_base_url_forms(void **state)
{
    static const struct {
        const char *env, *value, *want;
    } cases[] = {
        {"OPENAI_BASE_URL", "https://api.openai.com/v1/chat/completions",
         "https://api.openai.com/v1"},
        {"OPENAI_BASE_URL", "http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"},
        {"T2SQL_LLM_BASE_URL", "http://x/v1/chat/completions", "http://x/v1"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conf c;
        char err[256] = "";
        setenv(cases[i].env, cases[i].value, 1);
        assert_int_equal(conf_load(NULL, &c, err, sizeof err), 0);
        assert_string_equal(c.llm_base_url, cases[i].want);
        conf_free(&c);
        unsetenv(cases[i].env);
    }
}

static void test_print_masks_secrets(void **state)
{
    static const char *const secrets[] = {"DB_PASS", "OPENAI_API_KEY", "T2SQL_REDIS_PASSWORD",
                                          "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"};
    static const char *const masked[] = {
        "db_pass = ********\n", "llm_api_key = ********\n", "redis_password = ********\n",
        "aws_secret_access_key = ********\n", "aws_session_token = ********\n"};
    conf c;
    char err[256] = "", *out = NULL, val[64];
    size_t len = 0, i;
    FILE *f;

    (void)state;
    for (i = 0; i < 5; i++) {
        snprintf(val, sizeof val, "SECRET-%zu-value", i);
        setenv(secrets[i], val, 1);
    }
    setenv("AWS_ACCESS_KEY_ID", "AKIDVISIBLE", 1);
    setenv("DB_USER", "visibleuser", 1);
    assert_int_equal(conf_load(NULL, &c, err, sizeof err), 0);
    f = open_memstream(&out, &len);
    assert_non_null(f);
    conf_print(&c, f);
    fclose(f);
    assert_null(strstr(out, "SECRET-"));
    for (i = 0; i < 5; i++)
        assert_non_null(strstr(out, masked[i]));
    assert_non_null(strstr(out, "aws_access_key_id = AKIDVISIBLE\n"));
    assert_non_null(strstr(out, "db_user = visibleuser\n"));
    assert_non_null(strstr(out, "workers = 4\n"));
    assert_non_null(strstr(out, "guard_enabled = true\n"));
    free(out);
    conf_free(&c);
    clean_env(NULL);

    /* an empty secret prints as empty, so "not set" is visible */
    assert_int_equal(conf_load(NULL, &c, err, sizeof err), 0);
    out = NULL;
    f = open_memstream(&out, &len);
    conf_print(&c, f);
    fclose(f);
    assert_non_null(strstr(out, "db_pass = \n"));
    free(out);
    conf_free(&c);
}

static void test_pg_conninfo(void **state)
{
    conf c;
    char err[256] = "", ci[512], small[40];

    (void)state;
    setenv("DB_PASS", "it's a\\pass", 1);
    setenv("DB_HOST", "db host", 1);
    assert_int_equal(conf_load(NULL, &c, err, sizeof err), 0);
    assert_int_equal(conf_pg_conninfo(&c, ci, sizeof ci, "t2sql-test"), 0);
    assert_string_equal(ci, "host='db host' port='5432' dbname='postgres' user='postgres' "
                            "password='it\\'s a\\\\pass' connect_timeout='5' keepalives='1' "
                            "keepalives_idle='10' keepalives_interval='5' keepalives_count='3' "
                            "application_name='t2sql-test'");
    assert_int_equal(conf_pg_conninfo(&c, small, sizeof small, "t2sql-test"), -1);
    assert_true(memchr(small, '\0', sizeof small) != NULL);
    conf_free(&c);
    /* no password: no password keyword at all */
    unsetenv("DB_PASS");
    assert_int_equal(conf_load(NULL, &c, err, sizeof err), 0);
    assert_int_equal(conf_pg_conninfo(&c, ci, sizeof ci, "x"), 0);
    assert_null(strstr(ci, "password"));
    conf_free(&c);
    clean_env(NULL);
}

static void test_schema_list(void **state)
{
    static const struct {
        const char *schemas;
        int max, n;
        const char *want[4];
    } cases[] = {
        {"public", 8, 1, {"public"}},
        {" public , sales ,,  , x ", 8, 3, {"public", "sales", "x"}},
        {"a,b,c", 2, 2, {"a", "b"}},
        {" , ", 8, 0, {NULL}},
    };
    size_t i;
    int j;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conf c;
        char err[256] = "", **names = NULL;
        int n;
        setenv("T2SQL_SCHEMAS", cases[i].schemas, 1);
        assert_int_equal(conf_load(NULL, &c, err, sizeof err), 0);
        n = conf_schema_list(&c, &names, cases[i].max);
        assert_int_equal(n, cases[i].n);
        for (j = 0; j < n; j++)
            assert_string_equal(names[j], cases[i].want[j]);
        assert_string_equal(c.schemas, cases[i].schemas); /* the conf is not modified */
        free(names);
        conf_free(&c);
    }
    unsetenv("T2SQL_SCHEMAS");
}

/* cors_allow_origins: which entries load, which origins match, and "*" with auth on. */
static void test_cors_origins(void **state)
{
    static const struct {
        const char *text;
        int ok;
    } loads[] = {
        {"cors_allow_origins = \n", 1},
        {"cors_allow_origins = http://127.0.0.1:3100\n", 1},
        {"cors_allow_origins = https://a.example.com, http://localhost:8081 https://b.example\n",
         1},
        {"cors_allow_origins = *\n", 1},
        {"cors_allow_origins = *\nauth_required = true\n", 0},
        {"cors_allow_origins = *\nauth_required = true\ncors_any_origin_with_auth = true\n", 1},
        {"cors_allow_origins = https://a.example.com\nauth_required = true\n", 1},
        {"cors_allow_origins = *, https://a.example.com\n", 0},
        {"cors_allow_origins = https://a.example.com/\n", 0},
        {"cors_allow_origins = https://a.example.com/app\n", 0},
        {"cors_allow_origins = a.example.com\n", 0},
        {"cors_allow_origins = ftp://a.example.com\n", 0},
        {"cors_allow_origins = https://\n", 0},
        {"cors_allow_origins = \"https://a.example.com\r\"\n", 0},
    };
    static const struct {
        const char *list, *origin;
        int want;
    } match[] = {
        {"", "http://127.0.0.1:3100", CONF_ORIGIN_NO},
        {"http://127.0.0.1:3100", "http://127.0.0.1:3100", CONF_ORIGIN_LISTED},
        {"http://127.0.0.1:3100", "http://127.0.0.1:3101", CONF_ORIGIN_NO},
        {"http://127.0.0.1:3100", "http://127.0.0.1:310", CONF_ORIGIN_NO},
        {"http://127.0.0.1:3100", "http://127.0.0.1:31000", CONF_ORIGIN_NO},
        {"http://127.0.0.1:3100", "https://127.0.0.1:3100", CONF_ORIGIN_NO},
        {"http://127.0.0.1:3100", NULL, CONF_ORIGIN_NO},
        {"http://127.0.0.1:3100", "null", CONF_ORIGIN_NO},
        {"https://a.example, https://b.example", "https://b.example", CONF_ORIGIN_LISTED},
        {"https://a.example https://b.example", "https://a.example", CONF_ORIGIN_LISTED},
        {"https://a.example,https://b.example", "https://a.example,https://b.example",
         CONF_ORIGIN_NO},
        {"*", "https://anything.example", CONF_ORIGIN_ANY},
        {"*", NULL, CONF_ORIGIN_ANY},
    };
    char text[256], err[256];
    size_t i;
    conf c;

    (void)state;
    for (i = 0; i < sizeof loads / sizeof loads[0]; i++) {
        err[0] = '\0';
        int rc = conf_load_buffer(loads[i].text, strlen(loads[i].text), &c, err, sizeof err);
        if (rc != (loads[i].ok ? 0 : -1))
            fail_msg("case %zu (%s): rc %d %s", i, loads[i].text, rc, err);
        if (rc == 0)
            conf_free(&c);
        else
            assert_non_null(strstr(err, "cors_"));
    }
    for (i = 0; i < sizeof match / sizeof match[0]; i++) {
        snprintf(text, sizeof text, "cors_allow_origins = \"%s\"\n", match[i].list);
        assert_int_equal(conf_load_buffer(text, strlen(text), &c, err, sizeof err), 0);
        if (conf_origin_allowed(&c, match[i].origin) != match[i].want)
            fail_msg("case %zu: %s against %s", i, match[i].origin ? match[i].origin : "(none)",
                     match[i].list);
        conf_free(&c);
    }
    assert_int_equal(conf_load_buffer("", 0, &c, err, sizeof err), 0);
    assert_int_equal(c.cors_max_age, 600);
    assert_string_equal(c.cors_allow_origins, "");
    conf_free(&c);
}

/* A reload keeps the keys that need a restart (listen, pid_file) and takes the others. */
static void test_keep_fixed(void **state)
{
    const char *a = "listen = /run/a.sock\npid_file = /run/a.pid\nworkers = 2\nschemas = x\n";
    const char *b = "listen = /run/b.sock\npid_file = /run/a.pid\nworkers = 5\nschemas = y\n";
    conf old, nw;
    char err[256] = "";

    (void)state;
    assert_int_equal(conf_load_buffer(a, strlen(a), &old, err, sizeof err), 0);
    assert_int_equal(conf_load_buffer(b, strlen(b), &nw, err, sizeof err), 0);
    assert_int_equal(conf_keep_fixed(&nw, &old), 0);
    assert_string_equal(nw.listen, "/run/a.sock");
    assert_string_equal(nw.pid_file, "/run/a.pid");
    assert_int_equal(nw.workers, 5);
    assert_string_equal(nw.schemas, "y");
    assert_string_equal(old.listen, "/run/a.sock"); /* a copy: both stay valid */
    conf_free(&old);
    assert_string_equal(nw.listen, "/run/a.sock");
    conf_free(&nw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clean_env),
        cmocka_unit_test_setup(test_file_parsing, clean_env),
        cmocka_unit_test_setup(test_compact_lines_and_clamp, clean_env),
        cmocka_unit_test_setup(test_file_errors, clean_env),
        cmocka_unit_test_setup(test_long_lines, clean_env),
        cmocka_unit_test_setup(test_missing_file_and_bad_level, clean_env),
        cmocka_unit_test_setup(test_failure_leaves_output_untouched, clean_env),
        cmocka_unit_test_setup(test_env_precedence, clean_env),
        cmocka_unit_test_setup(test_base_url_forms, clean_env),
        cmocka_unit_test_setup(test_print_masks_secrets, clean_env),
        cmocka_unit_test_setup(test_pg_conninfo, clean_env),
        cmocka_unit_test_setup(test_schema_list, clean_env),
        cmocka_unit_test_setup(test_cors_origins, clean_env),
        cmocka_unit_test_setup(test_keep_fixed, clean_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
