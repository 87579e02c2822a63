/* main -- exportd's entry: config (-c, -t), logging, and the worker processes, run by the
 * pre-fork master (core/master) with export_concurrency slots, and one more for the
 * notification sender (notify.c) when export_notify_url or export_notify_sqs_url is set.
 *
 * SIGTERM/SIGINT: workers hand back their jobs and exit (the master waits for them); a second
 * one kills them at once (their session locks let the jobs be claimed again). Workers ignore
 * SIGINT, so Ctrl-C or a signal to the whole process group is still a graceful stop. SIGHUP:
 * reload the configuration (an invalid one, or one without export_bucket, is refused and the
 * old one kept); new workers start at once and the old ones finish the job in hand first, so
 * until they are done up to twice export_concurrency jobs may run. Workers die with the
 * master (PR_SET_PDEATHSIG), so a killed master never leaves jobs half-owned by orphans. */
#include "exportd.h"

#include "log.h"
#include "master.h"
#include "outbox.h"
#include "xmetrics.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char USAGE[] = "usage: exportd [-c conf/t2sql.conf] [-t]\n"
                            "  -c PATH  configuration file (environment overrides it)\n"
                            "  -t       check the configuration, print it (secrets masked), exit\n";

static int exportd_check(const conf *cf, char *err, size_t errlen)
{
    if (*cf->export_bucket) return 0;
    snprintf(err, errlen, "export_bucket is empty");
    return -1;
}

/* The job workers, then the notification sender when a target is configured. */
static int exportd_slots(const conf *cf)
{
    return (int)cf->export_concurrency + (strcmp(outbox_targets(cf), "{}") != 0);
}

static int exportd_run(const conf *cf, int slot, void *arg)
{
    (void)arg;
    return slot >= cf->export_concurrency ? notify_main(cf) : worker_main(cf, slot);
}

int main(int argc, char **argv)
{
    int rc;
    conf cf;
    master_ops ops = {"exportd", NULL, exportd_slots, exportd_run, exportd_check, NULL, NULL, 0,
                      0,         1,    NULL,          NULL};

    if ((rc = master_start(&ops, argc, argv, USAGE, &cf)) >= 0) return rc;
    if (!*cf.aws_access_key_id)
        log_warn("AWS_ACCESS_KEY_ID is not set; S3 requests will be refused by AWS");
    log_info("exportd starting: %ld workers, bucket %s, endpoint %s, part %ld MiB, lease %ld s",
             cf.export_concurrency, cf.export_bucket, *cf.s3_endpoint ? cf.s3_endpoint : "AWS",
             cf.export_part_mb, cf.export_lease_s);
    if (xm_init() < 0) log_warn("cannot map the shared metrics block; metrics are per worker");
    rc = master_run(&ops, &cf);
    conf_free(&cf);
    return rc;
}
