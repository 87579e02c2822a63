/* planner -- the offline planner: turns a question into one SELECT using only the catalog,
 * the glossary and the catalog's common values, and declines when any content word of the
 * question is left unexplained. See planner.h.
 *
 * Three stages. The scanner cuts the question into units (a time range, "top 5", "by", an
 * aggregate word, a comparison, a phrase naming a table / column / value / glossary term);
 * every token must end in a unit or be a stop word, or the planner declines naming the word.
 * The interpreter gives each unit a role (measure, dimension, filter, ranking, projection)
 * and picks the main table: the one every other named thing is reachable from through
 * many-to-one foreign keys, trying the strongest readings first. Ties are never broken by
 * guessing: two equally strong readings (a column in two tables at the same distance, two
 * join paths, two main tables that both work) make it decline and say which. The writer
 * emits schema-qualified, quoted-where-needed SQL with the needed joins.
 *
 * This file is the entry: it owns the per-call context (allocated here, freed before
 * returning, nothing kept), runs the stages, chooses the main table and applies the
 * never-guess rule between main tables. The stages live in the private modules of
 * planner_int.h: planner_lex.c (the lexicon), planner_scan.c and planner_time.c (the
 * scanner), planner_join.c (the links joined along: foreign keys, or those a keyless
 * catalog's names imply), planner_bind.c (readings and joins), planner_interp.c and
 * planner_filter.c (the interpretation passes), planner_order.c (order phrases and size
 * superlatives), planner_ratio.c ("ratio of X to Y"), planner_sql.c (the writer),
 * planner_decline.c (declines and suggestions), planner_clarify.c (the question back for a
 * decline between equal readings, and the phrases that name a join path). About 0.03 ms per
 * question on the demo catalog (bench/planner.sh). */
#include "planner_int.h"

#include <stdio.h>
#include <stdlib.h>

void pl_ctx_free(ctx *x)
{
    if (!x) return;
    buf_free(&x->where);
    buf_free(&x->pool);
    free(x->lx);
    free(x->gi);
    free(x->dist);
    free(x->ifks);
    free(x);
}

ctx *pl_ctx_new(const catalog *cat, const glossary *g)
{
    ctx *x = calloc(1, sizeof *x);
    int size;

    if (!x) return NULL;
    x->cat = cat;
    x->g = g;
    x->where = (buf)BUF_INIT(1 << 16);
    x->pool = (buf)BUF_INIT(64u << 20);
    size = cat->ntables > 0 ? cat->ntables : 1;
    x->dist = calloc((size_t)size * 5, sizeof(int));
    x->gi = calloc(g && g->n ? (size_t)g->n : 1, sizeof *x->gi);
    if (!x->dist || !x->gi) {
        pl_ctx_free(x);
        return NULL;
    }
    x->via = x->dist + size;
    x->amb = x->dist + 2 * size;
    x->need = x->dist + 3 * size;
    x->route = x->dist + 4 * size;
    x->tie_unit = x->amb_unit = x->cs_unit = -1;
    if (pl_join_init(x) < 0) {
        pl_ctx_free(x);
        return NULL;
    }
    return x;
}

/* Adds table t to the tries; key says which phrase reading proposed it, so that two tables
 * proposed by equally strong readings of one phrase can be told apart from a fallback. */
static void add_try(int *tries, int *keys, int *n, int max, int t, int key)
{
    int i;

    if (t < 0) return;
    for (i = 0; i < *n; i++)
        if (tries[i] == t) return;
    if (*n < max) {
        keys[*n] = key;
        tries[(*n)++] = t;
    }
}

/* Tables worth trying as the main one, most likely first: what is measured, what is
 * counted, what is named first, then anything a phrase names. */
static int main_candidates(const ctx *x, int *tries, int *keys, int max)
{
    int n = 0, i, j, p;

    for (i = 0; i < x->nu; i++) {
        const unit *a = &x->u[i];
        if (a->kind != U_AGG) continue;
        for (j = i + 1; j < x->nu && j <= i + 3; j++) {
            const unit *r = &x->u[j];
            if (r->kind != U_REF) continue;
            for (p = P_GLOSS; p > 0; p--) {
                int k;
                for (k = 0; k < r->nc; k++)
                    if (r->c[k].prio == p &&
                        (r->c[k].kind == R_COLUMN || r->c[k].kind == R_DERIVED))
                        add_try(tries, keys, &n, max, r->c[k].table, 100000 + j * 100 + p);
            }
            for (p = P_GLOSS; p > 0; p--) {
                int k;
                for (k = 0; k < r->nc; k++)
                    if (r->c[k].prio == p && r->c[k].kind == R_TABLE)
                        add_try(tries, keys, &n, max, r->c[k].table, 100000 + j * 100 + p);
            }
            if (pl_has_kind(x, r, M_TABLE | M_COLUMN | M_DERIVED)) break;
        }
    }
    for (p = P_GLOSS; p > 0; p--)
        for (i = 0; i < x->nu; i++) {
            const unit *r = &x->u[i];
            int k;
            if (r->kind != U_REF) continue;
            for (k = 0; k < r->nc; k++)
                if (r->c[k].prio == p &&
                    (r->c[k].kind == R_TABLE ||
                     (r->c[k].kind == R_GLOSS && x->gi[r->c[k].gloss].table >= 0)))
                    add_try(tries, keys, &n, max, pl_cand_table(x, &r->c[k]), 200000 + i * 100 + p);
        }
    for (p = P_GLOSS; p > 0; p--)
        for (i = 0; i < x->nu; i++) {
            const unit *r = &x->u[i];
            int k;
            if (r->kind != U_REF) continue;
            for (k = 0; k < r->nc; k++)
                if (r->c[k].prio == p && r->c[k].kind != R_GLOSS)
                    add_try(tries, keys, &n, max, r->c[k].table, 300000 + i * 100 + p);
        }
    /* last, the tables that only link others ("writes" for authors and their publications),
     * all with one key: two that both plan must agree */
    for (i = 0; i < x->cat->ntables; i++)
        if (pl_is_link(x, i)) add_try(tries, keys, &n, max, i, 400000);
    return n;
}

/* Never guess: after tries[i] planned as sql, every later try proposed by an equally strong
 * reading (same key) that also plans must give the same SQL. Returns the index of one that
 * differs, or -1. Leaves x interpreted for the last try it planned. */
static int other_reading(ctx *x, const int *tries, const int *keys, int ntries, int i,
                         const char *sql)
{
    int j;

    for (j = i + 1; j < ntries; j++) {
        buf other = BUF_INIT(1 << 20);
        int same = 1;
        if (keys[j] != keys[i]) continue;
        x->main = tries[j];
        if (pl_interpret(x) == 0 && pl_write_sql(x, &other) == 0)
            same = strcmp(buf_cstr(&other), sql) == 0;
        buf_free(&other);
        if (!same) return j;
    }
    return -1;
}

/* Tries each main table in order, in two rounds (the second also counts rows through
 * references); the first that interprets and writes is the answer unless an equally strong
 * one differs. 0 with the SELECT appended to sql, or -1 with why (the first attempt's
 * error). */
static int plan_mains(ctx *x, const int *tries, const int *keys, int ntries, buf *sql, char *why,
                      size_t whylen, int nested)
{
    char msg[600], first_err[400] = "";
    int i, j, round;

    for (round = 0; round < 2; round++) {
        x->ref_count = round;
        for (i = 0; i < ntries; i++) {
            x->main = tries[i];
            if (pl_interpret(x) == 0) {
                size_t before = sql->len;
                if (pl_write_sql(x, sql) == 0) {
                    if ((j = other_reading(x, tries, keys, ntries, i, sql->p + before)) < 0)
                        return 0;
                    sql->len = before;
                    sql->p[before] = '\0';
                    snprintf(msg, sizeof msg,
                             "The question fits both %s and %s; name the one you mean",
                             x->cat->tables[tries[i]].name, x->cat->tables[tries[j]].name);
                    return pl_decline(x, msg, tries[i], why, whylen, nested);
                }
                sql->len = before;
                if (sql->p) sql->p[before] = '\0';
            }
            if (!first_err[0]) str_copy(first_err, sizeof first_err, x->err);
        }
    }
    snprintf(msg, sizeof msg, "I could not put the question together: %s", first_err);
    return pl_decline(x, msg, tries[0], why, whylen, nested);
}

int pl_plan(const catalog *cat, const glossary *g, const char *question, buf *sql, char *why,
            size_t whylen, int nested)
{
    ctx *x = pl_ctx_new(cat, g);
    int rc;

    if (!x) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    rc = pl_plan_in(x, question, sql, why, whylen, nested);
    pl_ctx_free(x);
    return rc;
}

int pl_plan_in(ctx *x, const char *question, buf *sql, char *why, size_t whylen, int nested)
{
    int tries[MAXTRIES], keys[MAXTRIES], ntries, rc = -1;
    char msg[600];

    if (pl_tokenize(x, question) < 0) {
        rc = pl_decline(x, "The question is too long or has too many quoted parts for me", -1, why,
                        whylen, nested);
        goto out;
    }
    if (pl_lex_build(x) < 0 || pl_scan(x) < 0) {
        snprintf(why, whylen, "out of memory or too many parts in the question");
        goto out;
    }
    if (x->unknown[0]) {
        snprintf(msg, sizeof msg,
                 "I could not interpret %s: no table, column, value or glossary term matches",
                 x->unknown);
        rc = pl_decline(x, msg, pl_first_table(x), why, whylen, nested);
        goto out;
    }
    ntries = main_candidates(x, tries, keys, MAXTRIES);
    if (ntries == 0) {
        rc = pl_decline(x, "The question names no table, column or value I know", -1, why, whylen,
                        nested);
        goto out;
    }
    rc = plan_mains(x, tries, keys, ntries, sql, why, whylen, nested);
out:
    return rc;
}

int planner_plan(const catalog *cat, const glossary *g, const char *question, buf *sql, char *why,
                 size_t whylen)
{
    return pl_plan(cat, g, question, sql, why, whylen, 0);
}
