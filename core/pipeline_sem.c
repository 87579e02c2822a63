/* pipeline_sem -- loading the semantic layer into a t2ctx and checking a configuration's
 * layer before the daemon uses it (start-up, SIGHUP); see pipeline.h. Every definition's
 * probe SQL goes through pipeline_validate(): the guard, the catalog's names and PREPARE in
 * the read-only transaction. */
#include "pipeline.h"

#include "log.h"
#include "text.h"

#include <stdlib.h>

static int probe(void *arg, const char *sql, t2err *err)
{
    buf clean = BUF_INIT(1u << 20);
    int rc = pipeline_validate(arg, sql, &clean, err);

    buf_free(&clean);
    return rc;
}

int pipeline_semantic_load(t2ctx *x, t2err *err)
{
    semantic *s = semantic_load(x->cf->semantic_file, err);

    if (!s || semantic_check(s, x->cf->semantic_file, probe, x, err) < 0) {
        semantic_free(s);
        return -1;
    }
    semantic_free(x->sem);
    x->sem = s;
    return 0;
}

int pipeline_semantic_check(const conf *cf, char *errbuf, size_t len)
{
    t2ctx *x = calloc(1, sizeof *x);
    t2err err = {0};
    semantic *s = NULL;
    int rc = -1, inited = 0;

    if (!x) {
        str_copy(errbuf, len, "out of memory");
        return -1;
    }
    if (!(s = semantic_load(cf->semantic_file, &err))) goto done;
    inited = 1;
    if (t2ctx_init(x, cf, "t2sql-check") < 0 || t2ctx_refresh(x, &err) < 0) {
        /* no database now: the shape is checked, the workers PREPARE when it is back */
        log_warn("semantic layer %s: not checked against the database (%s)", cf->semantic_file,
                 err.detail[0] ? err.detail : "unreachable");
        rc = 0;
        goto done;
    }
    if (x->sem || pipeline_semantic_load(x, &err) == 0) rc = 0;
done:
    if (rc < 0) str_copy(errbuf, len, err.detail[0] ? err.detail : "invalid semantic layer");
    semantic_free(s);
    if (inited) t2ctx_free(x);
    free(x);
    return rc;
}
