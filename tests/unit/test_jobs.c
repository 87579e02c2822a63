/* test_jobs -- core/jobs, the export job queue, on a scratch database of the test PostgreSQL
 * (pgtest.h; skipped, saying why, without one): create + NOTIFY in one go, status by owner
 * only, claims held by the claimer's session (advisory lock), writes conditional on the
 * claim, cancel, finish, release, attempts running out; the notification outbox rows each
 * final state writes with it, taken once, retried later, delivered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "jobs.h"
#include "outbox.h"
#include "pgtest.h"

static PGconn *db;
static conf cf;

static int setup(void **state)
{
    static const char text[] = "export_prefix = unit/\nexport_max_attempts = 2\n"
                               "s3_endpoint = http://127.0.0.1:1\nexport_bucket = b\n"
                               "aws_access_key_id = AKIDUNITTEST\naws_secret_access_key = x\n";
    char err[256];

    (void)state;
    if (conf_load_buffer(text, sizeof text - 1, &cf, err, sizeof err) < 0) return -1;
    db = pgtest_open("jobs");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pgtest_close(db);
    conf_free(&cf);
    return 0;
}

static void empty_queue(void)
{
    PQclear(PQexec(db, "DELETE FROM t2sql.export_jobs"));
}

static const char *status_of(const char *id, const char *owner, char out[16])
{
    json_object *j = NULL, *v;
    t2err e;

    out[0] = 0;
    if (jobs_status_json(db, &cf, id, owner, &j, &e) < 0) return strcpy(out, "ERR");
    if (json_object_object_get_ex(j, "status", &v))
        snprintf(out, 16, "%s", json_object_get_string(v));
    json_object_put(j);
    return out;
}

/* Closes c and waits (up to 20 s) until its backend is gone: a disconnect is asynchronous,
 * and the advisory lock goes with the backend, not with PQfinish(). */
static void session_ends(PGconn *c)
{
    char sql[128];
    int i;

    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %d",
             PQbackendPID(c));
    PQfinish(c);
    for (i = 0; i < 400 && pgtest_num(db, sql) != 0; i++)
        usleep(50000);
    assert_int_equal(pgtest_num(db, sql), 0);
}

static void test_valid_id(void **state)
{
    (void)state;
    assert_true(jobs_valid_id("0b6f6c2e-3f5b-4c8a-9d0e-1f2a3b4c5d6e"));
    assert_false(jobs_valid_id("0b6f6c2e-3f5b-4c8a-9d0e-1f2a3b4c5d6"));
    assert_false(jobs_valid_id("0b6f6c2e33f5b-4c8a-9d0e-1f2a3b4c5d6e"));
    assert_false(jobs_valid_id("zb6f6c2e-3f5b-4c8a-9d0e-1f2a3b4c5d6e"));
    assert_false(jobs_valid_id("'; DROP TABLE x; --"));
    assert_false(jobs_valid_id(""));
}

static void test_create_notifies_and_status_by_owner(void **state)
{
    PGconn *listener;
    PGnotify *n;
    char id[37], st[16];
    t2err e;
    json_object *j;

    (void)state;
    PGTEST_NEED(db);
    empty_queue();
    assert_non_null(listener = pgtest_connect());
    PQclear(PQexec(listener, "LISTEN " JOBS_CHANNEL));
    assert_int_equal(jobs_create(db, "SELECT 1", NULL, "q", "alice", "xml", id, &e), -1);
    assert_int_equal(e.code, E_VALIDATION);
    assert_string_equal(e.field, "format");
    assert_int_equal(jobs_create(db, "SELECT 1", "q_1", "q", "alice", "csv.gz", id, &e), 0);
    assert_true(jobs_valid_id(id));
    PQclear(PQexec(listener, "SELECT 1")); /* the notification arrives with this round trip */
    assert_int_equal(PQconsumeInput(listener), 1);
    assert_non_null(n = PQnotifies(listener));
    assert_string_equal(n->extra, id);
    PQfreemem(n);
    assert_string_equal(status_of(id, "alice", st), "PENDING");
    /* someone else's job, an unknown job and a malformed id all look the same */
    assert_int_equal(jobs_status_json(db, &cf, id, "bob", &j, &e), -1);
    assert_int_equal(e.code, E_NOT_FOUND);
    assert_int_equal(
        jobs_status_json(db, &cf, "0b6f6c2e-3f5b-4c8a-9d0e-1f2a3b4c5d6e", "alice", &j, &e), -1);
    assert_int_equal(e.code, E_NOT_FOUND);
    assert_int_equal(jobs_status_json(db, &cf, "nope", "alice", &j, &e), -1);
    assert_int_equal(e.code, E_NOT_FOUND);
    assert_int_equal(jobs_cancel(db, NULL, id, "bob", &e), -1);
    assert_int_equal(e.code, E_NOT_FOUND);
    PQfinish(listener);
}

static void test_claim_is_held_by_the_session(void **state)
{
    PGconn *w1, *w2;
    char id[37], st[16];
    job j1, j2;
    t2err e;

    (void)state;
    PGTEST_NEED(db);
    empty_queue();
    assert_non_null(w1 = pgtest_connect());
    assert_non_null(w2 = pgtest_connect());
    assert_int_equal(jobs_create(db, "SELECT 2", NULL, NULL, "alice", NULL, id, &e), 0);
    memset(&j1, 0, sizeof j1);
    memset(&j2, 0, sizeof j2);
    assert_int_equal(jobs_claim(w1, &cf, "w1", &j1, &e), 1);
    assert_string_equal(j1.id, id);
    assert_string_equal(j1.format, "csv");
    assert_string_equal(j1.sql, "SELECT 2");
    assert_int_equal(j1.attempt, 1);
    assert_false(j1.gave_up);
    assert_non_null(strstr(j1.s3_key, "unit/"));
    assert_non_null(strstr(j1.s3_key, id));
    assert_string_equal(status_of(id, "alice", st), "IN_PROGRESS");
    /* held: a second claimer gets nothing, however old the heartbeat */
    PQclear(PQexec(db, "UPDATE t2sql.export_jobs SET heartbeat_at = now() - interval '1 day'"));
    assert_int_equal(jobs_claim(w2, &cf, "w2", &j2, &e), 0);
    assert_int_equal(jobs_heartbeat(w1, &j1, "w1", 10, 100, st, &e), 1);
    /* the claimer's session dies: the job can be claimed again at once, attempt 2 */
    session_ends(w1);
    assert_int_equal(jobs_claim(w2, &cf, "w2", &j2, &e), 1);
    assert_string_equal(j2.id, id);
    assert_int_equal(j2.attempt, 2);
    /* the first claimer's writes no longer land */
    assert_non_null(w1 = pgtest_connect());
    assert_int_equal(jobs_heartbeat(w1, &j1, "w1", 99, 999, st, &e), 0);
    assert_int_equal(jobs_finish(w1, &j1, "w1", "SUCCESS", 99, 999, NULL, st, &e), 0);
    assert_int_equal(jobs_finish(w2, &j2, "w2", "SUCCESS", 5, 50, NULL, st, &e), 1);
    assert_int_equal(pgtest_num(db, "SELECT rows_written FROM t2sql.export_jobs"), 5);
    assert_string_equal(status_of(id, "alice", st), "SUCCESS");
    assert_int_equal(jobs_cancel(db, NULL, id, "alice", &e), -1);
    assert_int_equal(e.code, E_CONFLICT);
    job_free(&j1);
    job_free(&j2);
    PQfinish(w1);
    PQfinish(w2);
}

static void test_cancel_and_release(void **state)
{
    PGconn *w;
    char id[37], st[16];
    job j;
    t2err e;

    (void)state;
    PGTEST_NEED(db);
    empty_queue();
    assert_non_null(w = pgtest_connect());
    assert_int_equal(jobs_create(db, "SELECT 3", NULL, NULL, "", NULL, id, &e), 0);
    memset(&j, 0, sizeof j);
    assert_int_equal(jobs_claim(w, &cf, "w", &j, &e), 1);
    assert_int_equal(jobs_set_upload(w, &j, "w", "upload-1", st, &e), 1);
    assert_int_equal(jobs_release(w, &j, "w", 0, &e), 1); /* shutdown: attempt given back */
    jobs_unlock_all(w);
    assert_string_equal(status_of(id, "", st), "PENDING");
    assert_int_equal(pgtest_num(db, "SELECT attempts FROM t2sql.export_jobs"), 0);
    job_free(&j);
    memset(&j, 0, sizeof j);
    assert_int_equal(jobs_claim(w, &cf, "w", &j, &e), 1);
    assert_int_equal(j.attempt, 1);
    assert_non_null(j.old_upload_id); /* the upload left behind is handed on, to abort */
    assert_string_equal(j.old_upload_id, "upload-1");
    assert_int_equal(jobs_cancel(db, NULL, id, "", &e), 0);
    assert_int_equal(jobs_heartbeat(w, &j, "w", 1, 1, st, &e), 0);
    assert_string_equal(st, "CANCELLED");
    job_free(&j);
    PQfinish(w);
}

static void test_attempts_run_out(void **state)
{
    int i;
    job j;
    t2err e;
    char id[37], st[16];
    PGconn *w;

    (void)state;
    PGTEST_NEED(db);
    empty_queue();
    assert_int_equal(jobs_create(db, "SELECT 4", NULL, NULL, "", NULL, id, &e), 0);
    for (i = 1; i <= 2; i++) { /* export_max_attempts = 2: the connection broke twice */
        assert_non_null(w = pgtest_connect());
        memset(&j, 0, sizeof j);
        assert_int_equal(jobs_claim(w, &cf, "w", &j, &e), 1);
        assert_int_equal(j.attempt, i);
        assert_false(j.gave_up);
        assert_int_equal(jobs_release(w, &j, "w", 1, &e), 1);
        job_free(&j);
        PQfinish(w);
    }
    assert_non_null(w = pgtest_connect());
    memset(&j, 0, sizeof j);
    assert_int_equal(jobs_claim(w, &cf, "w", &j, &e), 1);
    assert_true(j.gave_up);
    assert_string_equal(status_of(id, "", st), "FAILED");
    job_free(&j);
    memset(&j, 0, sizeof j);
    assert_int_equal(jobs_claim(w, &cf, "w", &j, &e), 0);
    PQfinish(w);
}

/* The count per state the metrics of both daemons show: every state, zero where none is. */
static void test_count(void **state)
{
    unsigned long n[JOBS_NSTATES];
    buf g = BUF_INIT(0);
    char id[37];
    t2err e;
    int k;

    (void)state;
    PGTEST_NEED(db);
    empty_queue();
    assert_int_equal(jobs_count(db, n), 0);
    for (k = 0; k < JOBS_NSTATES; k++)
        assert_int_equal(n[k], 0);
    for (k = 0; k < 3; k++)
        assert_int_equal(jobs_create(db, "SELECT 1", NULL, NULL, "", NULL, id, &e), 0);
    assert_int_equal(jobs_cancel(db, NULL, id, "", &e), 0);
    assert_int_equal(jobs_count(db, n), 0);
    assert_string_equal(jobs_states[0], "PENDING");
    assert_int_equal(n[0], 2);
    assert_string_equal(jobs_states[4], "CANCELLED");
    assert_int_equal(n[4], 1);
    assert_int_equal(n[1] + n[2] + n[3], 0);
    assert_int_equal(jobs_count(NULL, n), -1);
    jobs_gauge(&g, db, "x_jobs", "Jobs.");
    assert_non_null(strstr(buf_cstr(&g), "# TYPE x_jobs gauge\n"));
    assert_non_null(strstr(buf_cstr(&g), "x_jobs{status=\"PENDING\"} 2\n"));
    assert_non_null(strstr(buf_cstr(&g), "x_jobs{status=\"FAILED\"} 0\n"));
    buf_free(&g);
}

static int outbox_rows(const char *state)
{
    char sql[160];

    snprintf(sql, sizeof sql, "SELECT count(*) FROM t2sql.export_notify WHERE state = '%s'", state);
    return (int)pgtest_num(db, sql);
}

static void test_outbox(void **state)
{
    static const char text[] = "export_notify_url = http://127.0.0.1:1/h\n"
                               "export_notify_secret = s\n"
                               "export_notify_sqs_url = http://127.0.0.1:1/0/q\n";
    char id[37], id2[37], err[256], st[16];
    conf ncf;
    job j;
    t2err e;
    outbox_item it, it2;
    PGconn *w, *w2;
    json_object *o = NULL, *n, *t, *v;

    (void)state;
    PGTEST_NEED(db);
    empty_queue();
    assert_int_equal(conf_load_buffer(text, sizeof text - 1, &ncf, err, sizeof err), 0);
    assert_string_equal(outbox_targets(&cf), "{}");
    assert_string_equal(outbox_targets(&ncf), "{sqs,webhook}");
    assert_non_null(w = pgtest_connect());
    assert_non_null(w2 = pgtest_connect());
    /* a finish without targets writes none; one with targets writes one row per target */
    assert_int_equal(jobs_create(db, "SELECT 5", NULL, NULL, "", NULL, id, &e), 0);
    memset(&j, 0, sizeof j);
    assert_int_equal(jobs_claim(w, &ncf, "w", &j, &e), 1);
    assert_int_equal(outbox_rows("PENDING"), 0); /* not before the final state */
    assert_int_equal(jobs_finish(w, &j, "w", "SUCCESS", 3, 30, NULL, st, &e), 1);
    assert_int_equal(outbox_rows("PENDING"), 2);
    job_free(&j);
    jobs_unlock_all(w);
    /* a cancel writes them too; an unmatched cancel writes none */
    assert_int_equal(jobs_create(db, "SELECT 6", NULL, NULL, "", NULL, id2, &e), 0);
    assert_int_equal(jobs_cancel(db, &ncf, id2, "", &e), 0);
    assert_int_equal(jobs_cancel(db, &ncf, id2, "", &e), -1);
    assert_int_equal(outbox_rows("PENDING"), 4);
    /* taken rows are locked: a second sender gets another one */
    assert_int_equal(outbox_take(w, "{webhook}", &it, &e), 1);
    assert_int_equal(outbox_take(w2, "{webhook}", &it2, &e), 1);
    assert_string_not_equal(it.job_id, it2.job_id);
    assert_string_equal(it.target, "webhook");
    assert_int_equal(it.attempts, 0);
    /* a failure schedules the next attempt; a success delivers */
    assert_int_equal(outbox_done(w2, &it2, 0, "HTTP 500", 60000, &e), 0);
    assert_int_equal(outbox_done(w, &it, 1, NULL, 0, &e), 0);
    assert_int_equal(outbox_rows("DELIVERED"), 1);
    assert_true(outbox_next_due_ms(w, "{webhook}") > 50000);
    assert_int_equal(outbox_take(w, "{webhook}", &it, &e), 0); /* the other is not due */
    outbox_item_free(&it2);
    /* the status document shows them */
    assert_int_equal(jobs_status_json(db, &cf, id2, "", &o, &e), 0);
    assert_true(json_object_object_get_ex(o, "notifications", &n));
    assert_true(json_object_object_get_ex(n, "sqs", &t));
    assert_true(json_object_object_get_ex(t, "state", &v));
    assert_string_equal(json_object_get_string(v), "PENDING");
    json_object_put(o);
    PQfinish(w);
    PQfinish(w2);
    conf_free(&ncf);
}

T2_UNIT_MAIN(setup, teardown, cmocka_unit_test(test_valid_id),
             cmocka_unit_test(test_create_notifies_and_status_by_owner),
             cmocka_unit_test(test_claim_is_held_by_the_session),
             cmocka_unit_test(test_cancel_and_release), cmocka_unit_test(test_attempts_run_out),
             cmocka_unit_test(test_outbox), cmocka_unit_test(test_count))
