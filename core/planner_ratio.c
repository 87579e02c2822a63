/* planner_ratio -- "the ratio of X to Y": two numeric columns of one table, X divided by Y.
 * By itself or per group it is the ratio of their totals (sum(X) / sum(Y)); when the rows of
 * the table are asked for ("for each fare") it is X / Y row by row, beside the columns that
 * tell the rows apart. A zero divisor gives NULL, never an error. Anything else after "ratio
 * of" (counts of rows, conditions on each side) is declined.
 *
 * Owns nothing allocated: the scanner part adds U_RATIO_TO units, the interpretation part a
 * measure (AGG_RATIO, col2 the divisor); the SQL is the writer's (planner_sql.c). */
#include "planner_int.h"

#include <stdio.h>

int pl_scan_ratio_to(ctx *x, int i)
{
    static const char *const to[] = {"to", "versus", "vs", NULL};
    int k, ratio = 0;

    if (!tok_in(x, i, to)) return 0;
    for (k = 0; k < x->nu; k++) {
        if (x->u[k].kind == U_RATIO_TO) return 0;
        if (x->u[k].kind == U_AGG && x->u[k].agg == AGG_RATIO) ratio = 1;
    }
    if (!ratio) return 0;
    return pl_new_unit(x, U_RATIO_TO, i, i + 1) ? 1 : -1;
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

int pl_measure_ratio(ctx *x, int i)
{
    const cand *a, *b;
    int r = i + 1, s;

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
    const cat_table *tb = &x->cat->tables[t];
    size_t l = strlen(tb->name);
    int n = 0, k;

    if ((k = pl_label_column(x, t)) >= 0) cols[n++] = k;
    if ((k = pl_key_column(x, t)) >= 0 && (n == 0 || cols[0] != k)) cols[n++] = k;
    if (pl_key_column(x, t) < 0 && tb->ncols > 0 && (n == 0 || cols[0] != 0) &&
        (streq(tb->cols[0].name, "id") ||
         (strncmp(tb->cols[0].name, tb->name, l) == 0 &&
          (streq(tb->cols[0].name + l, "_id") || streq(tb->cols[0].name + l, "_code")))))
        cols[n++] = 0;
    return n;
}
