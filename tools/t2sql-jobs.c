/* t2sql-jobs -- the job queue functions of core/jobs from the command line (tests, ops).
 *
 *   t2sql-jobs [-c conf] create SQL [OWNER [FORMAT [QUERY_ID [QUESTION]]]]   prints the id
 *   t2sql-jobs [-c conf] status ID [OWNER]    prints API.md's status document
 *   t2sql-jobs [-c conf] cancel ID [OWNER]    prints {"ok": true}
 * On failure prints {"code": ..., "detail": ..., "status": HTTP} and exits 1. */
#include "audit.h"
#include "buf.h"
#include "conf.h"
#include "err.h"
#include "jobs.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fail(const t2err *e)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "code", json_object_new_string(err_name(e->code)));
    json_object_object_add(o, "detail", json_object_new_string(e->detail));
    json_object_object_add(o, "status", json_object_new_int(err_status(e->code)));
    printf("%s\n", json_object_to_json_string_ext(o, T2_JSON_FLAGS));
    json_object_put(o);
    return 1;
}

/* The audit row of a change made here; a failure is reported on stderr, not fatal. */
static void jobs_audit(PGconn *c, const conf *cf, const char *action, const char *id,
                       const char *sql)
{
    char detail[96];
    t2err e;

    snprintf(detail, sizeof detail, "job %.64s", id ? id : "");
    if (audit_cli(c, action, detail, NULL, NULL, sql, cf->audit_retention_days, &e) < 0)
        fprintf(stderr, "t2sql-jobs: audit row not written: %s\n", e.detail);
}

int main(int argc, char **argv)
{
    const char *path = NULL, *cmd;
    char err[512], ci[2048], id[37];
    conf cf;
    PGconn *c = NULL;
    t2err e;
    int opt, rc = 1;

    while ((opt = getopt(argc, argv, "c:")) != -1) {
        if (opt != 'c') {
            fprintf(stderr, "usage: t2sql-jobs [-c conf] create|status|cancel ...\n");
            return 2;
        }
        path = optarg;
    }
    if (optind + 2 > argc) {
        fprintf(stderr, "usage: t2sql-jobs [-c conf] create|status|cancel ARG [OWNER ...]\n");
        return 2;
    }
    if (conf_load(path, &cf, err, sizeof err) < 0) {
        fprintf(stderr, "t2sql-jobs: %s\n", err);
        return 1;
    }
    conf_register_secrets(&cf);
    err_clear(&e);
    cmd = argv[optind];
    if (conf_pg_conninfo(&cf, ci, sizeof ci, "t2sql-jobs") < 0 ||
        PQstatus(c = PQconnectdb(ci)) != CONNECTION_OK) {
        err_set(&e, E_DB_UNAVAILABLE, "database unavailable");
        rc = fail(&e);
        goto done;
    }
#define ARG(i) (optind + (i) < argc ? argv[optind + (i)] : NULL)
    if (strcmp(cmd, "create") == 0) {
        if (jobs_create(c, ARG(1), ARG(4), ARG(5), ARG(2), ARG(3), id, &e) < 0)
            rc = fail(&e);
        else
            rc = 0, printf("%s\n", id), jobs_audit(c, &cf, "export", id, ARG(1));
    } else if (strcmp(cmd, "status") == 0) {
        json_object *o;
        if (jobs_status_json(c, &cf, ARG(1), ARG(2), &o, &e) < 0) {
            rc = fail(&e);
        } else {
            printf("%s\n", json_object_to_json_string_ext(o, T2_JSON_FLAGS));
            json_object_put(o);
            rc = 0;
        }
    } else if (strcmp(cmd, "cancel") == 0) {
        if (jobs_cancel(c, &cf, ARG(1), ARG(2), &e) < 0)
            rc = fail(&e);
        else
            rc = 0, printf("{\"ok\": true}\n"), jobs_audit(c, &cf, "export.cancel", ARG(1), NULL);
    } else {
        fprintf(stderr, "t2sql-jobs: unknown command %s\n", cmd);
        rc = 2;
    }
#undef ARG
done:
    PQfinish(c);
    conf_free(&cf);
    return rc;
}
