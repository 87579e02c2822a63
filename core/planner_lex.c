/* planner_lex -- the planner's lexicon: every phrase that names a table, a column, a common
 * value or a glossary term, with the strength of that reading, built per call from the
 * catalog and the glossary; and the longest-match lookup the scanner uses.
 *
 * Owns x->lx, x->pool and x->gi (freed by pl_plan()). Does not decide what a phrase means
 * in a question (planner_bind.c, planner_interp.c) and never looks at the question's
 * grammar words (planner_scan.c). See planner_int.h. */
#include "planner_int.h"
#include "mem.h"

#include <stdlib.h>
#include <strings.h>

/* Adds the phrase w->w[from..to) as one reading; single stop words and one-letter words are
 * not names. 0, or -1 when out of memory. */
static int lex_add(ctx *x, int kind, int prio, int t, int c, int v, int g, const text_words *w,
                   int from, int to)
{
    lexent *e;
    int i, nw = to - from;

    if (nw <= 0 || nw > PH_WORDS) return 0;
    for (i = from; i < to; i++)
        if (!w->w[i][0]) return 0;
    if (nw == 1 && (text_is_stop(w->w[from]) || strlen(w->w[from]) < 2)) return 0;
    if (mem_grow(&x->lx, &x->caplx, x->nlx, sizeof *x->lx) < 0) return -1;
    e = &x->lx[x->nlx++];
    e->kind = kind;
    e->prio = prio;
    e->table = t;
    e->col = c;
    e->val = v;
    e->gloss = g;
    e->via = 0;
    e->nw = nw;
    for (i = 0; i < nw; i++) {
        e->off[i] = (unsigned)x->pool.len;
        if (buf_add(&x->pool, w->w[from + i], strlen(w->w[from + i]) + 1) < 0) return -1;
    }
    return 0;
}

static int word_in(const text_words *w, const char *s)
{
    int i;

    for (i = 0; i < w->n; i++)
        if (streq(w->w[i], s)) return 1;
    return 0;
}

/* Parses an aggregate call ("SUM(a * b)") out of a glossary hint into gi; 1 if found. */
static int hint_measure(const char *hint, gloss_info *gi)
{
    static const char *const fn[] = {"sum(", "avg(", "count(", "min(", "max(", NULL};
    static const int ag[] = {AGG_SUM, AGG_AVG, AGG_COUNT, AGG_MIN, AGG_MAX};
    int i;

    for (i = 0; fn[i]; i++) {
        const char *p = strcasestr(hint, fn[i]), *s;
        int depth = 1;
        if (!p) continue;
        s = p + strlen(fn[i]);
        for (p = s; *p && depth; p++)
            depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
        if (depth || (size_t)(p - 1 - s) >= sizeof gi->expr || p - 1 == s) return 0;
        memcpy(gi->expr, s, (size_t)(p - 1 - s));
        gi->expr[p - 1 - s] = '\0';
        gi->agg = ag[i];
        return 1;
    }
    return 0;
}

/* Common values of column c of table t, except purely numeric ones (they are not names). */
static int lex_values(ctx *x, int t, int c)
{
    const cat_column *col = column(x, t, c);
    text_words *vw = &x->w[2];
    int v, i;

    for (v = 0; v < col->nvalues; v++) {
        text_split(col->values[v], 1, vw);
        if (vw->n == 0 || vw->n > PH_WORDS) continue;
        for (i = 0; i < vw->n && isdigit((unsigned char)vw->w[i][0]); i++)
            ;
        if (i == vw->n) continue;
        if (lex_add(x, R_VALUE, P_VALUE, t, c, v, -1, vw, 0, vw->n) < 0) return -1;
    }
    return 0;
}

/* Each word of the comment of a date or numeric column, as the weakest reading. */
static int lex_comment(ctx *x, int t, int c)
{
    const cat_column *col = column(x, t, c);
    text_words *vw = &x->w[2];
    int i;

    if (!col->comment || !(pl_type_date(col->type) || pl_type_numeric(col->type))) return 0;
    text_split(col->comment, 1, vw);
    for (i = 0; i < vw->n; i++)
        if (!text_is_stop(vw->w[i]) &&
            lex_add(x, R_COMMENT, P_COMMENT, t, c, -1, -1, vw, i, i + 1) < 0)
            return -1;
    return 0;
}

/* 1 if stemmed word w is the whole name of a table */
static int names_table(ctx *x, const char *w)
{
    text_words *nw = &x->w[3];
    int t;

    for (t = 0; t < x->cat->ntables; t++) {
        text_split(x->cat->tables[t].name, 1, nw);
        if (nw->n == 1 && streq(nw->w[0], w)) return 1;
    }
    return 0;
}

/* A one-word column name run together from two words ("lastname", "paperid"): the name as
 * those two words, split before a common last word of names (id, name, date...). 0, or -1
 * when out of memory. */
static int lex_compound(ctx *x, int t, int c, const char *name)
{
    static const char *const last[] = {"id",   "name", "title", "date",   "time", "code",
                                       "type", "year", "count", "number", NULL};
    size_t n = strlen(name), l;
    text_words q;
    int i;

    for (i = 0; last[i]; i++) {
        l = strlen(last[i]);
        if (n < l + 3 || n - l >= TEXT_WORD_MAX || strcmp(name + n - l, last[i]) != 0) continue;
        q.n = 2;
        memcpy(q.w[0], name, n - l);
        q.w[0][n - l] = '\0';
        str_copy(q.w[1], TEXT_WORD_MAX, last[i]);
        text_stem(q.w[0]);
        text_stem(q.w[1]);
        /* "name" alone of authorname is as weak as the last word of author_name */
        return lex_add(x, R_COLUMN, P_COL, t, c, -1, -1, &q, 0, 2) < 0 ||
                       (!streq(last[i], "id") &&
                        lex_add(x, R_COLUMN, P_COL_PART, t, c, -1, -1, &q, 1, 2) < 0)
                   ? -1
                   : 0;
    }
    return 0;
}

/* The names of column c of table t, whose name words are in x->w[0]: the whole name, the
 * name without an "is"/"has" of a yes/no column or without the table's words, the name
 * after each table word, and its first or last word alone as a weaker reading. */
static int lex_column(ctx *x, int t, int c)
{
    const cat_column *col = column(x, t, c);
    text_words *tw = &x->w[0], *cw = &x->w[1];
    text_words q;
    int i, j, skip = 0;

    text_split(col->name, 1, cw);
    if (cw->n == 1 && !strchr(col->name, '_') && lex_compound(x, t, c, col->name) < 0) return -1;
    if (cw->n > 1 && pl_type_bool(col->type) &&
        (streq(cw->w[0], "is") || streq(cw->w[0], "has") || streq(cw->w[0], "ha")))
        skip = 1;
    if (lex_add(x, R_COLUMN, P_COL, t, c, -1, -1, cw, 0, cw->n) < 0 ||
        (skip && lex_add(x, R_COLUMN, P_COL, t, c, -1, -1, cw, 1, cw->n) < 0))
        return -1;
    /* "event_date" of events is also just "date" */
    for (i = skip; i < cw->n - 1 && word_in(tw, cw->w[i]); i++)
        ;
    /* ... but "flight" of flight_leg.leg_flight is weak where a table is named flight */
    if (i > skip &&
        lex_add(x, R_COLUMN, i == cw->n - 1 && names_table(x, cw->w[i]) ? P_COL_PART : P_COL, t, c,
                -1, -1, cw, i, cw->n) < 0)
        return -1;
    /* qualified by each table word: "ticket price", "customer city" */
    for (i = 0; i < tw->n; i++) {
        if (word_in(cw, tw->w[i]) || cw->n + 1 > PH_WORDS) continue;
        q.n = 0;
        memcpy(q.w[q.n++], tw->w[i], TEXT_WORD_MAX);
        for (j = skip; j < cw->n; j++)
            memcpy(q.w[q.n++], cw->w[j], TEXT_WORD_MAX);
        if (lex_add(x, R_COLUMN, P_COL, t, c, -1, -1, &q, 0, q.n) < 0) return -1;
    }
    if (cw->n > 1 && !streq(cw->w[cw->n - 1], "id") &&
        lex_add(x, R_COLUMN, P_COL_PART, t, c, -1, -1, cw, cw->n - 1, cw->n) < 0)
        return -1;
    /* "payment" of payment_status, "loyalty" of loyalty_points */
    if (cw->n - skip > 1 && !streq(cw->w[cw->n - 1], "id") && !word_in(tw, cw->w[skip]) &&
        lex_add(x, R_COLUMN, P_COL_PART, t, c, -1, -1, cw, skip, skip + 1) < 0)
        return -1;
    return 0;
}

/* Table t by its whole name and (weaker) by each of its words, then each of its columns
 * with their values and comment words. */
static int lex_table(ctx *x, int t)
{
    const cat_table *tb = &x->cat->tables[t];
    text_words *tw = &x->w[0];
    int i, c;

    text_split(tb->name, 1, tw);
    if (lex_add(x, R_TABLE, P_TABLE, t, -1, -1, -1, tw, 0, tw->n) < 0) return -1;
    /* the last word is what a row is ("offering" of course_offering, not of
     * offering_instructor): a little stronger than the others */
    for (i = 0; tw->n > 1 && i < tw->n; i++)
        if (lex_add(x, R_TABLE, P_TABLE_PART + (i == tw->n - 1), t, -1, -1, -1, tw, i, i + 1) < 0)
            return -1;
    for (c = 0; c < tb->ncols; c++)
        if (lex_column(x, t, c) < 0 || lex_values(x, t, c) < 0 || lex_comment(x, t, c) < 0)
            return -1;
    return 0;
}

/* Fills x->gi[i] for glossary entry e: its first table here, whether every table it names
 * exists, and its kind (a filter, a measure from an aggregate in its hint, or a table). */
static void gloss_classify(const ctx *x, const gloss_entry *e, gloss_info *gi)
{
    char name[256];
    const char *p = e->tables;
    int ok = 1;

    gi->table = -1;
    while (*p) {
        size_t l = strcspn(p, ", ");
        if (l > 0 && l < sizeof name) {
            int ti;
            memcpy(name, p, l);
            name[l] = '\0';
            ti = catalog_find_table(x->cat, name);
            if (ti < 0)
                ok = 0;
            else if (gi->table < 0)
                gi->table = ti;
        }
        p += l;
        p += strspn(p, ", ");
    }
    gi->ok = ok && (gi->table >= 0 || e->filter);
    if (!gi->ok) return;
    if (e->filter)
        gi->kind = GK_FILTER;
    else if (gi->table >= 0 && hint_measure(e->hint, gi))
        gi->kind = GK_MEASURE;
    else if (gi->table >= 0)
        gi->kind = GK_TABLE;
}

/* Glossary entry i by its term: a measure (R_DERIVED, also without its table's words), or a
 * condition or table word (R_GLOSS). */
static int lex_gloss(ctx *x, int i)
{
    const gloss_entry *e = &x->g->e[i];
    gloss_info *gi = &x->gi[i];
    text_words *tw = &x->w[0], *gw = &x->w[3];
    int j;

    gloss_classify(x, e, gi);
    if (!gi->ok || gi->kind == GK_NONE) return 0;
    text_split(e->term, 1, gw);
    if (gi->kind == GK_MEASURE) {
        /* "ticket revenue" is also "revenue" when ticket_sales is the table in play */
        text_words rest;
        text_split(x->cat->tables[gi->table].name, 1, tw);
        rest.n = 0;
        for (j = 0; j < gw->n; j++)
            if (!word_in(tw, gw->w[j])) memcpy(rest.w[rest.n++], gw->w[j], TEXT_WORD_MAX);
        if (lex_add(x, R_DERIVED, P_COL + 2, gi->table, -1, -1, i, gw, 0, gw->n) < 0 ||
            (rest.n && rest.n < gw->n &&
             lex_add(x, R_DERIVED, P_COL_PART, gi->table, -1, -1, i, &rest, 0, rest.n) < 0))
            return -1;
        return 0;
    }
    return lex_add(x, R_GLOSS, P_GLOSS, gi->table, -1, -1, i, gw, 0, gw->n);
}

int pl_lex_build(ctx *x)
{
    int t, i;

    for (t = 0; t < x->cat->ntables; t++)
        if (lex_table(x, t) < 0) return -1;
    for (i = 0; x->g && i < x->g->n; i++)
        if (lex_gloss(x, i) < 0) return -1;
    return pl_lex_paths(x);
}

int pl_lex_match(const ctx *x, int i, cand *out, int *nout)
{
    /* locals: out may alias *x as far as the compiler knows, and this loop is the hot one */
    const lexent *lx = x->lx;
    const ptok *tk = x->t + i;
    const char *pool = x->pool.p;
    int best = 0, k, j, n = 0, nlx = x->nlx, left = x->nt - i;

    for (k = 0; k < nlx; k++) {
        const lexent *e = &lx[k];
        if (e->nw < best || e->nw > left) continue;
        for (j = 0; j < e->nw; j++) {
            const char *w = pool + e->off[j];
            if (tk[j].used || tk[j].lit || tk[j].st[0] != w[0] || !streq(tk[j].st, w)) break;
        }
        if (j < e->nw) continue;
        if (e->nw > best) {
            best = e->nw;
            n = 0;
        }
        for (j = 0; j < n; j++)
            if (out[j].kind == e->kind && out[j].table == e->table && out[j].col == e->col &&
                out[j].val == e->val && out[j].gloss == e->gloss && out[j].via == e->via)
                break;
        if (j < n) {
            if (out[j].prio < e->prio) out[j].prio = e->prio;
            continue;
        }
        if (n < MAXCAND)
            out[n++] = (cand){e->kind, e->prio, e->table, e->col, e->val, e->gloss, e->via};
    }
    *nout = n;
    return best;
}

int pl_lex_add(ctx *x, const cand *c, const text_words *w, int from, int to)
{
    int n = x->nlx;

    if (lex_add(x, c->kind, c->prio, c->table, c->col, c->val, c->gloss, w, from, to) < 0)
        return -1;
    if (x->nlx > n) x->lx[n].via = c->via;
    return 0;
}
