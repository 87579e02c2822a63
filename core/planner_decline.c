/* planner_decline -- what the planner says when it declines: the reason, and one or two
 * questions about the tables the question touched that it can answer. Suggestions are made
 * from the catalog (a count, an average or total of a numeric column, a grouping by a column
 * with common values) and each is planned for real (pl_plan, nested) before it is offered.
 *
 * Owns nothing past the call; it writes into the caller's why buffer. Does not decide
 * whether to decline (planner.c and the interpretation do). */
#include "planner_int.h"

#include <stdio.h>

static int is_fk_column(const ctx *x, int t, int c)
{
    int i;

    for (i = 0; i < x->nfks; i++)
        if (x->fks[i].table == t && x->fks[i].column == c) return 1;
    return 0;
}

/* Column or table name as words: "payment_status" -> "payment status"; plural adds an s. */
static void words_of(const char *name, int plural, char *dst, size_t len)
{
    size_t n;
    char *p;

    str_copy(dst, len, name);
    for (p = dst; *p; p++)
        if (*p == '_') *p = ' ';
    n = strlen(dst);
    if (!plural || n == 0 || dst[n - 1] == 's' || n + 3 >= len) return;
    if (dst[n - 1] == 'y' && n > 1 && !strchr("aeiou", dst[n - 2]))
        str_copy(dst + n - 1, len - n + 1, "ies");
    else
        str_copy(dst + n, len - n, "s");
}

/* One or two questions about table t (or the largest table) that the planner answers:
 * candidates are planned for real, and only those that plan are offered. */
static void examples(const ctx *x, int t, char *dst, size_t len)
{
    const cat_table *tb;
    char tname[128], num[128], cat[128], ex[4][400];
    int i, n = 0, shown = 0, inum = -1, icat = -1;
    buf scratch = BUF_INIT(1 << 16);

    dst[0] = '\0';
    if (t < 0) {
        double best = -2;
        for (i = 0; i < x->cat->ntables; i++)
            if (x->cat->tables[i].rows > best) {
                best = x->cat->tables[i].rows;
                t = i;
            }
    }
    if (t < 0) {
        snprintf(dst, len, "none: there are no tables I can see");
        return;
    }
    tb = &x->cat->tables[t];
    words_of(tb->name, 1, tname, sizeof tname);
    for (i = 0; i < tb->ncols; i++) {
        const cat_column *c = &tb->cols[i];
        if (inum < 0 && pl_type_numeric(c->type) && !c->pk && !is_fk_column(x, t, i) &&
            !strstr(c->name, "id"))
            inum = i;
        if (icat < 0 && c->nvalues > 1) icat = i;
    }
    if (inum >= 0) words_of(tb->cols[inum].name, 0, num, sizeof num);
    if (icat >= 0) words_of(tb->cols[icat].name, 0, cat, sizeof cat);
    snprintf(ex[n++], sizeof ex[0], "How many %s are there?", tname);
    if (inum >= 0 && icat >= 0)
        snprintf(ex[n++], sizeof ex[0], "Average %s of %s by %s", num, tname, cat);
    if (icat >= 0) snprintf(ex[n++], sizeof ex[0], "Number of %s by %s", tname, cat);
    if (inum >= 0) snprintf(ex[n++], sizeof ex[0], "Total %s of %s", num, tname);
    for (i = 0; i < n && shown < 2; i++) {
        char w[8];
        size_t l = strlen(dst);
        buf_reset(&scratch);
        if (pl_plan(x->cat, x->g, ex[i], &scratch, w, sizeof w, 1) != 0) continue;
        snprintf(dst + l, len - l, "%s\"%s\"", shown ? " or " : "", ex[i]);
        shown++;
    }
    buf_free(&scratch);
    if (!shown) snprintf(dst, len, "none about %s yet", tb->name);
}

int pl_first_table(const ctx *x)
{
    int i, k;

    for (i = 0; i < x->nu; i++)
        for (k = 0; x->u[i].kind == U_REF && k < x->u[i].nc; k++)
            if (x->u[i].c[k].kind != R_GLOSS || x->gi[x->u[i].c[k].gloss].table >= 0)
                return x->u[i].c[k].kind == R_GLOSS ? x->gi[x->u[i].c[k].gloss].table
                                                    : x->u[i].c[k].table;
    return -1;
}

int pl_decline(const ctx *x, const char *what, int table, char *why, size_t whylen, int nested)
{
    char ex[900];

    if (nested) { /* planning an example: no examples of examples */
        snprintf(why, whylen, "%s", what);
        return -1;
    }
    examples(x, table, ex, sizeof ex);
    snprintf(why, whylen, "%s. I can answer questions like %s.", what, ex);
    return -1;
}
