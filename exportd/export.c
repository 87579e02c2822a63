/* export -- one export job: COPY (sql) TO STDOUT in a read-only transaction, optional gzip,
 * into the S3 part writer, with heartbeats, live counters, cancellation and hand-back.
 *
 * Outcomes: SUCCESS; FAILED with the reason (query error, timeout, S3 error after retries),
 * the multipart upload aborted; CANCELLED by the owner (upload aborted, row left as the
 * canceller wrote it); handed back as PENDING on SIGTERM or when the COPY connection is
 * lost; left for the next claim when the control connection itself is lost. */
#include "exportd.h"

#include "log.h"
#include "s3.h"

#include <poll.h>
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

enum { STOP_NONE = 0, STOP_TERM, STOP_LOST, STOP_CTL_DOWN };

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

static void export_on_upload_id(void *arg, const char *upload_id)
{
    export_ctx *x = arg;
    t2err e;

    err_clear(&e);
    if (jobs_set_upload(x->ctl, x->j, x->worker, upload_id, &e) < 0)
        log_warn("job %s: cannot record upload id: %s", x->j->id, e.detail);
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

static int exec_ok(PGconn *c, const char *sql, int n, const char *const *p, t2err *err)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

    if (!ok) err_set(err, E_QUERY_FAILED, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

/* Opens the read-only transaction and starts COPY. */
static int export_start_copy(export_ctx *x, t2err *err)
{
    char tmo[24];
    const char *p[1];
    buf q = BUF_INIT(0);
    size_t n;
    PGresult *r;
    int rc = -1;

    if (exec_ok(x->copy, "BEGIN READ ONLY", 0, NULL, err) < 0) return -1;
    snprintf(tmo, sizeof tmo, "%ld", x->cf->export_statement_timeout_ms);
    p[0] = tmo;
    if (exec_ok(x->copy, "SELECT set_config('statement_timeout', $1, true)", 1, p, err) < 0)
        return -1;
    p[0] = x->cf->schemas;
    if (*x->cf->schemas &&
        exec_ok(x->copy, "SELECT set_config('search_path', $1, true)", 1, p, err) < 0)
        return -1;
    p[0] = x->cf->query_role;
    if (*x->cf->query_role &&
        exec_ok(x->copy, "SELECT set_config('role', $1, true)", 1, p, err) < 0)
        return -1;
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
    r = PQexec(x->copy, buf_cstr(&q));
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
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
            if (ok < 0) return -1;
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

void export_abort_stale(const conf *cf, const job *j)
{
    s3_client *s;
    t2err e;

    err_clear(&e);
    log_info("job %s: aborting multipart upload left by an earlier attempt", j->id);
    if (!(s = s3_new(cf, &e)) || s3_abort_multipart(s, j->s3_key, j->old_upload_id, &e) < 0)
        log_warn("job %s: abort of the earlier upload failed: %s", j->id, e.detail);
    s3_free(s);
}

int export_run(const conf *cf, PGconn *ctl, const char *worker, job *j)
{
    export_ctx x;
    t2err e, fe;
    char ci[2048];
    long long t0 = now_ms();
    int rc = 0, fr;

    memset(&x, 0, sizeof x);
    x.cf = cf;
    x.ctl = ctl;
    x.worker = worker;
    x.j = j;
    x.last_hb = t0;
    err_clear(&e);
    err_clear(&fe);
    log_info("job %s: attempt %d, %s -> s3 key %s", j->id, j->attempt, j->format, j->s3_key);
    if (j->old_upload_id) {
        export_abort_stale(cf, j);
        jobs_set_upload(ctl, j, worker, NULL, &fe);
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
    if (conf_pg_conninfo(cf, ci, sizeof ci, "exportd-copy") < 0) {
        err_set(&e, E_INTERNAL, "database connection settings too long");
        goto failed;
    }
    x.copy = PQconnectdb(ci);
    if (PQstatus(x.copy) != CONNECTION_OK) {
        err_set(&e, E_DB_UNAVAILABLE, "%s", PQerrorMessage(x.copy));
        goto failed;
    }
    if (export_start_copy(&x, &e) < 0 || export_stream(&x, &e) < 0 ||
        (x.gz && export_gz_finish(&x, &e) < 0) || s3_writer_finish(x.w, &e) < 0)
        goto failed;
    PQclear(PQexec(x.copy, "ROLLBACK"));
    fr = jobs_finish(ctl, j, worker, "SUCCESS", data_rows(&x), out_bytes(&x), NULL, &fe);
    if (fr == 1)
        log_info("job %s: SUCCESS, %lld rows, %lld bytes, %d parts, %.1f s", j->id,
                 (long long)data_rows(&x), (long long)out_bytes(&x), s3_writer_parts(x.w),
                 (double)(now_ms() - t0) / 1000.0);
    else if (fr == 0)
        log_warn("job %s: uploaded, but the job is no longer ours", j->id);
    else {
        log_warn("job %s: uploaded, but recording SUCCESS failed: %s", j->id, fe.detail);
        rc = -1;
    }
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
    if (x.w) s3_writer_abort(x.w, NULL);
    if (x.stop == STOP_LOST) {
        log_info("job %s: no longer ours (%s); upload aborted", j->id, x.lost_status);
    } else if (x.stop == STOP_CTL_DOWN || PQstatus(ctl) != CONNECTION_OK) {
        log_warn("job %s: control connection lost; the job will be claimed again", j->id);
        rc = -1;
    } else if (x.stop == STOP_TERM || e.code == E_DB_UNAVAILABLE) {
        fr = jobs_release(ctl, j, worker, x.stop != STOP_TERM, &fe);
        if (fr == 1)
            log_info("job %s: handed back (%s)", j->id,
                     x.stop == STOP_TERM ? "shutting down" : e.detail);
        else if (fr == 0)
            log_info("job %s: stopped (%s); it was no longer ours", j->id,
                     x.stop == STOP_TERM ? "shutting down" : e.detail);
        else {
            log_warn("job %s: stopped (%s); cannot hand it back (%s), it will be claimed "
                     "again",
                     j->id, x.stop == STOP_TERM ? "shutting down" : e.detail, fe.detail);
            rc = -1;
        }
    } else {
        log_error("job %s: FAILED: %s", j->id, e.detail);
        fr = jobs_finish(ctl, j, worker, "FAILED", data_rows(&x), out_bytes(&x), e.detail, &fe);
        if (fr < 0) {
            log_warn("job %s: recording FAILED failed: %s", j->id, fe.detail);
            rc = -1;
        }
    }
done:
    if (x.gz) deflateEnd(&x.z);
    free(x.zout);
    s3_writer_free(x.w);
    PQfinish(x.copy);
    return rc;
}
