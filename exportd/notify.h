/* notify -- the sending half of exportd's notifications (notify_send.c): one message to the
 * webhook or to SQS, one attempt each (retries are the outbox's, see core/outbox.h).
 *
 * Webhook: POST body (application/json) to export_notify_url with
 *   X-T2SQL-Timestamp: <unix seconds>
 *   X-T2SQL-Signature: v1=<lowercase hex HMAC-SHA256(export_notify_secret, ts "." body)>
 *   X-T2SQL-Job-Id: <job id>
 * any 2xx is delivered.
 * SQS: SendMessage (the query protocol, form-encoded POST to the queue URL, Version
 * 2012-11-05), SigV4-signed for service "sqs" with the configured keys or the credential
 * chain; delivered when SQS answers 200 with MD5OfMessageBody equal to the body's MD5. A
 * .fifo queue gets MessageGroupId "t2sql" and MessageDeduplicationId = the job id.
 *
 * Errors go into err (at most errlen bytes, never a secret, a signature or the URL's query);
 * nothing here logs. */
#ifndef T2_NOTIFY_H
#define T2_NOTIFY_H

#include "conf.h"

#include <curl/curl.h>
#include <stddef.h>
#include <time.h>

/* Each returns 0 when delivered, -1 with the reason in err. */
int notify_webhook(CURL *h, const conf *cf, const char *job_id, const char *body, time_t now,
                   char *err, size_t errlen);
int notify_sqs(CURL *h, const conf *cf, const char *job_id, const char *body, char *err,
               size_t errlen);

#endif
