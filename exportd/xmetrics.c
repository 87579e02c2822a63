/* xmetrics -- exportd's shared metrics and their textfile; see xmetrics.h. */
#include "xmetrics.h"

#include "buf.h"
#include "jobs.h"
#include "log.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XM_B 12

typedef struct xm_hist {
    unsigned long bucket[XM_B + 1], count;
    unsigned long sum_u; /* in units of 1/scale: microseconds, bytes */
} xm_hist;

typedef struct xm_block {
    xm_hist duration, bytes;
    unsigned long done[3]; /* SUCCESS, FAILED, CANCELLED */
} xm_block;

static xm_block *xm;
static xm_block xm_local;
static const double dur_b[XM_B] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
static const double size_b[XM_B] = {1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 5e9, 1e10, 5e10, 1e11, 1e12};
static const char *const outcomes[3] = {"SUCCESS", "FAILED", "CANCELLED"};

int xm_init(void)
{
    xm = mem_shared(sizeof(xm_block));
    return xm ? 0 : -1;
}

static xm_block *blk(void)
{
    return xm ? xm : &xm_local;
}

/* v in the histogram's unit; the sum is kept in units of 1/scale */
static void observe(xm_hist *h, const double *b, double v, double scale)
{
    int i;

    for (i = 0; i < XM_B && v > b[i]; i++)
        ;
    __atomic_fetch_add(&h->bucket[i], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->sum_u, (unsigned long)(v * scale), __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
}

void xm_job_done(const char *status, double seconds, long long bytes)
{
    int i;

    for (i = 0; i < 3; i++)
        if (strcmp(status, outcomes[i]) == 0)
            __atomic_fetch_add(&blk()->done[i], 1, __ATOMIC_RELAXED);
    if (strcmp(status, "SUCCESS") != 0) return;
    observe(&blk()->duration, dur_b, seconds, 1e6);
    observe(&blk()->bytes, size_b, (double)bytes, 1);
}

static void render_hist(buf *o, const char *name, const char *help, const xm_hist *h,
                        const double *b, double scale)
{
    unsigned long cum = 0;
    int i;

    buf_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (i = 0; i < XM_B; i++) {
        cum += h->bucket[i];
        buf_printf(o, "%s_bucket{le=\"%g\"} %lu\n", name, b[i], cum);
    }
    cum += h->bucket[XM_B];
    buf_printf(o, "%s_bucket{le=\"+Inf\"} %lu\n%s_sum %.6f\n%s_count %lu\n", name, cum, name,
               (double)h->sum_u / scale, name, h->count);
}

void xm_write(const conf *cf, PGconn *ctl)
{
    buf o = BUF_INIT(1u << 20);
    char tmp[1100];
    FILE *f;
    int i;

    if (!*cf->exportd_metrics_file) return;
    render_hist(&o, "exportd_export_duration_seconds", "Duration of a successful export.",
                &blk()->duration, dur_b, 1e6);
    render_hist(&o, "exportd_export_bytes", "Size of a successful export's object.", &blk()->bytes,
                size_b, 1);
    buf_printf(&o, "# HELP exportd_jobs_finished_total Jobs this exportd finished, by outcome.\n"
                   "# TYPE exportd_jobs_finished_total counter\n");
    for (i = 0; i < 3; i++)
        buf_printf(&o, "exportd_jobs_finished_total{status=\"%s\"} %lu\n", outcomes[i],
                   blk()->done[i]);
    jobs_gauge(&o, ctl, "exportd_jobs", "Export jobs by status (the database's view).");
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", cf->exportd_metrics_file, (int)getpid());
    if ((f = fopen(tmp, "w")) != NULL) {
        int ok = fwrite(buf_cstr(&o), 1, o.len, f) == o.len;
        if (fclose(f) != 0) ok = 0;
        if (!ok || rename(tmp, cf->exportd_metrics_file) != 0) {
            log_warn("cannot write %s", cf->exportd_metrics_file);
            unlink(tmp);
        }
    }
    buf_free(&o);
}
