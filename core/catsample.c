/* catsample -- common values sampled where pg_stats has none yet; see catsample.h. */
#include "catsample.h"

#include "buf.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_COLUMNS  200
#define MAX_DISTINCT 100 /* as catalog_load's n_distinct rule */
#define KEEP         25

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* One column: 1 when values were added, 0 when none (high cardinality, empty, failed). */
static int sample_column(PGconn *conn, catalog *c, int t, int col, const txn_limits *lim,
                         const char *rows)
{
    const cat_table *tb = &c->tables[t];
    char *sch = PQescapeIdentifier(conn, tb->schema, strlen(tb->schema));
    char *tab = PQescapeIdentifier(conn, tb->name, strlen(tb->name));
    char *cn = PQescapeIdentifier(conn, tb->cols[col].name, strlen(tb->cols[col].name));
    const char *params[1] = {rows};
    buf q = BUF_INIT(0);
    PGresult *r = NULL;
    t2err err;
    int i, n, added = 0;

    err_clear(&err);
    if (!sch || !tab || !cn) goto done;
    /* the service's own paste of quoted identifiers: no user text reaches this statement */
    buf_printf(&q,
               "SELECT v FROM (SELECT %s::text AS v FROM %s.%s LIMIT $1::int8) s"
               " WHERE v IS NOT NULL AND v <> '' GROUP BY v ORDER BY count(*) DESC, v LIMIT %d",
               cn, sch, tab, MAX_DISTINCT + 1);
    if (txn_begin(conn, lim, NULL, &err) < 0) {
        log_warn("catalog sample of %s.%s: %s", tb->name, tb->cols[col].name, err.detail);
        goto done;
    }
    r = PQexecParams(conn, buf_cstr(&q), 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_info("catalog sample of %s.%s skipped: %s", tb->name, tb->cols[col].name,
                 PQresultErrorMessage(r));
    } else if ((n = PQntuples(r)) <= MAX_DISTINCT) {
        for (i = 0; i < n && i < KEEP; i++)
            if (catalog_add_value(c, t, col, PQgetvalue(r, i, 0)) < 0) break;
        added = n > 0;
    }
    PQclear(r);
    txn_end(conn);
done:
    PQfreemem(sch);
    PQfreemem(tab);
    PQfreemem(cn);
    buf_free(&q);
    return added;
}

int catalog_sample(PGconn *conn, catalog *c, const txn_limits *lim, long rows, long ms)
{
    txn_limits l = *lim;
    char rows_s[24];
    double t0 = now_ms();
    int t, col, tried = 0, got = 0;

    if (rows <= 0) return 0;
    l.statement_timeout_ms = ms;
    snprintf(rows_s, sizeof rows_s, "%ld", rows);
    for (t = 0; t < c->ntables; t++)
        for (col = 0; col < c->tables[t].ncols; col++) {
            if (!c->tables[t].cols[col].nostats || c->tables[t].cols[col].nvalues) continue;
            if (tried >= MAX_COLUMNS || now_ms() - t0 > 10.0 * (double)ms) goto out;
            tried++;
            got += sample_column(conn, c, t, col, &l, rows_s);
        }
out:
    if (tried)
        log_info("catalog: %d of %d text columns without statistics sampled (%ld rows each)", got,
                 tried, rows);
    return got;
}
