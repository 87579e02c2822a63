/* planner_bind -- readings of phrases for one main table: which tables are joinable from it
 * (shortest many-to-one foreign-key paths, and where two paths tie), which reading of a
 * phrase wins (strongest, then nearest; a tie is an error, never a guess), the join tree the
 * chosen readings need, and the lists of measures and groupings they add to.
 *
 * Owns nothing allocated: it fills x->dist/via/amb/need, x->m, x->d and units' picks. Does
 * not decide what role a phrase plays in the question (planner_interp.c, planner_filter.c)
 * and writes no SQL (planner_sql.c). */
#include "planner_int.h"

#include <stdio.h>

int pl_type_numeric(const char *t)
{
    static const char *const num[] = {"smallint",         "integer", "bigint",  "numeric", "real",
                                      "double precision", "money",   "decimal", NULL};
    int i;

    for (i = 0; num[i]; i++)
        if (strncmp(t, num[i], strlen(num[i])) == 0) return 1;
    return 0;
}

int pl_type_date(const char *t)
{
    return streq(t, "date") || strncmp(t, "timestamp", 9) == 0;
}

int pl_type_bool(const char *t)
{
    return streq(t, "boolean");
}

/* dist (-1 unreachable), via (fk index), amb (two different shortest paths: the planner
 * will not choose between them); a table a path phrase names ("buyer city") only along its
 * key (x->route). x->need is the BFS queue first, then cleared. */
void pl_walk_fks(ctx *x, int m)
{
    const catalog *cat = x->cat;
    int *queue = x->need, head = 0, tail = 0, i;

    pl_route_hints(x);
    for (i = 0; i < cat->ntables; i++) {
        x->dist[i] = -1;
        x->via[i] = -1;
        x->amb[i] = 0;
    }
    x->dist[m] = 0;
    queue[tail++] = m;
    while (head < tail) {
        int a = queue[head++];
        if (x->dist[a] >= MAXDEPTH) continue;
        for (i = 0; i < x->nfks; i++) {
            const cat_fk *f = &x->fks[i];
            int b = f->ref_table;
            if (f->table != a || b == m || (x->route[b] && x->route[b] != i + 1)) continue;
            if (x->dist[b] < 0) {
                x->dist[b] = x->dist[a] + 1;
                x->via[b] = i;
                x->amb[b] = x->amb[a];
                queue[tail++] = b;
            } else if (x->dist[b] == x->dist[a] + 1 && x->via[b] != i) {
                const cat_fk *o = &x->fks[x->via[b]];
                if (o->table != f->table || o->column != f->column) x->amb[b] = 1;
            }
        }
    }
    for (i = 0; i < cat->ntables; i++)
        x->need[i] = 0;
}

int pl_hops(const ctx *x, int a, int b, int depth)
{
    int i, best = -1;

    if (a == b) return 0;
    if (depth == 0) return -1;
    for (i = 0; i < x->nfks; i++) {
        int h;
        if (x->fks[i].table != a || x->fks[i].ref_table == a) continue;
        h = pl_hops(x, x->fks[i].ref_table, b, depth - 1);
        if (h >= 0 && (best < 0 || h + 1 < best)) best = h + 1;
    }
    return best;
}

int pl_reachable(const ctx *x, int t)
{
    return t >= 0 && x->dist[t] >= 0 && !x->amb[t];
}

int pl_cand_table(const ctx *x, const cand *c)
{
    if (c->kind == R_GLOSS) return x->gi[c->gloss].table >= 0 ? x->gi[c->gloss].table : x->main;
    return c->table;
}

int pl_kind_ok(const ctx *x, const cand *c, unsigned mask)
{
    unsigned k = 1u << c->kind;

    if (c->kind == R_GLOSS) k = x->gi[c->gloss].kind == GK_FILTER ? 1u << R_GLOSS : 1u << R_TABLE;
    return (mask & k) != 0;
}

void pl_phrase(const ctx *x, const unit *u, char *dst, size_t len)
{
    size_t l = 0;
    int i;

    dst[0] = '\0';
    for (i = u->pos; i < u->end && l + 2 < len; i++) {
        snprintf(dst + l, len - l, "%s%s", i > u->pos ? " " : "", x->t[i].raw);
        l = strlen(dst);
    }
}

void pl_cand_name(const ctx *x, const cand *c, char *dst, size_t len)
{
    const catalog *cat = x->cat;

    if (c->kind == R_TABLE)
        snprintf(dst, len, "%s", cat->tables[c->table].name);
    else if (c->kind == R_COLUMN || c->kind == R_COMMENT)
        snprintf(dst, len, "%s.%s", cat->tables[c->table].name,
                 cat->tables[c->table].cols[c->col].name);
    else if (c->kind == R_VALUE)
        snprintf(dst, len, "%s.%s = '%s'", cat->tables[c->table].name,
                 cat->tables[c->table].cols[c->col].name,
                 cat->tables[c->table].cols[c->col].values[c->val]);
    else
        snprintf(dst, len, "the glossary term \"%s\"", x->g->e[c->gloss].term);
}

int pl_pick(ctx *x, unit *u, unsigned mask)
{
    int i, best = -1, tie = -1;
    char ph[128], a[160], b[160];

    for (i = 0; i < u->nc; i++) {
        const cand *c = &u->c[i];
        int t = pl_cand_table(x, c);
        if (!pl_kind_ok(x, c, mask) || !pl_reachable(x, t)) continue;
        if ((c->kind == R_COLUMN || c->kind == R_COMMENT) && (mask & M_NUMERIC) &&
            !pl_type_numeric(column(x, c->table, c->col)->type))
            continue; /* bit 15: numeric columns only */
        if (best < 0 || c->prio > u->c[best].prio ||
            (c->prio == u->c[best].prio && x->dist[t] < x->dist[pl_cand_table(x, &u->c[best])])) {
            best = i;
            tie = -1;
        } else if (c->prio == u->c[best].prio &&
                   x->dist[t] == x->dist[pl_cand_table(x, &u->c[best])]) {
            tie = i;
        }
    }
    pl_phrase(x, u, ph, sizeof ph);
    if (best < 0) {
        pl_note_ambiguous_join(x, u, mask);
        snprintf(x->err, sizeof x->err, "\"%s\" names nothing I can relate to %s", ph,
                 x->cat->tables[x->main].name);
        return -1;
    }
    if (tie >= 0) {
        pl_cand_name(x, &u->c[best], a, sizeof a);
        pl_cand_name(x, &u->c[tie], b, sizeof b);
        snprintf(x->err, sizeof x->err, "\"%s\" could mean %s or %s", ph, a, b);
        if (x->tie_unit < 0) {
            x->tie_unit = (int)(u - x->u);
            x->tie[0] = u->c[best];
            x->tie[1] = u->c[tie];
        }
        return -1;
    }
    u->pick = best;
    return best;
}

int pl_has_kind(const ctx *x, const unit *u, unsigned mask)
{
    int i;

    for (i = 0; i < u->nc; i++)
        if (pl_kind_ok(x, &u->c[i], mask)) return 1;
    return 0;
}

int pl_ref_is_filter(const ctx *x, const unit *u)
{
    int i, best = -1;

    if (u->kind != U_REF) return 0;
    for (i = 0; i < u->nc; i++)
        if (best < 0 || u->c[i].prio > u->c[best].prio) best = i;
    if (best < 0) return 0;
    if (pl_kind_ok(x, &u->c[best], M_FILTER)) return 1;
    return u->c[best].kind == R_COLUMN &&
           pl_type_bool(column(x, u->c[best].table, u->c[best].col)->type);
}

unsigned pl_comment_ok(const unit *u)
{
    int i;

    for (i = 0; i < u->nc; i++)
        if (u->c[i].kind != R_COMMENT) return 0;
    return M_COMMENT;
}

int pl_need_table(ctx *x, int t)
{
    if (!pl_reachable(x, t)) return -1;
    while (t != x->main && !x->need[t]) {
        x->need[t] = 1;
        t = x->fks[x->via[t]].table;
    }
    return 0;
}

int pl_add_measure(ctx *x, int agg, int distinct, int kind, int t, int c, int g, int ui)
{
    int i;

    if (kind == R_COLUMN && agg != AGG_COUNT && !pl_type_numeric(column(x, t, c)->type) &&
        !((agg == AGG_MIN || agg == AGG_MAX) && pl_type_date(column(x, t, c)->type))) {
        snprintf(x->err, sizeof x->err, "%s.%s is not a number", x->cat->tables[t].name,
                 column(x, t, c)->name);
        return -1;
    }
    for (i = 0; i < x->nm; i++)
        if (x->m[i].agg == agg && x->m[i].kind == kind && x->m[i].table == t && x->m[i].col == c &&
            x->m[i].gloss == g && x->m[i].distinct == distinct)
            return 0; /* said twice */
    if (x->nm >= MAXMEAS) {
        snprintf(x->err, sizeof x->err, "too many measures in one question");
        return -1;
    }
    if (pl_need_table(x, t) < 0) {
        snprintf(x->err, sizeof x->err, "%s is not related to %s", x->cat->tables[t].name,
                 x->cat->tables[x->main].name);
        return -1;
    }
    x->m[x->nm++] = (measure){agg, distinct, 0, kind, t, c, g, ui, 0, -1};
    return 0;
}

int pl_add_dim(ctx *x, int kind, int t, int c, int grain)
{
    int i;

    for (i = 0; i < x->nd; i++)
        if (x->d[i].kind == kind && x->d[i].table == t && x->d[i].col == c &&
            x->d[i].grain == grain)
            return 0;
    if (x->nd >= MAXDIM) {
        snprintf(x->err, sizeof x->err, "too many groupings in one question");
        return -1;
    }
    x->d[x->nd++] = (dim){kind, t, c, grain};
    return 0;
}

int pl_date_column(const ctx *x, int t)
{
    const cat_table *tb = &x->cat->tables[t];
    int i, found = -1, n = 0;

    for (i = 0; i < tb->ncols; i++)
        if (pl_type_date(tb->cols[i].type)) {
            found = i;
            n++;
        }
    return n == 1 ? found : -1;
}

static int type_whole(const char *t)
{
    return streq(t, "integer") || streq(t, "bigint") || streq(t, "smallint");
}

int pl_year_column(const ctx *x, int t)
{
    const cat_table *tb = &x->cat->tables[t];
    int i, found = -1, n = 0;
    size_t l;

    if (pl_date_column(x, t) >= 0) return -1;
    for (i = 0; i < tb->ncols; i++) {
        const char *nm = tb->cols[i].name;
        if (!type_whole(tb->cols[i].type)) continue;
        l = strlen(nm);
        if (streq(nm, "year") || (l > 5 && streq(nm + l - 5, "_year"))) {
            found = i;
            n++;
        }
    }
    return n == 1 ? found : -1;
}

int pl_label_column(const ctx *x, int t)
{
    const cat_table *tb = &x->cat->tables[t];
    int i;

    for (i = 0; i < tb->ncols; i++)
        if (streq(tb->cols[i].name, "name") || streq(tb->cols[i].name, "title")) return i;
    for (i = 0; i < tb->ncols; i++) { /* "authorname" of author */
        size_t l = strlen(tb->name);
        if (strncmp(tb->cols[i].name, tb->name, l) == 0 && streq(tb->cols[i].name + l, "name"))
            return i;
    }
    for (i = 0; i < tb->ncols; i++) {
        size_t l = strlen(tb->cols[i].name);
        if (l > 5 &&
            (streq(tb->cols[i].name + l - 5, "_name") || streq(tb->cols[i].name + l - 5, "_title")))
            return i;
    }
    return -1;
}

int pl_key_declared(const ctx *x, int t)
{
    const cat_table *tb = &x->cat->tables[t];
    int i, k = -1, n = 0;

    for (i = 0; i < tb->ncols; i++)
        if (tb->cols[i].pk) {
            k = i;
            n++;
        }
    return n == 1 ? k : -1;
}

int pl_key_column(const ctx *x, int t)
{
    const cat_table *tb = &x->cat->tables[t];
    int i, k = pl_key_declared(x, t);

    for (i = 0; k < 0 && i < tb->ncols && !tb->cols[i].pk; i++)
        ;
    if (k < 0 && i == tb->ncols && tb->ncols > 0) /* no key declared: one named as the key */
        return pl_named_key(x->cat, t);
    return k;
}

/* 1 if word w is one of the words of snake_case name (or its plural) */
static int name_has_word(const char *name, const char *w)
{
    size_t l = strlen(w);
    const char *p;

    for (p = strstr(name, w); p; p = strstr(p + 1, w))
        if ((p == name || p[-1] == '_') &&
            (p[l] == '\0' || p[l] == '_' || (p[l] == 's' && (p[l + 1] == '\0' || p[l + 1] == '_'))))
            return 1;
    return 0;
}

int pl_amount_column(const ctx *x, int t)
{
    static const char *const money[] = {"amount", "revenue", "price",  "cost", "fare",
                                        "spend",  "spent",   "salary", NULL};
    const cat_table *tb = &x->cat->tables[t];
    int i, j, k = -1, n = 0;

    for (i = 0; i < tb->ncols; i++) {
        if (tb->cols[i].pk || !pl_type_numeric(tb->cols[i].type)) continue;
        for (j = 0; money[j] && !name_has_word(tb->cols[i].name, money[j]); j++)
            ;
        if (money[j]) {
            k = i;
            n++;
        }
    }
    return n == 1 ? k : -1;
}

int pl_table_first(const unit *u)
{
    int k, t = 0, c = 0;

    for (k = 0; k < u->nc; k++) {
        if (u->c[k].kind == R_TABLE && u->c[k].prio > t) t = u->c[k].prio;
        if ((u->c[k].kind == R_COLUMN || u->c[k].kind == R_DERIVED) && u->c[k].prio > c)
            c = u->c[k].prio;
    }
    return t > c;
}

int pl_pick_qualified(ctx *x, int r, int numeric)
{
    unit *u = &x->u[r];
    int q = prev_ref(x, r), k, qt, best = -1;

    if (q < 0 || x->u[q].role != ROLE_NONE || !pl_table_first(&x->u[q]) ||
        pl_has_kind(x, &x->u[q], M_FILTER) || pl_pick(x, &x->u[q], M_TABLE) < 0) {
        if (q >= 0 && x->u[q].role == ROLE_NONE) x->u[q].pick = -1;
        x->err[0] = '\0';
        return 0;
    }
    qt = pl_cand_table(x, picked(&x->u[q]));
    for (k = 0; k < u->nc; k++)
        if (u->c[k].kind == R_COLUMN && u->c[k].table == qt && pl_reachable(x, qt) &&
            (!numeric || pl_type_numeric(column(x, qt, u->c[k].col)->type)) &&
            (best < 0 || u->c[k].prio > u->c[best].prio))
            best = k;
    if (best < 0) {
        x->u[q].pick = -1;
        return 0;
    }
    u->pick = best;
    return 1;
}

int pl_ref_col(const ctx *x, int t)
{
    const cat_fk *f;

    if (t == x->main || !pl_reachable(x, t) || x->dist[t] != 1) return -1;
    f = &x->fks[x->via[t]];
    return f->table == x->main ? f->column : -1;
}

int pl_back_ref(const ctx *x, int t, int *key)
{
    int i, k = -1;

    for (i = 0; i < x->nfks; i++)
        if (x->fks[i].table == t && x->fks[i].ref_table == x->main && t != x->main) {
            if (k >= 0) return -1;
            k = i;
        }
    if (k < 0) return -1;
    *key = x->fks[k].ref_column;
    return x->fks[k].column;
}
