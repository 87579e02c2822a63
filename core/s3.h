/* s3 -- a small S3 client on libcurl: addressing and transport. PutObject, multipart upload
 * (create, part, complete, abort), DeleteObject, HeadObject, and presigned GET URLs.
 *
 * Every request is signed with core/sigv4 and retried with exponential backoff and jitter on
 * 5xx, 429, 408 and transport errors (timeouts, refused connections), export_retries times.
 * Addressing: path-style (<endpoint>/<bucket>/<key>) when s3_endpoint is set (S3-compatible
 * servers), virtual-hosted (https://<bucket>.s3.<region>.amazonaws.com/<key>) otherwise.
 * S3's XML is read and written by core/s3xml; turning a stream into parts is core/s3part.
 *
 * Ownership: an s3_client owns one CURL handle and copies of the addressing and credentials
 * it took from the conf (the secret is wiped on free); it is used by one thread at a time.
 * Strings returned through char ** are the caller's to free(). Error details never contain
 * credentials or signatures. */
#ifndef T2_S3_H
#define T2_S3_H

#include "conf.h"
#include "err.h"
#include "s3xml.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct s3_client s3_client;

/* Called about every 250 ms while a request runs or backs off; nonzero aborts the request
 * (which then fails with "aborted"). */
typedef int (*s3_tick_fn)(void *arg);

/* Returns a client, or NULL with err set (missing bucket, bad endpoint, out of memory). */
s3_client *s3_new(const conf *cf, t2err *err);
void s3_free(s3_client *s);
void s3_set_tick(s3_client *s, s3_tick_fn fn, void *arg);
/* S3's error code of the client's last failed request ("NoSuchUpload", "NotFound" for a
 * bodiless 404, ...), or "" (success, or a transport error). Owned by the client. */
const char *s3_last_code(const s3_client *s);

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

#endif
