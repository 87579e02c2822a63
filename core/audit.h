/* audit -- the audit trail in t2sql.audit: one row per /query, export, example change and key
 * change (the service, bin/t2sql-keys, bin/t2sql-jobs), and its listing for GET /audit.
 *
 * A row names who (the key id or JWT subject, never a key or token), the role and claims the
 * SQL ran with, what was asked and run, and how it ended. Rows older than
 * audit_retention_days are deleted by the writers themselves, at most once an hour per
 * process. A worker queues its rows in an audit_batch (which owns its JSON text,
 * audit_batch_free()) and writes them in one statement; nothing else owns memory past a call
 * but the JSON handed to the caller. */
#ifndef T2_AUDIT_H
#define T2_AUDIT_H

#include "buf.h"
#include "err.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <time.h>

typedef struct audit_rec {
    const char *subject;  /* "key:<id>", "jwt:<sub>", "cli:<user>"; NULL = anonymous */
    const char *role;     /* NULL = the service's query_role */
    const char *claims;   /* JSON object text; NULL = {} */
    const char *action;   /* "query", "export", "example.add", "key.create", ... */
    const char *question; /* each may be NULL */
    const char *sql;
    const char *source;
    const char *request_id;
    const char *detail;
    int status;         /* HTTP status (0 = none) */
    long long rows;     /* -1 = unknown */
    long long bytes;    /* -1 = unknown */
    double duration_ms; /* < 0 = unknown */
} audit_rec;

/* An empty record: every count unknown. */
void audit_init(audit_rec *a, const char *action);
/* Appends a to t2sql.audit now, as a batch of one (and, at most hourly, deletes rows older
 * than retention_days when it is > 0). 0, or -1 with err; the caller decides whether a
 * failed audit fails the request. */
int audit_add(PGconn *c, const audit_rec *a, long retention_days, t2err *err);

/* Rows queued to be written in one INSERT: at most AUDIT_BATCH_ROWS rows and
 * AUDIT_BATCH_BYTES of their JSON text. */
#define AUDIT_BATCH_ROWS  64
#define AUDIT_BATCH_MS    100
#define AUDIT_BATCH_BYTES (8u << 20)
#define AUDIT_BATCH_KEEP  (256u << 10) /* a flushed batch keeps at most this much room */
typedef struct audit_batch {
    buf json; /* "[{row},{row}" -- the array without its closing ']' */
    int n;
    struct timespec first; /* CLOCK_MONOTONIC when the oldest queued row was queued */
} audit_batch;

void audit_batch_init(audit_batch *b);
void audit_batch_free(audit_batch *b);
/* Copies a into b, with its time at (seconds since 1970, CLOCK_REALTIME). 0, or -1 when b is
 * full (AUDIT_BATCH_ROWS or AUDIT_BATCH_BYTES: flush it and queue again; a row that does
 * not fit an empty batch is over its size). */
int audit_queue(audit_batch *b, const audit_rec *a, double at);
/* Milliseconds until b should be written: 0 = now (it is full, or its oldest row waited
 * AUDIT_BATCH_MS), -1 = never (it is empty). */
long audit_batch_wait_ms(const audit_batch *b);
/* Writes b's rows in one INSERT (and purges as audit_add() does) and empties b, written or
 * not. 0 (also for an empty batch), or -1 with err: the rows are lost; or -2 with err when
 * the connection was lost on the way: b keeps its rows (for another connection; a row the
 * server had stored before the connection went is then written twice). */
int audit_flush(PGconn *c, audit_batch *b, long retention_days, t2err *err);

/* A row for a change made by a command-line tool: subject "cli:$USER". */
int audit_cli(PGconn *c, const char *action, const char *detail, const char *role,
              const char *claims, const char *sql, long retention_days, t2err *err);

/* A row for the end of export job job_id as its table records it (action "export.end":
 * the owner's subject, role and claims, the SQL, rows, bytes, its run time, "job <id>
 * <STATUS>"); nothing while the job is still open. 0, or -1 with err. */
int audit_job_end(PGconn *c, const char *job_id, long retention_days, t2err *err);

typedef struct audit_filter {
    const char *subject, *role, *action, *request_id; /* exact matches; NULL = any */
    const char *since, *until;                        /* timestamptz text; NULL = open */
    long status;                                      /* 0 = any */
    long page, page_size;                             /* 1-based; newest first */
} audit_filter;

/* The rows matching f as {"rows": [...], "pagination": {...}}; *out is the caller's
 * (json_object_put). 0, or -1 with err (E_VALIDATION on a bad since/until). */
int audit_list_json(PGconn *c, const audit_filter *f, json_object **out, t2err *err);

#endif
