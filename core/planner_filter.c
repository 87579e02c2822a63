/* planner_filter -- the interpretation's passes that decide which rows: a column named next
 * to its value, table words qualifying a column, comparisons on numeric columns, time
 * ranges on date columns, quoted strings, then every phrase left (values, glossary
 * conditions, yes/no columns, mentions, listed columns), and the final checks (every
 * grammar word used, labels of listed rows, DISTINCT).
 *
 * The passes run in the order pl_interpret() (planner_interp.c) gives; each returns 0 or -1
 * with x->err set. Conditions go to x->where through planner_sql.c's pl_where_*; nothing
 * here writes SQL text or allocates. */
#include "planner_int.h"

#include <stdio.h>

/* A column named next to one of its values only says where the value is ("failed
 * payment", "status refunded"): the value keeps only readings in that column. */
int pl_pass_value_columns(ctx *x)
{
    int i, k;

    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        int side;
        if (a->kind != U_REF || a->role != ROLE_NONE || pl_ref_is_filter(x, a) ||
            !pl_has_kind(x, a, M_COLUMN))
            continue;
        for (side = -1; side <= 1; side += 2) {
            unit *v;
            int m, n2 = 0, hit = 0;
            if (i + side < 0 || i + side >= x->nu || x->u[i + side].kind != U_REF) continue;
            v = &x->u[i + side];
            for (k = 0; k < v->nc; k++)
                for (m = 0; m < a->nc; m++)
                    if (v->c[k].kind == R_VALUE && a->c[m].kind == R_COLUMN &&
                        v->c[k].table == a->c[m].table && v->c[k].col == a->c[m].col)
                        hit = 1;
            if (!hit) continue;
            for (k = 0; k < v->nc; k++) {
                int keep = 0;
                for (m = 0; m < a->nc; m++)
                    if (v->c[k].kind == R_VALUE && a->c[m].kind == R_COLUMN &&
                        v->c[k].table == a->c[m].table && v->c[k].col == a->c[m].col)
                        keep = 1;
                if (keep) v->c[n2++] = v->c[k];
            }
            v->nc = n2;
            a->role = ROLE_QUAL;
            break;
        }
    }
    return 0;
}

/* Column phrase a followed by table phrase b ("names of the conferences"): a is read as the
 * column of b's table when it has one, and b is mentioned. 1 when it did, else 0 (picks
 * cleared). */
static int of_table(ctx *x, unit *a, unit *b)
{
    int k, best = -1, t;

    if (pl_pick(x, b, M_TABLE) < 0) {
        b->pick = -1;
        x->err[0] = '\0';
        return 0;
    }
    t = pl_cand_table(x, picked(b));
    for (k = 0; k < a->nc; k++)
        if (a->c[k].kind == R_COLUMN && a->c[k].table == t &&
            (best < 0 || a->c[k].prio > a->c[best].prio))
            best = k;
    if (best < 0 || !pl_reachable(x, t)) {
        b->pick = -1;
        return 0;
    }
    a->pick = best;
    b->role = ROLE_MENTION; /* the rows listed are b's, shown with their key and name */
    return 1;
}

/* A table word right after a picked column of that table qualifies it ("city of
 * customers"); a table word before a column was folded into the phrase by the lexicon. */
int pl_pass_qualifiers(ctx *x)
{
    int i;

    for (i = 0; i + 1 < x->nu; i++) {
        unit *a = &x->u[i], *b = &x->u[i + 1];
        if (a->kind == U_REF && b->kind == U_REF && a->role == ROLE_NONE && a->pick < 0 &&
            b->role == ROLE_NONE && pl_has_kind(x, a, M_COLUMN) && !pl_table_first(a) &&
            pl_table_first(b) && !pl_has_kind(x, b, M_FILTER) && b->pos > a->end &&
            streq(x->t[a->end].raw, "of") &&
            (b->pos == a->end + 1 ||
             (b->pos == a->end + 2 && streq(x->t[a->end + 1].raw, "the"))) &&
            of_table(x, a, b))
            continue; /* "the names of the conferences" */
        if (a->kind != U_REF || b->kind != U_REF || b->role != ROLE_NONE ||
            !pl_has_kind(x, b, M_TABLE) || pl_has_kind(x, b, M_COLUMN | M_FILTER) || a->pick < 0)
            continue;
        if (pl_pick(x, b, M_TABLE) < 0) return -1;
        if (pl_cand_table(x, picked(b)) == a->c[a->pick].table)
            b->role = ROLE_QUAL;
        else
            b->pick = -1;
    }
    return 0;
}

/* Comparison unit i: on the measure right before it or on counted rows (HAVING), else on
 * the numeric column before it, else on the one after ("more than 1000 loyalty points"). */
static int comparison_at(ctx *x, int i)
{
    unit *a = &x->u[i];
    const cand *c;
    char ph[128];
    int r = prev_ref(x, i), qual = 0;

    if (r >= 0 && x->u[r].role == ROLE_MEASURE) {
        x->having_unit = i; /* "total revenue over 1000" per group */
        a->bound = 1;
        return 0;
    }
    if (r < 0 || !(x->u[r].role == ROLE_NONE || x->u[r].role == ROLE_PROJ) ||
        !pl_has_kind(x, &x->u[r], M_COLUMN | pl_comment_ok(&x->u[r])) ||
        (!(qual = pl_pick_qualified(x, r, 1)) &&
         pl_pick(x, &x->u[r], M_COLUMN | pl_comment_ok(&x->u[r]) | M_NUMERIC) < 0)) {
        if (r >= 0 && x->u[r].role == ROLE_NONE) x->u[r].pick = -1;
        r = next_ref(x, i);
    }
    if (r >= 0 && x->u[r].role == ROLE_COUNTED && x->nd > 0) {
        x->having_unit = i;
        a->bound = 1;
        return 0;
    }
    if (r < 0 || x->u[r].role != ROLE_NONE ||
        !pl_has_kind(x, &x->u[r], M_COLUMN | pl_comment_ok(&x->u[r]))) {
        pl_phrase(x, a, ph, sizeof ph);
        snprintf(x->err, sizeof x->err, "\"%s\" does not follow a numeric column", ph);
        return -1;
    }
    if (!qual && pl_pick(x, &x->u[r], M_COLUMN | pl_comment_ok(&x->u[r]) | M_NUMERIC) < 0)
        return -1;
    c = picked(&x->u[r]);
    if (!pl_type_numeric(column(x, c->table, c->col)->type)) {
        snprintf(x->err, sizeof x->err, "%s.%s is not a number", x->cat->tables[c->table].name,
                 column(x, c->table, c->col)->name);
        return -1;
    }
    x->u[r].role = ROLE_CMPCOL;
    a->bound = 1;
    if (pl_need_table(x, c->table) < 0) return -1;
    return pl_where_cmp(x, c->table, c->col, a);
}

/* Comparisons: "price over 100", "more than 1000 loyalty points". */
int pl_pass_comparisons(ctx *x)
{
    int i;

    for (i = 0; i < x->nu; i++)
        if (x->u[i].kind == U_CMP && !x->u[i].bound && comparison_at(x, i) < 0) return -1;
    return 0;
}

/* The year of a bound written as DATE 'YYYY-01-01' into *y; 0, or -1 when the bound is not
 * the start of a year (a month, a day, a relative date). */
static int year_bound(const char *b, int *y)
{
    int v, n = 0;

    if (sscanf(b, "DATE '%4d-01-01'%n", &v, &n) != 1 || n == 0 || b[n] != '\0') return -1;
    *y = v;
    return 0;
}

/* A range of whole years on a year-number column c ("papers in 2020"); -1 with x->err when
 * the range is not one of whole years. */
static int year_filter(ctx *x, const unit *u, int t, int c)
{
    char v[16];
    int y;

    if ((u->lo[0] && year_bound(u->lo, &y) < 0) || (u->hi[0] && year_bound(u->hi, &y) < 0)) {
        snprintf(x->err, sizeof x->err, "%s.%s holds years, not dates", x->cat->tables[t].name,
                 column(x, t, c)->name);
        return -1;
    }
    if (u->lo[0] &&
        (year_bound(u->lo, &y), snprintf(v, sizeof v, "%d", y), pl_where_col(x, t, c, ">=", v) < 0))
        return -1;
    if (u->hi[0] &&
        (year_bound(u->hi, &y), snprintf(v, sizeof v, "%d", y), pl_where_col(x, t, c, "<", v) < 0))
        return -1;
    return 0;
}

static int time_filter(ctx *x, const unit *u, int t, int c)
{
    if (pl_need_table(x, t) < 0) return -1;
    if (!pl_type_date(column(x, t, c)->type)) return year_filter(x, u, t, c);
    if (u->lo[0] && pl_where_col(x, t, c, ">=", u->lo) < 0) return -1;
    if (u->hi[0] && pl_where_col(x, t, c, "<", u->hi) < 0) return -1;
    return 0;
}

/* Time unit i: on the date column named right before it, else on the only date column of
 * the table named before it, else of the main table. */
static int time_at(ctx *x, int i)
{
    unit *a = &x->u[i];
    int t = x->main, c = -1, r = prev_ref(x, i);

    if (r >= 0 && (x->u[r].role == ROLE_NONE || x->u[r].role == ROLE_MENTION) &&
        pl_has_kind(x, &x->u[r], M_COLUMN | pl_comment_ok(&x->u[r]))) {
        int save = x->u[r].pick;
        if (pl_pick(x, &x->u[r], M_COLUMN | pl_comment_ok(&x->u[r])) >= 0 &&
            (pl_type_date(column(x, picked(&x->u[r])->table, picked(&x->u[r])->col)->type) ||
             pl_year_column(x, picked(&x->u[r])->table) == picked(&x->u[r])->col)) {
            t = picked(&x->u[r])->table;
            c = picked(&x->u[r])->col;
            x->u[r].role = ROLE_TIMECOL;
        } else {
            x->u[r].pick = save;
        }
    }
    if (c < 0 && r >= 0 && x->u[r].role != ROLE_DIM && x->u[r].role != ROLE_RANKDIM &&
        pl_has_kind(x, &x->u[r], M_TABLE) && !pl_has_kind(x, &x->u[r], M_COLUMN)) {
        int save = x->u[r].pick;
        if (pl_pick(x, &x->u[r], M_TABLE) >= 0) t = pl_cand_table(x, picked(&x->u[r]));
        if (x->u[r].role == ROLE_NONE)
            x->u[r].role = ROLE_MENTION;
        else
            x->u[r].pick = save >= 0 ? save : x->u[r].pick;
    }
    if (c < 0 && (c = pl_date_column(x, t)) < 0 && (c = pl_year_column(x, t)) < 0) {
        snprintf(x->err, sizeof x->err, "%s has no single date column for the time range",
                 x->cat->tables[t].name);
        return -1;
    }
    a->bound = 1;
    if (time_filter(x, a, t, c) < 0) {
        if (!x->err[0])
            snprintf(x->err, sizeof x->err, "%s is not related to %s", x->cat->tables[t].name,
                     x->cat->tables[x->main].name);
        return -1;
    }
    return 0;
}

/* Time ranges: on the date column of the table, or the date column named right before. */
int pl_pass_time(ctx *x)
{
    int i;

    for (i = 0; i < x->nu; i++)
        if (x->u[i].kind == U_TIME && !x->u[i].bound && time_at(x, i) < 0) return -1;
    return 0;
}

/* A quoted value (unit i) that is not in the common values, named by the word next to it:
 * 'the journal "nature"' (the label column of the table named just before), '"Computer
 * Science" department' (the text column named just after); compared but for case. Sets *t
 * and *c, or leaves *c at -1; 0, or -1 with x->err. */
static int quoted_named(ctx *x, int i, int *t, int *c)
{
    int r = prev_ref(x, i);
    unit *u;

    if (r >= 0 && x->u[r].role == ROLE_NONE && pl_has_kind(x, &x->u[r], M_TABLE) &&
        !pl_has_kind(x, &x->u[r], M_FILTER)) {
        u = &x->u[r];
        if (pl_pick(x, u, M_TABLE) < 0) return -1;
        *t = pl_cand_table(x, picked(u));
        if ((*c = pl_label_column(x, *t)) >= 0) u->role = ROLE_MENTION;
        return 0;
    }
    r = next_ref(x, i);
    if (r >= 0 && x->u[r].role == ROLE_NONE && pl_has_kind(x, &x->u[r], M_COLUMN) &&
        !pl_has_kind(x, &x->u[r], M_FILTER)) {
        u = &x->u[r];
        if (pl_pick(x, u, M_COLUMN) < 0) return -1;
        *t = picked(u)->table;
        *c = picked(u)->col;
        u->role = ROLE_QUAL;
    }
    return 0;
}

/* The column a 'starts with "X"' or 'contains "X"' is about: the one named before it (of the
 * table named right before that, "journals whose names"), or the label column of the table
 * named before it ('journal with "IEEE" in its name'). Sets *t and *c (or leaves *c at -1);
 * 0, or -1 with x->err. */
static int like_target(ctx *x, int r, int *t, int *c)
{
    unit *u;

    if (r < 0 || x->u[r].role != ROLE_NONE) return 0;
    u = &x->u[r];
    if (pl_has_kind(x, u, M_TABLE) && !pl_has_kind(x, u, M_COLUMN)) {
        if (pl_pick(x, u, M_TABLE) < 0) return -1;
        *t = pl_cand_table(x, picked(u));
        u->role = ROLE_MENTION;
        *c = pl_label_column(x, *t);
        return 0;
    }
    if (!pl_pick_qualified(x, r, 0) &&
        (!pl_has_kind(x, u, M_COLUMN) || pl_pick(x, u, M_COLUMN) < 0))
        return x->err[0] ? -1 : 0;
    *t = picked(u)->table;
    *c = picked(u)->col;
    u->role = ROLE_QUAL;
    return 0;
}

/* Quoted values: 'events named "Golden Gala 17"' (the label column of the table named
 * before), 'email "a@b.c"' (the text column named before), and those quoted_named() finds. */
int pl_pass_quoted(ctx *x)
{
    int i, r;

    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        const char *v;
        int t = x->main, c = -1, how = -1;
        if (a->kind != U_LIT || a->bound) continue; /* bound: a ratio's side took it */
        v = x->lits[x->t[a->super >= LIT_PREFIX ? a->a[0] : a->end - 1].lit - 1];
        r = prev_ref(x, i);
        if (a->super >= LIT_PREFIX) {
            if (like_target(x, r, &t, &c) < 0) return -1;
            how = a->super == LIT_PREFIX ? LIKE_PREFIX : LIKE_CONTAINS;
        } else if (a->super) {
            if (r >= 0 && (x->u[r].role == ROLE_NONE || x->u[r].role == ROLE_MENTION) &&
                pl_has_kind(x, &x->u[r], M_TABLE) && !pl_has_kind(x, &x->u[r], M_COLUMN)) {
                if (pl_pick(x, &x->u[r], M_TABLE) < 0) return -1;
                t = pl_cand_table(x, picked(&x->u[r]));
                x->u[r].role = ROLE_MENTION;
            }
            c = pl_label_column(x, t);
        } else if (r >= 0 && x->u[r].role == ROLE_NONE && pl_has_kind(x, &x->u[r], M_COLUMN)) {
            if (pl_pick(x, &x->u[r], M_COLUMN) < 0) return -1;
            t = picked(&x->u[r])->table;
            c = picked(&x->u[r])->col;
            x->u[r].role = ROLE_QUAL;
        } else if (quoted_named(x, i, &t, &c) < 0) {
            return -1;
        } else if (c >= 0) {
            how = LIKE_EQUAL;
        }
        if (c < 0 || pl_type_numeric(column(x, t, c)->type) ||
            pl_type_bool(column(x, t, c)->type)) {
            snprintf(x->err, sizeof x->err, "I do not know which column \"%s\" is in", v);
            return -1;
        }
        a->bound = 1;
        if (pl_need_table(x, t) < 0 ||
            (how < 0 ? pl_where_text(x, t, c, v) : pl_where_like(x, t, c, v, how)) < 0)
            return -1;
    }
    return 0;
}

/* Joins every table that a glossary SQL fragment names as "table.column"; -1 with x->err
 * when one is not reachable from the main table. */
static int need_sql_tables(ctx *x, const char *sql)
{
    const char *p = sql;
    char name[128];
    char quote = 0;

    while (*p) {
        size_t n;
        if (quote) { /* skip string literals */
            if (*p == quote) quote = 0;
            p++;
            continue;
        }
        if (*p == '\'') {
            quote = *p++;
            continue;
        }
        if (!(isalpha((unsigned char)*p) || *p == '_') ||
            (p > sql && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '.'))) {
            p++;
            continue;
        }
        for (n = 0; isalnum((unsigned char)p[n]) || p[n] == '_'; n++)
            ;
        if (p[n] == '.' && n < sizeof name) {
            int t;
            memcpy(name, p, n);
            name[n] = '\0';
            t = catalog_find_table(x->cat, name);
            if (t < 0 || pl_need_table(x, t) < 0) {
                snprintf(x->err, sizeof x->err, "the glossary condition \"%s\" needs %s, which %s",
                         sql, name, t < 0 ? "does not exist" : "I cannot join here");
                return -1;
            }
        }
        p += n;
    }
    return 0;
}

/* A value right after (or before) a table it belongs to through that table: "events in
 * Pune" is the venue's city even when the main table's customers also have cities. Sets the
 * pick of unit i when a table ref is adjacent and the strongest reading is a value; 0 or -1. */
static int anchor_value(ctx *x, int i)
{
    unit *u = &x->u[i];
    int side, k, anchor = -1, best = -1, besth = -1, tie = -1;
    char ph[128];

    if (!pl_ref_is_filter(x, u) || !pl_has_kind(x, u, M_VALUE) || pl_has_kind(x, u, M_GLOSS))
        return 0;
    for (side = -1; side <= 1 && anchor < 0; side += 2) {
        unit *v;
        if (i + side < 0 || i + side >= x->nu || x->u[i + side].kind != U_REF) continue;
        v = &x->u[i + side];
        if (v->pick >= 0 && (v->c[v->pick].kind == R_TABLE || v->c[v->pick].kind == R_GLOSS) &&
            (v->role == ROLE_MENTION || v->role == ROLE_COUNTED || v->role == ROLE_QUAL))
            anchor = pl_cand_table(x, &v->c[v->pick]);
    }
    if (anchor < 0 || anchor == x->main) return 0;
    for (k = 0; k < u->nc; k++) {
        int h;
        if (u->c[k].kind != R_VALUE || !pl_reachable(x, u->c[k].table)) continue;
        h = pl_hops(x, anchor, u->c[k].table, MAXDEPTH);
        if (h < 0) continue;
        if (best < 0 || h < besth) {
            best = k;
            besth = h;
            tie = -1;
        } else if (h == besth &&
                   (u->c[k].table != u->c[best].table || u->c[k].col != u->c[best].col)) {
            tie = k;
        }
    }
    if (best < 0) return 0;
    if (tie >= 0) {
        char a[160], b[160];
        pl_phrase(x, u, ph, sizeof ph);
        pl_cand_name(x, &u->c[best], a, sizeof a);
        pl_cand_name(x, &u->c[tie], b, sizeof b);
        snprintf(x->err, sizeof x->err, "\"%s\" could mean %s or %s", ph, a, b);
        return -1;
    }
    u->pick = best;
    return 0;
}

/* The value picked for unit i, with every later unfiltered value of the same column and
 * negation as alternatives: "in Pune or Mumbai" is one IN list. A glossary term on the same
 * span would win elsewhere, so such a unit stays out of the list. */
/* 1 if value reading m of u binds at least as strongly as every other value reading of u */
static int strongest_value(const unit *u, int m)
{
    int k;

    for (k = 0; k < u->nc; k++)
        if (u->c[k].kind == R_VALUE && u->c[k].prio > u->c[m].prio) return 0;
    return 1;
}

static int value_filter(ctx *x, int i)
{
    unit *a = &x->u[i];
    const cand *c = picked(a);
    int vals[MAXUNIT], n = 0, j, m;

    a->role = ROLE_FILTER;
    if (pl_need_table(x, c->table) < 0) return -1;
    for (j = i; j < x->nu; j++) {
        unit *b = &x->u[j];
        if (b->kind != U_REF || (j > i && (b->role != ROLE_NONE || b->neg != a->neg))) continue;
        if (j > i) {
            if (pl_has_kind(x, b, M_GLOSS) || !pl_ref_is_filter(x, b)) continue;
            for (m = 0; m < b->nc; m++)
                if (b->c[m].kind == R_VALUE && b->c[m].table == c->table && b->c[m].col == c->col)
                    break;
            if (m == b->nc || !strongest_value(b, m)) continue; /* "from LAX to ORD" */
            b->pick = m;
            b->role = ROLE_FILTER;
        }
        vals[n++] = picked(b)->val;
    }
    return pl_where_values(x, c->table, c->col, a->neg, vals, n);
}

/* A table mention read as a weaker table than the one it names ("courses" as course_offering
 * because course is not related to it) would answer about other rows: -1 with x->err. */
static int weak_mention(ctx *x, const unit *a)
{
    const cand *c = picked(a);
    char ph[128];
    int k;

    for (k = 0; k < a->nc; k++)
        if (a->c[k].kind == R_TABLE && a->c[k].prio > c->prio) {
            pl_phrase(x, a, ph, sizeof ph);
            snprintf(x->err, sizeof x->err, "\"%s\" names %s, which is not related to %s", ph,
                     x->cat->tables[a->c[k].table].name, x->cat->tables[x->main].name);
            return -1;
        }
    return 0;
}

/* 1 if column reading c is the name or key of a table grouped by, already shown. */
static int shown_by_dim(const ctx *x, const cand *c)
{
    int k;

    for (k = 0; k < x->nd; k++)
        if (x->d[k].kind == R_TABLE && x->d[k].table == c->table &&
            (c->col == pl_label_column(x, c->table) || c->col == pl_key_column(x, c->table)))
            return 1;
    return 0;
}

/* 1 if the phrase at token i follows "have" / "has" / "had", an article between or not. */
static int after_have(const ctx *x, int i)
{
    static const char *const have[] = {"have", "has", "had", NULL};
    static const char *const art[] = {"a", "an", "any", "the", NULL};

    if (i > 0 && in_list(x->t[i - 1].raw, art)) i--;
    return i > 0 && in_list(x->t[i - 1].raw, have);
}

/* "authors not part of any organization", "airlines without flights": rows of the main
 * table that have no row of the table negated unit a names, by the main table's reference to
 * it (IS NULL) or by its references to the main one (NOT EXISTS). 0, or -1 with x->err. */
static int without_table(ctx *x, unit *a)
{
    int t = -1, c, key, l, k, best = -1;

    for (k = 0; k < a->nc; k++) /* its strongest table reading, related or not */
        if (a->c[k].kind == R_TABLE && (best < 0 || a->c[k].prio > a->c[best].prio)) best = k;
    if (best >= 0) t = a->c[best].table;
    a->role = ROLE_FILTER;
    if (t < 0 || t == x->main || pl_is_link(x, x->main)) { /* a link row has both sides */
        snprintf(x->err, sizeof x->err, "%s without %s?", x->cat->tables[x->main].name,
                 t < 0 ? "what" : x->cat->tables[t].name);
        return -1;
    }
    if ((c = pl_ref_col(x, t)) >= 0) return pl_where_col(x, x->main, c, "IS", "NULL");
    if ((c = pl_back_ref(x, t, &key)) >= 0) return pl_where_exists(x, 1, t, c, x->main, key);
    for (l = 0, k = -1; l < x->cat->ntables; l++) /* "authors without publications" */
        if (pl_link_col(x, l, t) >= 0 && pl_back_ref(x, l, &key) >= 0) {
            if (k >= 0) {
                snprintf(x->err, sizeof x->err, "%s and %s link %s to %s both",
                         x->cat->tables[k].name, x->cat->tables[l].name,
                         x->cat->tables[x->main].name, x->cat->tables[t].name);
                return -1;
            }
            k = l;
        }
    if (k >= 0 && (c = pl_back_ref(x, k, &key)) >= 0)
        return pl_where_exists(x, 1, k, c, x->main, key); /* no link row */
    snprintf(x->err, sizeof x->err, "%s and %s are not related directly", x->cat->tables[t].name,
             x->cat->tables[x->main].name);
    return -1;
}

/* Unit i, still without a role, by its strongest reachable reading: a value or glossary
 * condition or yes/no column is a filter, a table a mention, another column is listed
 * (only when nothing is measured or grouped). */
static int rest_at(ctx *x, int i)
{
    unit *a = &x->u[i];
    const cand *c;
    char ph[128];

    if (a->neg && a->pick < 0 && pl_table_first(a) && !pl_has_kind(x, a, M_FILTER))
        return without_table(x, a);
    if (anchor_value(x, i) < 0 ||
        (a->pick < 0 && pl_pick(x, a, M_ANY & ~M_DERIVED & ~M_COMMENT) < 0))
        return -1;
    c = picked(a);
    if (c->kind == R_VALUE) return value_filter(x, i);
    if (c->kind == R_GLOSS && x->gi[c->gloss].kind == GK_FILTER) {
        a->role = ROLE_FILTER;
        if (need_sql_tables(x, x->g->e[c->gloss].filter) < 0) return -1;
        return pl_where_sql(x, a->neg, x->g->e[c->gloss].filter);
    }
    if (c->kind == R_TABLE && a->neg) return without_table(x, a);
    if (c->kind == R_TABLE || c->kind == R_GLOSS) {
        a->role = ROLE_MENTION;
        if (a->neg) {
            snprintf(x->err, sizeof x->err, "I cannot negate a table");
            return -1;
        }
        return weak_mention(x, a);
    }
    if (c->kind == R_COLUMN && pl_type_bool(column(x, c->table, c->col)->type)) {
        a->role = ROLE_FILTER;
        if (pl_need_table(x, c->table) < 0 ||
            pl_where_col(x, c->table, c->col, "=", a->neg ? "FALSE" : "TRUE") < 0)
            return -1;
        return 0;
    }
    if (c->kind == R_COLUMN && !a->neg && shown_by_dim(x, c)) {
        a->role = ROLE_MENTION; /* "give the names of the conferences" grouped by conference */
        return 0;
    }
    if (c->kind == R_COLUMN && c->prio >= P_COL && after_have(x, a->pos) &&
        !pl_type_numeric(column(x, c->table, c->col)->type)) {
        /* "students who have a minor": by the column's name, not a part of it; not of a number
         * ("have loyalty points" may mean more than none) */
        a->role = ROLE_FILTER;
        return pl_need_table(x, c->table) < 0 ||
                       pl_where_col(x, c->table, c->col, a->neg ? "IS" : "IS NOT", "NULL") < 0
                   ? -1
                   : 0;
    }
    if (c->kind == R_COLUMN && x->listing && !a->neg) {
        if (x->nproj >= MAXPROJ) {
            snprintf(x->err, sizeof x->err, "too many columns");
            return -1;
        }
        a->role = ROLE_PROJ;
        if (pl_need_table(x, c->table) < 0) return -1;
        x->proj[x->nproj][0] = c->table;
        x->proj[x->nproj][1] = c->col;
        x->nproj++;
        return 0;
    }
    pl_phrase(x, a, ph, sizeof ph);
    snprintf(x->err, sizeof x->err, "I do not know what to do with \"%s\" here", ph);
    return -1;
}

/* The rest: filters, mentions, listed columns. */
int pl_pass_rest(ctx *x)
{
    int i;

    x->listing = x->nm == 0 && x->nd == 0;
    for (i = 0; i < x->nu; i++)
        if (x->u[i].kind == U_REF && x->u[i].role == ROLE_NONE && rest_at(x, i) < 0) return -1;
    return 0;
}

/* 1 if unit u is a condition of the WHERE clause */
static int is_condition(const unit *u)
{
    return (u->kind == U_REF && u->role == ROLE_FILTER) ||
           ((u->kind == U_CMP || u->kind == U_LIT || u->kind == U_TIME) && u->bound);
}

/* Conditions are ANDed: an "or" between two conditions that are not values of one column
 * ("with a final project or exam") is declined rather than read as "and". 0 or -1. */
static int or_between(ctx *x)
{
    int p, i;

    for (p = 1; p < x->nt; p++) {
        const unit *a = NULL, *b = NULL;
        if (!streq(x->t[p].raw, "or")) continue;
        for (i = 0; i < x->nu; i++) {
            if (x->u[i].pos <= p && x->u[i].end > p) break; /* inside a unit: "2 or more" */
            if (x->u[i].end <= p) a = &x->u[i];
            if (x->u[i].pos > p && !b) b = &x->u[i];
        }
        if (i < x->nu || !a || !b || !is_condition(a) || !is_condition(b)) continue;
        if (a->kind == U_REF && b->kind == U_REF && picked(a) && picked(b) &&
            picked(a)->kind == R_VALUE && picked(b)->kind == R_VALUE &&
            picked(a)->table == picked(b)->table && picked(a)->col == picked(b)->col)
            continue; /* "in Pune or Mumbai": one IN list */
        snprintf(x->err, sizeof x->err, "I can only join conditions with \"and\", not \"or\"");
        return -1;
    }
    return 0;
}

/* Every grammar unit (a time range, a comparison, "by", "top", ...) must have been used, and
 * no "or" joins two conditions. */
int pl_pass_unbound(ctx *x)
{
    char ph[128];
    int i;

    for (i = 0; i < x->nu; i++) {
        const unit *a = &x->u[i];
        if (a->kind != U_REF && !a->bound) {
            pl_phrase(x, a, ph, sizeof ph);
            snprintf(x->err, sizeof x->err, "I do not know what \"%s\" applies to here", ph);
            return -1;
        }
    }
    return or_between(x);
}

/* 1 if unit i is the first phrase of the question that names something */
static int first_ref(const ctx *x, int i)
{
    int k;

    for (k = 0; k < i; k++)
        if (x->u[k].kind == U_REF) return 0;
    return 1;
}

/* "Which courses have a final exam" (the exam columns in course offerings): listed whole rows
 * are those of the first table named, when that is not the main table and the main table is
 * not named (or that table is what the question names first: "which airlines offer
 * flights"); each such row once. 0, or -1 with x->err. */
static int list_subject(ctx *x)
{
    int i, t, first = -1;

    for (i = 0; i < x->nu; i++) {
        const unit *a = &x->u[i];
        if (a->kind != U_REF || a->role != ROLE_MENTION || !picked(a)) continue;
        t = pl_cand_table(x, picked(a));
        if (first < 0 && t != x->main && first_ref(x, i)) {
            first = t; /* "which airlines offer flights ...": the airlines */
            break;
        }
        if (t == x->main) return 0;
        if (first < 0) first = t;
    }
    if (first < 0) return 0;
    if (pl_need_table(x, first) < 0) {
        snprintf(x->err, sizeof x->err, "%s is not related to %s", x->cat->tables[first].name,
                 x->cat->tables[x->main].name);
        return -1;
    }
    x->list_table = first;
    x->distinct_proj = 1;
    return 0;
}

/* "the cities in Texas and their population": listed rows of a named main table show its
 * name (and its key) first. */
int pl_pass_label(ctx *x)
{
    int i, k;

    if (x->listing && x->nproj == 0 && x->order_c < 0 && list_subject(x) < 0) return -1;

    for (i = 0; x->listing && x->nproj > 0 && i < x->nu; i++) {
        const unit *a = &x->u[i];
        int cols[2], n = pl_row_columns(x, x->main, cols), j;
        if (a->kind != U_REF || (a->role != ROLE_MENTION && a->role != ROLE_RANKDIM) || n == 0 ||
            !picked(a) || pl_cand_table(x, picked(a)) != x->main)
            continue;
        for (j = n - 1; j >= 0 && x->nproj < MAXPROJ; j--) { /* the name, then the key */
            for (k = 0; k < x->nproj; k++)
                if (x->proj[k][0] == x->main && x->proj[k][1] == cols[j]) break;
            if (k < x->nproj) continue;
            memmove(x->proj + 1, x->proj, (size_t)x->nproj * sizeof x->proj[0]);
            x->proj[0][0] = x->main;
            x->proj[0][1] = cols[j];
            x->nproj++;
        }
        break;
    }
    return 0;
}

/* Listed columns are DISTINCT after "distinct", or when the one column listed has common
 * values ("list the event categories"). */
int pl_pass_distinct(ctx *x)
{
    int i;

    for (i = 0; i < x->nu; i++)
        if (x->u[i].kind == U_DISTINCT && x->nproj > 0) x->distinct_proj = 1;
    /* not when ordered: DISTINCT would drop rows of the ranking (and cannot order by a column
     * it does not list) */
    if (x->nproj == 1 && column(x, x->proj[0][0], x->proj[0][1])->nvalues > 0 && x->order_c < 0 &&
        !x->limit)
        x->distinct_proj = 1;
    return 0;
}
