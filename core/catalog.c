/* catalog -- schema introspection, lookup and JSON form; see catalog.h. */
#include "catalog.h"

#include "body.h"
#include "buf.h"
#include "mem.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *dupn(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Grows *arr (element size sz) so that index n fits; -1 on out of memory. */
catalog *catalog_new(void)
{
    catalog *c = calloc(1, sizeof(catalog));

    if (c && !(c->derived = calloc(1, sizeof(cat_derived)))) {
        free(c);
        return NULL;
    }
    return c;
}

/* What was derived from the catalog no longer holds once it changes. */
static void drop_derived(catalog *c)
{
    if (c->derived->p && c->derived->free_fn) c->derived->free_fn(c->derived->p);
    c->derived->p = NULL;
    c->derived->free_fn = NULL;
}

void catalog_free(catalog *c)
{
    int i, j, k;

    if (!c) return;
    for (i = 0; i < c->ntables; i++) {
        cat_table *t = &c->tables[i];
        for (j = 0; j < t->ncols; j++) {
            cat_column *col = &t->cols[j];
            free(col->name);
            free(col->type);
            free(col->comment);
            for (k = 0; k < col->nvalues; k++)
                free(col->values[k]);
            free(col->values);
        }
        free(t->cols);
        free(t->schema);
        free(t->name);
        free(t->comment);
    }
    free(c->tables);
    free(c->fks);
    drop_derived(c);
    free(c->derived);
    free(c);
}

/* 0 if both required copies were made; else frees all three (the optional one too), -1. */
static int copied(char **required1, char **required2, char **optional)
{
    if (*required1 && *required2) return 0;
    free(*required1);
    free(*required2);
    free(*optional);
    return -1;
}

int catalog_add_table(catalog *c, const char *schema, const char *name, char kind,
                      const char *comment, double rows)
{
    cat_table *t;

    drop_derived(c);
    if (mem_grow(&c->tables, &c->captables, c->ntables, sizeof(cat_table)) < 0) return -1;
    t = &c->tables[c->ntables];
    t->schema = dupn(schema ? schema : "public");
    t->name = dupn(name);
    t->comment = comment && *comment ? dupn(comment) : NULL;
    t->kind = kind;
    t->rows = rows;
    if (copied(&t->schema, &t->name, &t->comment) < 0) {
        memset(t, 0, sizeof *t);
        return -1;
    }
    return c->ntables++;
}

int catalog_add_column(catalog *c, int table, const char *name, const char *type,
                       const char *comment, int pk, int notnull)
{
    cat_table *t = &c->tables[table];
    cat_column *col;

    drop_derived(c);
    if (mem_grow(&t->cols, &t->capcols, t->ncols, sizeof(cat_column)) < 0) return -1;
    col = &t->cols[t->ncols];
    col->name = dupn(name);
    col->type = dupn(type ? type : "text");
    col->comment = comment && *comment ? dupn(comment) : NULL;
    col->pk = pk;
    col->notnull = notnull;
    if (copied(&col->name, &col->type, &col->comment) < 0) {
        memset(col, 0, sizeof *col);
        return -1;
    }
    return t->ncols++;
}

int catalog_add_value(catalog *c, int table, int column, const char *value)
{
    cat_column *col = &c->tables[table].cols[column];
    char **nv;

    drop_derived(c);
    if (!(nv = realloc(col->values, (size_t)(col->nvalues + 1) * sizeof(char *)))) return -1;
    col->values = nv;
    if (!(nv[col->nvalues] = strdup(value))) return -1;
    col->nvalues++;
    return 0;
}

int catalog_add_fk(catalog *c, int table, int column, int ref_table, int ref_column)
{
    drop_derived(c);
    if (mem_grow(&c->fks, &c->capfks, c->nfks, sizeof(cat_fk)) < 0) return -1;
    c->fks[c->nfks] = (cat_fk){table, column, ref_table, ref_column};
    c->nfks++;
    return 0;
}

int catalog_find_table(const catalog *c, const char *name)
{
    const char *dot = strchr(name, '.');
    int i;

    for (i = 0; i < c->ntables; i++) {
        const cat_table *t = &c->tables[i];
        if (dot) {
            size_t sl = (size_t)(dot - name);
            if (strlen(t->schema) == sl && strncasecmp(t->schema, name, sl) == 0 &&
                strcasecmp(t->name, dot + 1) == 0)
                return i;
        } else if (strcasecmp(t->name, name) == 0) {
            return i;
        }
    }
    return -1;
}

int catalog_find_column(const catalog *c, int t, const char *name)
{
    int i;

    for (i = 0; i < c->tables[t].ncols; i++)
        if (strcasecmp(c->tables[t].cols[i].name, name) == 0) return i;
    return -1;
}

void catalog_fingerprint(catalog *c)
{
    json_object *j;
    const char *s;
    unsigned char md[32];
    unsigned int mdlen = 0, i;

    c->fingerprint[0] = '\0'; /* before the JSON: the old print must not feed the new one */
    if (!(j = catalog_to_json(c))) return;
    s = json_object_to_json_string_ext(j, T2_JSON_FLAGS);
    if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) == 1)
        for (i = 0; i < mdlen; i++)
            snprintf(c->fingerprint + i * 2, 3, "%02x", md[i]);
    json_object_put(j);
}

/* ---- loading from PostgreSQL ---- */

/* Builds the text[] literal for $1 from the schema names. */
static int schema_array(char **schemas, int n, buf *out)
{
    int i;

    if (buf_addc(out, '{') < 0) return -1;
    for (i = 0; i < n; i++) {
        const char *s;
        if (i && buf_addc(out, ',') < 0) return -1;
        if (buf_addc(out, '"') < 0) return -1;
        for (s = schemas[i]; *s; s++)
            if ((*s == '"' || *s == '\\') ? buf_addc(out, '\\') < 0 || buf_addc(out, *s) < 0
                                          : buf_addc(out, *s) < 0)
                return -1;
        if (buf_addc(out, '"') < 0) return -1;
    }
    return buf_addc(out, '}');
}

static PGresult *cat_query(PGconn *conn, const char *sql, const char *arr, t2err *err)
{
    const char *params[1] = {arr};
    PGresult *r = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        err_set(err, PQstatus(conn) == CONNECTION_OK ? E_INTERNAL : E_DB_UNAVAILABLE,
                "catalog query failed: %s", PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    return r;
}

static const char SQL_TABLES[] =
    "SELECT c.oid::text, n.nspname, c.relname, c.relkind::text,"
    "       obj_description(c.oid, 'pg_class'), c.reltuples::float8"
    "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r','v','m','p','f')"
    "   AND NOT c.relispartition AND has_table_privilege(c.oid, 'SELECT')"
    " ORDER BY n.nspname, c.relname";

static const char SQL_COLUMNS[] =
    "SELECT a.attrelid::text, a.attname, format_type(a.atttypid, a.atttypmod),"
    "       col_description(a.attrelid, a.attnum), a.attnotnull,"
    "       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid"
    "                 AND i.indisprimary AND a.attnum = ANY (i.indkey)),"
    "       coalesce((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)"
    "                   FROM pg_enum e WHERE e.enumtypid = a.atttypid),"
    "       (SELECT s.most_common_vals::text::text[] FROM pg_stats s"
    "         WHERE s.schemaname = n.nspname AND s.tablename = c.relname"
    "           AND s.attname = a.attname AND a.atttypid IN (25, 1043, 1042)"
    "           AND (s.n_distinct BETWEEN 1 AND 100"
    "                OR (s.n_distinct < 0 AND -s.n_distinct * c.reltuples <= 100)))),"
    "       a.atttypid IN (25, 1043, 1042) AND c.relkind IN ('r', 'm', 'p')"
    "         AND NOT EXISTS (SELECT 1 FROM pg_stats s WHERE s.schemaname = n.nspname"
    "                           AND s.tablename = c.relname AND s.attname = a.attname)"
    "  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
    "  JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r','v','m','p','f')"
    "   AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped"
    " ORDER BY a.attrelid, a.attnum";

static const char SQL_FKS[] =
    "SELECT con.conrelid::text, a.attname, con.confrelid::text, af.attname"
    "  FROM pg_constraint con"
    "  JOIN pg_namespace n ON n.oid = con.connamespace"
    " CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(att, fatt)"
    "  JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.att"
    "  JOIN pg_attribute af ON af.attrelid = con.confrelid AND af.attnum = k.fatt"
    " WHERE con.contype = 'f' AND n.nspname = ANY($1::text[])"
    " ORDER BY con.conrelid, con.conname";

static int oid_index(PGresult *tables, const char *oid)
{
    int i, n = PQntuples(tables);

    for (i = 0; i < n; i++)
        if (strcmp(PQgetvalue(tables, i, 0), oid) == 0) return i;
    return -1;
}

/* Parses a text[] literal of common values ({a,"b c"}) into col values (at most 25). */
static int parse_values(catalog *c, int t, int col, const char *s)
{
    buf v = BUF_INIT(4096);
    int n = 0, rc = 0;

    if (*s != '{') return 0;
    s++;
    while (*s && *s != '}' && n < 25) {
        buf_reset(&v);
        if (*s == '"') {
            for (s++; *s && *s != '"'; s++) {
                if (*s == '\\' && s[1]) s++;
                if (buf_addc(&v, *s) < 0) break;
            }
            if (*s == '"') s++;
        } else {
            for (; *s && *s != ',' && *s != '}'; s++)
                if (buf_addc(&v, *s) < 0) break;
            if (strcmp(buf_cstr(&v), "NULL") == 0) buf_reset(&v);
        }
        if (v.len && catalog_add_value(c, t, col, buf_cstr(&v)) < 0) {
            rc = -1;
            break;
        }
        n++;
        if (*s == ',') s++;
    }
    buf_free(&v);
    return rc;
}

int catalog_load(PGconn *conn, char **schemas, int nschemas, catalog **out, t2err *err)
{
    buf arr = BUF_INIT(65536);
    PGresult *rt = NULL, *rc = NULL, *rf = NULL;
    catalog *c = catalog_new();
    int i, n;

    if (!c || schema_array(schemas, nschemas, &arr) < 0) {
        err_set(err, E_INTERNAL, "out of memory");
        goto fail;
    }
    if (!(rt = cat_query(conn, SQL_TABLES, buf_cstr(&arr), err)) ||
        !(rc = cat_query(conn, SQL_COLUMNS, buf_cstr(&arr), err)) ||
        !(rf = cat_query(conn, SQL_FKS, buf_cstr(&arr), err)))
        goto fail;
    n = PQntuples(rt);
    for (i = 0; i < n; i++)
        if (catalog_add_table(c, PQgetvalue(rt, i, 1), PQgetvalue(rt, i, 2),
                              PQgetvalue(rt, i, 3)[0],
                              PQgetisnull(rt, i, 4) ? NULL : PQgetvalue(rt, i, 4),
                              strtod(PQgetvalue(rt, i, 5), NULL)) < 0)
            goto oom;
    n = PQntuples(rc);
    for (i = 0; i < n; i++) {
        int t = oid_index(rt, PQgetvalue(rc, i, 0)), col;
        if (t < 0) continue; /* not selectable by us */
        col = catalog_add_column(c, t, PQgetvalue(rc, i, 1), PQgetvalue(rc, i, 2),
                                 PQgetisnull(rc, i, 3) ? NULL : PQgetvalue(rc, i, 3),
                                 PQgetvalue(rc, i, 5)[0] == 't', PQgetvalue(rc, i, 4)[0] == 't');
        if (col < 0) goto oom;
        if (!PQgetisnull(rc, i, 6) && parse_values(c, t, col, PQgetvalue(rc, i, 6)) < 0) goto oom;
        c->tables[t].cols[col].nostats = PQnfields(rc) > 7 && PQgetvalue(rc, i, 7)[0] == 't';
    }
    n = PQntuples(rf);
    for (i = 0; i < n; i++) {
        int t = oid_index(rt, PQgetvalue(rf, i, 0)), rt2 = oid_index(rt, PQgetvalue(rf, i, 2));
        int a, b;
        if (t < 0 || rt2 < 0) continue;
        a = catalog_find_column(c, t, PQgetvalue(rf, i, 1));
        b = catalog_find_column(c, rt2, PQgetvalue(rf, i, 3));
        if (a >= 0 && b >= 0 && catalog_add_fk(c, t, a, rt2, b) < 0) goto oom;
    }
    catalog_fingerprint(c);
    PQclear(rt);
    PQclear(rc);
    PQclear(rf);
    buf_free(&arr);
    *out = c;
    return 0;
oom:
    err_set(err, E_INTERNAL, "out of memory loading the catalog");
fail:
    PQclear(rt);
    PQclear(rc);
    PQclear(rf);
    buf_free(&arr);
    catalog_free(c);
    return -1;
}

static const char SQL_PROBE[] =
    "SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM ("
    " SELECT concat_ws(':', c.oid, c.relname, c.relkind::text, a.attnum, a.attname,"
    "        a.atttypid, a.atttypmod, d.description,"
    /* statistics appearing replace sampled values (catsample.h) */
    "        CASE WHEN a.atttypid IN (25, 1043, 1042) THEN EXISTS (SELECT 1 FROM pg_stats s"
    "          WHERE s.schemaname = n.nspname AND s.tablename = c.relname"
    "            AND s.attname = a.attname) END) AS x"
    "   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    "   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
    "   LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass"
    "        AND d.objsubid = a.attnum"
    "  WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r','v','m','p','f')"
    " UNION ALL"
    " SELECT concat_ws(':', c.oid, obj_description(c.oid, 'pg_class'))"
    "   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    "  WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r','v','m','p','f')"
    " UNION ALL"
    " SELECT concat_ws(':', con.oid, con.conname) FROM pg_constraint con"
    "   JOIN pg_namespace n ON n.oid = con.connamespace"
    "  WHERE n.nspname = ANY($1::text[]) AND con.contype IN ('f', 'p')) s";

int catalog_probe(PGconn *conn, char **schemas, int nschemas, char *dst, size_t len, t2err *err)
{
    buf arr = BUF_INIT(65536);
    PGresult *r;
    int rc = -1;

    if (schema_array(schemas, nschemas, &arr) < 0) {
        buf_free(&arr);
        return err_set(err, E_INTERNAL, "out of memory");
    }
    if ((r = cat_query(conn, SQL_PROBE, buf_cstr(&arr), err)) != NULL) {
        rc = str_copy(dst, len, PQgetvalue(r, 0, 0)) < 0 ? -1 : 0;
        PQclear(r);
    }
    buf_free(&arr);
    return rc;
}

/* ---- JSON ---- */

static void jadd_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

json_object *catalog_to_json(const catalog *c)
{
    json_object *root = json_object_new_object(), *tabs = json_object_new_array();
    int i, j, k;

    json_object_object_add(root, "tables", tabs);
    for (i = 0; i < c->ntables; i++) {
        const cat_table *t = &c->tables[i];
        json_object *jt = json_object_new_object(), *cols = json_object_new_array();
        char kind[2] = {t->kind, 0};

        jadd_str(jt, "schema", t->schema);
        jadd_str(jt, "name", t->name);
        jadd_str(jt, "kind", kind);
        jadd_str(jt, "comment", t->comment);
        json_object_object_add(jt, "rows", json_object_new_double(t->rows));
        for (j = 0; j < t->ncols; j++) {
            const cat_column *col = &t->cols[j];
            json_object *jc = json_object_new_object();
            jadd_str(jc, "name", col->name);
            jadd_str(jc, "type", col->type);
            jadd_str(jc, "comment", col->comment);
            json_object_object_add(jc, "pk", json_object_new_boolean(col->pk));
            json_object_object_add(jc, "not_null", json_object_new_boolean(col->notnull));
            if (col->nvalues) {
                json_object *vals = json_object_new_array();
                for (k = 0; k < col->nvalues; k++)
                    json_object_array_add(vals, json_object_new_string(col->values[k]));
                json_object_object_add(jc, "common_values", vals);
            }
            json_object_array_add(cols, jc);
        }
        json_object_object_add(jt, "columns", cols);
        {
            json_object *fks = json_object_new_array();
            for (k = 0; k < c->nfks; k++) {
                const cat_fk *f = &c->fks[k];
                json_object *jf;
                if (f->table != i) continue;
                jf = json_object_new_object();
                jadd_str(jf, "column", t->cols[f->column].name);
                jadd_str(jf, "ref_schema", c->tables[f->ref_table].schema);
                jadd_str(jf, "ref_table", c->tables[f->ref_table].name);
                jadd_str(jf, "ref_column", c->tables[f->ref_table].cols[f->ref_column].name);
                json_object_array_add(fks, jf);
            }
            json_object_object_add(jt, "foreign_keys", fks);
        }
        json_object_array_add(tabs, jt);
    }
    if (c->fingerprint[0]) jadd_str(root, "fingerprint", c->fingerprint);
    return root;
}

static int jbool(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

catalog *catalog_from_json(json_object *root)
{
    catalog *c = catalog_new();
    json_object *tabs, *v;
    size_t i, j, k, n;

    if (!c || !json_object_object_get_ex(root, "tables", &tabs) ||
        !json_object_is_type(tabs, json_type_array))
        goto fail;
    n = json_object_array_length(tabs);
    for (i = 0; i < n; i++) { /* tables and columns first, keys need them all */
        json_object *jt = json_object_array_get_idx(tabs, i), *cols;
        const char *kind = body_str(jt, "kind");
        double rows = json_object_object_get_ex(jt, "rows", &v) ? json_object_get_double(v) : -1;
        int t;

        if (!body_str(jt, "name") ||
            (t = catalog_add_table(c, body_str(jt, "schema"), body_str(jt, "name"),
                                   kind && *kind ? kind[0] : 'r', body_str(jt, "comment"), rows)) <
                0)
            goto fail;
        if (!json_object_object_get_ex(jt, "columns", &cols) ||
            !json_object_is_type(cols, json_type_array))
            continue;
        for (j = 0; j < json_object_array_length(cols); j++) {
            json_object *jc = json_object_array_get_idx(cols, j), *vals;
            int col;
            if (!body_str(jc, "name") ||
                (col = catalog_add_column(c, t, body_str(jc, "name"), body_str(jc, "type"),
                                          body_str(jc, "comment"), jbool(jc, "pk"),
                                          jbool(jc, "not_null"))) < 0)
                goto fail;
            if (json_object_object_get_ex(jc, "common_values", &vals) &&
                json_object_is_type(vals, json_type_array))
                for (k = 0; k < json_object_array_length(vals); k++) {
                    const char *s = json_object_get_string(json_object_array_get_idx(vals, k));
                    if (s && catalog_add_value(c, t, col, s) < 0) goto fail;
                }
        }
    }
    for (i = 0; i < n; i++) {
        json_object *jt = json_object_array_get_idx(tabs, i), *fks;
        if (!json_object_object_get_ex(jt, "foreign_keys", &fks) ||
            !json_object_is_type(fks, json_type_array))
            continue;
        for (j = 0; j < json_object_array_length(fks); j++) {
            json_object *jf = json_object_array_get_idx(fks, j);
            char qn[512];
            int rt, a, b;
            if (!body_str(jf, "ref_table") || !body_str(jf, "column") ||
                !body_str(jf, "ref_column"))
                goto fail;
            snprintf(qn, sizeof qn, "%s.%s",
                     body_str(jf, "ref_schema") ? body_str(jf, "ref_schema") : c->tables[i].schema,
                     body_str(jf, "ref_table"));
            rt = catalog_find_table(c, qn);
            a = catalog_find_column(c, (int)i, body_str(jf, "column"));
            b = rt >= 0 ? catalog_find_column(c, rt, body_str(jf, "ref_column")) : -1;
            if (a >= 0 && b >= 0 && catalog_add_fk(c, (int)i, a, rt, b) < 0) goto fail;
        }
    }
    if (body_str(root, "fingerprint"))
        str_copy(c->fingerprint, sizeof c->fingerprint, body_str(root, "fingerprint"));
    else
        catalog_fingerprint(c);
    return c;
fail:
    catalog_free(c);
    return NULL;
}
