/* awsreq -- signs one request to an AWS service other than S3 (Bedrock, SQS) for libcurl:
 * SigV4 header signing (core/sigv4) with the given keys or, when none are given, those of
 * the credential chain (core/awscred, cached and refreshed there).
 *
 * Ownership: the header lines are appended to the caller's curl_slist (freed by the caller
 * with curl_slist_free_all; they carry the signature and any session token, so they are
 * never logged). Nothing here logs a secret. */
#ifndef T2_AWSREQ_H
#define T2_AWSREQ_H

#include "buf.h"

#include <curl/curl.h>
#include <stddef.h>

typedef struct awsreq {
    const char *access_key; /* "" or NULL = the credential chain's */
    const char *secret_key;
    const char *token; /* NULL or "" = none */
    const char *service, *region;
    const char *host;         /* the Host header, with ":port" when not the default */
    const char *path;         /* the path as it is sent (already URI-encoded) */
    const char *content_type; /* signed; the caller sends it */
    const char *body;
    size_t len;
} awsreq;

/* Signs r at the current time: appends Authorization, x-amz-date, x-amz-content-sha256,
 * and x-amz-security-token (when there is one) to *hdrs, and the path to sign
 * and send to path_out. 0, or -1 (no credentials: logged with the sources tried; no memory). */
int awsreq_sign(const awsreq *r, buf *path_out, struct curl_slist **hdrs);

#endif
