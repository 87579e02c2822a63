/* planner_interp -- the interpretation: for one main table, gives every unit of the question
 * a role by running a fixed sequence of passes (the table in pl_interpret() is the one place
 * that order is written). This file owns the passes that decide what is computed: negation,
 * measures, rankings, superlatives, groupings, glossary measures named alone, "X with more
 * than N Y", and the default measure of a grouping; planner_filter.c owns the passes that
 * decide which rows (comparisons, time ranges, values, quoted strings) and the last checks.
 *
 * Each pass reads units and the picks of earlier passes, and fills x->m, x->d, x->rank...;
 * it returns 0, or -1 with x->err saying why this main table does not work. Nothing is
 * allocated; the SQL text is the writer's (planner_sql.c). */
#include "planner_int.h"

#include <stdio.h>

/* Unit r names the table whose rows are counted: the main table, or one the main table
 * refers to, when it is a link table or in the second round (its distinct references are
 * counted: "publications per author" of writes, "restaurants on each street" of locations). */
static int count_rows(ctx *x, int r)
{
    int t, c;

    if (pl_pick(x, &x->u[r], M_TABLE) < 0) return -1;
    t = pl_cand_table(x, picked(&x->u[r]));
    if ((c = pl_ref_col(x, t)) >= 0 && (x->ref_count || pl_is_link(x, x->main))) {
        x->u[r].role = ROLE_COUNTED;
        return pl_add_measure(x, AGG_COUNT, 1, R_COLUMN, x->main, c, -1, r);
    }
    if (t != x->main) {
        snprintf(x->err, sizeof x->err, "counting %s, not %s", x->cat->tables[t].name,
                 x->cat->tables[x->main].name);
        return -1;
    }
    x->u[r].role = ROLE_COUNTED;
    return pl_add_measure(x, AGG_COUNT, 0, R_TABLE, x->main, -1, -1, r);
}

/* The aggregate of a summed reading: a glossary measure's own, else a sum. */
static int sum_agg(const ctx *x, const cand *c)
{
    return c->kind == R_DERIVED ? x->gi[c->gloss].agg : AGG_SUM;
}

/* pass: a negation applies to the filter or column right after it. */
static int pass_negation(ctx *x)
{
    int i, r;

    for (i = 0; i < x->nu; i++)
        if (x->u[i].kind == U_NEG && (r = next_ref(x, i)) >= 0 &&
            (pl_has_kind(x, &x->u[r], M_FILTER | M_COLUMN) || pl_table_first(&x->u[r]))) {
            x->u[r].neg = 1;
            x->u[i].bound = 1;
        }
    return 0;
}

/* Aggregate unit i is followed by filters only (units (i, j)): "how many members" counts the
 * table the last filter word belongs to, which must be the main table. */
static int count_filtered(ctx *x, int i, int j, int agg)
{
    char ph[128];
    int k, t;

    for (k = j - 1; k > i; k--)
        if (x->u[k].kind == U_REF && pl_has_kind(x, &x->u[k], M_GLOSS | M_COLUMN)) break;
    if (agg == AGG_COUNT && k > i &&
        (pl_pick(x, &x->u[k], M_GLOSS) >= 0 || pl_pick(x, &x->u[k], M_COLUMN) >= 0)) {
        t = pl_cand_table(x, picked(&x->u[k]));
        x->u[k].pick = -1;
        if (t != x->main) {
            snprintf(x->err, sizeof x->err, "counting %s, not %s", x->cat->tables[t].name,
                     x->cat->tables[x->main].name);
            return -1;
        }
        x->u[i].bound = 1;
        return pl_add_measure(x, AGG_COUNT, 0, R_TABLE, t, -1, -1, i);
    }
    pl_phrase(x, &x->u[i], ph, sizeof ph);
    snprintf(x->err, sizeof x->err, "\"%s\" is not followed by something to measure", ph);
    return -1;
}

/* Aggregate unit i applies to the column or glossary measure of unit r. */
static int measure_column(ctx *x, int i, int r, int agg, int super, int distinct)
{
    /* "seating capacity": two words of one column's comment name it well enough */
    unsigned mm = M_COLUMN | M_DERIVED | (x->u[r].end - x->u[r].pos > 1 ? M_COMMENT : 0u);
    const cand *c;
    int magg = agg, k;

    if (agg == AGG_SUM || agg == AGG_AVG || super) mm |= M_NUMERIC;
    if (pl_pick(x, &x->u[r], mm) < 0) return -1;
    x->u[r].role = ROLE_MEASURE;
    c = picked(&x->u[r]);
    if (c->kind == R_DERIVED && agg == AGG_SUM) magg = x->gi[c->gloss].agg;
    if (pl_add_measure(x, magg, distinct, c->kind == R_COMMENT ? R_COLUMN : c->kind, c->table,
                       c->col, c->gloss, i) < 0)
        return -1;
    x->m[x->nm - 1].super = super;
    if (super) x->rank_desc = x->u[i].agg == AGG_MAX;
    /* "the highest-rated restaurant": a superlative of one row, not of a total */
    if (super && (k = next_ref(x, r)) >= 0 && pl_has_kind(x, &x->u[k], M_TABLE) &&
        !pl_has_kind(x, &x->u[k], M_COLUMN | M_FILTER)) {
        int save = x->u[k].pick;
        if (pl_pick(x, &x->u[k], M_TABLE) >= 0 && pl_cand_table(x, picked(&x->u[k])) == c->table)
            x->m[x->nm - 1].super = 2;
        x->u[k].pick = save;
        x->err[0] = '\0';
    }
    return 0;
}

/* Aggregate unit a of a share ("what share of sales were refunded": of the main table's
 * rows) or of money spent ("spent the most on merchandise": the total of that table's one
 * money column) applies to the table named by unit r. */
static int measure_special(ctx *x, const unit *a, int r)
{
    int t, c;

    if (!pl_has_kind(x, &x->u[r], M_TABLE) || pl_pick(x, &x->u[r], M_TABLE) < 0) {
        if (!x->err[0]) snprintf(x->err, sizeof x->err, "a share or an amount of what rows?");
        return -1;
    }
    t = pl_cand_table(x, picked(&x->u[r]));
    if (a->agg == AGG_SHARE) {
        if (count_rows(x, r) < 0) return -1;
        x->m[x->nm - 1].agg = AGG_SHARE;
        x->m[x->nm - 1].pct = a->amount == 100;
        return 0;
    }
    if ((c = pl_amount_column(x, t)) < 0) {
        snprintf(x->err, sizeof x->err, "%s has no single column of money spent",
                 x->cat->tables[t].name);
        return -1;
    }
    x->u[r].role = ROLE_MEASURE;
    if (pl_add_measure(x, AGG_SUM, 0, R_COLUMN, t, c, -1, r) < 0) return -1;
    x->m[x->nm - 1].super = 1;
    x->rank_desc = a->agg == AGG_MAX;
    return 0;
}

/* 1 if column name says it holds a number of things ("num_enrolled", "citation_num") */
static int count_named(const char *name)
{
    static const char *const w[] = {"num", "number", "count", "cnt", NULL};
    int k;

    for (k = 0; w[k]; k++) {
        size_t l = strlen(w[k]);
        const char *p;
        for (p = strstr(name, w[k]); p; p = strstr(p + 1, w[k]))
            if ((p == name || p[-1] == '_') && (p[l] == '\0' || p[l] == '_')) return 1;
    }
    return 0;
}

/* 1 if the strongest numeric column reading of unit r holds a number of things; leaves
 * r unpicked. */
static int count_column_at(ctx *x, int r)
{
    const cand *c = pl_pick(x, &x->u[r], M_COLUMN | M_NUMERIC) >= 0 ? picked(&x->u[r]) : NULL;
    int yes = c && count_named(column(x, c->table, c->col)->name);

    x->u[r].pick = -1;
    x->err[0] = '\0';
    return yes;
}

/* "the number of enrolled students" where a column stores that number: count unit j (its
 * words say "number") is followed by a phrase whose strongest column reading holds a number
 * of things. Returns the phrase's unit (a table word right after it, "students",
 * is part of the phrase), or -1 leaving the units as they were. */
static int count_column(ctx *x, int j)
{
    const unit *a = &x->u[j];
    int r = j + 1, k, said = 0;

    if (a->kind != U_AGG || a->agg != AGG_COUNT) return -1;
    for (k = a->pos; k < a->end; k++)
        said |= streq(x->t[k].raw, "number");
    if (!said || r >= x->nu || x->u[r].kind != U_REF) return -1;
    /* "students enrolled": the thing counted, then the column's own word */
    if (pl_has_kind(x, &x->u[r], M_TABLE) && (k = next_ref(x, r)) >= 0 &&
        pl_has_kind(x, &x->u[k], M_COLUMN) && count_column_at(x, k)) {
        x->u[r].role = ROLE_MEASURE;
        return k;
    }
    if (!pl_has_kind(x, &x->u[r], M_COLUMN)) return -1;
    if (!count_column_at(x, r)) return -1;
    if ((k = next_ref(x, r)) >= 0 && pl_has_kind(x, &x->u[k], M_TABLE) &&
        !pl_has_kind(x, &x->u[k], M_FILTER))
        x->u[k].role = ROLE_MEASURE;
    return r;
}

/* "total number of enrolled students", "average number of citations", "the highest number
 * of references" of a table storing that number: the aggregate of that column. 1 when unit
 * i is such a measure (added), 0 when not, -1 with x->err. */
static int stored_count(ctx *x, int i)
{
    unit *a = &x->u[i];
    int j = i, agg = AGG_SUM, r;

    if (a->agg != AGG_COUNT) {
        if (a->agg != AGG_AVG && !a->super) return 0;
        j = i + 1;
        agg = a->agg;
    }
    if ((r = count_column(x, j)) < 0) return 0;
    a->bound = x->u[j].bound = 1;
    if (a->super) x->super_unit = i;
    x->u[r].pick = -1;
    return measure_column(x, i, r, agg, a->super, 0) < 0 ? -1 : 1;
}

/* "the highest population density": of two column phrases of one table right next to each
 * other, the second is the one meant (the first only says what kind); returns the unit
 * measured, the first one qualifying it. */
static int head_noun(ctx *x, int r)
{
    unit *a = &x->u[r], *b;
    int k = next_ref(x, r), i, j;

    if (k < 0 || x->u[k].pos != a->end || a->role != ROLE_NONE || x->u[k].role != ROLE_NONE ||
        pl_ref_is_filter(x, &x->u[k]))
        return r; /* "loyalty points members": a filter after the measure */
    b = &x->u[k];
    for (i = 0; i < a->nc; i++)
        for (j = 0; a->c[i].kind == R_COLUMN && j < b->nc; j++)
            if (b->c[j].kind == R_COLUMN && b->c[j].table == a->c[i].table &&
                b->c[j].col != a->c[i].col && a->c[i].prio >= P_COL && b->c[j].prio >= P_COL &&
                !pl_type_bool(column(x, b->c[j].table, b->c[j].col)->type)) {
                a->pick = i;
                a->role = ROLE_QUAL;
                return k;
            }
    return r;
}

/* The measure of aggregate unit i ("how many sales", "highest average price", "number of
 * distinct customers", "total ticket price"). */
static int measure_at(ctx *x, int i)
{
    unit *a = &x->u[i];
    int agg = a->agg, super = a->super, distinct = 0, j = i + 1, r, k;

    if (agg == AGG_RATIO) return pl_measure_ratio(x, i);
    if ((k = stored_count(x, i)) != 0) return k < 0 ? -1 : 0;
    if (super && j < x->nu && x->u[j].kind == U_AGG && !x->u[j].super) { /* "highest average" */
        agg = x->u[j].agg;
        x->u[j].bound = 1;
        j++;
    }
    if (j < x->nu && x->u[j].kind == U_DISTINCT) {
        distinct = 1;
        x->u[j].bound = 1;
        j++;
    }
    /* skip adjectives that are filters: "how many refunded sales", "non-members" */
    while (j < x->nu && ((x->u[j].kind == U_NEG && j + 1 < x->nu && x->u[j + 1].kind == U_REF) ||
                         pl_ref_is_filter(x, &x->u[j])))
        j++;
    if (j >= x->nu || x->u[j].kind != U_REF) return count_filtered(x, i, j, agg);
    r = j;
    /* "ticket price": a table word then its column */
    if (pl_has_kind(x, &x->u[r], M_TABLE) && !pl_has_kind(x, &x->u[r], M_COLUMN | M_DERIVED) &&
        (k = next_ref(x, r)) >= 0 && pl_has_kind(x, &x->u[k], M_COLUMN | M_DERIVED) &&
        agg != AGG_COUNT && agg != AGG_SHARE && !a->amount) {
        if (pl_pick(x, &x->u[r], M_TABLE) < 0) return -1;
        x->u[r].role = ROLE_QUAL;
        r = k;
    }
    r = head_noun(x, r);
    a->bound = 1;
    if (super) x->super_unit = i;
    if (agg == AGG_SHARE || a->amount == 1) return measure_special(x, a, r);
    if (agg == AGG_COUNT && pl_has_kind(x, &x->u[r], M_TABLE) &&
        (!distinct || !pl_has_kind(x, &x->u[r], M_COLUMN | M_DERIVED))) {
        if (super) x->rank_desc = a->agg == AGG_MAX; /* "the most number of restaurants" */
        return count_rows(x, r);
    }
    if (super && agg == a->agg && (k = pl_superlative_rows(x, i, r)) != 0) return k < 0 ? -1 : 0;
    if (super && agg != AGG_COUNT && pl_has_kind(x, &x->u[r], M_TABLE) &&
        (!pl_has_kind(x, &x->u[r], M_COLUMN | M_DERIVED) || pl_table_first(&x->u[r]))) {
        /* "the most tickets": rows of that table */
        if (count_rows(x, r) < 0) return -1;
        x->rank_desc = a->agg == AGG_MAX;
        return 0;
    }
    return measure_column(x, i, r, agg, super, distinct);
}

/* pass: measures, an aggregate word and the phrase it applies to. */
static int pass_measures(ctx *x)
{
    int i;

    for (i = 0; i < x->nu; i++)
        if (x->u[i].kind == U_AGG && !x->u[i].bound && measure_at(x, i) < 0) return -1;
    return 0;
}

/* "N most recent X": rows of the main table X by its date column. */
static int recent_at(ctx *x, const unit *a, int r)
{
    int t, c;

    if (pl_pick(x, &x->u[r], M_TABLE) < 0) return -1;
    t = pl_cand_table(x, picked(&x->u[r]));
    if (t != x->main || (c = pl_date_column(x, t)) < 0) {
        snprintf(x->err, sizeof x->err, "%s has no single date column to sort by",
                 x->cat->tables[t].name);
        return -1;
    }
    x->u[r].role = ROLE_MENTION;
    x->order_t = t;
    x->order_c = c;
    x->order_desc = a->desc;
    if (!x->limit) x->limit = x->u[r].plural ? 10 : 1;
    return 0;
}

/* "top 5 X by Y": Y right after X is the ranking key, not a grouping. */
static int rank_key(ctx *x, int r)
{
    int k;

    if (r + 1 < x->nu && x->u[r + 1].kind == U_BY && (k = next_ref(x, r + 1)) >= 0 &&
        x->u[k].role == ROLE_NONE) {
        x->u[r + 1].bound = 1;
        if (pl_has_kind(x, &x->u[k], M_COLUMN | M_DERIVED)) {
            const cand *c;
            if (pl_pick(x, &x->u[k], M_COLUMN | M_DERIVED) < 0) return -1;
            c = picked(&x->u[k]);
            x->u[k].role = ROLE_MEASURE;
            return pl_add_measure(x, sum_agg(x, c), 0, c->kind, c->table, c->col, c->gloss, k);
        }
        if (pl_has_kind(x, &x->u[k], M_TABLE) && count_rows(x, k) < 0) return -1;
    } else if (r + 1 < x->nu && x->u[r + 1].kind == U_BY && r + 2 < x->nu &&
               x->u[r + 2].kind == U_AGG) {
        x->u[r + 1].bound = 1; /* "by number of tickets": the measure pass took it */
    }
    return 0;
}

/* pass: rankings, "top 5 X [by Y]", "N most recent X". */
static int pass_ranking(ctx *x)
{
    char ph[128];
    int i, r;

    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        if (a->kind != U_TOP && a->kind != U_RECENT) continue;
        a->bound = 1;
        x->limit = a->n;
        r = i + 1;
        while (r < x->nu && x->u[r].kind == U_REF && x->u[r].role == ROLE_NONE &&
               !pl_has_kind(x, &x->u[r], M_TABLE | M_COLUMN | M_DERIVED) &&
               pl_has_kind(x, &x->u[r], M_FILTER))
            r++; /* "top 5 Concert events" */
        if (r >= x->nu || x->u[r].kind != U_REF) {
            pl_phrase(x, a, ph, sizeof ph);
            snprintf(x->err, sizeof x->err, "\"%s\" is not followed by what to rank", ph);
            return -1;
        }
        if (a->kind == U_RECENT) {
            if (recent_at(x, a, r) < 0) return -1;
            continue;
        }
        x->rankdim = r;
        x->rank = 1;
        x->rank_desc = a->desc;
        x->rank_size = a->amount;
        if (!x->limit) {
            x->limit = x->u[r].plural ? 10 : 1;
            x->limit_guess = x->u[r].plural;
        }
        if (rank_key(x, r) < 0) return -1;
    }
    return 0;
}

/* pass: "which city has the most customers", the thing before a superlative is ranked;
 * "which month had the highest revenue", a grain before it ranks the months. */
static int pass_superlative(ctx *x)
{
    int r, k;

    if (x->rank || x->super_unit < 0 || x->nd != 0) return 0;
    for (r = x->super_unit - 1; r >= 0; r--)
        if (x->u[r].kind == U_REF && x->u[r].role == ROLE_NONE &&
            pl_has_kind(x, &x->u[r], M_TABLE | M_COLUMN) && !pl_has_kind(x, &x->u[r], M_FILTER))
            break;
    for (k = x->super_unit - 1; r < 0 && k >= 0; k--)
        if (x->u[k].kind == U_GRAIN) {
            x->rank = 1;
            x->limit = 1;
        }
    if (r >= 0) {
        x->rankdim = r;
        x->rank = 1;
        for (k = r - 1; k >= 0 && x->u[k].kind != U_LIMIT; k--)
            ;
        x->limit = k >= 0 ? x->u[k].n : (x->u[r].plural ? 10 : 1);
        x->limit_guess = k < 0 && x->u[r].plural;
        if (k >= 0) x->u[k].bound = 1;
    }
    return 0;
}

/* The ranked thing is the main table itself: its rows are ordered by the one column measured,
 * with no grouping. */
static int rank_rows(ctx *x, int t)
{
    int k;

    for (k = 0; k < x->nm; k++)
        if (x->m[k].kind == R_COLUMN && x->m[k].table == x->main) break;
    if (k < x->nm && x->nm == 1) {
        x->order_t = x->main;
        x->order_c = x->m[k].col;
        x->order_desc = x->rank_desc;
        x->nm = 0;
        x->rank = 0;
        return 0;
    }
    if (x->nm == 0 && x->rank_size && (k = pl_amount_column(x, t)) >= 0) {
        x->order_t = t; /* "the 3 largest orders": by their amount */
        x->order_c = k;
        x->order_desc = x->rank_desc;
        x->rank = 0;
        return 0;
    }
    if (x->nm == 0)
        snprintf(x->err, sizeof x->err, "I do not know what to rank %s by", x->cat->tables[t].name);
    else
        snprintf(x->err, sizeof x->err, "ranking %s by a total of its own rows",
                 x->cat->tables[t].name);
    return -1;
}

/* pass: the ranked unit becomes a grouping (an entity or a column) ranked by the measure,
 * rows counted when nothing else is measured. */
static int pass_rankdim(ctx *x)
{
    unit *d;
    const cand *c;

    if (x->rankdim < 0) return 0;
    d = &x->u[x->rankdim];
    if (pl_pick(x, d, M_TABLE | M_COLUMN) < 0) return -1;
    c = picked(d);
    d->role = ROLE_RANKDIM;
    if (c->kind == R_TABLE || c->kind == R_GLOSS) {
        int t = pl_cand_table(x, c);
        if (t == x->main) {
            if (rank_rows(x, t) < 0) return -1;
        } else if (pl_add_dim(x, R_TABLE, t, -1, 0) < 0 || pl_need_table(x, t) < 0) {
            return -1;
        }
    } else if (pl_add_dim(x, R_COLUMN, c->table, c->col, 0) < 0 || pl_need_table(x, c->table) < 0) {
        return -1;
    }
    if (x->rank && x->nm == 0)
        return pl_add_measure(x, AGG_COUNT, 0, R_TABLE, x->main, -1, -1, x->rankdim);
    return 0;
}

/* pass: "the city with the highest revenue", a superlative over groups ranks totals. */
static int pass_super_totals(ctx *x)
{
    int k;

    for (k = 0; x->rank && k < x->nm; k++)
        if (x->m[k].super == 1 && (x->m[k].agg == AGG_MAX || x->m[k].agg == AGG_MIN))
            x->m[k].agg = x->m[k].kind == R_DERIVED ? x->gi[x->m[k].gloss].agg : AGG_SUM;
    return 0;
}

/* 1 if tokens [from, to) only join the items of a list ("by city and category"); a clause
 * between ("each instructor who taught a course") ends the list. */
static int list_gap(const ctx *x, int from, int to)
{
    static const char *const join[] = {"and", "of",   "the",   "then", "a",
                                       "an",  "each", "every", NULL};

    for (; from < to; from++)
        if (!in_list(x->t[from].raw, join)) return 0;
    return 1;
}

/* The units [*from, *to) that grouping unit i groups by: the one before "breakdown", the run
 * of table/column phrases after "by". 1 with the span, 0 when i groups by nothing here (a
 * grain, or "by members", a filter), -1 with x->err. */
static int dim_span(ctx *x, int i, int *from, int *to)
{
    unit *a = &x->u[i];
    int r, j, k;

    if (a->kind == U_BYPREV) {
        if ((r = prev_ref(x, i)) < 0 || x->u[r].role != ROLE_NONE) {
            snprintf(x->err, sizeof x->err, "\"breakdown\" of what?");
            return -1;
        }
        a->bound = 1;
        *from = r;
        *to = r + 1; /* one ref */
        return 1;
    }
    if (i + 1 < x->nu && x->u[i + 1].kind == U_GRAIN) {
        a->bound = 1;
        return 0;
    }
    j = i + 1;
    for (k = j; k < x->nu && x->u[k].kind == U_REF && x->u[k].role == ROLE_NONE &&
                pl_has_kind(x, &x->u[k], M_TABLE | M_COLUMN) && !pl_ref_is_filter(x, &x->u[k]) &&
                (k == j || list_gap(x, x->u[k - 1].end, x->u[k].pos));
         k++)
        ;
    if (k == j) {
        /* "by members": a filter, not a grouping */
        if (j < x->nu && x->u[j].kind == U_REF && pl_has_kind(x, &x->u[j], M_FILTER)) {
            a->bound = 1;
            return 0;
        }
        snprintf(x->err, sizeof x->err, "\"by\" is not followed by a column");
        return -1;
    }
    a->bound = 1;
    *from = j;
    *to = k;
    return 1;
}

/* 1 if grouping unit a is the passive "by" of an agent: a lone "by" after a past participle,
 * before the plural of a table ("references cited by publications", "papers written by
 * authors"); "sold by venue", "by each venue" group. */
static int passive_by(const ctx *x, const unit *a, const unit *d)
{
    static const char *const irregular[] = {"written", "taken", "given", "made", "done",   "held",
                                            "taught",  "seen",  "known", "won",  "sold",   "drawn",
                                            "shown",   "run",   "built", "paid", "bought", NULL};
    const char *w;
    size_t l;

    if (a->kind != U_BY || a->end - a->pos != 1 || a->pos == 0 || !d->plural) return 0;
    if (!streq(x->t[a->pos].raw, "by")) return 0;
    w = x->t[a->pos - 1].raw;
    l = strlen(w);
    return (l > 3 && streq(w + l - 2, "ed")) || in_list(w, irregular);
}

/* The column of the main table that refers to table t, when t is one hop away and keyed by
 * its name (state.state_name): grouping by t is grouping by that column, with no join that
 * could drop rows. -1 otherwise. */
static int named_by_ref(const ctx *x, int t)
{
    int k = pl_key_column(x, t), c = pl_ref_col(x, t);

    if (c < 0 || k < 0 || k != pl_label_column(x, t)) return -1;
    return x->fks[x->via[t]].ref_column == k ? c : -1;
}

/* Unit r is grouped by (grouping unit a): a column, or an entity other than the main table;
 * "per customer" of customers alone means per row. */
static int dim_at(ctx *x, const unit *a, int r)
{
    unit *d = &x->u[r];
    const cand *c;
    int k;

    if (pl_pick(x, d, M_TABLE | M_COLUMN) < 0) return -1;
    c = picked(d);
    d->role = ROLE_DIM;
    if (c->kind != R_COLUMN && passive_by(x, a, d)) {
        d->role = ROLE_MENTION; /* the agent: joined, not grouped by */
        return pl_need_table(x, pl_cand_table(x, c));
    }
    if (c->kind == R_COLUMN && c->table != x->main && c->col == pl_label_column(x, c->table) &&
        pl_key_column(x, c->table) >= 0) {
        /* "by domain name" of a joined table: by the domain, its key beside its name */
        if (pl_add_dim(x, R_TABLE, c->table, -1, 0) < 0 || pl_need_table(x, c->table) < 0)
            return -1;
    } else if (c->kind == R_COLUMN) {
        if (pl_add_dim(x, R_COLUMN, c->table, c->col, 0) < 0 || pl_need_table(x, c->table) < 0)
            return -1;
    } else if ((k = named_by_ref(x, pl_cand_table(x, c))) >= 0) {
        if (pl_add_dim(x, R_COLUMN, x->main, k, 0) < 0) return -1;
    } else if (pl_cand_table(x, c) != x->main) {
        if (pl_add_dim(x, R_TABLE, pl_cand_table(x, c), -1, 0) < 0 ||
            pl_need_table(x, pl_cand_table(x, c)) < 0)
            return -1;
    } else if (x->nm == 0 && x->nd == 0 && a->kind == U_BY) {
        d->role = ROLE_MENTION;
    } else if (x->nm == 1 && x->nd == 0 && x->m[0].agg == AGG_RATIO && a->kind == U_BY) {
        d->role = ROLE_MENTION; /* "the ratio of X to Y for each fare": row by row */
        x->per_row = 1;
    } else if (x->nm > 0 && a->kind == U_BY &&
               !(a->end - a->pos == 1 && streq(x->t[a->pos].raw, "by"))) {
        /* "total enrolled students in each course" of courses: per course, by its key (not a
         * passive "by": "citations received by publications") */
        if (pl_key_column(x, x->main) < 0 && pl_label_column(x, x->main) < 0) {
            snprintf(x->err, sizeof x->err, "%s has no key or name to group by",
                     x->cat->tables[x->main].name);
            return -1;
        }
        if (pl_add_dim(x, R_TABLE, x->main, -1, 0) < 0) return -1;
    }
    return 0;
}

/* pass: groupings, "by X", "per X", "for each X", "X breakdown", "monthly". */
static int pass_dimensions(ctx *x)
{
    int i, r, from, to, rc;

    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        if (a->kind == U_GRAIN) {
            int yc = a->grain == GR_YEAR ? pl_year_column(x, x->main) : -1;
            a->bound = 1;
            /* "papers per year" of a table with a year number and no date: by that number */
            if (yc >= 0 ? pl_add_dim(x, R_COLUMN, x->main, yc, 0) < 0
                        : pl_add_dim(x, U_GRAIN, -1, -1, a->grain) < 0)
                return -1;
            continue;
        }
        if (a->kind != U_BYPREV && (a->kind != U_BY || a->bound)) continue;
        if ((rc = dim_span(x, i, &from, &to)) < 0) return -1;
        for (r = from; rc > 0 && r < to; r++)
            if (dim_at(x, a, r) < 0) return -1;
    }
    return 0;
}

/* pass: a glossary measure named without an aggregate word is still that aggregate ("ticket
 * revenue since March 2024"), unless it is compared. */
static int pass_named_measures(ctx *x)
{
    int i, k;

    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        int best = -1;
        if (a->kind != U_REF || a->role != ROLE_NONE) continue;
        for (k = 0; k < a->nc; k++)
            if (best < 0 || a->c[k].prio > a->c[best].prio) best = k;
        if (best < 0 || a->c[best].kind != R_DERIVED || (i > 0 && x->u[i - 1].kind == U_CMP) ||
            (i + 1 < x->nu && x->u[i + 1].kind == U_CMP))
            continue;
        if (pl_pick(x, a, M_DERIVED) < 0) {
            a->pick = -1;
            x->err[0] = '\0';
            continue;
        }
        a->role = ROLE_MEASURE;
        if (pl_add_measure(x, x->gi[picked(a)->gloss].agg, 0, R_DERIVED, picked(a)->table, -1,
                           picked(a)->gloss, i) < 0)
            return -1;
    }
    return 0;
}

/* pass: "cities with more than 100 customers", X, a comparison, then rows of the main table
 * counted: X is grouped by, and the count is compared in HAVING. */
static int pass_having_count(ctx *x)
{
    int i;

    for (i = 1; i + 1 < x->nu; i++) {
        unit *a = &x->u[i], *l = &x->u[i - 1], *rr = &x->u[i + 1];
        const cand *c;
        if (a->kind != U_CMP || l->kind != U_REF || rr->kind != U_REF ||
            !(l->role == ROLE_NONE || l->role == ROLE_DIM) || rr->role != ROLE_NONE ||
            !pl_has_kind(x, rr, M_TABLE) || pl_has_kind(x, rr, M_COLUMN) || pl_ref_is_filter(x, l))
            continue;
        if (pl_pick(x, rr, M_TABLE) < 0 || pl_cand_table(x, picked(rr)) != x->main) {
            rr->pick = -1;
            continue;
        }
        if (l->role == ROLE_NONE) {
            if (pl_pick(x, l, M_TABLE | M_COLUMN) < 0) return -1;
            c = picked(l);
            l->role = ROLE_DIM;
            if (c->kind == R_COLUMN ? pl_add_dim(x, R_COLUMN, c->table, c->col, 0) < 0 ||
                                          pl_need_table(x, c->table) < 0
                                    : pl_cand_table(x, c) == x->main ||
                                          pl_add_dim(x, R_TABLE, pl_cand_table(x, c), -1, 0) < 0 ||
                                          pl_need_table(x, pl_cand_table(x, c)) < 0) {
                if (!x->err[0]) snprintf(x->err, sizeof x->err, "cannot group by that");
                return -1;
            }
        }
        rr->role = ROLE_COUNTED;
        a->bound = 1;
        x->having_unit = i;
        if (pl_add_measure(x, AGG_COUNT, 0, R_TABLE, x->main, -1, -1, i + 1) < 0) return -1;
    }
    return 0;
}

/* pass: a grouping with nothing measured is the total of the one amount named ("revenue by
 * category"), else the rows ("customers by city"). */
static int pass_default_measure(ctx *x)
{
    const cand *c;
    int i;

    if (x->nd == 0 || x->nm != 0) return 0;
    for (i = 0; i < x->nu; i++)
        if (x->u[i].kind == U_REF && x->u[i].role == ROLE_NONE &&
            pl_has_kind(x, &x->u[i], M_DERIVED | M_COLUMN) && !pl_has_kind(x, &x->u[i], M_FILTER) &&
            !(i + 1 < x->nu && x->u[i + 1].kind == U_CMP) && !(i > 0 && x->u[i - 1].kind == U_CMP))
            break;
    if (i == x->nu)
        return pl_count_or_sum(x) < 0
                   ? -1
                   : pl_add_measure(x, AGG_COUNT, 0, R_TABLE, x->main, -1, -1, -1);
    if (pl_pick(x, &x->u[i], M_COLUMN | M_DERIVED | M_NUMERIC) < 0) return -1;
    c = picked(&x->u[i]);
    x->u[i].role = ROLE_MEASURE;
    return pl_add_measure(x, sum_agg(x, c), 0, c->kind, c->table, c->col, c->gloss, i);
}

/* Clears the previous attempt: roles, picks and bindings of the units, the measures,
 * groupings, ordering and WHERE; walks the joins of x->main. Not cleared: rank_desc and
 * order_desc, and the readings pl_pass_value_columns() removed from units. */
static void reset(ctx *x)
{
    int i;

    x->nm = x->nd = x->nproj = 0;
    x->rank = 0;
    x->limit = 0;
    x->order_t = x->order_c = -1;
    x->having_unit = -1;
    x->distinct_proj = 0;
    x->rankdim = -1;
    x->rank_size = 0;
    x->super_unit = -1;
    x->listing = 0;
    x->list_table = -1;
    x->ord_unit = -1;
    x->limit_guess = 0;
    x->per_row = 0;
    buf_reset(&x->where);
    x->err[0] = '\0';
    pl_walk_fks(x, x->main);
    for (i = 0; i < x->nu; i++) {
        x->u[i].role = ROLE_NONE;
        x->u[i].pick = -1;
        x->u[i].bound = 0;
        x->u[i].neg = 0;
    }
}

/* The main table must be what some phrase of the question is read as, or what is measured
 * (a table that only links others, or joins two tables the question needs, need neither): a
 * main table nothing names would only drop the rows it lacks. 0, or -1 with x->err. */
static int main_used(ctx *x)
{
    int i, refs = 0;

    if (pl_is_link(x, x->main)) return 0;
    for (i = 0; i < x->cat->ntables; i++) /* a bridge: joins two tables the question names */
        if (x->need[i] && x->dist[i] == 1 && ++refs == 2) return 0;
    for (i = 0; i < x->nm; i++)
        if (x->m[i].table == x->main) return 0;
    for (i = 0; i < x->nd; i++)
        if (x->d[i].table == x->main) return 0;
    for (i = 0; i < x->nu; i++)
        if (x->u[i].kind == U_REF && picked(&x->u[i]) &&
            pl_cand_table(x, picked(&x->u[i])) == x->main)
            return 0;
    snprintf(x->err, sizeof x->err, "nothing in the question is about %s",
             x->cat->tables[x->main].name);
    return -1;
}

int pl_interpret(ctx *x)
{
    /* the order matters: each pass sees the roles the ones before it gave */
    static int (*const passes[])(ctx *) = {
        pass_negation,         /* "not" binds to the next filter */
        pl_pass_order_key,     /* the column after "ordered by" */
        pass_measures,         /* aggregate words and what they apply to */
        pass_ranking,          /* "top 5", "most recent" */
        pass_superlative,      /* "which X has the most Y" */
        pass_rankdim,          /* the ranked thing becomes a grouping */
        pass_super_totals,     /* a superlative over groups ranks totals */
        pass_dimensions,       /* "by X", "monthly" */
        pass_named_measures,   /* a glossary measure without an aggregate word */
        pl_pass_value_columns, /* "status refunded": the column says where the value is */
        pass_having_count,     /* "X with more than N Y" */
        pass_default_measure,  /* a grouping with nothing measured */
        pl_pass_qualifiers,    /* "city of customers" */
        pl_pass_comparisons,   /* "price over 100" */
        pl_pass_time,          /* "in March 2024" on a date column */
        pl_pass_quoted,        /* 'named "Golden Gala"' */
        pl_pass_rest,          /* values, glossary conditions, mentions, listed columns */
        pl_pass_unbound,       /* a grammar word nothing used */
        pl_pass_label,         /* listed rows of a named table show its name */
        pl_pass_order,         /* "ordered by", "from highest to lowest" */
        pl_pass_distinct,      /* "distinct", "list the categories" */
    };
    size_t i;

    reset(x);
    for (i = 0; i < sizeof passes / sizeof passes[0]; i++) {
        if (passes[i](x) < 0) return -1;
    }
    return main_used(x);
}
