/* notify -- exportd's notification sender: the process in the slot after the job workers
 * (started only when export_notify_url or export_notify_sqs_url is set). It takes due rows
 * of the outbox (core/outbox) one at a time, builds the message from the finished job, sends
 * it (notify_send.c) and records the attempt in the row's transaction; a failed attempt is
 * tried again after export_notify_backoff_ms, doubling up to export_notify_backoff_max_s.
 * It wakes on OUTBOX_CHANNEL (the final-state statements NOTIFY it at commit), when the next
 * retry is due, or every few seconds.
 *
 * The message (README "Export notifications"):
 *   {"event": "export.finished", "job_id", "status" (SUCCESS | FAILED | CANCELLED),
 *    "row_count", "bytes", "format", "key_id" (the owner's API key id, null if anonymous),
 *    "error" (null on SUCCESS), "finished_at", and with export_notify_download_url on a
 *    SUCCESS "download_url" and "expires_in"} */
#include "exportd.h"
#include "notify.h"

#include "buf.h"
#include "log.h"
#include "outbox.h"
#include "s3.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOTIFY_POLL_MS 5000

static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, v && *v ? json_object_new_string(v) : NULL);
}

/* The message of it; the caller frees it. NULL on error (logged). */
static char *notify_message(const conf *cf, const outbox_item *it)
{
    json_object *o = json_object_new_object();
    char *url = NULL, *out = NULL;
    t2err e;

    if (!o) return NULL;
    add_str(o, "event", "export.finished");
    add_str(o, "job_id", it->job_id);
    add_str(o, "status", it->status);
    json_object_object_add(o, "row_count", json_object_new_int64(it->rows));
    json_object_object_add(o, "bytes", json_object_new_int64(it->bytes));
    add_str(o, "format", it->format);
    add_str(o, "key_id", it->owner);
    add_str(o, "error", it->error);
    add_str(o, "finished_at", it->finished_at);
    if (cf->export_notify_download_url && strcmp(it->status, "SUCCESS") == 0 && it->s3_key) {
        err_clear(&e);
        if (s3_presign_get(cf, it->s3_key, cf->presign_expires, time(NULL), &url, &e) < 0) {
            log_warn("job %s: no download URL for its notification: %s", it->job_id, e.detail);
        } else {
            add_str(o, "download_url", url);
            json_object_object_add(o, "expires_in", json_object_new_int64(cf->presign_expires));
        }
    }
    out = strdup(json_object_to_json_string_ext(o, T2_JSON_FLAGS));
    free(url);
    json_object_put(o);
    return out;
}

/* The delay before attempt number attempts + 1 (attempts >= 1 made): backoff_ms doubled
 * per earlier failure, at most backoff_max_s, with up to 1/8 of jitter. */
static long notify_backoff_ms(const conf *cf, int attempts)
{
    long ms = cf->export_notify_backoff_ms, max = cf->export_notify_backoff_max_s * 1000;
    int i;

    for (i = 1; i < attempts && ms < max; i++)
        ms *= 2;
    if (ms > max) ms = max;
    return ms + (ms >= 8 ? random() % (ms / 8) : 0);
}

/* Sends every due row. 0, or -1 when the connection broke. */
static int notify_round(const conf *cf, PGconn *c, CURL *h, const char *targets)
{
    while (!exportd_term) {
        outbox_item it;
        char why[512] = "";
        char *msg;
        t2err e;
        int ok, rc;

        err_clear(&e);
        if ((rc = outbox_take(c, targets, &it, &e)) <= 0) {
            if (rc < 0) log_warn("notifications: %s", e.detail);
            return rc < 0 && PQstatus(c) != CONNECTION_OK ? -1 : 0;
        }
        if (!(msg = notify_message(cf, &it)))
            snprintf(why, sizeof why, "out of memory");
        else if (strcmp(it.target, "sqs") == 0)
            notify_sqs(h, cf, it.job_id, msg, why, sizeof why);
        else
            notify_webhook(h, cf, it.job_id, msg, time(NULL), why, sizeof why);
        ok = msg && !*why;
        if (ok)
            log_info("job %s: %s notification delivered (attempt %d)", it.job_id, it.target,
                     it.attempts + 1);
        else
            log_warn("job %s: %s notification failed (attempt %d): %s", it.job_id, it.target,
                     it.attempts + 1, why);
        if (outbox_done(c, &it, ok, why, notify_backoff_ms(cf, it.attempts + 1), &e) < 0)
            log_warn("job %s: %s notification not recorded: %s", it.job_id, it.target, e.detail);
        free(msg);
        outbox_item_free(&it);
        if (PQstatus(c) != CONNECTION_OK) return -1;
    }
    return 0;
}

int notify_main(const conf *cf)
{
    const char *targets = outbox_targets(cf);
    PGconn *c = NULL;
    CURL *h;
    int backoff = 250;

    exportd_signals();
    srandom((unsigned)(getpid() ^ time(NULL)));
    if (!(h = curl_easy_init())) {
        log_error("notifications: curl_easy_init failed");
        return 1;
    }
    log_info("notification sender ready (targets %s)", targets);
    while (!exportd_term && !exportd_retire) {
        long due;

        if (!c && !(c = exportd_connect(cf, "LISTEN " OUTBOX_CHANNEL))) {
            exportd_nap(-1, backoff);
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
            continue;
        }
        backoff = 250;
        if (notify_round(cf, c, h, targets) < 0 || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = NULL;
            continue;
        }
        due = outbox_next_due_ms(c, targets);
        exportd_nap(PQsocket(c), due < 0 || due > NOTIFY_POLL_MS ? NOTIFY_POLL_MS : (int)due);
        exportd_drain(c);
    }
    log_info("notification sender stopped");
    curl_easy_cleanup(h);
    PQfinish(c);
    return 0;
}
