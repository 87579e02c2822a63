/* test_pipeline -- the process state (core/state: catalog, glossary and examples loaded and
 * refreshed between requests), t2sql.queries (core/queries), t2sql.examples (core/examples)
 * and question -> SQL (core/pipeline: validation, a verified example's direct answer, the
 * offline planner, query_ids per owner), on a scratch database of the test PostgreSQL
 * (pgtest.h; skipped, saying why, without one). No Redis and no model: the planner answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "examples.h"
#include "log.h"
#include "pgtest.h"
#include "pipeline.h"
#include "queries.h"
#include "state.h"

static PGconn *db;
static conf cf;
static t2ctx x;
static int x_ok;

/* A configuration for the scratch database (no Redis, no model). */
static int make_conf(void)
{
    PQconninfoOption *o = PQconninfoParse(getenv("T2SQL_TEST_PG"), NULL), *i;
    char text[2048], err[256];
    const char *host = "127.0.0.1", *port = "5432", *user = "postgres", *pass = "";
    int n;

    for (i = o; i && i->keyword; i++) {
        if (!i->val) continue;
        if (!strcmp(i->keyword, "host")) host = i->val;
        if (!strcmp(i->keyword, "port")) port = i->val;
        if (!strcmp(i->keyword, "user")) user = i->val;
        if (!strcmp(i->keyword, "password")) pass = i->val;
    }
    n = snprintf(text, sizeof text,
                 "db_host = %s\ndb_port = %s\ndb_user = %s\ndb_pass = \"%s\"\ndb_name = %s\n"
                 "redis_port = 0\nllm_base_url =\nllm_api_key =\nschemas = public\n",
                 host, port, user, pass, pgtest_db);
    PQconninfoFree(o);
    return conf_load_buffer(text, (size_t)n, &cf, err, sizeof err);
}

static int setup(void **state)
{
    (void)state;
    log_init(NULL, LOG_ERR, "t2sql-unit"); /* the loads and checks log at info */
    if (!(db = pgtest_open("pipeline"))) return 0;
    PQclear(PQexec(db, "CREATE TABLE public.items (item_id int PRIMARY KEY, name text NOT NULL,"
                       " price numeric(10,2)); INSERT INTO public.items"
                       " SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, 20) g"));
    if (make_conf() < 0 || t2ctx_init(&x, &cf, "t2sql-unit") < 0) {
        pgtest_why = "cannot configure a t2ctx for the scratch database";
        pgtest_close(db);
        db = NULL;
        return 0;
    }
    x_ok = 1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (x_ok) t2ctx_free(&x);
    pgtest_close(db);
    conf_free(&cf);
    return 0;
}

static void make_overdue(void)
{
    x.tried.tv_sec -= 3;
    x.checked.tv_sec -= 3;
}

static void test_ready_loads_and_ticks_refresh(void **state)
{
    t2err e;
    const catalog *before;

    (void)state;
    PGTEST_NEED(db);
    assert_int_equal(t2ctx_ready(&x, &e), 0);
    assert_non_null(x.cat);
    assert_true(catalog_find_table(x.cat, "items") >= 0);
    assert_int_equal(catalog_find_table(x.cat, "items2"), -1);
    /* just checked: nothing is due, and neither a tick nor a request looks again */
    assert_true(t2ctx_tick_in_ms(&x) > 0 && t2ctx_tick_in_ms(&x) <= T2CTX_CHECK_MS + 1);
    PQclear(PQexec(db, "CREATE TABLE public.items2 (id int)"));
    before = x.cat;
    t2ctx_tick(&x);
    assert_int_equal(t2ctx_ready(&x, &e), 0);
    assert_ptr_equal(x.cat, before);
    assert_int_equal(catalog_find_table(x.cat, "items2"), -1);
    /* due: the tick (between requests) reloads the changed catalog */
    make_overdue();
    assert_int_equal(t2ctx_tick_in_ms(&x), 0);
    t2ctx_tick(&x);
    assert_true(catalog_find_table(x.cat, "items2") >= 0);
    assert_true(t2ctx_tick_in_ms(&x) > 0);
    PQclear(PQexec(db, "DROP TABLE public.items2"));
    make_overdue();
    t2ctx_tick(&x);
    assert_int_equal(catalog_find_table(x.cat, "items2"), -1);
}

static void test_examples_table(void **state)
{
    json_object *j, *arr, *first, *v;
    t2err e;
    long id;

    (void)state;
    PGTEST_NEED(db);
    PQclear(PQexec(db, "DELETE FROM t2sql.examples"));
    assert_int_equal(examples_add(db, "all items", "SELECT name FROM items", "ann", &j, &e), 0);
    assert_true(json_object_object_get_ex(j, "id", &v));
    id = (long)json_object_get_int64(v);
    assert_true(id > 0);
    assert_true(json_object_object_get_ex(j, "created_at", &v));
    json_object_put(j);
    assert_int_equal(examples_list(db, &j, &e), 0);
    assert_true(json_object_object_get_ex(j, "examples", &arr));
    assert_int_equal(json_object_array_length(arr), 1);
    first = json_object_array_get_idx(arr, 0);
    assert_true(json_object_object_get_ex(first, "sql", &v));
    assert_string_equal(json_object_get_string(v), "SELECT name FROM items");
    json_object_put(j);
    assert_int_equal(pgtest_num(db, "SELECT count(*) FROM t2sql.examples WHERE created_by = 'ann'"),
                     1);
    assert_int_equal(examples_delete(db, id, &e), 0);
    assert_int_equal(examples_delete(db, id, &e), -1);
    assert_int_equal(e.code, E_NOT_FOUND);
}

static void test_example_set_follows_the_table(void **state)
{
    example_set s;
    json_object *j;
    t2err e;

    (void)state;
    PGTEST_NEED(db);
    memset(&s, 0, sizeof s);
    PQclear(PQexec(db, "DELETE FROM t2sql.examples"));
    assert_int_equal(example_set_refresh(&s, db), 1);
    assert_int_equal(s.n, 0);
    assert_int_equal(example_set_refresh(&s, db), 0); /* unchanged: nothing reloaded */
    assert_int_equal(examples_add(db, "q one", "SELECT 1", "", &j, &e), 0);
    json_object_put(j);
    assert_int_equal(example_set_refresh(&s, db), 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.v[0].question, "q one");
    example_set_stale(&s);
    assert_int_equal(example_set_refresh(&s, db), 1);
    example_set_free(&s);
    assert_int_equal(s.n, 0);
    assert_null(s.v);
}

static void test_queries_table(void **state)
{
    query_memo *memo = calloc(1, sizeof *memo);
    char id[QUERY_ID_LEN], id2[QUERY_ID_LEN];
    buf sql = BUF_INIT(1 << 16);
    t2err e;

    (void)state;
    PGTEST_NEED(db);
    assert_non_null(memo);
    queries_make_id("ann", "SELECT 1", id);
    queries_make_id("bob", "SELECT 1", id2);
    assert_int_equal(strlen(id), 34);
    assert_memory_equal(id, "q_", 2);
    assert_string_not_equal(id, id2); /* the owner is part of the id */
    assert_int_equal(queries_store(memo, db, id, "SELECT 1", "one?", "llm", "ann", NULL, NULL, &e),
                     0);
    assert_int_equal(queries_lookup(db, id, "ann", &sql, &e), 0);
    assert_string_equal(buf_cstr(&sql), "SELECT 1");
    assert_int_equal(queries_lookup(db, id, "bob", &sql, &e), -1);
    assert_int_equal(e.code, E_NOT_FOUND);
    assert_string_equal(e.field, "query_id");
    /* stored once: the process remembers it and does not write again */
    PQclear(PQexec(db, "DELETE FROM t2sql.queries"));
    assert_int_equal(queries_store(memo, db, id, "SELECT 1", "one?", "llm", "ann", NULL, NULL, &e),
                     0);
    assert_int_equal(pgtest_num(db, "SELECT count(*) FROM t2sql.queries"), 0);
    memset(memo, 0, sizeof *memo);
    assert_int_equal(queries_store(memo, db, id, "SELECT 1", "one?", "llm", "ann", NULL, NULL, &e),
                     0);
    assert_int_equal(pgtest_num(db, "SELECT count(*) FROM t2sql.queries"), 1);
    buf_free(&sql);
    free(memo);
}

static void test_validate(void **state)
{
    buf clean = BUF_INIT(1 << 16);
    t2err e;

    (void)state;
    PGTEST_NEED(db);
    assert_int_equal(t2ctx_ready(&x, &e), 0);
    assert_int_equal(pipeline_validate(&x, "  SELECT name FROM items ;  ", &clean, &e), 0);
    assert_string_equal(buf_cstr(&clean), "SELECT name FROM items");
    buf_reset(&clean);
    assert_int_equal(pipeline_validate(&x, "DELETE FROM items", &clean, &e), -1);
    assert_int_equal(e.code, E_UNSAFE_SQL);
    assert_int_equal(pipeline_validate(&x, "SELECT 1; SELECT 2", &clean, &e), -1);
    assert_true(e.code == E_UNSAFE_SQL || e.code == E_INVALID_SQL);
    assert_int_equal(pipeline_validate(&x, "SELECT * FROM itemz", &clean, &e), -1);
    assert_int_equal(e.code, E_INVALID_SQL);
    assert_non_null(strstr(e.detail, "Closest tables: items"));
    assert_int_equal(pipeline_validate(&x, "SELECT nosuch FROM items", &clean, &e), -1);
    assert_int_equal(e.code, E_INVALID_SQL); /* PREPARE found it */
    assert_int_equal(clean.len, 0);
    buf_free(&clean);
}

static void test_question_by_example_then_query_id(void **state)
{
    json_object *j;
    gen_result g, h;
    t2err e;

    (void)state;
    PGTEST_NEED(db);
    PQclear(PQexec(db, "DELETE FROM t2sql.examples"));
    assert_int_equal(examples_add(db, "which items cost the most",
                                  "SELECT name FROM items ORDER BY "
                                  "price DESC LIMIT 3",
                                  "", &j, &e),
                     0);
    json_object_put(j);
    t2ctx_examples_changed(&x);
    assert_int_equal(t2ctx_tick_in_ms(&x), 0);
    t2ctx_tick(&x);
    assert_int_equal(x.examples.n, 1);
    gen_result_init(&g);
    assert_int_equal(pipeline_question(&x, "which items cost the most", "ann", &g, &e), 0);
    assert_string_equal(g.source, "example");
    assert_string_equal(buf_cstr(&g.sql), "SELECT name FROM items ORDER BY price DESC LIMIT 3");
    assert_memory_equal(g.query_id, "q_", 2);
    gen_result_init(&h);
    assert_int_equal(pipeline_query_id(&x, g.query_id, "ann", &h, &e), 0);
    assert_string_equal(buf_cstr(&h.sql), buf_cstr(&g.sql));
    assert_string_equal(h.source, "cache");
    gen_result_free(&h);
    gen_result_init(&h);
    assert_int_equal(pipeline_query_id(&x, g.query_id, "bob", &h, &e), -1);
    assert_int_equal(e.code, E_NOT_FOUND);
    gen_result_free(&h);
    gen_result_free(&g);
}

static void test_question_by_planner(void **state)
{
    gen_result g;
    t2err e;

    (void)state;
    PGTEST_NEED(db);
    PQclear(PQexec(db, "DELETE FROM t2sql.examples"));
    t2ctx_examples_changed(&x);
    t2ctx_tick(&x);
    gen_result_init(&g);
    assert_int_equal(pipeline_question(&x, "how many items are there", "ann", &g, &e), 0);
    assert_string_equal(g.source, "planner");
    assert_non_null(strstr(buf_cstr(&g.sql), "count("));
    assert_non_null(strstr(buf_cstr(&g.sql), "items"));
    assert_int_equal(x.llm_calls, 0);
    gen_result_free(&g);
}

T2_UNIT_MAIN(setup, teardown, cmocka_unit_test(test_ready_loads_and_ticks_refresh),
             cmocka_unit_test(test_examples_table),
             cmocka_unit_test(test_example_set_follows_the_table),
             cmocka_unit_test(test_queries_table), cmocka_unit_test(test_validate),
             cmocka_unit_test(test_question_by_example_then_query_id),
             cmocka_unit_test(test_question_by_planner))
