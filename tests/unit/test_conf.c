/* test_conf -- the configuration loader: defaults, the file format, environment precedence,
 * secrets read from files (<key>_file, *_FILE), includes, base_path, masking of secrets,
 * failure atomicity, the libpq conninfo, the schema list and the keys a reload keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"

#include "conf.h"

/* Every variable that could leak in from the shell running the tests. */
static const char *const aliases[] = {"DB_HOST",
                                      "DB_PORT",
                                      "DB_NAME",
                                      "DB_USER",
                                      "DB_PASS",
                                      "OPENAI_BASE_URL",
                                      "OPENAI_API_KEY",
                                      "OPENAI_MODEL",
                                      "AWS_REGION",
                                      "EXPORT_BUCKET",
                                      "EXPORT_PREFIX",
                                      "S3_ENDPOINT",
                                      "AWS_ACCESS_KEY_ID",
                                      "AWS_SECRET_ACCESS_KEY",
                                      "AWS_SESSION_TOKEN",
                                      "DB_PASS_FILE",
                                      "OPENAI_API_KEY_FILE",
                                      "AWS_SECRET_ACCESS_KEY_FILE",
                                      "AWS_SESSION_TOKEN_FILE",
                                      NULL};

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

/* Loads text as a config file; returns conf_load's result. */
static int load_text(const char *text, conf *c, char *err, size_t errlen, char path[64])
{
    int rc;

    unit_write_tmp(path, "conf", text);
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
    { /* workers follow the cores: two per core, 2 to 64; as many more wait */
        long want = sysconf(_SC_NPROCESSORS_ONLN) * 2;
        want = want < 2 ? 2 : want > 64 ? 64 : want;
        assert_int_equal(c.workers, want);
        assert_int_equal(c.queue_workers, want);
    }
    assert_int_equal(c.queue_timeout_ms, 2000);
    assert_int_equal(c.health_workers, 1);
    assert_string_equal(c.log_format, "text");
    assert_true(c.planner_enabled);
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
    static const unit_text_num_text cases[] = {
        /* text, line, what the error mentions */
        {"workers = 2\n\nno_such_key = 1\n", 3, "no_such_key"},
        {"workers = many\n", 1, "workers"},
        {"workers = -1\n", 1, "workers"},  /* below the minimum (0 = two per core) */
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
        snprintf(where, sizeof where, "%s:%zu:", path, cases[i].num);
        assert_non_null(strstr(err, where));
        assert_non_null(strstr(err, cases[i].want));
    }
    { /* values checked against each other after loading */
        conf c;
        char err[512] = "";
        assert_int_equal(conf_load_buffer("log_format = yaml\n", 18, &c, err, sizeof err), -1);
        assert_non_null(strstr(err, "log_format"));
        assert_int_equal(
            conf_load_buffer("workers = 200\nqueue_workers = 100\n", 35, &c, err, sizeof err), -1);
        assert_non_null(strstr(err, "at most 256"));
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

/* Loads the precedence test's file under the environment as it is now; the three settings
 * come out as wanted. */
static void precedence_gives(const char *host, long port, const char *key)
{
    conf c;
    char err[256] = "", path[64];
    const char *file = "db_host = filehost\n"
                       "db_port = 1111\n"
                       "llm_api_key = filekey\n"
                       "workers = 2\n";

    assert_int_equal(load_text(file, &c, err, sizeof err, path), 0);
    assert_string_equal(c.db_host, host);
    assert_int_equal(c.db_port, port);
    assert_string_equal(c.llm_api_key, key);
    assert_int_equal(c.workers, getenv("T2SQL_WORKERS") ? 16 : 2);
    assert_int_equal(c.guard_enabled, getenv("T2SQL_GUARD_ENABLED") ? 0 : 1);
    conf_free(&c);
}

static void test_env_precedence(void **state)
{
    conf c;
    char err[256] = "";

    (void)state;
    precedence_gives("filehost", 1111, "filekey"); /* file only */
    /* old alias beats the file */
    setenv("DB_HOST", "aliashost", 1);
    setenv("DB_PORT", "2222", 1);
    setenv("OPENAI_API_KEY", "aliaskey", 1);
    precedence_gives("aliashost", 2222, "aliaskey");
    /* T2SQL_<KEY> beats the alias */
    setenv("T2SQL_DB_HOST", "newhost", 1);
    setenv("T2SQL_LLM_API_KEY", "newkey", 1);
    setenv("T2SQL_WORKERS", "16", 1);
    setenv("T2SQL_GUARD_ENABLED", "false", 1);
    precedence_gives("newhost", 2222, "newkey");
    /* a bad alias value is reported under the alias' name */
    unsetenv("T2SQL_DB_HOST");
    setenv("DB_PORT", "port", 1);
    assert_int_equal(conf_load(NULL, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "DB_PORT"));
    assert_null(strstr(err, "T2SQL_DB_PORT"));
    clean_env(NULL);
}

/* A temp directory with files in it; rm_tmpdir() removes what the tests put there. */
static void mk_tmpdir(char dir[64])
{
    snprintf(dir, 64, "/tmp/t2sql-test-conf-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char path[160];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_non_null(f = fopen(path, "w"));
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static void rm_tmpdir(const char *dir, const char *const *names)
{
    char path[160];

    for (; *names; names++) {
        snprintf(path, sizeof path, "%s/%s", dir, *names);
        if (unlink(path) != 0) rmdir(path);
    }
    rmdir(dir);
}

static int load_in(const char *dir, const char *name, conf *c, char *err, size_t errlen)
{
    char path[160];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return conf_load(path, c, err, errlen);
}

static void test_secret_files(void **state)
{
    static const char *const names[] = {"t.conf", "pass", "pass2", "empty", "nl", NULL};
    conf c;
    char dir[64], err[512] = "", abs[160];

    (void)state;
    mk_tmpdir(dir);
    put_file(dir, "pass", "s3cr3t-in-a-file\n"); /* one trailing newline: dropped */
    put_file(dir, "pass2", "two-lines\r\n\r\n"); /* CR LF and blank lines at the end too */
    put_file(dir, "empty", "");
    put_file(dir, "nl", "\n");
    /* relative to the config file's directory, not the working directory */
    put_file(dir, "t.conf", "db_pass_file = pass\nllm_api_key_file = pass2\n");
    assert_int_equal(load_in(dir, "t.conf", &c, err, sizeof err), 0);
    assert_string_equal(c.db_pass, "s3cr3t-in-a-file");
    assert_string_equal(c.llm_api_key, "two-lines");
    conf_free(&c);
    /* a later direct value wins over the file, and the file is then not read at all */
    put_file(dir, "t.conf", "db_pass_file = missing\ndb_pass = direct\n");
    assert_int_equal(load_in(dir, "t.conf", &c, err, sizeof err), 0);
    assert_string_equal(c.db_pass, "direct");
    conf_free(&c);
    setenv("DB_PASS", "from-env", 1); /* the environment beats the file's db_pass_file */
    put_file(dir, "t.conf", "db_pass_file = missing\n");
    assert_int_equal(load_in(dir, "t.conf", &c, err, sizeof err), 0);
    assert_string_equal(c.db_pass, "from-env");
    conf_free(&c);
    /* ... and T2SQL_<KEY>_FILE beats the old name, <OLD>_FILE comes after it */
    snprintf(abs, sizeof abs, "%s/pass2", dir);
    setenv("T2SQL_DB_PASS_FILE", abs, 1);
    assert_int_equal(load_in(dir, "t.conf", &c, err, sizeof err), 0);
    assert_string_equal(c.db_pass, "two-lines");
    conf_free(&c);
    unsetenv("T2SQL_DB_PASS_FILE");
    unsetenv("DB_PASS");
    snprintf(abs, sizeof abs, "%s/pass", dir);
    setenv("AWS_SECRET_ACCESS_KEY_FILE", abs, 1);
    setenv("DB_PASS_FILE", "", 1); /* empty: as if unset */
    assert_int_equal(conf_load(NULL, &c, err, sizeof err), 0);
    assert_string_equal(c.aws_secret_access_key, "s3cr3t-in-a-file");
    assert_string_equal(c.db_pass, "");
    conf_free(&c);
    clean_env(NULL);
    /* a missing file, an empty one, one that is only a newline: errors naming key and file */
    put_file(dir, "t.conf", "db_pass_file = missing\n");
    assert_int_equal(load_in(dir, "t.conf", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "db_pass_file"));
    assert_non_null(strstr(err, "missing"));
    assert_non_null(strstr(err, "No such file"));
    put_file(dir, "t.conf", "redis_password_file = empty\n");
    assert_int_equal(load_in(dir, "t.conf", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "redis_password_file"));
    assert_non_null(strstr(err, "is empty"));
    put_file(dir, "t.conf", "db_pass_file = nl\n");
    assert_int_equal(load_in(dir, "t.conf", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "is empty"));
    setenv("T2SQL_AWS_SESSION_TOKEN_FILE", "/nonexistent/token", 1);
    assert_int_equal(conf_load(NULL, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/token"));
    clean_env(NULL);
    /* only secrets have a _file form; a buffer reads no files */
    put_file(dir, "t.conf", "db_host_file = pass\n");
    assert_int_equal(load_in(dir, "t.conf", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown key 'db_host_file'"));
    assert_int_equal(conf_load_buffer("db_pass_file = /etc/hostname\n", 29, &c, err, sizeof err),
                     -1);
    setenv("T2SQL_DB_HOST_FILE", abs, 1); /* not a secret: ignored, not read */
    assert_int_equal(conf_load(NULL, &c, err, sizeof err), 0);
    assert_string_equal(c.db_host, "127.0.0.1");
    conf_free(&c);
    clean_env(NULL);
    rm_tmpdir(dir, names);
}

static void test_includes(void **state)
{
    static const char *const names[] = {
        "main.conf", "sub/local.conf", "sub/pass", "loop.conf", "sub", NULL};
    conf c;
    char dir[64], err[512] = "", sub[96];

    (void)state;
    mk_tmpdir(dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    put_file(dir, "sub/pass", "included-secret\n");
    /* the included file's own relative paths are relative to it */
    put_file(dir, "sub/local.conf", "db_port = 54329\ndb_pass_file = pass\n");
    put_file(dir, "main.conf",
             "db_port = 1\nworkers = 3\ninclude_if_exists = sub/local.conf\n"
             "include_if_exists = sub/nothing-here.conf\nworkers = 5\n");
    assert_int_equal(load_in(dir, "main.conf", &c, err, sizeof err), 0);
    assert_int_equal(c.db_port, 54329); /* the include comes after the file's own line */
    assert_string_equal(c.db_pass, "included-secret");
    assert_int_equal(c.workers, 5); /* and before the lines after it */
    conf_free(&c);
    setenv("T2SQL_DB_PORT", "7777", 1); /* the environment still wins */
    assert_int_equal(load_in(dir, "main.conf", &c, err, sizeof err), 0);
    assert_int_equal(c.db_port, 7777);
    conf_free(&c);
    clean_env(NULL);
    /* include (without if_exists) of a missing file, an error inside one, a loop */
    put_file(dir, "main.conf", "include = sub/nothing-here.conf\n");
    assert_int_equal(load_in(dir, "main.conf", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "nothing-here.conf"));
    put_file(dir, "sub/local.conf", "\nworkers = none\n");
    put_file(dir, "main.conf", "include_if_exists = sub/local.conf\n");
    assert_int_equal(load_in(dir, "main.conf", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "local.conf:2:"));
    put_file(dir, "loop.conf", "include = loop.conf\n");
    assert_int_equal(load_in(dir, "loop.conf", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "nested too deeply"));
    assert_int_equal(conf_load_buffer("include = /etc/t2sql.conf\n", 26, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "only from a config file"));
    rm_tmpdir(dir, names);
}

static void test_base_path(void **state)
{
    static const struct {
        const char *in, *out;
    } ok[] = {{"", ""}, {"/", ""}, {"/prod", "/prod"}, {"/prod/", "/prod"}, {"/a/b//", "/a/b"}};
    static const char *const bad[] = {"prod", "/pr od", "/p?x", "/p%2f", NULL};
    conf c;
    char err[256] = "", text[128];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int n = snprintf(text, sizeof text, "base_path = \"%s\"\n", ok[i].in);
        assert_int_equal(conf_load_buffer(text, (size_t)n, &c, err, sizeof err), 0);
        assert_string_equal(c.base_path, ok[i].out);
        conf_free(&c);
    }
    for (i = 0; bad[i]; i++) {
        int n = snprintf(text, sizeof text, "base_path = \"%s\"\n", bad[i]);
        assert_int_equal(conf_load_buffer(text, (size_t)n, &c, err, sizeof err), -1);
        assert_non_null(strstr(err, "base_path"));
    }
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

/* The pooler's and the replica's conninfo differ from the primary's only in host and port;
 * without db_pool_host the workers' conninfo is the primary's. */
static void test_pool_and_replica_conninfo(void **state)
{
    conf c;
    char err[256] = "", ci[512];

    (void)state;
    setenv("DB_HOST", "primary", 1);
    setenv("T2SQL_DB_REPLICA_HOST", "standby", 1);
    setenv("T2SQL_DB_REPLICA_PORT", "5433", 1);
    assert_int_equal(conf_load(NULL, &c, err, sizeof err), 0);
    assert_string_equal(c.replica_fallback, "primary");
    assert_int_equal(c.replica_max_lag_ms, 5000);
    assert_int_equal(conf_pg_conninfo_at(&c, CONF_DB_POOL, ci, sizeof ci, "a"), 0);
    assert_non_null(strstr(ci, "host='primary' port='5432' dbname="));
    assert_int_equal(conf_pg_conninfo_at(&c, CONF_DB_REPLICA, ci, sizeof ci, "a"), 0);
    assert_non_null(strstr(ci, "host='standby' port='5433' dbname='postgres' user='postgres'"));
    conf_free(&c);
    setenv("T2SQL_DB_POOL_HOST", "bouncer", 1);
    assert_int_equal(conf_load(NULL, &c, err, sizeof err), 0);
    assert_int_equal(conf_pg_conninfo_at(&c, CONF_DB_POOL, ci, sizeof ci, "a"), 0);
    assert_non_null(strstr(ci, "host='bouncer' port='6432' dbname="));
    assert_int_equal(conf_pg_conninfo(&c, ci, sizeof ci, "a"), 0); /* exportd, the tools */
    assert_non_null(strstr(ci, "host='primary' port='5432' dbname="));
    conf_free(&c);
    setenv("T2SQL_REPLICA_FALLBACK", "sometimes", 1);
    assert_int_equal(conf_load(NULL, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "replica_fallback must be primary or error"));
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
    static const unit_text_num loads[] = {
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
        if (rc != (loads[i].want ? 0 : -1))
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

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test_setup(test_defaults, clean_env),
             cmocka_unit_test_setup(test_file_parsing, clean_env),
             cmocka_unit_test_setup(test_compact_lines_and_clamp, clean_env),
             cmocka_unit_test_setup(test_file_errors, clean_env),
             cmocka_unit_test_setup(test_long_lines, clean_env),
             cmocka_unit_test_setup(test_missing_file_and_bad_level, clean_env),
             cmocka_unit_test_setup(test_failure_leaves_output_untouched, clean_env),
             cmocka_unit_test_setup(test_env_precedence, clean_env),
             cmocka_unit_test_setup(test_secret_files, clean_env),
             cmocka_unit_test_setup(test_includes, clean_env),
             cmocka_unit_test_setup(test_base_path, clean_env),
             cmocka_unit_test_setup(test_base_url_forms, clean_env),
             cmocka_unit_test_setup(test_print_masks_secrets, clean_env),
             cmocka_unit_test_setup(test_pg_conninfo, clean_env),
             cmocka_unit_test_setup(test_pool_and_replica_conninfo, clean_env),
             cmocka_unit_test_setup(test_schema_list, clean_env),
             cmocka_unit_test_setup(test_cors_origins, clean_env),
             cmocka_unit_test_setup(test_keep_fixed, clean_env))
