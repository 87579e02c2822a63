/* test_llm -- SQL extraction from model replies, llm_configured, and llm_chat's error
 * classification against a one-connection HTTP server on 127.0.0.1:27000-27099. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"

#include "llm.h"

static void test_extract_sql(void **state)
{
    static const struct {
        const char *text;
        const char *sql; /* NULL: none found */
    } cases[] = {
        {"<sql>SELECT 1</sql>", "SELECT 1"},
        {"Here you go:<SQL>\n  SELECT 2 \n</Sql> done", "SELECT 2"},
        {"<sql>SELECT 3\n", "SELECT 3"}, /* unterminated: the rest */
        {"<sql> \n\t </sql>", NULL},
        {"<sql></sql>", NULL},
        {"```sql\nSELECT 4\n```", "SELECT 4"},
        {"Sure.\n```SQL\nSELECT 5;\n```\nThis counts rows.", "SELECT 5;"},
        {"```\nSELECT 6\n```", "SELECT 6"},
        {"```postgresql\nSELECT 7\n```", "SELECT 7"},
        {"```pgsql\nSELECT 7\n```", "SELECT 7"},
        {"```sql\nSELECT 8", "SELECT 8"}, /* unterminated fence */
        {"```python\nprint(1)\n```", NULL},
        {"```json\n{\"a\": 1}\n```", NULL},
        {"```sql SELECT 9```", NULL}, /* no newline after the fence */
        {"```sql\n\n```", NULL},
        {"I cannot answer that from this schema.", NULL},
        {"", NULL},
        {"<sql>SELECT 10</sql>\n```sql\nSELECT 11\n```", "SELECT 10"}, /* tags win */
        {"```\r\nSELECT 12\r\n```", "SELECT 12"},                      /* CRLF reply */
        {"``` \nSELECT 13\n```", "SELECT 13"},                         /* blank language tag */
        {"```sql\r\nSELECT 14;\r\n```", "SELECT 14;"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf sql = BUF_INIT(0);
        int rc = llm_extract_sql(cases[i].text, &sql);
        if (cases[i].sql) {
            assert_int_equal(rc, 0);
            assert_string_equal(buf_cstr(&sql), cases[i].sql);
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(sql.len, 0);
        }
        buf_free(&sql);
    }
}

static void test_extract_appends(void **state)
{
    buf sql = BUF_INIT(0);

    (void)state;
    assert_int_equal(buf_adds(&sql, "-- x\n"), 0);
    assert_int_equal(llm_extract_sql("<sql>SELECT 1</sql>", &sql), 0);
    assert_string_equal(buf_cstr(&sql), "-- x\nSELECT 1");
    assert_int_equal(llm_extract_sql("no sql here", &sql), -1);
    assert_string_equal(buf_cstr(&sql), "-- x\nSELECT 1");
    buf_free(&sql);
}

/* A conf with the model pointed at base (NULL = not configured). */
static void model_conf(conf *c, const char *base, const char *key)
{
    char err[256];

    assert_int_equal(conf_load(NULL, c, err, sizeof err), 0);
    free(c->llm_base_url);
    c->llm_base_url = strdup(base ? base : "");
    free(c->llm_api_key);
    c->llm_api_key = strdup(key ? key : "");
    free(c->llm_model);
    c->llm_model = strdup("m-test");
    c->llm_timeout_ms = 2000;
    c->llm_connect_timeout_ms = 1000;
}

static void test_configured(void **state)
{
    conf c;
    llm *m;

    (void)state;
    model_conf(&c, NULL, "sk-unused");
    m = llm_new(&c);
    assert_non_null(m);
    assert_int_equal(llm_configured(m), 1); /* a key alone: the provider's own service, as
                                               the old service's OpenAI SDK did */
    assert_string_equal(llm_model(m), "m-test");
    llm_free(m);
    conf_free(&c);

    model_conf(&c, "http://127.0.0.1:1/v1/", NULL);
    m = llm_new(&c);
    assert_int_equal(llm_configured(m), 1); /* local servers need no key */
    llm_free(m);
    conf_free(&c);

    model_conf(&c, NULL, NULL);
    m = llm_new(&c);
    assert_int_equal(llm_configured(m), 0); /* neither: the offline planner answers */
    llm_free(m);
    conf_free(&c);
    assert_int_equal(llm_configured(NULL), 0);
    llm_free(NULL);
}

/* ---- a tiny HTTP server: one connection, one canned response ---- */

typedef struct srv {
    int lfd, port;
    const char *status; /* "200 OK" */
    const char *body;   /* NULL: echo the request back as the assistant's content */
    int delay_ms;
    char path[256]; /* request line of what was received */
    pthread_t th;
} srv;

static void *srv_main(void *arg)
{
    srv *s = arg;
    char req[16384];
    size_t len = 0;
    ssize_t n;
    const char *hend = NULL, *cl;
    long want = -1;
    buf body = BUF_INIT(0), echo = BUF_INIT(0);
    int fd = accept(s->lfd, NULL, NULL);

    if (fd < 0) return NULL;
    while (len < sizeof req - 1 && (n = recv(fd, req + len, sizeof req - 1 - len, 0)) > 0) {
        len += (size_t)n;
        req[len] = '\0';
        if (!hend && (hend = strstr(req, "\r\n\r\n")) != NULL) {
            hend += 4;
            cl = strcasestr(req, "Content-Length:");
            want = cl && cl < hend ? strtol(cl + 15, NULL, 10) : 0;
        }
        if (hend && (long)(len - (size_t)(hend - req)) >= want) break;
    }
    req[len] = '\0';
    snprintf(s->path, sizeof s->path, "%.*s", (int)strcspn(req, "\r\n"), req);
    if (s->delay_ms) {
        struct timespec ts = {s->delay_ms / 1000, (s->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!s->body) {
        buf_adds(&echo, "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":");
        buf_add_json_str(&echo, req, len);
        buf_adds(&echo, "}}]}");
    }
    buf_printf(&body,
               "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
               "Connection: close\r\n\r\n%s",
               s->status, s->body ? strlen(s->body) : echo.len,
               s->body ? s->body : buf_cstr(&echo));
    (void)send(fd, body.p, body.len, MSG_NOSIGNAL);
    buf_free(&body);
    buf_free(&echo);
    close(fd);
    return NULL;
}

/* Binds a listening socket to the first free port in 27000-27099. */
static int srv_listen(int *port)
{
    int p, fd, one = 1;

    for (p = 27000; p < 27100; p++) {
        struct sockaddr_in a;
        fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)p);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 4) == 0) {
            *port = p;
            return fd;
        }
        close(fd);
    }
    fail_msg("no free port in 27000-27099");
    return -1;
}

/* Runs one llm_chat against a server answering status/body; returns llm_chat's result. */
static int chat_once(const char *status, const char *body, int delay_ms, long timeout_ms,
                     buf *reply, t2err *err, srv *s)
{
    conf c;
    llm *m;
    char base[64];
    int rc;

    memset(s, 0, sizeof *s);
    s->lfd = srv_listen(&s->port);
    s->status = status;
    s->body = body;
    s->delay_ms = delay_ms;
    assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
    snprintf(base, sizeof base, "http://127.0.0.1:%d/v1/chat/completions", s->port);
    model_conf(&c, base, "sk-test-secret-key");
    /* conf_load cuts /chat/completions; emulate that for this hand-made conf */
    *strstr(c.llm_base_url, "/chat/completions") = '\0';
    c.llm_timeout_ms = timeout_ms;
    m = llm_new(&c);
    err_clear(err);
    rc = llm_chat(m, "system prompt", "user \"question\"", reply, err);
    llm_free(m);
    conf_free(&c);
    pthread_join(s->th, NULL);
    close(s->lfd);
    return rc;
}

static const char OK_BODY[] = "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                              "\"assistant\",\"content\":\"<sql>SELECT 1</sql>\"}}]}";

static void test_chat_ok_and_request(void **state)
{
    buf reply = BUF_INIT(0);
    t2err err;
    srv s;

    (void)state;
    assert_int_equal(chat_once("200 OK", OK_BODY, 0, 2000, &reply, &err, &s), 0);
    assert_string_equal(buf_cstr(&reply), "<sql>SELECT 1</sql>");
    assert_string_equal(s.path, "POST /v1/chat/completions HTTP/1.1");
    buf_reset(&reply);

    /* echo: what was sent */
    assert_int_equal(chat_once("200 OK", NULL, 0, 2000, &reply, &err, &s), 0);
    assert_non_null(strcasestr(buf_cstr(&reply), "\nAuthorization: Bearer sk-test-secret-key\r"));
    assert_non_null(strcasestr(buf_cstr(&reply), "\nContent-Type: application/json\r"));
    assert_non_null(strstr(buf_cstr(&reply), "\"model\":\"m-test\""));
    assert_non_null(
        strstr(buf_cstr(&reply), "{\"role\":\"system\",\"content\":\"system prompt\"}"));
    assert_non_null(
        strstr(buf_cstr(&reply), "{\"role\":\"user\",\"content\":\"user \\\"question\\\"\"}"));
    assert_non_null(strstr(buf_cstr(&reply), "\"max_tokens\":"));
    buf_free(&reply);
}

static void test_chat_errors(void **state)
{
    static const struct {
        const char *status, *body;
        err_code code;
    } cases[] = {
        {"200 OK", "this is not json", E_LLM_ERROR},
        {"200 OK", "{\"choices\":[]}", E_LLM_ERROR},
        {"200 OK", "{\"choices\":[{\"message\":{\"content\":null}}]}", E_LLM_ERROR},
        {"200 OK", "{\"error\":{\"message\":\"bad\"}}", E_LLM_ERROR},
        {"401 Unauthorized", "{\"error\":{\"message\":\"bad key sk-test-secret-key\"}}",
         E_LLM_ERROR},
        {"403 Forbidden", "{}", E_LLM_ERROR},
        {"429 Too Many Requests", "{}", E_LLM_UNAVAILABLE},
        {"500 Internal Server Error", "{}", E_LLM_ERROR},
        {"404 Not Found", "{}", E_LLM_ERROR},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf reply = BUF_INIT(0);
        t2err err;
        srv s;
        assert_int_equal(chat_once(cases[i].status, cases[i].body, 0, 2000, &reply, &err, &s), -1);
        assert_int_equal(err.code, cases[i].code);
        assert_null(strstr(err.detail, "sk-test-secret-key")); /* never in a client message */
        assert_int_equal(reply.len, 0);
        buf_free(&reply);
    }
}

static void test_chat_timeout(void **state)
{
    buf reply = BUF_INIT(0);
    t2err err;
    srv s;
    struct timespec t0, t1;
    double ms;

    (void)state;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(chat_once("200 OK", OK_BODY, 1500, 300, &reply, &err, &s), -1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(err.code, E_LLM_TIMEOUT);
    assert_int_equal(reply.len, 0);
    ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms < 3000); /* includes the server thread's own 1.5 s */
    buf_free(&reply);
}

static void test_chat_unreachable_and_unconfigured(void **state)
{
    conf c;
    llm *m;
    buf reply = BUF_INIT(0);
    t2err err;
    char base[64];
    int port, fd = srv_listen(&port);

    (void)state;
    close(fd); /* nothing listens there now: connection refused */
    snprintf(base, sizeof base, "http://127.0.0.1:%d/v1", port);
    model_conf(&c, base, NULL);
    m = llm_new(&c);
    err_clear(&err);
    assert_int_equal(llm_chat(m, "s", "u", &reply, &err), -1);
    assert_int_equal(err.code, E_LLM_UNAVAILABLE);
    llm_free(m);
    conf_free(&c);

    model_conf(&c, NULL, NULL);
    m = llm_new(&c);
    assert_int_equal(llm_chat(m, "s", "u", &reply, &err), -1);
    assert_int_equal(err.code, E_LLM_NOT_CONFIGURED);
    llm_free(m);
    conf_free(&c);
    assert_int_equal(reply.len, 0);
    buf_free(&reply);
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test(test_extract_sql), cmocka_unit_test(test_extract_appends),
             cmocka_unit_test(test_configured), cmocka_unit_test(test_chat_ok_and_request),
             cmocka_unit_test(test_chat_errors), cmocka_unit_test(test_chat_timeout),
             cmocka_unit_test(test_chat_unreachable_and_unconfigured))
