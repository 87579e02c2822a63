/* export -- one export job: COPY (sql) TO STDOUT in a read-only transaction, optional gzip,
 * into the S3 part writer, with heartbeats, live counters, cancellation and hand-back.
 *
 * Nothing blocks the heartbeat: the COPY connection is opened with PQconnectPoll and COPY is
 * started with PQsendQuery, both waited for in poll loops that run the tick; lock waits end
 * at lock_timeout_ms. Right before the final PutObject / CompleteMultipartUpload the job is
 * checked once more (ours, not cancelled); if it turns out not ours after that request (a
 * cancel raced it), the object is deleted. An upload id is cleared from the row only once
 * the upload is aborted; export_sweep() retries the aborts left on finished rows.
 *
 * Outcomes: SUCCESS; FAILED with the reason (query error, timeout, S3 error after retries),
 * the multipart upload aborted; CANCELLED by the owner (upload aborted, row left as the
 * canceller wrote it); handed back as PENDING on SIGTERM or when the COPY connection is
 * lost; left for the next claim when the control connection itself is lost. */
#include "exportd.h"

#include "auth.h"
#include "log.h"
#include "s3part.h"
#include "txn.h"
#include "xmetrics.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define HEARTBEAT_MS 1000
#define GZ_CHUNK     (128 * 1024)

typedef struct export_ctx {
    const conf *cf;
    PGconn *ctl, *copy;
    const char *worker;
    job *j;
    s3_writer *w;
    int64_t rows; /* COPY data messages, the header included */
    long long last_hb;
    int stop; /* why we stopped: 0 running, else one of the STOP_* */
    char lost_status[16];
    z_stream z;
    int gz;
    unsigned char *zout;
} export_ctx;

/* STOP_REC: a write on the control connection failed although it is up (hand back). */
enum { STOP_NONE = 0, STOP_TERM, STOP_LOST, STOP_CTL_DOWN, STOP_REC };

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t data_rows(const export_ctx *x)
{
    return x->rows > 0 ? x->rows - 1 : 0;
}

static int64_t out_bytes(const export_ctx *x)
{
    return x->w ? (int64_t)s3_writer_bytes(x->w) : 0;
}

/* The tick: SIGTERM, heartbeat, cancellation. Nonzero = stop the job. */
static int export_tick(void *arg)
{
    export_ctx *x = arg;
    long long t;
    t2err e;
    int rc;

    if (x->stop) return 1;
    if (exportd_term) {
        x->stop = STOP_TERM;
        return 1;
    }
    t = now_ms();
    if (t - x->last_hb < HEARTBEAT_MS) return 0;
    x->last_hb = t;
    err_clear(&e);
    rc = jobs_heartbeat(x->ctl, x->j, x->worker, data_rows(x), out_bytes(x), x->lost_status, &e);
    if (rc == 1) return 0;
    if (rc == 0) {
        x->stop = STOP_LOST;
        return 1;
    }
    log_warn("job %s: heartbeat failed: %s", x->j->id, e.detail);
    if (PQstatus(x->ctl) != CONNECTION_OK) {
        x->stop = STOP_CTL_DOWN;
        return 1;
    }
    return 0;
}

/* Maps a guarded write's result to a stop reason; nonzero = stop. */
static int export_guard_rc(export_ctx *x, int rc, const char *what, const t2err *e)
{
    if (rc == 1) return 0;
    if (rc == 0) {
        x->stop = STOP_LOST;
        return 1;
    }
    log_warn("job %s: %s failed: %s", x->j->id, what, e->detail);
    x->stop = PQstatus(x->ctl) != CONNECTION_OK ? STOP_CTL_DOWN : STOP_REC;
    return 1;
}

/* An upload that cannot be recorded is aborted at once (the writer stops, the failure path
 * aborts it) rather than left where no later attempt or sweep would find it. */
static int export_on_upload_id(void *arg, const char *upload_id)
{
    export_ctx *x = arg;
    t2err e;

    err_clear(&e);
    return export_guard_rc(x,
                           jobs_set_upload(x->ctl, x->j, x->worker, upload_id, x->lost_status, &e),
                           "recording the upload id", &e);
}

/* Right before the final PutObject / CompleteMultipartUpload: is the job still ours and not
 * cancelled? A cancel after this point is caught by jobs_finish, and the object deleted. */
static int export_gate(void *arg)
{
    export_ctx *x = arg;
    t2err e;

    if (x->stop) return 1;
    err_clear(&e);
    x->last_hb = now_ms();
    return export_guard_rc(
        x, jobs_heartbeat(x->ctl, x->j, x->worker, data_rows(x), out_bytes(x), x->lost_status, &e),
        "the check before completing", &e);
}

static int export_out(export_ctx *x, const void *data, size_t n, t2err *err)
{
    if (!x->gz) return s3_writer_write(x->w, data, n, err);
    x->z.next_in = (unsigned char *)(uintptr_t)data;
    x->z.avail_in = (unsigned)n;
    while (x->z.avail_in > 0) {
        x->z.next_out = x->zout;
        x->z.avail_out = GZ_CHUNK;
        if (deflate(&x->z, Z_NO_FLUSH) == Z_STREAM_ERROR)
            return err_set(err, E_INTERNAL, "gzip failed");
        if (GZ_CHUNK - x->z.avail_out > 0 &&
            s3_writer_write(x->w, x->zout, GZ_CHUNK - x->z.avail_out, err) < 0)
            return -1;
    }
    return 0;
}

static int export_gz_finish(export_ctx *x, t2err *err)
{
    int zr;

    do {
        x->z.next_out = x->zout;
        x->z.avail_out = GZ_CHUNK;
        zr = deflate(&x->z, Z_FINISH);
        if (zr == Z_STREAM_ERROR) return err_set(err, E_INTERNAL, "gzip failed");
        if (GZ_CHUNK - x->z.avail_out > 0 &&
            s3_writer_write(x->w, x->zout, GZ_CHUNK - x->z.avail_out, err) < 0)
            return -1;
    } while (zr != Z_STREAM_END);
    return 0;
}

/* Connects the COPY connection without blocking the heartbeat; db_connect_timeout applies
 * (libpq leaves it to the caller of PQconnectPoll). */
static int export_connect(export_ctx *x, const char *ci, t2err *err)
{
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    long long deadline = now_ms() + x->cf->db_connect_timeout * 1000LL;

    if (!(x->copy = PQconnectStart(ci)) || PQstatus(x->copy) == CONNECTION_BAD)
        return err_set(err, E_DB_UNAVAILABLE, "%s",
                       x->copy ? PQerrorMessage(x->copy) : "out of memory");
    for (;;) {
        struct pollfd p = {PQsocket(x->copy), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
        if (st == PGRES_POLLING_OK) return 0;
        if (st == PGRES_POLLING_FAILED)
            return err_set(err, E_DB_UNAVAILABLE, "%s", PQerrorMessage(x->copy));
        if (poll(&p, 1, 250) != 0) st = PQconnectPoll(x->copy);
        if (export_tick(x)) return err_set(err, E_INTERNAL, "stopped");
        if (st != PGRES_POLLING_OK && now_ms() > deadline)
            return err_set(err, E_DB_UNAVAILABLE, "COPY connection: timeout after %ld s",
                           x->cf->db_connect_timeout);
    }
}

/* Sends q and waits for its first result with the heartbeat going (COPY may wait on table
 * locks, up to lock_timeout). NULL with err set if stopped or the connection broke. */
static PGresult *export_wait_result(export_ctx *x, const char *q, t2err *err)
{
    if (!PQsendQuery(x->copy, q)) {
        err_set(err, E_DB_UNAVAILABLE, "%s", PQerrorMessage(x->copy));
        return NULL;
    }
    for (;;) {
        struct pollfd p = {PQsocket(x->copy), POLLIN, 0};
        if (!PQconsumeInput(x->copy)) {
            err_set(err, E_DB_UNAVAILABLE, "COPY: %s", PQerrorMessage(x->copy));
            return NULL;
        }
        if (!PQisBusy(x->copy)) return PQgetResult(x->copy);
        if (export_tick(x)) {
            err_set(err, E_INTERNAL, "stopped");
            return NULL;
        }
        poll(&p, 1, 250);
    }
}

/* Opens the read-only transaction (core/txn: export's limits, the job owner's role and
 * claims) and starts COPY. */
static int export_start_copy(export_ctx *x, t2err *err)
{
    static auth_ctx who; /* one job at a time per process; too big for the stack frame */
    char sp[1024];
    const char *sqlstate;
    buf q = BUF_INIT(0);
    txn_limits lim;
    size_t n;
    PGresult *r;
    int rc = -1, temp_ok;

    if (txn_search_path(x->cf, sp, sizeof sp) < 0)
        return err_set(err, E_INTERNAL, "the schemas setting is too long");
    temp_ok = txn_temp_limit_allowed(x->copy, NULL);
    txn_limits_from_conf(&lim, x->cf, sp, &temp_ok, 1);
    memset(&who, 0, sizeof who);
    if (auth_identity_set(&who, x->j->role, x->j->claims, err) < 0) return -1;
    if (txn_begin(x->copy, &lim, auth_txn_identity(&who), err) < 0) return -1;
    /* the one allowed paste: validated SQL into the COPY template */
    n = strlen(x->j->sql);
    while (n > 0 &&
           (x->j->sql[n - 1] == ';' || x->j->sql[n - 1] == ' ' || x->j->sql[n - 1] == '\n' ||
            x->j->sql[n - 1] == '\t' || x->j->sql[n - 1] == '\r'))
        n--;
    if (buf_adds(&q, "COPY (") < 0 || buf_add(&q, x->j->sql, n) < 0 ||
        buf_adds(&q, "\n) TO STDOUT WITH (FORMAT csv, HEADER)") < 0) {
        err_set(err, E_INTERNAL, "out of memory");
        goto fail;
    }
    if (!(r = export_wait_result(x, buf_cstr(&q), err))) goto fail;
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (sqlstate && strcmp(sqlstate, "55P03") == 0)
            err_set(err, E_QUERY_FAILED,
                    "lock timeout: a table the query reads stayed locked by another session "
                    "for more than %ld ms (lock_timeout_ms): %s",
                    x->cf->lock_timeout_ms, PQresultErrorMessage(r));
        else
            err_set(err, E_QUERY_FAILED, "%s", PQresultErrorMessage(r));
        PQclear(r);
        goto fail;
    }
    PQclear(r);
    rc = 0;
fail:
    buf_free(&q);
    return rc;
}

/* Nonzero (err set) once the export is past export_max_rows or export_max_bytes: the job
 * fails, and the failure path cancels the COPY and aborts the upload. */
static int export_over(export_ctx *x, t2err *err)
{
    if (x->cf->export_max_rows > 0 && data_rows(x) > x->cf->export_max_rows) {
        err_set(err, E_QUERY_FAILED,
                "the export has more than export_max_rows (%ld) rows; narrow the query",
                x->cf->export_max_rows);
        return 1;
    }
    if (x->cf->export_max_bytes > 0 && out_bytes(x) > x->cf->export_max_bytes) {
        err_set(err, E_QUERY_FAILED,
                "the export is larger than export_max_bytes (%ld bytes); narrow the query",
                x->cf->export_max_bytes);
        return 1;
    }
    return 0;
}

/* Streams COPY data into the writer until the end of the data. */
static int export_stream(export_ctx *x, t2err *err)
{
    PGresult *r;
    char *row;
    int n, ok;

    for (;;) {
        n = PQgetCopyData(x->copy, &row, 1);
        if (n > 0) {
            x->rows++;
            ok = export_out(x, row, (size_t)n, err);
            PQfreemem(row);
            if (ok < 0 || export_over(x, err)) return -1;
            if ((x->rows & 1023) == 0 && export_tick(x)) return err_set(err, E_INTERNAL, "stopped");
            continue;
        }
        if (n == 0) {
            struct pollfd p = {PQsocket(x->copy), POLLIN, 0};
            poll(&p, 1, 250);
            if (!PQconsumeInput(x->copy))
                return err_set(err, E_DB_UNAVAILABLE, "COPY: %s", PQerrorMessage(x->copy));
            if (export_tick(x)) return err_set(err, E_INTERNAL, "stopped");
            continue;
        }
        break;
    }
    if (n == -2) return err_set(err, E_DB_UNAVAILABLE, "COPY: %s", PQerrorMessage(x->copy));
    r = PQgetResult(x->copy);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) err_set(err, E_QUERY_FAILED, "%s", PQresultErrorMessage(r));
    PQclear(r);
    while ((r = PQgetResult(x->copy)) != NULL)
        PQclear(r);
    if (!ok && PQstatus(x->copy) != CONNECTION_OK) err->code = E_DB_UNAVAILABLE;
    return ok ? 0 : -1;
}

static void trim_nl(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

int export_abort_stale(const conf *cf, const job *j)
{
    s3_client *s;
    t2err e;
    int rc = 0;

    err_clear(&e);
    log_info("job %s: aborting multipart upload left by an earlier attempt", j->id);
    if (!(s = s3_new(cf, &e)) || s3_abort_multipart(s, j->s3_key, j->old_upload_id, &e) < 0) {
        log_warn("job %s: abort of the earlier upload failed: %s", j->id, e.detail);
        rc = -1;
    }
    s3_free(s);
    return rc;
}

/* Statuses after which nobody will write the job's object again: an object our final request
 * may have created must go. (PENDING / IN_PROGRESS elsewhere: the next attempt overwrites it;
 * SUCCESS: another attempt's object.) */
static int export_orphaned(const char *status)
{
    return strcmp(status, "CANCELLED") == 0 || strcmp(status, "FAILED") == 0 ||
           strcmp(status, "DELETED") == 0;
}

static void export_delete_object(export_ctx *x, const char *why)
{
    s3_client *s = s3_writer_client(x->w);
    t2err e;

    err_clear(&e);
    s3_set_tick(s, NULL, NULL); /* must run even when the tick says stop */
    log_info("job %s: deleting %s (%s)", x->j->id, x->j->s3_key, why);
    if (s3_delete_object(s, x->j->s3_key, &e) < 0)
        log_warn("job %s: delete of %s failed: %s", x->j->id, x->j->s3_key, e.detail);
}

/* rows, bytes and seconds of export *x begun at t0 (ms), for job_log() */
#define JOB_SO_FAR(x, t0)                                                                          \
    (long long)data_rows(x), (long long)out_bytes(x), (double)(now_ms() - (t0)) / 1000.0

/* A job's lifecycle event: the text line as ever; in JSON its fields as members. An end
 * (status SUCCESS, FAILED, CANCELLED) counts in exportd's metrics. */
static void job_log(int level, const job *j, const char *event, const char *status, long long rows,
                    long long bytes, double secs, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static void job_log(int level, const job *j, const char *event, const char *status, long long rows,
                    long long bytes, double secs, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    log_kv kv[8];
    int n = 0;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (status && (strcmp(status, "SUCCESS") == 0 || strcmp(status, "FAILED") == 0 ||
                   strcmp(status, "CANCELLED") == 0))
        xm_job_done(status, secs, bytes);
    if (!log_is_json()) {
        log_msg(level, "%s", msg);
        return;
    }
    kv[n++] = LOG_S("job_id", j->id);
    kv[n++] = LOG_S("event", event);
    kv[n++] = LOG_S("status", status);
    kv[n++] = LOG_I("attempt", j->attempt);
    kv[n++] = LOG_S("format", j->format);
    if (rows >= 0) kv[n++] = LOG_I("rows", rows);
    if (bytes >= 0) kv[n++] = LOG_I("bytes", bytes);
    if (secs >= 0) kv[n++] = LOG_N("duration_ms", secs * 1e3);
    log_fields(level, msg, kv, n);
}

/* The object is uploaded: records SUCCESS (or, when the job is no longer ours, deletes the
 * object if nobody will write it again). 0, or -1 when the outcome could not be recorded. */
static int export_succeeded(export_ctx *x, long long t0)
{
    const job *j = x->j;
    char fst[16] = "";
    t2err fe;
    int fr;

    err_clear(&fe);
    fr = jobs_finish(x->ctl, j, x->worker, "SUCCESS", data_rows(x), out_bytes(x), NULL, fst, &fe);
    if (fr == 1) {
        job_log(LOG_INFO, j, "finished", "SUCCESS", JOB_SO_FAR(x, t0),
                "job %s: SUCCESS, %lld rows, %lld bytes, %d parts, %.1f s", j->id,
                (long long)data_rows(x), (long long)out_bytes(x), s3_writer_parts(x->w),
                (double)(now_ms() - t0) / 1000.0);
    } else if (fr == 0) {
        log_warn("job %s: uploaded, but the job is no longer ours (%s)", j->id, fst);
        if (export_orphaned(fst)) export_delete_object(x, fst);
    } else {
        log_warn("job %s: uploaded, but recording SUCCESS failed: %s", j->id, fe.detail);
        return -1;
    }
    return 0;
}

int export_run(const conf *cf, PGconn *ctl, const char *worker, job *j)
{
    export_ctx x;
    t2err e, fe;
    char ci[2048], fst[16], *uid = NULL;
    long long t0 = now_ms();
    int rc = 0, fr, aborted = 0;

    memset(&x, 0, sizeof x);
    x.cf = cf;
    x.ctl = ctl;
    x.worker = worker;
    x.j = j;
    x.last_hb = t0;
    err_clear(&e);
    err_clear(&fe);
    str_copy(fst, sizeof fst, "");
    job_log(LOG_INFO, j, "started", "IN_PROGRESS", -1, -1, -1,
            "job %s: attempt %d, %s -> s3 key %s", j->id, j->attempt, j->format, j->s3_key);
    /* The row names one upload: the earlier attempt's is cleared only once aborted. If the
     * abort fails, our own upload id replaces it (logged; the bucket's
     * AbortIncompleteMultipartUpload lifecycle rule is the backstop). */
    if (j->old_upload_id) {
        if (export_abort_stale(cf, j) == 0)
            jobs_set_upload(ctl, j, worker, NULL, NULL, &fe);
        else
            log_warn("job %s: upload %s of an earlier attempt is left to the bucket lifecycle "
                     "rule",
                     j->id, j->old_upload_id);
    }
    if (strcmp(j->format, "csv.gz") == 0) {
        x.gz = 1;
        if (!(x.zout = malloc(GZ_CHUNK)) || deflateInit2(&x.z, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                                                         15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            x.gz = 0;
            err_set(&e, E_INTERNAL, "gzip init failed");
            goto failed;
        }
    }
    if (!(x.w = s3_writer_new(cf, j->s3_key, x.gz ? "application/gzip" : "text/csv", &e)))
        goto failed;
    s3_writer_set_callbacks(x.w, export_tick, export_on_upload_id, &x);
    s3_writer_set_gate(x.w, export_gate);
    if (conf_pg_conninfo(cf, ci, sizeof ci, "exportd-copy") < 0) {
        err_set(&e, E_INTERNAL, "database connection settings too long");
        goto failed;
    }
    if (export_connect(&x, ci, &e) < 0 || export_start_copy(&x, &e) < 0 ||
        export_stream(&x, &e) < 0 || (x.gz && export_gz_finish(&x, &e) < 0) ||
        s3_writer_finish(x.w, &e) < 0)
        goto failed;
    txn_end(x.copy);
    rc = export_succeeded(&x, t0);
    goto done;

failed:
    trim_nl(e.detail);
    if (x.copy && PQstatus(x.copy) == CONNECTION_OK &&
        PQtransactionStatus(x.copy) == PQTRANS_ACTIVE) {
        PGcancel *cn = PQgetCancel(x.copy);
        char eb[256];
        if (cn) {
            PQcancel(cn, eb, sizeof eb);
            PQfreeCancel(cn);
        }
    }
    if (x.w && s3_writer_upload_id(x.w)) {
        uid = strdup(s3_writer_upload_id(x.w));
        aborted = s3_writer_abort(x.w, NULL) == 0;
    }
    if (x.stop == STOP_LOST) {
        job_log(LOG_INFO, j, "stopped", x.lost_status, JOB_SO_FAR(&x, t0),
                "job %s: no longer ours (%s); upload aborted", j->id, x.lost_status);
        str_copy(fst, sizeof fst, x.lost_status);
    } else if (x.stop == STOP_CTL_DOWN || PQstatus(ctl) != CONNECTION_OK) {
        log_warn("job %s: control connection lost; the job will be claimed again", j->id);
        rc = -1;
    } else if (x.stop == STOP_TERM || x.stop == STOP_REC || e.code == E_DB_UNAVAILABLE) {
        const char *why = x.stop == STOP_TERM  ? "shutting down"
                          : x.stop == STOP_REC ? "cannot record its state"
                                               : e.detail;
        if (aborted && uid) jobs_set_upload(ctl, j, worker, NULL, NULL, &fe);
        fr = jobs_release(ctl, j, worker, x.stop != STOP_TERM, &fe);
        if (fr == 1)
            job_log(LOG_INFO, j, "handed_back", "PENDING", -1, -1, -1, "job %s: handed back (%s)",
                    j->id, why);
        else if (fr == 0)
            log_info("job %s: stopped (%s); it was no longer ours", j->id, why);
        else {
            log_warn("job %s: stopped (%s); cannot hand it back (%s), it will be claimed "
                     "again",
                     j->id, why, fe.detail);
            rc = -1;
        }
    } else {
        job_log(LOG_ERR, j, "finished", "FAILED", JOB_SO_FAR(&x, t0), "job %s: FAILED: %s", j->id,
                e.detail);
        fr =
            jobs_finish(ctl, j, worker, "FAILED", data_rows(&x), out_bytes(&x), e.detail, fst, &fe);
        if (fr == 1) str_copy(fst, sizeof fst, "FAILED");
        if (fr < 0) {
            log_warn("job %s: recording FAILED failed: %s", j->id, fe.detail);
            rc = -1;
        }
    }
    /* the final request went out: the object may exist although the job did not succeed */
    if (x.w && s3_writer_final_sent(x.w) && export_orphaned(fst)) export_delete_object(&x, fst);
    /* the aborted upload no longer needs recording (the sweeper retries failed aborts) */
    if (aborted && uid && rc == 0) jobs_clear_upload(ctl, j->id, uid, &fe);
done:
    free(uid);
    if (x.gz) deflateEnd(&x.z);
    free(x.zout);
    s3_writer_free(x.w);
    PQfinish(x.copy);
    return rc;
}

/* Failed aborts per upload id, this process's memory only (a restart tries again). */
#define SWEEP_MEMO 64
static struct {
    char *upload_id;
    int tries;
} sweep_memo[SWEEP_MEMO];

static int sweep_failed(const char *upload_id)
{
    int i, free_slot = -1;

    for (i = 0; i < SWEEP_MEMO; i++) {
        if (sweep_memo[i].upload_id && strcmp(sweep_memo[i].upload_id, upload_id) == 0)
            return ++sweep_memo[i].tries;
        if (!sweep_memo[i].upload_id && free_slot < 0) free_slot = i;
    }
    if (free_slot < 0) { /* full: forget the oldest guess, slot 0 */
        free(sweep_memo[0].upload_id);
        sweep_memo[0].upload_id = NULL;
        free_slot = 0;
    }
    if ((sweep_memo[free_slot].upload_id = strdup(upload_id)) != NULL)
        sweep_memo[free_slot].tries = 1;
    return 1;
}

static void sweep_forget(const char *upload_id)
{
    int i;

    for (i = 0; i < SWEEP_MEMO; i++)
        if (sweep_memo[i].upload_id && strcmp(sweep_memo[i].upload_id, upload_id) == 0) {
            free(sweep_memo[i].upload_id);
            sweep_memo[i].upload_id = NULL;
        }
}

void export_sweep(const conf *cf, PGconn *ctl)
{
    PGresult *r;
    s3_client *s = NULL;
    t2err e;
    int i, n;

    err_clear(&e);
    if (!(r = jobs_orphan_uploads(ctl, 50, &e))) {
        log_warn("sweep: cannot list finished jobs with uploads: %s", e.detail);
        return;
    }
    n = PQntuples(r);
    if (n > 0 && !(s = s3_new(cf, &e))) log_warn("sweep: %s", e.detail);
    for (i = 0; s && i < n && !exportd_term; i++) {
        const char *id = PQgetvalue(r, i, 0), *key = PQgetvalue(r, i, 1),
                   *uid = PQgetvalue(r, i, 2);
        int tries;
        err_clear(&e);
        log_info("sweep: job %s: aborting multipart upload of %s left on a finished job", id, key);
        if (s3_abort_multipart(s, key, uid, &e) == 0) {
            log_info("sweep: job %s: aborted multipart upload of %s", id, key);
        } else if ((tries = sweep_failed(uid)) < EXPORT_SWEEP_TRIES) {
            log_warn("sweep: job %s: abort failed (try %d of %d): %s", id, tries,
                     EXPORT_SWEEP_TRIES, e.detail);
            continue;
        } else {
            log_error("sweep: job %s: abort of the upload of %s failed %d times (%s); giving up, "
                      "the bucket's AbortIncompleteMultipartUpload lifecycle rule must remove "
                      "its parts",
                      id, key, tries, e.detail);
        }
        sweep_forget(uid);
        err_clear(&e);
        if (jobs_clear_upload(ctl, id, uid, &e) < 0)
            log_warn("sweep: job %s: cannot clear the upload id: %s", id, e.detail);
    }
    s3_free(s);
    PQclear(r);
}
