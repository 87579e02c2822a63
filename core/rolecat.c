/* rolecat -- per-role catalogs from PostgreSQL's privileges; see rolecat.h. */
#include "rolecat.h"

#include "buf.h"
#include "pg.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct rc_entry {
    char role[64];
    char base_fp[65];
    time_t built, used;
    catalog *cat;
} rc_entry;

struct rolecat {
    rc_entry e[ROLECAT_MAX];
};

rolecat *rolecat_new(void)
{
    return calloc(1, sizeof(rolecat));
}

void rolecat_free(rolecat *rc)
{
    int i;

    if (!rc) return;
    for (i = 0; i < ROLECAT_MAX; i++)
        catalog_free(rc->e[i].cat);
    free(rc);
}

catalog *catalog_subset(const catalog *base, unsigned char *const *keep)
{
    catalog *c = catalog_new();
    int *tmap = calloc((size_t)base->ntables + 1, sizeof *tmap), **cmap = NULL;
    int t, k, v;

    if (!c || !tmap || !(cmap = calloc((size_t)base->ntables + 1, sizeof *cmap))) goto fail;
    for (t = 0; t < base->ntables; t++) {
        const cat_table *bt = &base->tables[t];
        int any = 0, rls, nt;
        tmap[t] = -1;
        for (k = 0; k < bt->ncols; k++)
            any |= keep[t][k];
        if (!any) continue;
        /* under row-level security the estimate and common values describe every tenant's
         * rows, not the role's: they are left out */
        for (k = 0, rls = 0; k < bt->ncols; k++)
            rls |= keep[t][k] == 2;
        if ((nt = catalog_add_table(c, bt->schema, bt->name, bt->kind, bt->comment,
                                    rls ? -1 : bt->rows)) < 0 ||
            !(cmap[t] = malloc(sizeof(int) * (size_t)(bt->ncols + 1))))
            goto fail;
        tmap[t] = nt;
        for (k = 0; k < bt->ncols; k++) {
            const cat_column *bc = &bt->cols[k];
            cmap[t][k] = -1;
            if (!keep[t][k]) continue;
            if ((cmap[t][k] = catalog_add_column(c, nt, bc->name, bc->type, bc->comment, bc->pk,
                                                 bc->notnull)) < 0)
                goto fail;
            for (v = 0; keep[t][k] == 1 && v < bc->nvalues; v++)
                if (catalog_add_value(c, nt, cmap[t][k], bc->values[v]) < 0) goto fail;
        }
    }
    for (k = 0; k < base->nfks; k++) {
        const cat_fk *f = &base->fks[k];
        if (tmap[f->table] < 0 || tmap[f->ref_table] < 0 || cmap[f->table][f->column] < 0 ||
            cmap[f->ref_table][f->ref_column] < 0)
            continue;
        if (catalog_add_fk(c, tmap[f->table], cmap[f->table][f->column], tmap[f->ref_table],
                           cmap[f->ref_table][f->ref_column]) < 0)
            goto fail;
    }
    catalog_fingerprint(c);
    goto done;
fail:
    catalog_free(c);
    c = NULL;
done:
    for (t = 0; cmap && t < base->ntables; t++)
        free(cmap[t]);
    free(cmap);
    free(tmap);
    return c;
}

/* keep[t][c] = 1 for each base column role may SELECT, from one query. 0 or -1 with err. */
static int readable(PGconn *conn, const catalog *base, char **schemas, int nschemas,
                    const char *role, unsigned char **keep, t2err *err)
{
    static const char q[] =
        "SELECT n.nspname, c.relname, a.attname, c.relrowsecurity FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE n.nspname = ANY($2::text[]) AND c.relkind IN ('r', 'v', 'm', 'p', 'f')"
        "   AND has_schema_privilege($1, n.oid, 'USAGE')"
        "   AND has_column_privilege($1, c.oid, a.attnum, 'SELECT')";
    const char *p[2] = {role, NULL};
    buf arr = BUF_INIT(0);
    PGresult *r;
    int i, rc = -1;

    pg_text_array(&arr, schemas, nschemas);
    p[1] = buf_cstr(&arr);
    r = PQexecParams(conn, q, 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_result_err(conn, r, E_DB_UNAVAILABLE, err, "role privileges");
        goto done;
    }
    for (i = 0; i < PQntuples(r); i++) {
        char qn[300];
        int t, c;
        snprintf(qn, sizeof qn, "%s.%s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        if ((t = catalog_find_table(base, qn)) < 0) continue;
        if ((c = catalog_find_column(base, t, PQgetvalue(r, i, 2))) < 0) continue;
        keep[t][c] = PQgetvalue(r, i, 3)[0] == 't' ? 2 : 1;
    }
    rc = 0;
done:
    PQclear(r);
    buf_free(&arr);
    return rc;
}

static catalog *build(PGconn *conn, const catalog *base, char **schemas, int nschemas,
                      const char *role, t2err *err)
{
    unsigned char **keep = calloc((size_t)base->ntables + 1, sizeof *keep);
    catalog *c = NULL;
    int t;

    if (!keep) goto oom;
    for (t = 0; t < base->ntables; t++)
        if (!(keep[t] = calloc((size_t)base->tables[t].ncols + 1, 1))) goto oom;
    if (readable(conn, base, schemas, nschemas, role, keep, err) == 0 &&
        !(c = catalog_subset(base, keep)))
        err_set(err, E_INTERNAL, "out of memory");
    goto done;
oom:
    err_set(err, E_INTERNAL, "out of memory");
done:
    for (t = 0; keep && t < base->ntables; t++)
        free(keep[t]);
    free(keep);
    return c;
}

const catalog *rolecat_get(rolecat *rc, PGconn *conn, const catalog *base, char **schemas,
                           int nschemas, const char *role, t2err *err)
{
    time_t now = time(NULL);
    rc_entry *e = NULL;
    int i;

    for (i = 0; i < ROLECAT_MAX; i++)
        if (rc->e[i].cat && strcmp(rc->e[i].role, role) == 0) {
            e = &rc->e[i];
            break;
        }
    if (e && strcmp(e->base_fp, base->fingerprint) == 0 && now - e->built < ROLECAT_TTL_S) {
        e->used = now;
        return e->cat;
    }
    if (!e) { /* a free slot, else the least recently used */
        e = &rc->e[0];
        for (i = 0; i < ROLECAT_MAX; i++) {
            if (!rc->e[i].cat) {
                e = &rc->e[i];
                break;
            }
            if (rc->e[i].used < e->used) e = &rc->e[i];
        }
    }
    catalog_free(e->cat);
    memset(e, 0, sizeof *e);
    if (!(e->cat = build(conn, base, schemas, nschemas, role, err))) return NULL;
    str_copy(e->role, sizeof e->role, role);
    str_copy(e->base_fp, sizeof e->base_fp, base->fingerprint);
    e->built = e->used = now;
    return e->cat;
}
