/* planner_order -- the order a question asks its rows in: "ordered by the number of papers in
 * descending order", "sorted by name", "ordered alphabetically", "from highest to lowest",
 * "in ascending order". The scanner part cuts these phrases into U_ORDER units; the two
 * interpretation passes claim the ordering key (a column named after "by", or the measure an
 * aggregate word after "by" names) and then apply the order to what the other passes built: a
 * listing by a column, a grouping by its one measure or by a grouped column. An order the
 * planner cannot write for the question is a decline, never ignored.
 *
 * Owns nothing allocated; it adds units to x->u and sets x->rank, x->rank_desc, x->order_*,
 * x->limit. */
#include "planner_int.h"

#include <stdio.h>

static const char *const HI[] = {"highest", "largest", "biggest", "greatest", "most",
                                 "longest", "best",    "newest",  "latest",   NULL};
static const char *const LO[] = {"lowest", "smallest", "least",    "fewest", "shortest",
                                 "worst",  "oldest",   "earliest", NULL};

/* A direction at token i: "descending", "in ascending order", "alphabetically", "in
 * alphabetical order", "from highest to lowest". Returns the tokens used (0 none) with *desc
 * (1 descending, 0 ascending) and *alpha (alphabetical). */
static int direction_at(const ctx *x, int i, int *desc, int *alpha)
{
    int k = 0;

    *alpha = 0;
    if (tok_is(x, i, "from") && (tok_in(x, i + 1, HI) || tok_in(x, i + 1, LO)) &&
        tok_is(x, i + 2, "to") && (tok_in(x, i + 3, HI) || tok_in(x, i + 3, LO)) &&
        in_list(x->t[i + 1].raw, HI) != in_list(x->t[i + 3].raw, HI)) {
        *desc = in_list(x->t[i + 1].raw, HI);
        return 4;
    }
    if (tok_is(x, i, "in")) k = 1;
    if (tok_is(x, i + k, "reverse") && tok_is(x, i + k + 1, "alphabetical")) {
        *desc = 1;
        *alpha = 1;
        k += 2;
    } else if (tok_is(x, i + k, "descending") || tok_is(x, i + k, "decreasing")) {
        *desc = 1;
        k++;
    } else if (tok_is(x, i + k, "ascending") || tok_is(x, i + k, "increasing")) {
        *desc = 0;
        k++;
    } else if (tok_is(x, i + k, "alphabetical")) {
        *desc = 0;
        *alpha = 1;
        k++;
    } else if (k == 0 && tok_is(x, i, "alphabetically")) {
        *desc = 0;
        *alpha = 1;
        return 1;
    } else {
        return 0;
    }
    if (tok_is(x, i + k, "order")) return k + 1;
    return k == 1 || (k == 2 && !tok_is(x, i, "in")) || *alpha ? k : 0;
}

/* "starting from the best ratings to the lowest": a U_ORDER with n = 2 before the key (a[0]
 * 'f', a[1] the direction) and one after it ("to the lowest") that says the direction.
 * Returns the tokens used, 0 when there is no such phrase at i, -1 when x->u is full. */
static int scan_from_to(ctx *x, int i)
{
    int k = tok_is(x, i, "starting") || tok_is(x, i, "going") ? 1 : 0, p, j;
    unit *u;

    if (tok_is(x, i, "to") && x->nu > 0 && x->u[x->nu - 1].kind != U_ORDER) {
        for (j = x->nu - 1; j >= 0 && x->u[j].kind != U_ORDER; j--)
            ;
        p = i + (tok_is(x, i + 1, "the") ? 2 : 1);
        if (j < 0 || x->u[j].a[0] != 'f' || x->u[j].bound ||
            !(tok_in(x, p, HI) || tok_in(x, p, LO)))
            return 0;
        if (!(u = pl_new_unit(x, U_ORDER, i, p + 1))) return -1;
        u->desc = x->u[j].a[1];
        x->u[j].a[0] = 0;
        return p + 1 - i;
    }
    if (!tok_is(x, i + k, "from")) return 0;
    p = i + k + (tok_is(x, i + k + 1, "the") ? 2 : 1);
    if (!(tok_in(x, p, HI) || tok_in(x, p, LO)) || tok_is(x, p + 1, "to")) return 0;
    for (j = p + 2; j < x->nt && j <= p + 4 && !streq(x->t[j].raw, "to"); j++)
        ;
    if (j >= x->nt || j > p + 4) return 0;
    j += tok_is(x, j + 1, "the") ? 2 : 1;
    if (j >= x->nt || in_list(x->t[j].raw, HI) == in_list(x->t[p].raw, HI) ||
        !(in_list(x->t[j].raw, HI) || in_list(x->t[j].raw, LO)))
        return 0;
    if (!(u = pl_new_unit(x, U_ORDER, i, p + 1))) return -1;
    u->n = 2;
    u->desc = -1;
    u->a[0] = 'f';
    u->a[1] = (char)in_list(x->t[p].raw, HI);
    return p + 1 - i;
}

/* U_ORDER: n = 1 when "by" and the key follow, n = 2 for "sort the X in ascending order"
 * (the key without "by", then its direction). */
int pl_scan_order(ctx *x, int i)
{
    static const char *const lead[] = {"order",   "ordered",  "sort", "sorted",
                                       "arrange", "arranged", NULL};
    int k = 0, desc = 0, alpha = 0, d, islead = 0;
    unit *u;

    if ((k = scan_from_to(x, i)) != 0) return k;
    if (tok_in(x, i, lead)) {
        k = 1;
        if (tok_is(x, i + k, "the") && tok_is(x, i + k + 1, "results"))
            k += 2;
        else if (tok_is(x, i + k, "results") || tok_is(x, i + k, "them"))
            k++;
        islead = 1;
    }
    d = direction_at(x, i + k, &desc, &alpha);
    k += d;
    if (islead && tok_is(x, i + k, "by")) {
        if (!(u = pl_new_unit(x, U_ORDER, i, i + k + 1))) return -1;
        u->n = 1; /* the key follows */
    } else if (islead && d == 0 && k == 1 && tok_is(x, i + 1, "the")) {
        /* "sort the codes in ascending order": the key, then its direction */
        if (!(u = pl_new_unit(x, U_ORDER, i, i + 2))) return -1;
        u->n = 2;
    } else if (d > 0) {
        if (!(u = pl_new_unit(x, U_ORDER, i, i + k))) return -1;
    } else {
        return 0; /* "order" alone is a word of the catalog or filler */
    }
    u->desc = d > 0 ? desc : -1;
    u->super = alpha;
    return (int)(u->end - u->pos);
}

/* pass: the key after "ordered by": a column (claimed here, before the measures take it) or an
 * aggregate word (its measure, taken by the measure pass). A direction alone right after a key
 * ("by name in descending order") is the key's. */
int pl_pass_order_key(ctx *x)
{
    int i, r;

    x->ord_unit = -1;
    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        if (a->kind != U_ORDER) continue;
        if (x->ord_unit >= 0) {
            unit *o = &x->u[x->ord_unit];
            if (a->n || (a->desc >= 0 && o->desc >= 0 && a->desc != o->desc)) {
                snprintf(x->err, sizeof x->err, "two orders in one question");
                return -1;
            }
            if (a->desc >= 0) o->desc = a->desc;
            o->super |= a->super;
            a->bound = 1;
            continue;
        }
        x->ord_unit = i;
        a->bound = 1;
        if (!a->n) continue;
        r = i + 1;
        if (r < x->nu && x->u[r].kind == U_AGG) continue; /* the measure pass takes it */
        if (r + 1 < x->nu && x->u[r].kind == U_REF && x->u[r + 1].kind == U_REF &&
            x->u[r + 1].pos == x->u[r].end && pl_table_first(&x->u[r]) &&
            pl_has_kind(x, &x->u[r + 1], M_COLUMN)) {
            if (pl_pick(x, &x->u[r], M_TABLE) < 0) return -1; /* "by the students' names" */
            x->u[r].role = ROLE_QUAL;
            r++;
        }
        if (r >= x->nu || x->u[r].kind != U_REF || !pl_has_kind(x, &x->u[r], M_COLUMN)) {
            snprintf(x->err, sizeof x->err, "\"ordered by\" is not followed by a column");
            return -1;
        }
        if (a->n == 2 && (r + 1 >= x->nu || x->u[r + 1].kind != U_ORDER || x->u[r + 1].n ||
                          x->u[r + 1].desc < 0)) {
            snprintf(x->err, sizeof x->err, "\"sort the ...\" says no direction");
            return -1;
        }
        if (pl_pick(x, &x->u[r], M_COLUMN) < 0) return -1;
        x->u[r].role = ROLE_ORDER;
    }
    return 0;
}

/* 1 if column (t, c) is listed; else lists it when there is room (the key shown beside the
 * rows it orders). */
static void list_key(ctx *x, int t, int c)
{
    int k;

    if (x->nproj == 0) return; /* whole rows are listed, the key among them */
    for (k = 0; k < x->nproj; k++)
        if (x->proj[k][0] == t && x->proj[k][1] == c) return;
    if (x->nproj < MAXPROJ) {
        x->proj[x->nproj][0] = t;
        x->proj[x->nproj][1] = c;
        x->nproj++;
    }
}

/* The order of a grouping by one of its columns (or by the name or key of the table grouped
 * by; its key is then marked in the grouping's col for the writer): only ascending. */
static int order_by_dim(ctx *x, int t, int c, int desc)
{
    int k;

    for (k = 0; k < x->nd; k++) /* the main table's reference to a table grouped by: its key */
        if (x->d[k].kind == R_TABLE && t == x->main && c >= 0 &&
            pl_ref_col(x, x->d[k].table) == c) {
            t = x->d[k].table;
            c = pl_key_column(x, t);
        }
    for (k = 0; k < x->nd; k++)
        if (x->d[k].table == t &&
            ((x->d[k].kind == R_COLUMN && x->d[k].col == c) ||
             (x->d[k].kind == R_TABLE && (c == pl_label_column(x, t) || c == pl_key_column(x, t)))))
            break;
    if (k == x->nd || k > 0 || desc == 1 || x->rank) {
        snprintf(x->err, sizeof x->err,
                 "I can order groups only by their first grouping, "
                 "ascending, or by what is measured");
        return -1;
    }
    if (x->d[k].kind == R_TABLE && c != pl_label_column(x, t)) x->d[k].col = c;
    return 0;
}

/* The order of the measure: a ranking of the groups (or of the one total) by it. */
static int order_by_measure(ctx *x, int desc)
{
    int k;

    /* "the highest number of references, ordered by the number of references": one measure
     * said twice (the superlative's became a total when it ranked) */
    for (k = x->nm - 1; k > 0; k--)
        if (x->m[k].agg == x->m[0].agg && x->m[k].kind == x->m[0].kind &&
            x->m[k].table == x->m[0].table && x->m[k].col == x->m[0].col &&
            x->m[k].gloss == x->m[0].gloss && x->m[k].distinct == x->m[0].distinct) {
            memmove(x->m + k, x->m + k + 1, (size_t)(x->nm - k - 1) * sizeof x->m[0]);
            x->nm--;
        }
    if (x->nm != 1 || x->nproj) {
        snprintf(x->err, sizeof x->err, "ordered by which of the measures?");
        return -1;
    }
    if (x->rank && desc >= 0 && x->rank_desc != (desc == 1)) {
        snprintf(x->err, sizeof x->err, "the order contradicts the ranking");
        return -1;
    }
    if (!x->rank) x->rank_desc = desc == 1;
    x->rank = 1;
    return 0;
}

/* A listing in the order of a direction alone ("from highest to lowest"): by the column a
 * superlative already orders by, else by the one numeric listed column; alphabetically by the
 * label, else by the one text listed column. */
static int order_listing(ctx *x, const unit *o)
{
    int k, found = -1, n = 0;

    if (x->order_c >= 0 && !o->super) {
        if (o->desc >= 0 && x->order_desc != (o->desc == 1)) {
            snprintf(x->err, sizeof x->err, "the order contradicts the ranking");
            return -1;
        }
        return 0;
    }
    if (x->order_c >= 0) {
        snprintf(x->err, sizeof x->err, "the order contradicts the ranking");
        return -1;
    }
    for (k = 0; k < x->nproj; k++)
        if (pl_type_numeric(column(x, x->proj[k][0], x->proj[k][1])->type) != o->super) {
            found = k;
            n++;
        }
    if (n == 1) {
        x->order_t = x->proj[found][0];
        x->order_c = x->proj[found][1];
    } else if (o->super && x->nproj == 0 && (k = pl_label_column(x, x->main)) >= 0) {
        x->order_t = x->main;
        x->order_c = k;
    } else {
        snprintf(x->err, sizeof x->err, "I do not know which column to order by");
        return -1;
    }
    x->order_desc = o->desc == 1;
    return 0;
}

/* pass: applies the order of pl_pass_order_key() to the listing or grouping built; an order
 * also asks for every row, so a superlative's guessed number of rows ("the largest lakes,
 * ordered from largest to smallest") is dropped. */
int pl_pass_order(ctx *x)
{
    const unit *o;
    int r;

    if (x->ord_unit < 0) return 0;
    o = &x->u[x->ord_unit];
    if (x->limit_guess) x->limit = 0;
    r = x->ord_unit + 1;
    if (o->n && r < x->nu && x->u[r].kind == U_REF && x->u[r].role == ROLE_ORDER) {
        const cand *c = picked(&x->u[r]);
        if (pl_need_table(x, c->table) < 0) return -1;
        if (x->nm == 0 && x->nd == 0) {
            x->order_t = c->table;
            x->order_c = c->col;
            x->order_desc = o->desc == 1;
            list_key(x, c->table, c->col);
            return 0;
        }
        return order_by_dim(x, c->table, c->col, o->desc);
    }
    if (o->n) return order_by_measure(x, o->desc);
    if (x->nm == 0 && x->nd == 0) return order_listing(x, o);
    if (o->super) {
        if (x->nd > 0 && x->d[0].kind == R_COLUMN)
            return order_by_dim(x, x->d[0].table, x->d[0].col, o->desc);
        snprintf(x->err, sizeof x->err, "I do not know what to order alphabetically");
        return -1;
    }
    return order_by_measure(x, o->desc);
}

/* 1 if word w is one of the words of snake_case name */
static int name_word(const char *name, const char *w)
{
    size_t l = strlen(w);
    const char *p;

    for (p = strstr(name, w); p; p = strstr(p + 1, w))
        if ((p == name || p[-1] == '_') && (p[l] == '\0' || p[l] == '_')) return 1;
    return 0;
}

/* The one numeric column of table t that a size adjective is about ("longest": its length),
 * or -1 when the adjective has no such noun or t has none or several such columns. */
static int adjective_column(const ctx *x, int t, const char *adj)
{
    static const struct {
        const char *adj, *nouns[4];
    } adjs[] = {{"longest", {"length", "duration", NULL}},
                {"shortest", {"length", "duration", NULL}},
                {"tallest", {"height", "altitude", "elevation", NULL}},
                {"highest", {"height", "altitude", "elevation", NULL}},
                {"lowest", {"height", "altitude", "elevation", NULL}},
                {"largest", {"area", "size", NULL}},
                {"biggest", {"area", "size", NULL}},
                {"smallest", {"area", "size", NULL}}};
    const cat_table *tb = &x->cat->tables[t];
    size_t k;
    int i, j, found = -1, n = 0;

    for (k = 0; k < sizeof adjs / sizeof adjs[0] && !streq(adjs[k].adj, adj); k++)
        ;
    if (k == sizeof adjs / sizeof adjs[0]) return -1;
    for (i = 0; i < tb->ncols; i++) {
        if (tb->cols[i].pk || !pl_type_numeric(tb->cols[i].type)) continue;
        for (j = 0; adjs[k].nouns[j] && !name_word(tb->cols[i].name, adjs[k].nouns[j]); j++)
            ;
        if (adjs[k].nouns[j]) {
            found = i;
            n++;
        }
    }
    return n == 1 ? found : -1;
}

int pl_superlative_rows(ctx *x, int i, int r)
{
    const unit *a = &x->u[i];
    int t, c, k;

    if (a->end - a->pos != 1 || !pl_has_kind(x, &x->u[r], M_TABLE) ||
        pl_has_kind(x, &x->u[r], M_COLUMN | M_DERIVED))
        return 0;
    if (pl_pick(x, &x->u[r], M_TABLE) < 0) return -1;
    t = pl_cand_table(x, picked(&x->u[r]));
    if (t != x->main || (c = adjective_column(x, t, x->t[a->pos].raw)) < 0) {
        x->u[r].pick = -1;
        return 0;
    }
    x->u[r].role = ROLE_MENTION;
    x->order_t = t;
    x->order_c = c;
    x->order_desc = a->agg == AGG_MAX;
    for (k = i - 1; k >= 0 && x->u[k].kind != U_LIMIT; k--)
        ;
    if (k >= 0 && k == i - 1) {
        x->u[k].bound = 1;
        x->limit = x->u[k].n;
    } else {
        x->limit = x->u[r].plural ? 10 : 1;
        x->limit_guess = x->u[r].plural;
    }
    return 1;
}
