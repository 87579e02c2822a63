/* xmetrics -- exportd's own metrics: export duration and size histograms and finished jobs
 * by outcome, in one anonymous shared mapping the master makes before forking its workers,
 * written as a Prometheus textfile (exportd_metrics_file; node_exporter's textfile
 * collector, or any scraper of files, reads it) with the export jobs by status from the
 * database. Workers write it after each job and slot 0 on every poll. Nothing allocated. */
#ifndef T2_XMETRICS_H
#define T2_XMETRICS_H

#include "conf.h"

#include <libpq-fe.h>

/* Maps the shared block (the master, before the workers start); 0 or -1. */
int xm_init(void);
/* A job ended: status "SUCCESS", "FAILED" or "CANCELLED", its duration and output bytes. */
void xm_job_done(const char *status, double seconds, long long bytes);
/* Writes cf->exportd_metrics_file (if set) through a temporary file and rename(); ctl (may
 * be NULL) gives the jobs by status. */
void xm_write(const conf *cf, PGconn *ctl);

#endif
