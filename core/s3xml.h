/* s3xml -- S3's XML: reading its replies (UploadId, <Error>) with libxml2 and writing the
 * CompleteMultipartUpload body. No network, no state; safe from any thread.
 *
 * Ownership: strings returned through char ** are the caller's to free(); fixed buffers the
 * caller passes are filled and NUL-terminated (truncated when too small). Nothing else is
 * kept between calls. */
#ifndef T2_S3XML_H
#define T2_S3XML_H

#include "buf.h"

#include <stddef.h>

#define S3_ETAG_MAX 128
#define S3_XML_MAX  (1 << 20) /* larger documents are refused unread */

/* One uploaded part: its number (1-based) and its ETag as S3 sent it, quotes included. */
typedef struct s3_part {
    int number;
    char etag[S3_ETAG_MAX];
} s3_part;

/* The text of the first <UploadId>; *out malloc'd. 0 or -1. */
int s3_xml_upload_id(const char *xml, size_t len, char **out);
/* If xml is an <Error> document: fills code and msg (truncated) and returns 1; 0 if it is
 * not an error document; -1 if it is not XML. */
int s3_xml_error(const char *xml, size_t len, char *code, size_t codelen, char *msg, size_t msglen);
/* Appends the CompleteMultipartUpload body for parts[0..n) to out. 0 or -1. */
int s3_xml_complete_body(buf *out, const s3_part *parts, int n);

#endif
