/* planner_ratio -- "the ratio of X to Y": two numeric columns of one table, X divided by Y.
 * By itself or per group it is the ratio of their totals (sum(X) / sum(Y)); when the rows of
 * the table are asked for ("for each fare") it is X / Y row by row, beside the columns that
 * tell the rows apart. A zero divisor gives NULL, never an error. Otherwise it is a ratio of
 * rows counted on conditions of one table, or of all rows of two tables (not per group);
 * anything else is declined.
 *
 * Owns nothing allocated: the scanner part adds U_RATIO_TO units, the interpretation part a
 * measure (AGG_RATIO, col2 the divisor); the SQL is the writer's (planner_sql.c). */
#include "planner_int.h"

#include <stdio.h>

int pl_scan_ratio_to(ctx *x, int i)
{
    static const char *const to[] = {"to", "versus", "vs", NULL};
    int k, ratio = 0, w = tok_is(x, i, "out") && tok_is(x, i + 1, "of") ? 2 : 1;

    if (w == 1 && !tok_in(x, i, to)) return 0;
    for (k = 0; k < x->nu; k++) {
        if (x->u[k].kind == U_RATIO_TO) return 0;
        if (x->u[k].kind == U_AGG && x->u[k].agg == AGG_RATIO) ratio = 1;
    }
    if (!ratio) return 0;
    return pl_new_unit(x, U_RATIO_TO, i, i + w) ? w : -1; /* "out of all" too */
}

/* The numeric column of unit r (a column phrase, no grammar between); -1 with x->err. */
static int ratio_side(ctx *x, int r, const char *what)
{
    if (r >= x->nu || x->u[r].kind != U_REF || !pl_has_kind(x, &x->u[r], M_COLUMN)) {
        snprintf(x->err, sizeof x->err, "the %s of the ratio is not a numeric column", what);
        return -1;
    }
    if (pl_pick(x, &x->u[r], M_COLUMN | M_NUMERIC) < 0) return -1;
    x->u[r].role = ROLE_MEASURE;
    return 0;
}

/* Words that open a side of a ratio of rows without naming its rows ("to the total number
 * of papers", "out of all restaurants") */
static const char *const LEAD[] = {"the", "total", "number", "of", "all", "count", NULL};

/* Tokens [from, to) as question text after "how many " into dst; -1 when it does not fit. */
static int side_text(const ctx *x, int from, int to, char *dst, size_t len)
{
    size_t n = (size_t)snprintf(dst, len, "how many");
    int k;

    while (from < to && in_list(x->t[from].raw, LEAD)) /* "to the total number of papers" */
        from++;
    for (k = from; k < to && n < len; k++) {
        const ptok *t = &x->t[k];
        n += (size_t)snprintf(dst + n, len - n, t->lit ? " \"%s\"" : " %s",
                              t->lit ? x->lits[t->lit - 1] : t->raw);
    }
    return n < len ? 0 : -1;
}

/* Side [from, to) of a ratio of rows, planned as its own count: its condition (after WHERE,
 * "" when none) into cond, and its FROM into from_sql; -1 when it is not one count of rows. */
static int side_count(const ctx *x, int from, int to, char *cond, size_t clen, char *from_sql,
                      size_t flen)
{
    static const char head[] = "SELECT count(*) AS count FROM ";
    char q[600], why[512];
    buf sql = BUF_INIT(1 << 16);
    const char *p, *w;
    int rc = -1;

    if (side_text(x, from, to, q, sizeof q) < 0 ||
        pl_plan(x->cat, x->g, q, &sql, why, sizeof why, 1) < 0)
        goto out;
    p = buf_cstr(&sql);
    if (strncmp(p, head, sizeof head - 1) != 0) goto out;
    p += sizeof head - 1;
    w = strstr(p, " WHERE ");
    if (strstr(p, " GROUP BY ") || strstr(p, " ORDER BY ") || strstr(p, " LIMIT ") ||
        strstr(p, " JOIN "))
        goto out;
    snprintf(from_sql, flen, "%.*s", (int)(w ? (size_t)(w - p) : strlen(p)), p);
    snprintf(cond, clen, "%s", w ? w + 7 : "");
    rc = 0;
out:
    buf_free(&sql);
    return rc;
}

/* "the ratio of publications to authors": all rows of the main table (fa, the first side's
 * FROM) over all rows of another (fb). 0, or -1 with x->err. */
static int ratio_of_tables(ctx *x, int i, const char *fa, const char *fb)
{
    char mine[300];
    int k;

    snprintf(mine, sizeof mine, "%s.%s", x->cat->tables[x->main].schema,
             x->cat->tables[x->main].name);
    if (strcmp(fa, mine) != 0) { /* a plain name only: a quoted one is not compared */
        snprintf(x->err, sizeof x->err, "the ratio counts %s, not %s", fa, mine);
        return -1;
    }
    for (k = 0; k < x->nu; k++)
        if (x->u[k].kind == U_BY || x->u[k].kind == U_BYPREV || x->u[k].kind == U_GRAIN) {
            snprintf(x->err, sizeof x->err, "a ratio of two tables' rows is not per group");
            return -1;
        }
    for (k = i + 1; k < x->nu; k++) {
        x->u[k].bound = 1;
        if (x->u[k].kind == U_REF) x->u[k].role = ROLE_MEASURE;
    }
    x->u[i].bound = 1;
    snprintf(x->ratio_expr, sizeof x->ratio_expr,
             "count(*)::float / NULLIF((SELECT count(*) FROM %s), 0)", fb);
    return pl_add_measure(x, AGG_RATIO, 0, R_TABLE, x->main, -1, -1, i);
}

/* "the ratio of restaurants rated above 4 to all restaurants": the rows of each side counted
 * on their own conditions (each side planned as a count of one table, alone); the second
 * side may have at most one condition of its own, or which side a condition is on is a
 * guess. 0, or -1 with x->err. */
static int ratio_of_rows(ctx *x, int i, int s)
{
    char fa[256], fb[256], ca[1024], cb[1024];
    int k, whole = 0;

    /* "out of all restaurants in Los Angeles": the second side is the whole, and its
     * conditions say which rows both sides are of */
    for (k = x->u[s].end; k < x->nt && in_list(x->t[k].raw, LEAD); k++)
        if (streq(x->t[k].raw, "all") || streq(x->t[k].raw, "total")) whole = 1;
    if (side_count(x, x->u[i].end, x->u[s].pos, ca, sizeof ca, fa, sizeof fa) < 0 ||
        side_count(x, x->u[s].end, x->nt, cb, sizeof cb, fb, sizeof fb) < 0)
        goto fail;
    if (!ca[0] && !cb[0] && strcmp(fa, fb) != 0) return ratio_of_tables(x, i, fa, fb);
    if (strcmp(fa, fb) != 0 || !ca[0] || (!whole && strstr(cb, " AND "))) {
    fail:
        snprintf(x->err, sizeof x->err,
                 "a ratio of rows needs a condition on each side of one "
                 "table, and at most one on the second");
        return -1;
    }
    if (whole && cb[0]) {
        if (pl_where_sql(x, 0, cb) < 0) return -1;
        cb[0] = '\0';
    }
    for (k = i + 1; k < x->nu; k++) {
        x->u[k].bound = 1;
        if (x->u[k].kind == U_REF) x->u[k].role = ROLE_MEASURE;
    }
    x->u[i].bound = 1;
    snprintf(x->ratio_expr, sizeof x->ratio_expr,
             "(count(*) FILTER (WHERE %s))::float / NULLIF(count(*)%s%s%s, 0)", ca,
             cb[0] ? " FILTER (WHERE " : "", cb, cb[0] ? ")" : "");
    if (pl_add_measure(x, AGG_RATIO, 0, R_TABLE, x->main, -1, -1, i) < 0) return -1;
    return 0;
}

int pl_measure_ratio(ctx *x, int i)
{
    const cand *a, *b;
    int r = i + 1, s;

    for (s = i + 1; s < x->nu && x->u[s].kind != U_RATIO_TO; s++)
        ;
    if (r < x->nu && s < x->nu && x->u[r].kind == U_REF &&
        ((!pl_has_kind(x, &x->u[r], M_COLUMN) && pl_has_kind(x, &x->u[r], M_TABLE)) ||
         pl_ref_is_filter(x, &x->u[r]))) /* "restaurants rated...", "refunded sales" */
        return ratio_of_rows(x, i, s);

    if (ratio_side(x, r, "dividend") < 0) return -1;
    s = r + 1;
    if (s >= x->nu ||
        !(x->u[s].kind == U_RATIO_TO || (x->u[s].kind == U_BY && x->u[s].end - x->u[s].pos == 1 &&
                                         streq(x->t[x->u[s].pos].raw, "per")))) {
        snprintf(x->err, sizeof x->err, "a ratio of what to what?");
        return -1;
    }
    if (ratio_side(x, s + 1, "divisor") < 0) return -1;
    a = picked(&x->u[r]);
    b = picked(&x->u[s + 1]);
    if (a->table != b->table || a->col == b->col) {
        snprintf(x->err, sizeof x->err, "a ratio needs two columns of one table");
        return -1;
    }
    x->u[i].bound = 1;
    x->u[s].bound = 1;
    if (pl_add_measure(x, AGG_RATIO, 0, R_COLUMN, a->table, a->col, -1, i) < 0) return -1;
    x->m[x->nm - 1].col2 = b->col;
    return 0;
}

int pl_row_columns(const ctx *x, int t, int *cols)
{
    int n = 0, k;

    if ((k = pl_label_column(x, t)) >= 0) cols[n++] = k;
    if ((k = pl_key_column(x, t)) >= 0 && (n == 0 || cols[0] != k)) cols[n++] = k;
    return n;
}
