/* sigv4 -- AWS Signature Version 4 for S3: Authorization headers and presigned query URLs;
 * header signing for other services too (Bedrock), whose canonical path is the encoded path
 * URI-encoded once more (AWS's rule for every service but S3).
 *
 * Pure functions: the clock is an argument, nothing is cached, nothing is logged. The caller
 * passes the request unencoded (path and query names/values as raw bytes); this module
 * applies S3's URI-encoding rules (RFC 3986 unreserved bytes kept, everything else %XX,
 * '/' kept in the path only) and returns the encoded forms, so the URL that is sent is
 * exactly the one that was signed. Outputs go into caller-owned bufs (freed by the caller). */
#ifndef T2_SIGV4_H
#define T2_SIGV4_H

#include "buf.h"

#include <stddef.h>
#include <time.h>

#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_EMPTY_SHA256     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct sigv4_kv {
    const char *name;
    const char *value; /* NULL is signed as "" ("?uploads" is "uploads=") */
} sigv4_kv;

typedef struct sigv4_cred {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "" = none */
    const char *region;
    const char *service; /* NULL = "s3" */
} sigv4_cred;

typedef struct sigv4_req {
    const char *method;    /* "GET", "PUT", ... */
    const char *host;      /* Host header value, with ":port" when not the default */
    const char *path;      /* raw path beginning with '/', e.g. "/bucket/a b.csv" */
    const sigv4_kv *query; /* raw query parameters, any order */
    size_t nquery;
    const sigv4_kv *headers; /* extra headers to sign and send (Range, Content-Type, ...) */
    size_t nheaders;
    const char *payload_sha256; /* lowercase hex, or SIGV4_UNSIGNED_PAYLOAD; NULL = empty body */
    int path_encoded;           /* sigv4_sign_headers: path is already URI-encoded, sent as is */
} sigv4_req;

typedef struct sigv4_result {
    char amz_date[17];        /* YYYYMMDDTHHMMSSZ */
    char signature[65];       /* lowercase hex */
    char authorization[1024]; /* header-signing only: the Authorization header value */
} sigv4_result;

/* Signs r for the Authorization header at time now. The request must then carry the
 * headers host, x-amz-date (res->amz_date), x-amz-content-sha256 (r->payload_sha256 or the
 * empty hash) and, with a session token, x-amz-security-token, plus r->headers.
 * Writes the encoded path to path_out and the canonical (sorted, encoded) query string to
 * query_out when they are not NULL. Returns 0, or -1 (out of memory, bad input). */
int sigv4_sign_headers(const sigv4_req *r, const sigv4_cred *c, time_t now, sigv4_result *res,
                       buf *path_out, buf *query_out);

/* Presigns r (its payload is UNSIGNED-PAYLOAD, only "host" and r->headers are signed) for
 * expires seconds (1..604800). Writes the encoded path to path_out and the full query string
 * (r->query plus X-Amz-*, including X-Amz-Signature) to query_out. Returns 0 or -1. */
int sigv4_presign(const sigv4_req *r, const sigv4_cred *c, time_t now, long expires,
                  sigv4_result *res, buf *path_out, buf *query_out);

/* Appends s[0..n) URI-encoded (uppercase %XX); '/' is kept when keep_slash. 0 or -1. */
int sigv4_uri_encode(buf *out, const char *s, size_t n, int keep_slash);

/* Lowercase hex SHA-256 of data[0..n) into out (65 bytes incl. NUL). */
void sigv4_sha256_hex(const void *data, size_t n, char out[65]);
/* Lowercase hex HMAC-SHA256 of msg[0..n) with key[0..klen) (webhook signatures). */
void sigv4_hmac_sha256_hex(const void *key, size_t klen, const void *msg, size_t n, char out[65]);
/* Lowercase hex MD5 of data[0..n) (SQS's MD5OfMessageBody; not for security). */
void sigv4_md5_hex(const void *data, size_t n, char out[33]);

#endif
