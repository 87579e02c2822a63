/* planner_clarify -- the ambiguities the offline planner asks about instead of declining
 * (planner_clarify() of planner.h), and the phrases that let an answer name a join path.
 *
 * The planner never guesses: it declines when a phrase has two equally strong readings,
 * when the table a phrase names is joined to the question's rows by two equally short
 * foreign-key paths, and when a word for rows grouped ("sales by category") may be their
 * number or a total of one of their columns. Each decline notes what it could not choose
 * between in the context (tie, amb_*, cs_*); planner_clarify() plans the question again,
 * reads that note and rewrites the question once per reading, so that each option is a whole
 * question that plans without the ambiguity:
 *   - a phrase naming two columns: "customers name" / "events name";
 *   - a value in two columns: "customers city Mumbai" / "venues city Mumbai";
 *   - two join paths: "buyer city" / "seller city" (a path phrase, below);
 *   - a count or a sum: "number of ticket sales" / "total price of ticket sales".
 * Path phrases come from the catalog's keys alone: a table that refers to another twice
 * (orders.buyer_id, orders.seller_id -> users) gives "<role> <column>" for the columns of the
 * referred table ("buyer city") and "<role>" for its rows ("per buyer"); a table two tables
 * refer to that a third one refers to both of gives "<referring table> <column>"
 * ("warehouses region name"). Their readings carry the key (cand.via), and pl_route_hints()
 * makes it the only way into that table.
 *
 * Owns nothing past the call (one planner context per question planned, freed). */
#include "planner_int.h"

#include <stdio.h>
#include <strings.h>

#define MAXOPT        4   /* options in one question back */
#define MAX_PATH_KEYS 512 /* above this many keys, no path is named (the cost grows as keys^2) */
#define MAX_DIAMOND   128 /* above this many, paths through a third table are not named */

/* words for rows that may as well mean their total value */
static const char *const VOLUME[] = {"sales",    "bookings", "purchases", "spend",
                                     "spending", "turnover", NULL};
/* the last word of a key column's name that says only "key" */
static const char *const KEYWORD[] = {"id", "code", "key", "fk", "ref", "no", "num", NULL};

/* ---- path phrases ---- */

/* 1 if another key of f's table refers to f's target table */
static int refers_twice(const ctx *x, int f)
{
    const cat_fk *a = &x->fks[f];
    int i;

    for (i = 0; i < x->nfks; i++)
        if (i != f && x->fks[i].table == a->table && x->fks[i].ref_table == a->ref_table &&
            x->fks[i].column != a->column)
            return 1;
    return 0;
}

/* 1 if some table m refers to tables a and b */
static int common_referrer(const ctx *x, int a, int b)
{
    int i, j;

    for (i = 0; i < x->nfks; i++)
        if (x->fks[i].ref_table == a && x->fks[i].table != a)
            for (j = 0; j < x->nfks; j++)
                if (x->fks[j].table == x->fks[i].table && x->fks[j].ref_table == b) return 1;
    return 0;
}

/* 1 if f's target is also referred to by a table that shares a referrer with f's table:
 * two paths of two steps from that referrer */
static int in_diamond(const ctx *x, int f)
{
    const cat_fk *a = &x->fks[f];
    int i;

    if (x->nfks > MAX_DIAMOND) return 0;
    for (i = 0; i < x->nfks; i++) {
        const cat_fk *b = &x->fks[i];
        if (b->ref_table == a->ref_table && b->table != a->table && b->table != a->ref_table &&
            common_referrer(x, a->table, b->table))
            return 1;
    }
    return 0;
}

/* How key f names its path: 1 by its column's role ("buyer" of buyer_id), 2 by its table's
 * name, 0 not at all. Role words go into w (stemmed when stem). */
static int path_words(const ctx *x, int f, int stem, text_words *w)
{
    const cat_fk *k = &x->fks[f];

    if (k->table == k->ref_table) return 0;
    if (refers_twice(x, f)) {
        text_split(x->cat->tables[k->table].cols[k->column].name, stem, w);
        if (w->n > 1 && in_list(w->w[w->n - 1], KEYWORD)) w->n--;
        return w->n > 0 ? 1 : 0;
    }
    if (in_diamond(x, f)) {
        text_split(x->cat->tables[k->table].name, stem, w);
        return w->n > 0 ? 2 : 0;
    }
    return 0;
}

/* 1 if the lexicon has a phrase of exactly the words of w */
static int lex_has(const ctx *x, const text_words *w)
{
    int k, j;

    for (k = 0; k < x->nlx; k++) {
        const lexent *e = &x->lx[k];
        if (e->nw != w->n) continue;
        for (j = 0; j < e->nw && streq(x->pool.p + e->off[j], w->w[j]); j++)
            ;
        if (j == e->nw) return 1;
    }
    return 0;
}

int pl_lex_paths(ctx *x)
{
    text_words *hw = &x->w[0], *cw = &x->w[1], q;
    const catalog *cat = x->cat;
    int f, c, i, mode;

    for (f = 0; x->nfks <= MAX_PATH_KEYS && f < x->nfks; f++) {
        const cat_fk *k = &x->fks[f];
        const cat_table *d = &cat->tables[k->ref_table];
        if (!(mode = path_words(x, f, 1, hw))) continue;
        if (mode == 1 && !lex_has(x, hw)) { /* "per buyer": the users that are buyers */
            cand r = {R_TABLE, P_TABLE, k->ref_table, -1, -1, -1, f + 1};
            if (pl_lex_add(x, &r, hw, 0, hw->n) < 0) return -1;
        }
        for (c = 0; c < d->ncols; c++) {
            cand r = {R_COLUMN, P_COL, k->ref_table, c, -1, -1, f + 1};
            /* "events name" is the events' own name, not their venue's */
            if (mode == 2 && catalog_find_column(cat, k->table, d->cols[c].name) >= 0) continue;
            text_split(d->cols[c].name, 1, cw);
            if (hw->n + cw->n > PH_WORDS) continue;
            q = *hw;
            for (i = 0; i < cw->n; i++)
                memcpy(q.w[q.n++], cw->w[i], TEXT_WORD_MAX);
            /* words that already name something ("user city" of users) keep that reading */
            if (!lex_has(x, &q) && pl_lex_add(x, &r, &q, 0, q.n) < 0) return -1;
        }
    }
    return 0;
}

void pl_route_hints(ctx *x)
{
    int i, k;

    for (i = 0; i < x->cat->ntables; i++)
        x->route[i] = 0;
    for (i = 0; i < x->nu; i++)
        for (k = 0; k < x->u[i].nc; k++) {
            const cand *c = &x->u[i].c[k];
            int d;
            if (!c->via) continue;
            d = x->fks[c->via - 1].ref_table;
            if (x->route[d] == 0)
                x->route[d] = c->via;
            else if (x->route[d] != c->via)
                x->route[d] = -1; /* two paths named: one table joined twice, which is not done */
        }
}

void pl_note_ambiguous_join(ctx *x, const unit *u, unsigned mask)
{
    int k, t;

    if (x->amb_unit >= 0) return;
    for (k = 0; k < u->nc; k++) {
        if (!pl_kind_ok(x, &u->c[k], mask)) continue;
        t = pl_cand_table(x, &u->c[k]);
        if (t >= 0 && x->dist[t] > 0 && x->amb[t]) {
            x->amb_unit = (int)(u - x->u);
            x->amb_table = t;
            x->amb_main = x->main;
            return;
        }
    }
}

/* ---- count or sum ---- */

/* The columns of table t a total could be of: its amount of money and its quantities (a
 * numeric column named quantity, qty or units); up to max into cols, returns how many. */
static int total_columns(ctx *x, int t, int *cols, int max)
{
    static const char *const qty[] = {"quantity", "qty", "units", NULL};
    const cat_table *tb = &x->cat->tables[t];
    text_words *w = &x->w[3];
    int n = 0, c, i, a = pl_amount_column(x, t);

    if (a >= 0) cols[n++] = a;
    for (c = 0; c < tb->ncols && n < max; c++) {
        if (c == a || tb->cols[c].pk || !pl_type_numeric(tb->cols[c].type)) continue;
        text_split(tb->cols[c].name, 0, w);
        for (i = 0; i < w->n && !in_list(w->w[i], qty); i++)
            ;
        if (i < w->n) cols[n++] = c;
    }
    return n;
}

int pl_count_or_sum(ctx *x)
{
    int i, k, n, cols[MAXOPT];
    char ph[128], totals[200] = "";

    if ((n = total_columns(x, x->main, cols, MAXOPT)) == 0) return 0;
    for (i = 0; i < x->nu; i++) {
        const unit *u = &x->u[i];
        int part = 0, strong = 0, vol = 0;
        if (u->kind != U_REF || u->role != ROLE_NONE) continue;
        for (k = 0; k < u->nc; k++) {
            /* a word of the name; its last word ranks one above the others */
            if (u->c[k].kind == R_TABLE && u->c[k].table == x->main &&
                u->c[k].prio >= P_TABLE_PART && u->c[k].prio <= P_TABLE_PART + 1)
                part = 1;
            else if (u->c[k].prio >= P_TABLE_PART)
                strong = 1;
        }
        for (k = u->pos; k < u->end; k++)
            vol |= in_list(x->t[k].raw, VOLUME);
        /* "sales" of ticket_sales: a part of the table's name, and a word for money too */
        if (!part || strong || !vol) continue;
        if (x->cs_unit < 0) {
            x->cs_unit = i;
            x->cs_main = x->main;
        }
        for (k = 0; k < n; k++)
            snprintf(totals + strlen(totals), sizeof totals - strlen(totals), "%s%s",
                     k == 0       ? ""
                     : k == n - 1 ? " or "
                                  : ", ",
                     column(x, x->main, cols[k])->name);
        pl_phrase(x, u, ph, sizeof ph);
        snprintf(x->err, sizeof x->err,
                 "\"%s\" could be the number of %s or the total of their %s; say which", ph,
                 x->cat->tables[x->main].name, totals);
        return -1;
    }
    return 0;
}

/* ---- the question back ---- */

typedef struct asking {
    const catalog *cat;
    const glossary *g;
    const semantic *s;
    int n;
    char label[MAXOPT][200];
    buf q[MAXOPT];
    buf sql[MAXOPT];
} asking;

/* Name s with its underscores as spaces, into dst. */
static void spaced(char *dst, size_t len, const char *s)
{
    char *p;

    str_copy(dst, len, s);
    for (p = dst; *p; p++)
        if (*p == '_') *p = ' ';
}

/* x's question with unit u's words replaced by words, into out. */
static void rewrite(const ctx *x, const unit *u, const char *words, buf *out)
{
    buf_reset(out);
    pl_emit(x, 0, u->pos, NULL, out);
    buf_printf(out, "%s%s", out->len ? " " : "", words);
    pl_emit(x, u->end, x->nt, NULL, out);
}

/* 1 if name is written into SQL as it is (no quotes): lower-case letters, digits, '_' */
static int plain(const char *name)
{
    const char *p;

    for (p = name; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_')) return 0;
    return isalpha((unsigned char)name[0]);
}

/* "t.c" (and " = 'v'" when v) into dst when both names are plain, so that an option's SQL can
 * be checked for the reading it is meant to give; "" otherwise. */
static void reading_sql(const ctx *x, int t, int c, const char *v, char *dst, size_t len)
{
    const char *tn = x->cat->tables[t].name, *cn = column(x, t, c)->name;

    dst[0] = '\0';
    if (plain(tn) && plain(cn) && (!v || !strchr(v, '\'')))
        snprintf(dst, len, "%s.%s%s%s%s", tn, cn, v ? " = '" : "", v ? v : "", v ? "'" : "");
}

/* Adds option label / q when q plans (in the semantic layer's words or the planner's, as the
 * pipeline tries them) to SQL that holds must (when not empty) and that no other option
 * gives; 1 when added. */
static int offer(asking *a, const char *label, const buf *q, const char *must)
{
    buf ex = BUF_INIT(1u << 16), ms = BUF_INIT(1u << 12);
    char why[64];
    int i, nm = 0, sem;

    if (a->n >= MAXOPT) return 0;
    buf_reset(&a->sql[a->n]);
    sem = a->s && planner_semantic(a->cat, a->s, buf_cstr(q), &a->sql[a->n], &ex, &ms, &nm) == 0;
    buf_free(&ex);
    buf_free(&ms);
    if (!sem && (buf_reset(&a->sql[a->n]),
                 planner_plan(a->cat, a->g, buf_cstr(q), &a->sql[a->n], why, sizeof why) < 0))
        return 0;
    if (must && must[0] && !strstr(buf_cstr(&a->sql[a->n]), must)) return 0;
    for (i = 0; i < a->n; i++)
        if (streq(buf_cstr(&a->sql[i]), buf_cstr(&a->sql[a->n]))) return 0;
    str_copy(a->label[a->n], sizeof a->label[0], label);
    buf_reset(&a->q[a->n]);
    if (buf_adds(&a->q[a->n], buf_cstr(q)) < 0) return 0;
    a->n++;
    return 1;
}

/* Two readings of one phrase: a column each ("customers name"), or a value of a column each
 * ("Mumbai customers city", or the column's words first). */
static void ask_tie(const ctx *x, asking *a, buf *q)
{
    const unit *u = &x->u[x->tie_unit];
    char words[300], first[300], col[200], must[300];
    int k;

    for (k = 0; k < 2; k++) {
        const cand *c = &x->tie[k];
        const char *v;
        if (c->kind != R_COLUMN && c->kind != R_VALUE) continue;
        snprintf(words, sizeof words, "%s %s", x->cat->tables[c->table].name,
                 column(x, c->table, c->col)->name);
        spaced(col, sizeof col, words);
        if (c->kind == R_COLUMN) {
            reading_sql(x, c->table, c->col, NULL, must, sizeof must);
            rewrite(x, u, col, q);
            offer(a, col, q, must);
            continue;
        }
        v = column(x, c->table, c->col)->values[c->val];
        reading_sql(x, c->table, c->col, v, must, sizeof must);
        snprintf(words, sizeof words, "%s %s", col, v);
        snprintf(first, sizeof first, "%s %s", v, col);
        rewrite(x, u, words, q); /* "in customers city Mumbai" */
        if (!offer(a, words, q, must)) {
            rewrite(x, u, first, q); /* "by channel in Mumbai customers city" */
            offer(a, words, q, must);
        }
    }
}

/* A table joined by two paths: one option per key the last step can take, named by its
 * path phrase ("buyer city"). */
static void ask_path(ctx *x, asking *a, buf *q, char *notes, size_t nlen)
{
    const unit *u = &x->u[x->amb_unit];
    text_words *hw = &x->w[2];
    char words[300], raw[200], colw[120], must[300];
    int f, k, i, d = x->amb_table;
    const cand *c = NULL;

    for (k = 0; k < u->nc && !c; k++)
        if ((u->c[k].kind == R_COLUMN || u->c[k].kind == R_TABLE) && u->c[k].table == d)
            c = &u->c[k];
    if (!c) return;
    x->main = x->amb_main;
    pl_walk_fks(x, x->main);
    /* a column of the table: "buyer city"; the table itself: "buyer" (its key in the rows) */
    if (c->kind == R_COLUMN) spaced(colw, sizeof colw, column(x, d, c->col)->name);
    notes[0] = '\0';
    for (f = 0; f < x->nfks; f++) {
        const cat_fk *k2 = &x->fks[f];
        int from = k2->table, mode;
        if (k2->ref_table != d || x->dist[from] < 0 || x->amb[from] ||
            x->dist[from] + 1 != x->dist[d] || !(mode = path_words(x, f, 0, hw)) ||
            (c->kind == R_TABLE && mode != 1))
            continue;
        raw[0] = '\0';
        for (i = 0; i < hw->n; i++)
            snprintf(raw + strlen(raw), sizeof raw - strlen(raw), "%s%s", i ? " " : "", hw->w[i]);
        snprintf(words, sizeof words, "%s%s%s", raw, c->kind == R_COLUMN ? " " : "",
                 c->kind == R_COLUMN ? colw : "");
        rewrite(x, u, words, q);
        reading_sql(x, from, k2->column, NULL, must, sizeof must);
        if (offer(a, words, q, must))
            snprintf(notes + strlen(notes), nlen - strlen(notes), "%s%s (%s.%s)",
                     notes[0] ? "|" : "", words, x->cat->tables[from].name,
                     x->cat->tables[from].cols[k2->column].name);
    }
}

/* 1 if a word of unit u (stemmed, not a stop word) is a word of phrase p */
static int shares_word(ctx *x, const unit *u, const char *p)
{
    text_words *w = &x->w[3];
    int i, k;

    text_split(p, 1, w);
    for (k = u->pos; k < u->end; k++)
        for (i = 0; i < w->n; i++)
            if (!text_is_stop(w->w[i]) && streq(x->t[k].st, w->w[i])) return 1;
    return 0;
}

/* The semantic layer's totals over the rows of table t (a measure of that table alone, not a
 * count, with no condition of its own) named with a word of unit u ("ticket revenue", also
 * called "ticket sales revenue"): one option each. */
static void offer_measures(ctx *x, asking *a, const unit *u, int t, buf *q)
{
    int i, k;

    for (i = 0; a->s && i < a->s->n; i++) {
        const sem_def *m = &a->s->d[i];
        int named;
        if (m->kind != SEM_MEASURE || !m->table || !m->expr || m->filter || m->nparts ||
            strncasecmp(m->expr, "count(", 6) == 0 || !streq(m->table, x->cat->tables[t].name))
            continue;
        named = shares_word(x, u, m->name);
        for (k = 0; k < m->nsyn && !named; k++)
            named = shares_word(x, u, m->syn[k]);
        if (!named) continue;
        rewrite(x, u, m->name, q);
        offer(a, m->name, q, NULL);
    }
}

/* Rows grouped that may be counted or totalled: "number of ticket sales", a measure of the
 * semantic layer ("ticket revenue"), "total price of ticket sales". */
static void ask_count_or_sum(ctx *x, asking *a, buf *q)
{
    const unit *u = &x->u[x->cs_unit];
    char tname[200], words[300], col[120], must[300];
    int cols[MAXOPT], n, k;

    spaced(tname, sizeof tname, x->cat->tables[x->cs_main].name);
    snprintf(words, sizeof words, "number of %s", tname);
    rewrite(x, u, words, q);
    offer(a, words, q, NULL);
    offer_measures(x, a, u, x->cs_main, q);
    n = total_columns(x, x->cs_main, cols, MAXOPT);
    for (k = 0; k < n; k++) {
        spaced(col, sizeof col, column(x, x->cs_main, cols[k])->name);
        snprintf(words, sizeof words, "total %s of %s", col, tname);
        reading_sql(x, x->cs_main, cols[k], NULL, must, sizeof must);
        rewrite(x, u, words, q);
        offer(a, words, q, must);
    }
}

/* The labels of a as "a, b or c" into dst. */
static void label_list(const asking *a, const char *notes, char *dst, size_t len)
{
    char one[300];
    const char *p = notes;
    int k;

    dst[0] = '\0';
    for (k = 0; k < a->n; k++) {
        size_t l = p ? strcspn(p, "|") : 0;
        if (p && *p && l < sizeof one) {
            memcpy(one, p, l);
            one[l] = '\0';
            p += l + (p[l] == '|');
        } else {
            str_copy(one, sizeof one, a->label[k]);
        }
        snprintf(dst + strlen(dst), len - strlen(dst), "%s%s",
                 k == 0          ? ""
                 : k == a->n - 1 ? " or "
                                 : ", ",
                 one);
    }
}

int planner_clarify(const catalog *cat, const glossary *g, const semantic *s, const char *question,
                    buf *json)
{
    ctx *x = pl_ctx_new(cat, g);
    asking a;
    buf sql = BUF_INIT(1u << 20), q = BUF_INIT(1u << 12);
    char why[600], ph[128], list[1200], notes[1000] = "", text[1600];
    int k, ok = 0, kind;

    memset(&a, 0, sizeof a);
    a.cat = cat;
    a.g = g;
    a.s = s;
    for (k = 0; k < MAXOPT; k++) {
        a.q[k] = (buf)BUF_INIT(1u << 12);
        a.sql[k] = (buf)BUF_INIT(1u << 20);
    }
    if (!x || pl_plan_in(x, question, &sql, why, sizeof why, 1) == 0) goto out;
    for (kind = 0; kind < 3 && a.n < 2; kind++) {
        a.n = 0;
        notes[0] = '\0';
        if (kind == 0 && x->tie_unit >= 0) {
            ask_tie(x, &a, &q);
            pl_phrase(x, &x->u[x->tie_unit], ph, sizeof ph);
            if (x->tie[0].kind == R_VALUE) /* "Mumbai" as the catalog spells it */
                str_copy(ph, sizeof ph,
                         column(x, x->tie[0].table, x->tie[0].col)->values[x->tie[0].val]);
            label_list(&a, NULL, list, sizeof list);
            snprintf(text, sizeof text, "Which \"%s\" do you mean: %s?", ph, list);
        } else if (kind == 1 && x->amb_unit >= 0) {
            ask_path(x, &a, &q, notes, sizeof notes);
            pl_phrase(x, &x->u[x->amb_unit], ph, sizeof ph);
            label_list(&a, notes, list, sizeof list);
            snprintf(text, sizeof text,
                     "There is more than one way from %s to %s. Which \"%s\" do you mean: %s?",
                     cat->tables[x->amb_main].name, cat->tables[x->amb_table].name, ph, list);
        } else if (kind == 2 && x->cs_unit >= 0) {
            ask_count_or_sum(x, &a, &q);
            pl_phrase(x, &x->u[x->cs_unit], ph, sizeof ph);
            label_list(&a, NULL, list, sizeof list);
            snprintf(text, sizeof text, "By \"%s\", do you mean the %s?", ph, list);
        }
    }
    if (a.n < 2) goto out;
    ok = buf_adds(json, "{\"question\":") == 0 && buf_add_json_cstr(json, text) == 0 &&
         buf_adds(json, ",\"options\":[") == 0;
    for (k = 0; k < a.n && ok; k++)
        ok = buf_adds(json, k ? ",{\"label\":" : "{\"label\":") == 0 &&
             buf_add_json_cstr(json, a.label[k]) == 0 && buf_adds(json, ",\"question\":") == 0 &&
             buf_add_json_cstr(json, buf_cstr(&a.q[k])) == 0 && buf_adds(json, "}") == 0;
    ok = ok && buf_adds(json, "]}") == 0;
    if (!ok) buf_reset(json);
out:
    for (k = 0; k < MAXOPT; k++) {
        buf_free(&a.q[k]);
        buf_free(&a.sql[k]);
    }
    buf_free(&sql);
    buf_free(&q);
    pl_ctx_free(x);
    return ok;
}
