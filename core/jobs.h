/* jobs -- the export job queue in t2sql.export_jobs, shared by the HTTP service and exportd.
 *
 * The row is the queue entry: jobs_create() inserts it and NOTIFYs JOBS_CHANNEL in one
 * statement (one transaction); exportd claims rows with FOR UPDATE SKIP LOCKED, heartbeats
 * while it works and records the outcome. Every write after the claim is conditional on the
 * claim (worker and attempt), so a worker that lost its job (cancelled, or reclaimed after
 * its session died) can never overwrite the newer state.
 *
 * A claimed job is held by a session-level advisory lock on the claimer's connection: when
 * the claimer dies its connection closes, the lock goes, and the job can be claimed again
 * at once. While the lock is held the job is never claimed again, whatever its heartbeat
 * says (a worker blocked somewhere must not have its job run twice); export_lease_s no
 * longer decides claims.
 *
 * All SQL is parameterised (PQexecParams). Ids that are not UUIDs, unknown ids and ids owned
 * by someone else all give E_NOT_FOUND. Lost or broken connections give E_DB_UNAVAILABLE. */
#ifndef T2_JOBS_H
#define T2_JOBS_H

#include "buf.h"
#include "conf.h"
#include "err.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdint.h>

#define JOBS_CHANNEL "t2sql_export"

/* A claimed job; strings owned by the job, released by job_free(). */
typedef struct job {
    char id[37];
    char format[8]; /* "csv" or "csv.gz" */
    char *sql;
    char *s3_key;
    char *old_upload_id; /* multipart upload left by an earlier attempt, to abort; or NULL */
    char *role;          /* the owner's database role ("" = query_role) */
    char *claims;        /* the owner's claims, a JSON object */
    int attempt;         /* this attempt's number (1-based) */
    int gave_up;         /* the claim marked it FAILED (attempts exhausted); do not run it */
    char notify[16];     /* the notification targets (core/outbox) its final state gets */
} job;

/* Runs one parameterised statement; the result (the caller PQclear()s), or NULL with err
 * set (E_DB_UNAVAILABLE when the connection is gone) unless it returned want. */
PGresult *jobs_exec(PGconn *c, const char *sql, int n, const char *const *params,
                    ExecStatusType want, t2err *err);

/* 1 if s is a UUID in its canonical text form (36 chars, hex and dashes), else 0. */
int jobs_valid_id(const char *s);

/* Inserts a PENDING job and NOTIFYs JOBS_CHANNEL with its id, atomically. sql must be the
 * validated SQL; query_id, question may be NULL; owner NULL = anonymous (""); format NULL =
 * "csv", else "csv" or "csv.gz" (E_VALIDATION on field "format"). Writes the new id. */
int jobs_create(PGconn *c, const char *sql, const char *query_id, const char *question,
                const char *owner, const char *format, char id_out[37], t2err *err);
/* The role and claims (a JSON object; NULL = none) the job's COPY runs with, as its owner's. */
int jobs_create_as(PGconn *c, const char *sql, const char *query_id, const char *question,
                   const char *owner, const char *role, const char *claims, const char *format,
                   char id_out[37], t2err *err);

/* The status document of API.md (job_id, status, rows_written, bytes, created_at,
 * started_at, finished_at; on SUCCESS row_count, download_url (presigned) and expires_in;
 * error when there is one; notifications, as outbox_status_json). *out is the caller's
 * (json_object_put). */
int jobs_status_json(PGconn *c, const conf *cf, const char *id, const char *owner,
                     json_object **out, t2err *err);

/* Cancels a PENDING or IN_PROGRESS job (status CANCELLED at once; exportd notices within a
 * heartbeat and aborts the upload), with the notifications cf configures (NULL = none) in the
 * same statement. E_CONFLICT if it already finished, E_NOT_FOUND. */
int jobs_cancel(PGconn *c, const conf *cf, const char *id, const char *owner, t2err *err);

/* ---- exportd side ----------------------------------------------------------------------- */

/* Claims the oldest PENDING job, or an IN_PROGRESS one whose claimer's session is gone (its
 * advisory lock is free); an IN_PROGRESS job whose lock a live session holds is never taken,
 * however old its heartbeat (the heartbeat is a progress report, the lock is the lease).
 * Counts the attempt. A job already
 * tried cf->export_max_attempts times is marked FAILED instead (j->gave_up = 1), with its
 * notifications in the same statement. Sets
 * s3_key to <export_prefix><id>.csv[.gz]. Returns 1 with *j filled, 0 if there is nothing
 * to claim, -1 on error. */
int jobs_claim(PGconn *c, const conf *cf, const char *worker, job *j, t2err *err);
/* The fairness rule of claims: jobs of owners with fewer than this many IN_PROGRESS (across
 * every exportd on the database) are claimed first, oldest first; a job of an owner at the
 * limit only when no other owner's job waits (the rule never leaves a slot idle):
 * export_max_per_owner, or export_concurrency - 1 (at least 1) when that is 0. */
long jobs_max_per_owner(const conf *cf);
void job_free(job *j);

/* Every write below is guarded by (id, worker, attempt, IN_PROGRESS, not cancel_requested).
 * Heartbeat with live counters. Returns 1 if the job is still ours, 0 if it is not any more
 * (status copied into status_out, e.g. "CANCELLED"; "DELETED" if the row is gone), -1 on
 * error. exportd also calls it right before the request that makes the object visible. */
int jobs_heartbeat(PGconn *c, const job *j, const char *worker, int64_t rows, int64_t bytes,
                   char status_out[16], t2err *err);
/* Records the multipart upload id (NULL clears it). 1 if ours, 0 if lost, -1 on error.
 * status_out (may be NULL) as for jobs_heartbeat. */
int jobs_set_upload(PGconn *c, const job *j, const char *worker, const char *upload_id,
                    char status_out[16], t2err *err);
/* Clears upload_id on job id if it is still upload_id (after that upload was aborted),
 * whatever the job's status. 1 if cleared, 0 if not, -1 on error. */
int jobs_clear_upload(PGconn *c, const char *id, const char *upload_id, t2err *err);
/* Finished jobs (CANCELLED, FAILED) still naming a multipart upload: columns id, s3_key,
 * upload_id, at most limit rows. The caller PQclear()s; NULL with err set on error. */
PGresult *jobs_orphan_uploads(PGconn *c, int limit, t2err *err);
/* Final state: status "SUCCESS" or "FAILED" (error may be NULL), with the notifications the
 * claim named (j->notify) in the same statement. 1, 0 (lost) or -1.
 * status_out (may be NULL) as for jobs_heartbeat. */
int jobs_finish(PGconn *c, const job *j, const char *worker, const char *status, int64_t rows,
                int64_t bytes, const char *error, char status_out[16], t2err *err);
/* Hands a job back (PENDING). counted = 0 takes the attempt back (shutdown: not the job's
 * fault); counted = 1 keeps it (the COPY connection broke: a query that kills its backend
 * must still run out of attempts). 1, 0 or -1. */
int jobs_release(PGconn *c, const job *j, const char *worker, int counted, t2err *err);
/* Drops every advisory lock this session holds (after a job ends). */
void jobs_unlock_all(PGconn *c);

/* The job states, in the order jobs_count() counts them. */
#define JOBS_NSTATES 5
extern const char *const jobs_states[JOBS_NSTATES];

/* How many jobs are in each state (n[i] for jobs_states[i]), for the metrics of both
 * daemons. 0, or -1 with n all zero when the query fails. */
int jobs_count(PGconn *c, unsigned long n[JOBS_NSTATES]);
/* Appends jobs_count() to out as the Prometheus gauge name{status="..."} with its HELP text;
 * nothing when the count fails. */
void jobs_gauge(buf *out, PGconn *c, const char *name, const char *help);

#endif
