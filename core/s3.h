/* s3 -- a small S3 client on libcurl: PUT, multipart upload (create, part, complete, abort),
 * presigned GET URLs, and a writer that turns a byte stream into a (multipart) object.
 *
 * Every request is signed with core/sigv4 and retried with exponential backoff and jitter on
 * 5xx, 429 and transport errors (timeouts, refused connections), export_retries times.
 * Addressing: path-style (<endpoint>/<bucket>/<key>) when s3_endpoint is set (S3-compatible
 * servers), virtual-hosted (https://<bucket>.s3.<region>.amazonaws.com/<key>) otherwise.
 * S3's XML replies and errors are parsed with libxml2.
 *
 * Ownership: an s3_client owns one CURL handle and copies of what it needs from the conf; it
 * is used by one thread at a time. Strings returned through char ** are the caller's to
 * free(). Error details never contain credentials or signatures. */
#ifndef T2_S3_H
#define T2_S3_H

#include "buf.h"
#include "conf.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define S3_MIN_PART  ((size_t)5 << 20) /* S3's minimum part size (all but the last part) */
#define S3_MAX_PART  ((size_t)5 << 30) /* S3's maximum part size */
#define S3_MAX_PARTS 10000
#define S3_ETAG_MAX  128

typedef struct s3_client s3_client;

typedef struct s3_part {
    int number;
    char etag[S3_ETAG_MAX];
} s3_part;

/* Called about every 250 ms while a request runs or backs off; nonzero aborts the request
 * (which then fails with "aborted"). */
typedef int (*s3_tick_fn)(void *arg);

/* Returns a client, or NULL with err set (missing bucket, bad endpoint, out of memory). */
s3_client *s3_new(const conf *cf, t2err *err);
void s3_free(s3_client *s);
void s3_set_tick(s3_client *s, s3_tick_fn fn, void *arg);

/* Each returns 0, or -1 with err->detail naming the operation, the HTTP status and S3's
 * error code and message (or the transport error), after the retries are spent. */
int s3_put_object(s3_client *s, const char *key, const void *data, size_t len,
                  const char *content_type, t2err *err);
/* *upload_id is malloc'd; the caller frees it. */
int s3_create_multipart(s3_client *s, const char *key, const char *content_type, char **upload_id,
                        t2err *err);
/* Writes the part's ETag (as S3 sent it, quotes included) into etag. */
int s3_upload_part(s3_client *s, const char *key, const char *upload_id, int part_no,
                   const void *data, size_t len, char etag[S3_ETAG_MAX], t2err *err);
int s3_complete_multipart(s3_client *s, const char *key, const char *upload_id,
                          const s3_part *parts, int nparts, t2err *err);
/* NoSuchUpload counts as done (the upload is gone). */
int s3_abort_multipart(s3_client *s, const char *key, const char *upload_id, t2err *err);
int s3_delete_object(s3_client *s, const char *key, t2err *err);
/* 1 with *size (Content-Length, -1 if none) and etag (may be NULL; as sent, quotes
 * included) if the object exists, 0 if not (404), -1. */
int s3_head_object(s3_client *s, const char *key, int64_t *size, char etag[S3_ETAG_MAX],
                   t2err *err);

/* A presigned GET URL for key, valid expires seconds (1..604800) from now. *url is
 * malloc'd; the caller frees it. No network. */
int s3_presign_get(const conf *cf, const char *key, long expires, time_t now, char **url,
                   t2err *err);

/* Size of part number part_no (1-based) for a stream cut with base size base (>= 5 MiB):
 * doubles every 900 parts, capped at 5 GiB, so 10,000 parts carry more than 5 TiB. */
size_t s3_part_size(size_t base, int part_no);

/* XML (libxml2). The text of the first <UploadId>; *out malloc'd. 0 or -1. */
int s3_xml_upload_id(const char *xml, size_t len, char **out);
/* If xml is an <Error> document: fills code and msg (truncated) and returns 1; 0 if it is
 * not an error document; -1 if it is not XML. */
int s3_xml_error(const char *xml, size_t len, char *code, size_t codelen, char *msg, size_t msglen);
/* Appends the CompleteMultipartUpload body for parts[0..n). 0 or -1. */
int s3_xml_complete_body(buf *out, const s3_part *parts, int n);

/* The writer: cuts a stream into parts of s3_part_size(), uploads part N on a background
 * thread while part N+1 fills, so at most two parts are in memory. A stream shorter than
 * one part becomes a single PUT. on_upload_id (may be NULL) is called on the caller's
 * thread once the multipart upload exists, so the caller can record it for a later abort.
 * The tick runs on the caller's thread only. */
typedef struct s3_writer s3_writer;
/* Nonzero = the id could not be recorded: the writer stops (the caller then aborts). */
typedef int (*s3_upload_id_fn)(void *arg, const char *upload_id);

s3_writer *s3_writer_new(const conf *cf, const char *key, const char *content_type, t2err *err);
void s3_writer_set_callbacks(s3_writer *w, s3_tick_fn tick, s3_upload_id_fn on_upload_id,
                             void *arg);
/* gate (may be NULL) runs on the caller's thread right before the final PutObject or
 * CompleteMultipartUpload; nonzero stops the writer before that request is sent. */
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
/* The client the writer uses on the caller's thread (for DeleteObject after a lost race). */
s3_client *s3_writer_client(s3_writer *w);
int s3_writer_parts(const s3_writer *w); /* parts handed to S3 so far */
void s3_writer_free(s3_writer *w);

#endif
