/* planner_sql -- the planner's SQL writer: identifiers quoted where needed, literals, the
 * WHERE conditions the interpretation asks for, and the one SELECT (select list, joins
 * nearest first, WHERE, GROUP BY, HAVING, ORDER BY, LIMIT) for an interpretation.
 *
 * Owns x->where's text and the SQL it appends to the caller's buf. Decides nothing about
 * the question: every choice was made by the interpretation (planner_interp.c,
 * planner_filter.c); the only errors here are shapes that cannot be written. */
#include "planner_int.h"

#include <stdio.h>

/* ---- SQL text ---- */

static int is_reserved(const char *w)
{
    /* PostgreSQL's reserved and type/function-name keywords, space-separated */
    static const char kw[] =
        " all analyse analyze and any array as asc asymmetric authorization binary both case "
        "cast check collate collation column concurrently constraint create cross "
        "current_catalog current_date current_role current_schema current_time "
        "current_timestamp current_user default deferrable desc distinct do else end except "
        "false fetch for foreign freeze from full grant group having ilike in initially inner "
        "intersect into is isnull join lateral leading left like limit localtime "
        "localtimestamp natural not notnull null offset on only or order outer overlaps "
        "placing primary references returning right select session_user similar some "
        "symmetric table tablesample then to trailing true union unique user using variadic "
        "verbose when where window with ";
    char pat[TEXT_WORD_MAX + 2];

    if (strlen(w) >= TEXT_WORD_MAX) return 0;
    snprintf(pat, sizeof pat, " %s ", w);
    return strstr(kw, pat) != NULL;
}

/* Appends an identifier, double-quoted unless it is a plain lower-case non-reserved name. */
static int add_ident(buf *b, const char *s)
{
    const char *p;
    int plain = (*s >= 'a' && *s <= 'z') || *s == '_';

    for (p = s; plain && *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) plain = 0;
    if (plain && !is_reserved(s)) return buf_adds(b, s);
    if (buf_addc(b, '"') < 0) return -1;
    for (p = s; *p; p++)
        if ((*p == '"' && buf_addc(b, '"') < 0) || buf_addc(b, *p) < 0) return -1;
    return buf_addc(b, '"');
}

static int add_literal(buf *b, const char *s)
{
    const char *p;

    if (buf_addc(b, '\'') < 0) return -1;
    for (p = s; *p; p++)
        if ((*p == '\'' && buf_addc(b, '\'') < 0) || buf_addc(b, *p) < 0) return -1;
    return buf_addc(b, '\'');
}

/* table.column, and schema.table */
static int add_col(const ctx *x, buf *b, int t, int c)
{
    return add_ident(b, x->cat->tables[t].name) < 0 || buf_addc(b, '.') < 0 ||
                   add_ident(b, column(x, t, c)->name) < 0
               ? -1
               : 0;
}

static int add_table(const ctx *x, buf *b, int t)
{
    return add_ident(b, x->cat->tables[t].schema) < 0 || buf_addc(b, '.') < 0 ||
                   add_ident(b, x->cat->tables[t].name) < 0
               ? -1
               : 0;
}

/* " > 100", " BETWEEN 10 AND 20" of a U_CMP unit */
static int cmp_sql(const unit *u, buf *b)
{
    static const char *const op[] = {"", ">", ">=", "<", "<=", "="};

    if (u->cmp == CMP_BETWEEN) return buf_printf(b, " BETWEEN %s AND %s", u->a, u->b);
    return buf_printf(b, " %s %s", op[u->cmp], u->a);
}

/* ---- WHERE conditions ---- */

static int where_and(ctx *x)
{
    return x->where.len && buf_adds(&x->where, " AND ") < 0 ? -1 : 0;
}

int pl_where_col(ctx *x, int t, int c, const char *op, const char *v)
{
    if (where_and(x) < 0) return -1;
    return add_col(x, &x->where, t, c) < 0 || buf_printf(&x->where, " %s %s", op, v) < 0 ? -1 : 0;
}

int pl_where_cmp(ctx *x, int t, int c, const unit *u)
{
    if (where_and(x) < 0) return -1;
    return add_col(x, &x->where, t, c) < 0 || cmp_sql(u, &x->where) < 0 ? -1 : 0;
}

int pl_where_text(ctx *x, int t, int c, const char *v)
{
    if (where_and(x) < 0) return -1;
    return add_col(x, &x->where, t, c) < 0 || buf_adds(&x->where, " = ") < 0 ||
                   add_literal(&x->where, v) < 0
               ? -1
               : 0;
}

int pl_where_like(ctx *x, int t, int c, const char *v, int how)
{
    const char *p;

    if (where_and(x) < 0 || add_col(x, &x->where, t, c) < 0 ||
        buf_adds(&x->where, how == LIKE_CONTAINS ? " ILIKE '%" : " ILIKE '") < 0)
        return -1;
    for (p = v; *p; p++) { /* the value is matched as it is: its wildcards escaped */
        if ((*p == '%' || *p == '_' || *p == '\\') && buf_addc(&x->where, '\\') < 0) return -1;
        if ((*p == '\'' && buf_addc(&x->where, '\'') < 0) || buf_addc(&x->where, *p) < 0) return -1;
    }
    return buf_adds(&x->where, how == LIKE_EQUAL ? "'" : "%'");
}

int pl_where_exists(ctx *x, int neg, int t, int tc, int m, int mc)
{
    if (where_and(x) < 0 ||
        buf_adds(&x->where, neg ? "NOT EXISTS (SELECT 1 FROM " : "EXISTS (SELECT 1 FROM ") < 0 ||
        add_table(x, &x->where, t) < 0 || buf_adds(&x->where, " WHERE ") < 0 ||
        add_col(x, &x->where, t, tc) < 0 || buf_adds(&x->where, " = ") < 0 ||
        add_col(x, &x->where, m, mc) < 0)
        return -1;
    return buf_addc(&x->where, ')');
}

int pl_where_values(ctx *x, int t, int c, int neg, const int *vals, int n)
{
    const cat_column *col = column(x, t, c);
    char vbuf[4096];
    buf list = {vbuf, 0, sizeof vbuf, sizeof vbuf - 1}; /* the value list stays under 4 KiB */
    int i;

    if (where_and(x) < 0 || add_col(x, &x->where, t, c) < 0) return -1;
    for (i = 0; i < n; i++)
        if ((i && buf_adds(&list, ", ") < 0) || add_literal(&list, col->values[vals[i]]) < 0)
            return -1;
    if (n == 1) return buf_printf(&x->where, " %s %s", neg ? "<>" : "=", buf_cstr(&list));
    return buf_printf(&x->where, " %s (%s)", neg ? "NOT IN" : "IN", buf_cstr(&list));
}

int pl_where_sql(ctx *x, int neg, const char *sql)
{
    if (where_and(x) < 0) return -1;
    return buf_printf(&x->where, "%s(%s)", neg ? "NOT " : "", sql);
}

/* ---- measures and groupings ---- */

static int add_measure_sql(const ctx *x, buf *b, const measure *m)
{
    static const char *const fn[] = {"", "count", "sum", "avg", "min", "max"};

    if (m->agg == AGG_SHARE) /* the conditions are the measure (sql_from() writes no WHERE) */
        return buf_printf(b, "%savg(CASE WHEN %s THEN 1 ELSE 0 END)", m->pct ? "100.0 * " : "",
                          buf_cstr(&x->where));
    if (m->agg == AGG_RATIO && m->kind == R_TABLE) return buf_adds(b, x->ratio_expr);
    if (m->agg == AGG_RATIO) {
        const char *sum = x->per_row ? "" : "sum";
        return buf_printf(b, "%s(", sum) < 0 || add_col(x, b, m->table, m->col) < 0 ||
                       buf_printf(b, ")::float / NULLIF(%s(", sum) < 0 ||
                       add_col(x, b, m->table, m->col2) < 0 || buf_adds(b, "), 0)") < 0
                   ? -1
                   : 0;
    }
    if (m->kind == R_TABLE) return buf_adds(b, "count(*)");
    if (buf_printf(b, "%s(%s", fn[m->agg],
                   m->agg == AGG_COUNT && m->distinct == 1 ? "DISTINCT " : "") < 0)
        return -1;
    if (m->kind == R_DERIVED) {
        if (buf_adds(b, x->gi[m->gloss].expr) < 0) return -1;
    } else if (add_col(x, b, m->table, m->col) < 0) {
        return -1;
    }
    return buf_addc(b, ')');
}

static int add_measure_alias(ctx *x, buf *b, const measure *m)
{
    static const char *const pre[] = {"", "count", "total", "average", "min", "max"};
    char name[160];
    text_words *tw;

    if (m->agg == AGG_SHARE) return buf_adds(b, m->pct ? " AS percentage" : " AS share");
    if (m->agg == AGG_RATIO) return buf_adds(b, " AS ratio");
    if (m->kind == R_TABLE) return buf_adds(b, " AS count");
    if (m->kind == R_DERIVED) {
        tw = &x->w[0];
        text_split(x->g->e[m->gloss].term, 0, tw);
        snprintf(name, sizeof name, "%s_%s", pre[m->agg], tw->n ? tw->w[tw->n - 1] : "value");
    } else {
        snprintf(name, sizeof name, "%s_%s",
                 m->agg == AGG_COUNT ? (m->distinct ? "distinct" : "count") : pre[m->agg],
                 column(x, m->table, m->col)->name);
    }
    return buf_adds(b, " AS ") < 0 || add_ident(b, name) < 0 ? -1 : 0;
}

/* A column or time-grain grouping (alias: as in the select list). */
static int add_dim_sql(const ctx *x, buf *b, const dim *d, int alias)
{
    if (d->kind == U_GRAIN) {
        int c = pl_date_column(x, x->main);
        if (d->grain == GR_YEAR) {
            if (buf_adds(b, "extract(year FROM ") < 0 || add_col(x, b, x->main, c) < 0 ||
                buf_adds(b, ")::int") < 0)
                return -1;
            return alias ? buf_adds(b, " AS year") : 0;
        }
        if (buf_printf(b, "date_trunc('%s', ", pl_grain_name(d->grain)) < 0 ||
            add_col(x, b, x->main, c) < 0 || buf_adds(b, ")::date") < 0)
            return -1;
        return alias ? buf_printf(b, " AS %s", pl_grain_name(d->grain)) : 0;
    }
    if (d->kind == R_COLUMN) {
        if (add_col(x, b, d->table, d->col) < 0) return -1;
        if (alias && d->table != x->main) {
            char name[200];
            snprintf(name, sizeof name, "%s_%s", x->cat->tables[d->table].name,
                     column(x, d->table, d->col)->name);
            if (strncmp(column(x, d->table, d->col)->name, "name", 4) == 0 ||
                streq(column(x, d->table, d->col)->name, "city"))
                return buf_adds(b, " AS ") < 0 || add_ident(b, name) < 0 ? -1 : 0;
        }
        return 0;
    }
    return 0;
}

/* ---- the statement, clause by clause; each returns 0, or -1 with x->err set ---- */

static int too_large(ctx *x)
{
    snprintf(x->err, sizeof x->err, "the SQL grew too large");
    return -1;
}

/* ", " unless this is the first item; clears *first. */
static int sep(buf *s, int *first)
{
    int was = *first;

    *first = 0;
    return !was && buf_adds(s, ", ") < 0 ? -1 : 0;
}

/* An entity grouping in the select list: its key, then its label as table_label. */
static int select_entity(ctx *x, buf *s, const dim *d, int *first)
{
    const catalog *cat = x->cat;
    int k = pl_key_column(x, d->table), l = pl_label_column(x, d->table);

    if (k < 0 && l < 0) {
        snprintf(x->err, sizeof x->err, "%s has no key or name to group by",
                 cat->tables[d->table].name);
        return -1;
    }
    if (k >= 0 && (sep(s, first) < 0 || add_col(x, s, d->table, k) < 0)) return too_large(x);
    if (l >= 0) {
        char name[200];
        snprintf(name, sizeof name, "%s_%s", cat->tables[d->table].name,
                 column(x, d->table, l)->name);
        if (sep(s, first) < 0 || add_col(x, s, d->table, l) < 0 || buf_adds(s, " AS ") < 0 ||
            add_ident(s, name) < 0)
            return too_large(x);
    }
    return 0;
}

/* SELECT [DISTINCT] groupings, measures; or the listed columns, or every column. */
static int sql_select(ctx *x, buf *s)
{
    const catalog *cat = x->cat;
    int i, first = 1;

    if (buf_adds(s, x->distinct_proj ? "SELECT DISTINCT " : "SELECT ") < 0) return too_large(x);
    for (i = 0; i < x->nd; i++) {
        const dim *d = &x->d[i];
        if (d->kind == R_TABLE) {
            if (select_entity(x, s, d, &first) < 0) return -1;
            continue;
        }
        if (d->kind == U_GRAIN && pl_date_column(x, x->main) < 0) {
            snprintf(x->err, sizeof x->err, "%s has no single date column to group by %s",
                     cat->tables[x->main].name, pl_grain_name(d->grain));
            return -1;
        }
        if (sep(s, &first) < 0 || add_dim_sql(x, s, d, 1) < 0) return too_large(x);
    }
    if (x->per_row) {
        int cols[2], n = pl_row_columns(x, x->main, cols);
        for (i = 0; i < n; i++)
            if (sep(s, &first) < 0 || add_col(x, s, x->main, cols[i]) < 0) return too_large(x);
    }
    for (i = 0; i < x->nm; i++)
        if (sep(s, &first) < 0 || add_measure_sql(x, s, &x->m[i]) < 0 ||
            add_measure_alias(x, s, &x->m[i]) < 0)
            return too_large(x);
    if (x->nm == 0 && x->nd == 0) {
        if (!x->nproj)
            return add_ident(s, cat->tables[x->list_table >= 0 ? x->list_table : x->main].name) <
                               0 ||
                           buf_adds(s, ".*") < 0
                       ? too_large(x)
                       : 0;
        for (i = 0; i < x->nproj; i++)
            if ((i && buf_adds(s, ", ") < 0) || add_col(x, s, x->proj[i][0], x->proj[i][1]) < 0)
                return too_large(x);
    } else if (x->nproj) {
        snprintf(x->err, sizeof x->err, "I cannot list columns and aggregate at once");
        return -1;
    }
    return 0;
}

/* 1 if the first measure is a share: the WHERE conditions are what it measures. */
static int share_of(const ctx *x)
{
    return x->nm > 0 && x->m[0].agg == AGG_SHARE;
}

/* A share needs conditions, no other measure, and no time range (which would be part of what
 * is measured, not of which rows); 0 or -1 with x->err. */
static int share_check(ctx *x)
{
    int i;

    for (i = 0; i < x->nm; i++)
        if (x->m[i].agg == AGG_SHARE && (i > 0 || x->nm > 1 || !x->where.len)) {
            snprintf(x->err, sizeof x->err,
                     "a share needs one condition and nothing else measured");
            return -1;
        }
    for (i = 0; share_of(x) && i < x->nu; i++)
        if (x->u[i].kind == U_TIME || x->having_unit >= 0) {
            snprintf(x->err, sizeof x->err, "a share of rows in a time range is ambiguous");
            return -1;
        }
    return 0;
}

/* FROM the main table, JOIN every needed table nearest first, then WHERE. */
static int sql_from(ctx *x, buf *s)
{
    const catalog *cat = x->cat;
    int dd, i;

    if (buf_adds(s, " FROM ") < 0 || add_table(x, s, x->main) < 0) return too_large(x);
    for (dd = 1; dd <= MAXDEPTH; dd++)
        for (i = 0; i < cat->ntables; i++) {
            const cat_fk *f;
            if (!x->need[i] || x->dist[i] != dd) continue;
            f = &x->fks[x->via[i]];
            if (buf_adds(s, " JOIN ") < 0 || add_table(x, s, i) < 0 || buf_adds(s, " ON ") < 0 ||
                add_col(x, s, f->ref_table, f->ref_column) < 0 || buf_adds(s, " = ") < 0 ||
                add_col(x, s, f->table, f->column) < 0)
                return too_large(x);
        }
    if (x->where.len && !share_of(x) &&
        (buf_adds(s, " WHERE ") < 0 || buf_adds(s, buf_cstr(&x->where)) < 0))
        return too_large(x);
    return 0;
}

/* GROUP BY every grouping (an entity by its key and label), then HAVING. */
static int sql_group(ctx *x, buf *s)
{
    int i, first = 1;

    if (x->nd && !x->nm) {
        snprintf(x->err, sizeof x->err, "a grouping needs something to measure");
        return -1;
    }
    if (x->nd && buf_adds(s, " GROUP BY ") < 0) return too_large(x);
    for (i = 0; i < x->nd; i++) {
        const dim *d = &x->d[i];
        if (d->kind == R_TABLE) {
            int k = pl_key_column(x, d->table), l = pl_label_column(x, d->table);
            if ((k >= 0 && (sep(s, &first) < 0 || add_col(x, s, d->table, k) < 0)) ||
                (l >= 0 && (sep(s, &first) < 0 || add_col(x, s, d->table, l) < 0)))
                return too_large(x);
            continue;
        }
        if (sep(s, &first) < 0 || add_dim_sql(x, s, d, 0) < 0) return too_large(x);
    }
    if (x->having_unit < 0) return 0;
    if (!x->nd || !x->nm) {
        snprintf(x->err, sizeof x->err, "a comparison on a total needs a grouping");
        return -1;
    }
    if (buf_adds(s, " HAVING ") < 0 || add_measure_sql(x, s, &x->m[0]) < 0 ||
        cmp_sql(&x->u[x->having_unit], s) < 0)
        return too_large(x);
    return 0;
}

/* One grouping in ORDER BY: an entity by its label (its declared key first when key_first),
 * else by its key. */
static int order_dim(ctx *x, buf *s, const dim *d, int key_first)
{
    int j;

    if (d->kind != R_TABLE) return add_dim_sql(x, s, d, 0);
    if (d->col >= 0) return add_col(x, s, d->table, d->col); /* "ordered by the paper id" */
    j = key_first ? pl_key_declared(x, d->table) : pl_label_column(x, d->table);
    if (j < 0) j = key_first ? pl_label_column(x, d->table) : pl_key_column(x, d->table);
    return add_col(x, s, d->table, j);
}

/* ORDER BY the first measure (a ranking), or the listing's order column, or the groupings;
 * then LIMIT. */
static int sql_order(ctx *x, buf *s)
{
    int i;

    if (x->rank && x->nm) {
        if (buf_adds(s, " ORDER BY ") < 0 || add_measure_sql(x, s, &x->m[0]) < 0 ||
            buf_adds(s, x->rank_desc ? " DESC" : " ASC") < 0)
            return too_large(x);
        for (i = 0; i < x->nd; i++) {
            if (x->d[i].kind == R_TABLE && pl_key_declared(x, x->d[i].table) < 0)
                continue; /* ties of entities without a declared key stay as they come */
            if (buf_adds(s, ", ") < 0 || order_dim(x, s, &x->d[i], 1) < 0) return too_large(x);
        }
    } else if (x->order_c >= 0) {
        int k = pl_key_declared(x, x->order_t);
        if (buf_adds(s, " ORDER BY ") < 0 || add_col(x, s, x->order_t, x->order_c) < 0 ||
            buf_adds(s, x->order_desc ? " DESC" : " ASC") < 0)
            return too_large(x);
        if (k >= 0 && k != x->order_c &&
            (buf_adds(s, ", ") < 0 || add_col(x, s, x->order_t, k) < 0))
            return too_large(x);
    } else if (x->nd && x->nm) {
        if (buf_adds(s, " ORDER BY ") < 0) return too_large(x);
        for (i = 0; i < x->nd; i++)
            if ((i && buf_adds(s, ", ") < 0) || order_dim(x, s, &x->d[i], 0) < 0)
                return too_large(x);
    }
    if (x->limit > 0 && buf_printf(s, " LIMIT %ld", x->limit) < 0) return too_large(x);
    return 0;
}

int pl_write_sql(ctx *x, buf *out)
{
    buf s = BUF_INIT(1 << 20);
    int rc = -1;

    if (share_check(x) < 0 || sql_select(x, &s) < 0 || sql_from(x, &s) < 0 ||
        sql_group(x, &s) < 0 || sql_order(x, &s) < 0)
        goto fail;
    if (buf_add(out, s.p, s.len) < 0) {
        too_large(x);
        goto fail;
    }
    rc = 0;
fail:
    buf_free(&s);
    return rc;
}
