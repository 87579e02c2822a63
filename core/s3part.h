/* s3part -- the part writer: turns a byte stream into one S3 object, a single PutObject when
 * it is shorter than one part, else a multipart upload whose parts are uploaded by
 * export_part_uploads background threads (in part order, each on its own connection) while
 * the next part fills: at most export_part_uploads + 1 parts are in memory (the default, 2
 * uploads of 8 MiB parts: 24 MiB). Part sizes follow s3_part_size(). Requests go through
 * core/s3 (signing, retries, addressing). A failed or stopped part cancels the others and
 * drops the queued ones; no part is sent after s3_writer_abort() has begun.
 *
 * Ownership: an s3_writer owns its s3_clients (one for the caller's thread, one per
 * uploader), its part buffers, the part list and the upload id; s3_writer_free() releases all
 * of it (stopping the threads). Strings it returns (s3_writer_upload_id) live as long as the
 * writer. It is used by one caller thread; callbacks (tick, upload id, gate) run on that
 * thread only. */
#ifndef T2_S3PART_H
#define T2_S3PART_H

#include "conf.h"
#include "err.h"
#include "s3.h"

#include <stddef.h>
#include <stdint.h>

#define S3_MIN_PART  ((size_t)5 << 20) /* S3's minimum part size (all but the last part) */
#define S3_MAX_PART  ((size_t)5 << 30) /* S3's maximum part size */
#define S3_MAX_PARTS 10000

/* Size of part number part_no (1-based) for a stream cut with base size base (>= 5 MiB):
 * doubles every 900 parts, capped at 5 GiB, so 10,000 parts carry more than 5 TiB. */
size_t s3_part_size(size_t base, int part_no);

typedef struct s3_writer s3_writer;
/* Called once the multipart upload exists, so the caller can record it for a later abort;
 * nonzero = the id could not be recorded: the writer stops (the caller then aborts). */
typedef int (*s3_upload_id_fn)(void *arg, const char *upload_id);

/* A writer for key with base part size export_part_mb; NULL with err set. */
s3_writer *s3_writer_new(const conf *cf, const char *key, const char *content_type, t2err *err);
/* tick: run about every 250 ms while a request runs or waits (nonzero stops the writer);
 * on_upload_id may be NULL. */
void s3_writer_set_callbacks(s3_writer *w, s3_tick_fn tick, s3_upload_id_fn on_upload_id,
                             void *arg);
/* gate (may be NULL) runs right before the final PutObject or CompleteMultipartUpload;
 * nonzero stops the writer before that request is sent. */
void s3_writer_set_gate(s3_writer *w, s3_tick_fn gate);
int s3_writer_write(s3_writer *w, const void *data, size_t n, t2err *err);
/* Uploads what is left and completes the object. 0 or -1 (the caller then aborts). A
 * CompleteMultipartUpload answered NoSuchUpload (a retry after a lost reply) counts as done
 * when HEAD finds the object with the bytes written (and, for an ETag "<md5>-N", N parts). */
int s3_writer_finish(s3_writer *w, t2err *err);
/* Aborts the multipart upload if one exists; a failed abort is logged. 0 or -1. */
int s3_writer_abort(s3_writer *w, t2err *err);
uint64_t s3_writer_bytes(const s3_writer *w);        /* bytes accepted so far */
const char *s3_writer_upload_id(const s3_writer *w); /* the multipart upload, or NULL */
/* 1 once the final request was sent: the object may exist even if finish failed. */
int s3_writer_final_sent(const s3_writer *w);
/* The client the writer uses on the caller's thread (for DeleteObject after a lost race);
 * owned by the writer. */
s3_client *s3_writer_client(s3_writer *w);
int s3_writer_parts(const s3_writer *w); /* parts handed to S3 so far */
void s3_writer_free(s3_writer *w);

#endif
