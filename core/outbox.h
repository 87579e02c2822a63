/* outbox -- SQL of the export notification outbox, t2sql.export_notify: one row per
 * (finished job, target), the targets being "sqs" and "webhook".
 *
 * Rows are written by core/jobs.c in the very statement that gives a job its final state
 * (SUCCESS, FAILED, CANCELLED), through OUTBOX_INSERT_CTE, so a job never ends without its
 * notifications and never has them before it ends; that statement also NOTIFYs
 * OUTBOX_CHANNEL (delivered at commit). exportd's notifier takes one due row at a time inside
 * a transaction (FOR UPDATE SKIP LOCKED: many exportds never send one row at once), sends it,
 * and marks it DELIVERED, or schedules the next attempt, in the same transaction. A notifier
 * killed between the send and the commit leaves the row PENDING: it is sent again (at least
 * once; receivers dedupe on job_id).
 *
 * All SQL is parameterised. Errors as core/jobs.h: E_DB_UNAVAILABLE, E_INTERNAL. */
#ifndef T2_OUTBOX_H
#define T2_OUTBOX_H

#include "conf.h"
#include "err.h"

#include <json-c/json.h>
#include <libpq-fe.h>

#define OUTBOX_CHANNEL "t2sql_notify"

/* A data-modifying CTE "o" that inserts one row per target of the text[] parameter $N for
 * every id the CTE named src returns (column id), and a scalar that NOTIFYs when it did.
 * Used by jobs.c: "WITH u AS (UPDATE ... RETURNING id), " OUTBOX_INSERT_CTE("u", "9") ... and
 * OUTBOX_NOTIFY in the final SELECT list. */
#define OUTBOX_INSERT_CTE(src, n)                                                                  \
    "o AS (INSERT INTO t2sql.export_notify (job_id, target) SELECT " src ".id, t FROM " src        \
    ", unnest($" n "::text[]) t ON CONFLICT DO NOTHING RETURNING job_id) "
#define OUTBOX_NOTIFY "(SELECT count(pg_notify('" OUTBOX_CHANNEL "', job_id::text)) FROM o)"

/* The targets cf configures as a PostgreSQL text[] literal: "{}", "{sqs}", "{webhook}" or
 * "{sqs,webhook}" (static storage). */
const char *outbox_targets(const conf *cf);

/* A due notification, taken (row-locked) inside the caller's open transaction: the target
 * and the finished job's fields. Strings point into res (valid until outbox_item_free). */
typedef struct outbox_item {
    PGresult *res;
    const char *job_id, *target, *status, *format, *owner, *error, *finished_at, *s3_key;
    long long rows, bytes;
    int attempts; /* attempts made before this one */
} outbox_item;

/* BEGINs a transaction and takes the oldest due PENDING row whose target is in targets (a
 * text[] literal). 1 with *it filled (the transaction stays open: finish it with
 * outbox_done), 0 when none is due (transaction ended), -1 with err (transaction ended). */
int outbox_take(PGconn *c, const char *targets, outbox_item *it, t2err *err);
/* Records the attempt on the taken row and COMMITs: delivered, or failed with error (stored,
 * never a secret) and the next attempt retry_ms from now. 0 or -1 (rolled back). */
int outbox_done(PGconn *c, const outbox_item *it, int delivered, const char *error, long retry_ms,
                t2err *err);
void outbox_item_free(outbox_item *it);

/* Milliseconds until the next PENDING row of targets is due (0 if one is due now), or -1
 * if there is none (or on error). */
long outbox_next_due_ms(PGconn *c, const char *targets);

/* The job's notifications for its status document: an object {"<target>": {"state",
 * "attempts", "delivered_at", "last_error", "next_attempt_at"}} ({} if none). *out is the
 * caller's (json_object_put). 0 or -1. */
int outbox_status_json(PGconn *c, const char *job_id, json_object **out, t2err *err);

#endif
