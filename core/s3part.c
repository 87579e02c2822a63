/* s3part -- the part writer and its uploader threads; see s3part.h. Knows nothing of jobs,
 * PostgreSQL or how a request is signed and sent (core/s3 does that). */
#include "s3part.h"

#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

size_t s3_part_size(size_t base, int part_no)
{
    size_t sz = base < S3_MIN_PART ? S3_MIN_PART : base;
    int tier = part_no > 0 ? (part_no - 1) / 900 : 0;

    while (tier-- > 0 && sz < S3_MAX_PART)
        sz *= 2;
    return sz > S3_MAX_PART ? S3_MAX_PART : sz;
}

#define S3_MAX_UPLOADS 8 /* export_part_uploads' upper bound */

/* A part buffer: being filled (by the caller), queued or uploading (by an uploader), or free. */
enum { PB_FREE, PB_FILL, PB_QUEUED, PB_UP };

struct s3_writer {
    s3_client *main;               /* caller's thread: create, put, complete, abort */
    s3_client *up[S3_MAX_UPLOADS]; /* one per uploader thread: parts */
    char *key, *ctype, *upload_id;
    size_t base;
    int nup, nbuf; /* uploader threads; part buffers (nup + 1) */
    char *pbuf[S3_MAX_UPLOADS + 1];
    size_t pcap[S3_MAX_UPLOADS + 1], plen[S3_MAX_UPLOADS + 1];
    int pstate[S3_MAX_UPLOADS + 1]; /* PB_*, under mu */
    int ppart[S3_MAX_UPLOADS + 1];  /* index into parts of a queued or uploading buffer */
    int cur;                        /* the buffer being filled */
    s3_part *parts;                 /* one per part handed to the uploaders; grown under mu */
    int nparts, partscap;
    uint64_t bytes;
    s3_tick_fn tick;
    s3_upload_id_fn on_upload_id;
    s3_tick_fn gate;
    void *arg;
    int final_sent; /* the final PutObject/CompleteMultipartUpload was started */
    /* uploader threads */
    pthread_t thr[S3_MAX_UPLOADS];
    int nthr; /* started */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int busy; /* buffers queued or uploading */
    int quit, failed;
    atomic_int stop;
    t2err up_err; /* the first failed part's error */
};

static int s3_writer_up_tick(void *arg)
{
    s3_writer *w = arg;

    return atomic_load(&w->stop);
}

/* The queued buffer holding the lowest part number, or -1 (under mu). */
static int s3_writer_next(const s3_writer *w)
{
    int i, j = -1;

    for (i = 0; i < w->nbuf; i++)
        if (w->pstate[i] == PB_QUEUED && (j < 0 || w->ppart[i] < w->ppart[j])) j = i;
    return j;
}

/* An uploader's start argument (malloc'd by s3_writer_ship, freed by the thread). */
typedef struct s3_upctx {
    s3_writer *w;
    int id; /* its client, w->up[id] */
} s3_upctx;

/* One uploader: takes queued parts in part order until quit; after a failure or a stop it
 * drops what is queued without sending it. */
static void *s3_writer_thread(void *arg)
{
    s3_writer *w = ((s3_upctx *)arg)->w;
    s3_client *c = w->up[((s3_upctx *)arg)->id];

    free(arg);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        int j, pi, num, rc = 0;
        t2err e;
        char etag[S3_ETAG_MAX];
        while ((j = s3_writer_next(w)) < 0 && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (j < 0) break;
        pi = w->ppart[j];
        num = w->parts[pi].number;
        w->pstate[j] = PB_UP;
        err_clear(&e);
        if (!w->failed && !atomic_load(&w->stop)) {
            pthread_mutex_unlock(&w->mu);
            rc = s3_upload_part(c, w->key, w->upload_id, num, w->pbuf[j], w->plen[j], etag, &e);
            pthread_mutex_lock(&w->mu);
        } else {
            rc = err_set(&e, E_INTERNAL, "S3 upload of %s: aborted", w->key);
        }
        if (rc < 0 && !w->failed) {
            w->failed = 1;
            w->up_err = e;
        } else if (rc == 0) {
            memcpy(w->parts[pi].etag, etag, sizeof etag);
        }
        w->plen[j] = 0;
        w->pstate[j] = PB_FREE;
        w->busy--;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

s3_writer *s3_writer_new(const conf *cf, const char *key, const char *content_type, t2err *err)
{
    s3_writer *w = calloc(1, sizeof *w);
    int i;

    if (!w) {
        err_set(err, E_INTERNAL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->base = (size_t)cf->export_part_mb << 20;
    w->nup = cf->export_part_uploads < 1                ? 1
             : cf->export_part_uploads > S3_MAX_UPLOADS ? S3_MAX_UPLOADS
                                                        : (int)cf->export_part_uploads;
    w->nbuf = w->nup + 1;
    w->pstate[0] = PB_FILL;
    if (!(w->main = s3_new(cf, err))) goto fail;
    for (i = 0; i < w->nup; i++) {
        if (!(w->up[i] = s3_new(cf, err))) goto fail;
        s3_set_tick(w->up[i], s3_writer_up_tick, w);
    }
    w->key = strdup(key);
    w->ctype = strdup(content_type ? content_type : "application/octet-stream");
    if (!w->key || !w->ctype) {
        err_set(err, E_INTERNAL, "out of memory");
        goto fail;
    }
    return w;
fail:
    s3_writer_free(w);
    return NULL;
}

void s3_writer_set_callbacks(s3_writer *w, s3_tick_fn tick, s3_upload_id_fn on_upload_id, void *arg)
{
    w->tick = tick;
    w->on_upload_id = on_upload_id;
    w->arg = arg;
    s3_set_tick(w->main, tick, arg);
}

void s3_writer_set_gate(s3_writer *w, s3_tick_fn gate)
{
    w->gate = gate;
}

const char *s3_writer_upload_id(const s3_writer *w)
{
    return w->upload_id;
}

int s3_writer_final_sent(const s3_writer *w)
{
    return w->final_sent;
}

/* Waits until at most in_flight buffers are queued or uploading (0: every part is done),
 * running the tick about every 250 ms. -1 with err if a part failed or the tick asked to stop:
 * then the running parts are cancelled, the queued ones dropped, and it returns once every
 * uploader is idle. */
static int s3_writer_wait(s3_writer *w, int in_flight, t2err *err)
{
    int stopped = 0, failed;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct timespec ts;
        if (w->failed || stopped) {
            atomic_store(&w->stop, 1); /* the other parts are of no use now */
            if (w->busy == 0) break;
        } else if (w->busy <= in_flight) {
            break;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (!w->failed && !stopped && w->busy > in_flight && w->tick) {
            pthread_mutex_unlock(&w->mu);
            stopped = w->tick(w->arg) != 0;
            pthread_mutex_lock(&w->mu);
        }
    }
    failed = w->failed;
    if (failed && err) *err = w->up_err;
    pthread_mutex_unlock(&w->mu);
    if (failed) return -1;
    if (stopped) return err_set(err, E_INTERNAL, "S3 upload of %s: aborted", w->key);
    return 0;
}

/* Queues the full current buffer as the next part and takes a free buffer to fill, waiting
 * for one when every buffer is queued or uploading. */
static int s3_writer_ship(s3_writer *w, t2err *err)
{
    int i;

    if (!w->upload_id) {
        if (s3_create_multipart(w->main, w->key, w->ctype, &w->upload_id, err) < 0) return -1;
        if (w->on_upload_id && w->on_upload_id(w->arg, w->upload_id) != 0)
            return err_set(err, E_INTERNAL, "S3 upload of %s: aborted (upload id not recorded)",
                           w->key);
    }
    while (w->nthr < w->nup) {
        s3_upctx *u = malloc(sizeof *u);
        if (!u) return err_set(err, E_INTERNAL, "out of memory");
        u->w = w;
        u->id = w->nthr;
        if (pthread_create(&w->thr[w->nthr], NULL, s3_writer_thread, u) != 0) {
            free(u);
            return err_set(err, E_INTERNAL, "pthread_create: %s", strerror(errno));
        }
        w->nthr++;
    }
    if (w->nparts == S3_MAX_PARTS)
        return err_set(err, E_INTERNAL, "S3 upload of %s: more than %d parts", w->key,
                       S3_MAX_PARTS);
    pthread_mutex_lock(&w->mu);
    if (w->nparts == w->partscap) {
        int nc = w->partscap ? w->partscap * 2 : 64;
        s3_part *np = realloc(w->parts, (size_t)nc * sizeof *np);
        if (!np) {
            pthread_mutex_unlock(&w->mu);
            return err_set(err, E_INTERNAL, "out of memory");
        }
        w->parts = np;
        w->partscap = nc;
    }
    w->parts[w->nparts].number = w->nparts + 1;
    w->parts[w->nparts].etag[0] = '\0';
    w->pstate[w->cur] = PB_QUEUED;
    w->ppart[w->cur] = w->nparts++;
    w->busy++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    /* every buffer but the one to fill may be in flight */
    if (s3_writer_wait(w, w->nbuf - 1, err) < 0) return -1;
    pthread_mutex_lock(&w->mu);
    for (i = 0; i < w->nbuf && w->pstate[i] != PB_FREE; i++)
        ;
    w->cur = i; /* the wait left one free */
    w->pstate[i] = PB_FILL;
    pthread_mutex_unlock(&w->mu);
    return 0;
}

/* Part buffers are mapped, not malloc'd, so that a job holds exactly its buffers and gives
 * them back when it ends: glibc raises its mmap threshold past a freed 8 MiB chunk, then
 * serves later jobs' buffers from the heap, which keeps what it grew to (with malloc the
 * worker's peak RSS rose by one part after a few jobs of bench/export.sh). Grows buffer c to
 * n bytes, keeping its contents. 0 or -1 (out of memory). */
static int s3_writer_grow(s3_writer *w, int c, size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) return -1;
    if (w->pbuf[c]) {
        memcpy(p, w->pbuf[c], w->plen[c]);
        munmap(w->pbuf[c], w->pcap[c]);
    }
    w->pbuf[c] = p;
    w->pcap[c] = n;
    return 0;
}

int s3_writer_write(s3_writer *w, const void *data, size_t n, t2err *err)
{
    const char *p = data;

    while (n > 0) {
        int c = w->cur;
        size_t want = s3_part_size(w->base, w->nparts + 1), k;
        if (w->pcap[c] < want && s3_writer_grow(w, c, want) < 0)
            return err_set(err, E_INTERNAL, "out of memory for a %zu-byte part", want);
        k = want - w->plen[c];
        if (k > n) k = n;
        memcpy(w->pbuf[c] + w->plen[c], p, k);
        w->plen[c] += k;
        w->bytes += k;
        p += k;
        n -= k;
        if (w->plen[c] == want && s3_writer_ship(w, err) < 0) return -1;
    }
    return 0;
}

/* The gate, right before the request that makes the object visible: nonzero = stop. */
static int s3_writer_gate(s3_writer *w, t2err *err)
{
    if (w->gate && w->gate(w->arg))
        return err_set(err, E_INTERNAL, "S3 upload of %s: aborted before the final request",
                       w->key);
    w->final_sent = 1;
    return 0;
}

int s3_writer_finish(s3_writer *w, t2err *err)
{
    t2err he;
    int64_t size;
    char etag[S3_ETAG_MAX], want[16];
    int hr;

    if (!w->upload_id) {
        if (s3_writer_gate(w, err) < 0) return -1;
        return s3_put_object(w->main, w->key, w->pbuf[w->cur], w->plen[w->cur], w->ctype, err);
    }
    if (w->plen[w->cur] > 0 && s3_writer_ship(w, err) < 0) return -1;
    if (s3_writer_wait(w, 0, err) < 0) return -1;
    if (s3_writer_gate(w, err) < 0) return -1;
    log_debug("s3: completing multipart upload of %s, %d parts", w->key, w->nparts);
    if (s3_complete_multipart(w->main, w->key, w->upload_id, w->parts, w->nparts, err) < 0) {
        /* A retry after a lost reply (ours, or libcurl's own on a reused connection) finds
         * the upload gone because the first try completed it: the object is there, with our
         * size (and a multipart ETag of our part count, when it has that form). */
        if (strcmp(s3_last_code(w->main), "NoSuchUpload") != 0) return -1;
        err_clear(&he);
        hr = s3_head_object(w->main, w->key, &size, etag, &he);
        snprintf(want, sizeof want, "-%d\"", w->nparts);
        if (hr != 1 || size < 0 || (uint64_t)size != w->bytes ||
            (strchr(etag, '-') && strcmp(strchr(etag, '-'), want) != 0)) {
            log_warn("s3: %s: NoSuchUpload on a retried complete, and the object is %s", w->key,
                     hr == 1   ? "of another size"
                     : hr == 0 ? "missing"
                               : "unreadable");
            return -1;
        }
        log_info("s3: %s: the retried complete found the upload completed already (%lld bytes)",
                 w->key, (long long)size);
        err_clear(err);
    }
    log_debug("s3: completed multipart upload of %s", w->key);
    return 0;
}

int s3_writer_abort(s3_writer *w, t2err *err)
{
    t2err e;

    atomic_store(&w->stop, 1);
    if (w->nthr) s3_writer_wait(w, 0, NULL);
    if (!w->upload_id) return 0;
    log_info("s3: aborting multipart upload of %s", w->key);
    s3_set_tick(w->main, NULL, NULL); /* the abort must run even when the tick says stop */
    err_clear(&e);
    if (s3_abort_multipart(w->main, w->key, w->upload_id, &e) < 0) {
        log_warn("s3: abort of multipart upload of %s failed: %s", w->key, e.detail);
        if (err) *err = e;
        return -1;
    }
    log_info("s3: aborted multipart upload of %s", w->key);
    return 0;
}

uint64_t s3_writer_bytes(const s3_writer *w)
{
    return w->bytes;
}

int s3_writer_parts(const s3_writer *w)
{
    return w->nparts;
}

void s3_writer_free(s3_writer *w)
{
    int i;

    if (!w) return;
    if (w->nthr) {
        atomic_store(&w->stop, 1);
        pthread_mutex_lock(&w->mu);
        w->quit = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        for (i = 0; i < w->nthr; i++)
            pthread_join(w->thr[i], NULL);
    }
    s3_free(w->main);
    for (i = 0; i < w->nup; i++)
        s3_free(w->up[i]);
    for (i = 0; i < w->nbuf; i++)
        if (w->pbuf[i]) munmap(w->pbuf[i], w->pcap[i]);
    free(w->key);
    free(w->ctype);
    free(w->upload_id);
    free(w->parts);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

s3_client *s3_writer_client(s3_writer *w)
{
    return w->main;
}
