/* planner_follow -- a follow-up question read as an edit of the previous standalone question
 * (planner_followup() of planner.h).
 *
 * Design. A conversation stores, per turn, the standalone question it was answered from:
 * the first turn's own words, a follow-up's edited words (core/convo.c, column standalone).
 * A follow-up is never planned on its own: both it and the previous standalone question are
 * cut into the scanner's units (planner_scan.c), and the follow-up's units say which part of
 * the previous question they replace or extend:
 *   - a grouping ("by month", "monthly", "per channel"): replaces the previous grouping, or
 *     is added to it after "and" / "also" / "too";
 *   - a ranking ("top 5", "bottom 3"): replaces the previous one, or turns "M by D" into
 *     "top N D by M";
 *   - a period ("in 2022", "last year"): replaces the previous period, or is added;
 *   - a measure ("average price", "count"): replaces the previous aggregate and what it
 *     measured;
 *   - filter phrases ("only members", "what about Mumbai?"): a value of a column the previous
 *     question filtered on replaces that value; any other filter is added.
 * The edit writes a new standalone question, which the pipeline plans like any question
 * asked whole (semantic layer, planner, guard, PREPARE), so a follow-up's SQL is exactly as
 * sound as a question's, the question cache is keyed by the resolved words, and the next
 * follow-up edits the new question again. Words rather than a stored plan keep a turn small,
 * readable in GET /conversations and valid across catalog changes. Anything else -- words
 * the scanner cannot read, a follow-up that names a table or column without saying how it
 * changes the question -- declines.
 *
 * Owns nothing past the call (two planner contexts, freed before returning). */
#include "planner_int.h"

#include <stdio.h>
#include <strings.h>

/* leading and trailing words that only say "this is a follow-up" */
static const char *const LEAD[] = {"and what about",
                                   "what about",
                                   "how about",
                                   "what if",
                                   "do the same for",
                                   "same thing for",
                                   "the same for",
                                   "same for",
                                   "the same but",
                                   "same but",
                                   "break it down",
                                   "split it",
                                   "show me",
                                   "and",
                                   "now",
                                   "but",
                                   "ok",
                                   "okay",
                                   "so",
                                   "then",
                                   "instead",
                                   "just",
                                   "also",
                                   "only",
                                   "show",
                                   "please",
                                   "can you",
                                   "could you",
                                   NULL};
static const char *const TAIL[] = {"instead",  "too",     "as well",   "please",   "only",
                                   "of those", "of them", "for those", "for them", NULL};
/* markers meaning "add to" rather than "replace" (a grouping) */
static const char *const ADD[] = {"and", "also", "too", "as well", NULL};

/* If s (after spaces and punctuation) starts with phrase as whole words: its length. */
static size_t starts_with(const char *s, const char *phrase)
{
    size_t n = strlen(phrase);

    return strncasecmp(s, phrase, n) == 0 && !isalnum((unsigned char)s[n]) ? n : 0;
}

/* Strips LEAD and TAIL phrases from q into out; *add set when one of ADD was among them.
 * Returns the number of phrases stripped. */
static int strip_markers(const char *q, char *out, size_t len, int *add)
{
    size_t n, k;
    int i, again = 1, stripped = 0;
    char *e;

    *add = 0;
    while (again) {
        again = 0;
        while (*q && !isalnum((unsigned char)*q) && *q != '"' && *q != '\'')
            q++;
        for (i = 0; LEAD[i]; i++)
            if ((n = starts_with(q, LEAD[i])) > 0) {
                for (k = 0; ADD[k]; k++)
                    *add |= streq(LEAD[i], ADD[k]);
                q += n;
                again = 1;
                stripped++;
                break;
            }
    }
    str_copy(out, len, q);
    again = 1;
    while (again) {
        again = 0;
        e = out + strlen(out);
        while (e > out && !isalnum((unsigned char)e[-1]) && e[-1] != '"' && e[-1] != '\'')
            *--e = '\0';
        for (i = 0; TAIL[i]; i++) {
            n = strlen(TAIL[i]);
            if ((size_t)(e - out) > n && strcasecmp(e - n, TAIL[i]) == 0 &&
                e[-(long)n - 1] == ' ') {
                for (k = 0; ADD[k]; k++)
                    *add |= streq(TAIL[i], ADD[k]);
                e[-(long)n] = '\0';
                again = 1;
                stripped++;
                break;
            }
        }
    }
    return stripped;
}

/* A scanned context for q; NULL with why when it cannot be read. */
static ctx *scan_question(const catalog *cat, const glossary *g, const char *q, const char *what,
                          char *why, size_t whylen)
{
    ctx *x = pl_ctx_new(cat, g);

    if (!x) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    if (pl_tokenize(x, q) < 0 || pl_lex_build(x) < 0 || pl_scan(x) < 0) {
        snprintf(why, whylen, "The %s is too long for me", what);
    } else if (x->unknown[0]) {
        snprintf(why, whylen, "I could not interpret %s in the %s", x->unknown, what);
    } else if (x->nu == 0) {
        snprintf(why, whylen, "The %s names nothing I can change in the previous question", what);
    } else {
        return x;
    }
    pl_ctx_free(x);
    return NULL;
}

void pl_emit(const ctx *x, int from, int to, const char *drop, buf *out)
{
    int i;

    for (i = from; i < to && i < x->nt; i++) {
        if (drop && drop[i]) continue;
        if (out->len && out->p[out->len - 1] != ' ') buf_addc(out, ' ');
        if (x->t[i].lit)
            buf_printf(out, "\"%s\"", x->lits[x->t[i].lit - 1]);
        else
            buf_adds(out, x->t[i].raw);
    }
}

static void drop_range(char *drop, int from, int to)
{
    int i;

    for (i = from; i < to; i++)
        drop[i] = 1;
}

static int first_unit(const ctx *x, int kind)
{
    int i;

    for (i = 0; i < x->nu; i++)
        if (x->u[i].kind == kind) return i;
    return -1;
}

/* The end (token) of the grouping that starts at unit i (a U_BY or a U_GRAIN): the dimension
 * phrases after it, up to the first unit that is something else (a filter, a period). */
static int grouping_end(const ctx *x, int i)
{
    int end = x->u[i].end, j;

    for (j = i + 1; j < x->nu; j++) {
        const unit *u = &x->u[j];
        if (u->kind == U_GRAIN || u->kind == U_BY || (u->kind == U_REF && !pl_ref_is_filter(x, u)))
            end = u->end;
        else
            break;
    }
    return end;
}

/* Drops every grouping of p; returns the number dropped. */
static int drop_groupings(const ctx *p, char *drop)
{
    int i, n = 0;

    for (i = 0; i < p->nu; i++)
        if (p->u[i].kind == U_BY || p->u[i].kind == U_GRAIN) {
            int end = grouping_end(p, i);
            drop_range(drop, p->u[i].pos, end);
            n++;
            while (i + 1 < p->nu && p->u[i + 1].pos < end)
                i++;
        }
    return n;
}

static int edit_grouping(const ctx *p, const ctx *f, int add, buf *out, char *why, size_t whylen)
{
    char drop[MAXTOK] = {0};
    const unit *g = &f->u[0];

    if (g->kind != U_BY && g->kind != U_GRAIN) {
        snprintf(why, whylen, "Ask for the new grouping on its own, as in \"now by month\"");
        return -1;
    }
    if (first_unit(p, U_TOP) >= 0) {
        snprintf(why, whylen, "The previous question ranks; ask the grouping as a new question");
        return -1;
    }
    if (!add) drop_groupings(p, drop);
    pl_emit(p, 0, p->nt, drop, out);
    if (g->kind == U_GRAIN && g->end - g->pos == 1 && f->nu == 1 &&
        !pl_period_of(f->t[g->pos].raw)) /* "monthly" */
        buf_printf(out, " by %s", pl_grain_name(g->grain));
    else {
        if (g->kind == U_GRAIN) buf_adds(out, " by");
        pl_emit(f, 0, f->nt, NULL, out);
    }
    return 0;
}

static int edit_ranking(const ctx *p, const ctx *f, int tu, buf *out, char *why, size_t whylen)
{
    char drop[MAXTOK] = {0};
    int pt = first_unit(p, U_TOP), by = first_unit(p, U_BY), end;

    if (pt >= 0) { /* "top 5 ..." -> "top 10 ..." */
        pl_emit(p, 0, p->u[pt].pos, NULL, out);
        pl_emit(f, f->u[tu].pos, f->u[tu].end, NULL, out);
        pl_emit(p, p->u[pt].end, p->nt, NULL, out);
        return 0;
    }
    if (by < 0 || (end = grouping_end(p, by)) == p->u[by].end) {
        snprintf(why, whylen, "The previous question has no groups to rank");
        return -1;
    }
    /* "M by D ..." -> "top N D by M ..." */
    pl_emit(f, f->u[tu].pos, f->u[tu].end, NULL, out);
    pl_emit(p, p->u[by].end, end, NULL, out);
    buf_adds(out, " by");
    drop_range(drop, p->u[by].pos, end);
    pl_emit(p, 0, p->nt, drop, out);
    return 0;
}

static int edit_period(const ctx *p, const ctx *f, buf *out)
{
    char drop[MAXTOK] = {0};
    int i;

    for (i = 0; i < p->nu; i++)
        if (p->u[i].kind == U_TIME) drop_range(drop, p->u[i].pos, p->u[i].end);
    pl_emit(p, 0, p->nt, drop, out);
    pl_emit(f, 0, f->nt, NULL, out);
    return 0;
}

/* The previous question's measure: its aggregate word and the phrase it measures, or the
 * phrase before the grouping. [*from, *to) tokens; -1 when there is none. */
static int measure_span(const ctx *p, int *from, int *to)
{
    int a = first_unit(p, U_AGG), i;

    if (a >= 0) {
        *from = p->u[a].pos;
        *to = p->u[a].end;
        if (a + 1 < p->nu && p->u[a + 1].kind == U_REF && !pl_ref_is_filter(p, &p->u[a + 1]))
            *to = p->u[a + 1].end;
        return 0;
    }
    for (i = 0; i < p->nu && p->u[i].kind != U_BY; i++)
        if (p->u[i].kind == U_REF && !pl_ref_is_filter(p, &p->u[i])) {
            *from = p->u[i].pos;
            *to = p->u[i].end;
            return 0;
        }
    return -1;
}

static int edit_measure(const ctx *p, const ctx *f, buf *out, char *why, size_t whylen)
{
    int from, to, a = first_unit(p, U_AGG), only_agg = f->nu == 1 && f->u[0].kind == U_AGG;

    if (measure_span(p, &from, &to) < 0) {
        snprintf(why, whylen, "The previous question measures nothing I can replace");
        return -1;
    }
    if (only_agg && a >= 0) to = p->u[a].end; /* "average": the aggregate word only */
    if (only_agg && a < 0) to = from;         /* "average" before "merch revenue" */
    pl_emit(p, 0, from, NULL, out);
    pl_emit(f, 0, f->nt, NULL, out);
    pl_emit(p, to, p->nt, NULL, out);
    return 0;
}

/* 1 if units a and b (of two questions on one catalog) both read as values of one column. */
static int same_column_value(const unit *a, const unit *b)
{
    int i, j;

    for (i = 0; i < a->nc; i++)
        for (j = 0; j < b->nc; j++)
            if (a->c[i].kind == R_VALUE && b->c[j].kind == R_VALUE &&
                a->c[i].table == b->c[j].table && a->c[i].col == b->c[j].col)
                return 1;
    return 0;
}

static int edit_filters(const ctx *p, const ctx *f, buf *out, char *why, size_t whylen)
{
    const unit *rep[MAXTOK] = {0}; /* per token of p: the unit of f replacing it */
    char fdrop[MAXTOK] = {0};
    int i, j, k, nrep = 0, rest = 0;

    for (i = 0; i < f->nu; i++) {
        const unit *u = &f->u[i];
        int done = 0;
        if (u->kind == U_REF && !pl_ref_is_filter(f, u)) {
            snprintf(why, whylen,
                     "I could not tell how the follow-up changes the previous question; ask it"
                     " as a whole question");
            return -1;
        }
        for (j = 0; u->kind == U_REF && j < p->nu && !done; j++)
            if (p->u[j].kind == U_REF && !rep[p->u[j].pos] && same_column_value(&p->u[j], u)) {
                rep[p->u[j].pos] = u;
                for (k = p->u[j].pos + 1; k < p->u[j].end; k++)
                    rep[k] = u; /* the rest of the old phrase goes */
                drop_range(fdrop, u->pos, u->end);
                done = 1;
                nrep++;
            }
        rest += !done;
    }
    for (i = 0; i < p->nt; i++) {
        if (!rep[i]) {
            pl_emit(p, i, i + 1, NULL, out);
        } else if (i == 0 || rep[i - 1] != rep[i]) {
            pl_emit(f, rep[i]->pos, rep[i]->end, NULL, out);
        }
    }
    if (rest) pl_emit(f, 0, f->nt, nrep ? fdrop : NULL, out);
    return 0;
}

int planner_followup(const catalog *cat, const glossary *g, const char *prev, const char *followup,
                     buf *standalone, char *why, size_t whylen)
{
    char fq[2048];
    ctx *p = NULL, *f = NULL;
    int add, rc = -1, i, tu = -1, kinds = 0;

    strip_markers(followup, fq, sizeof fq, &add);
    if (!(p = scan_question(cat, g, prev, "previous question", why, whylen)) ||
        !(f = scan_question(cat, g, fq, "follow-up", why, whylen)))
        goto out;
    for (i = 0; i < f->nu; i++) {
        int k = f->u[i].kind;
        kinds |= 1 << k;
        if (k == U_TOP && tu < 0) tu = i;
    }
    if (kinds & ((1 << U_BY) | (1 << U_GRAIN)))
        rc = edit_grouping(p, f, add, standalone, why, whylen);
    else if (tu >= 0)
        rc = edit_ranking(p, f, tu, standalone, why, whylen);
    else if (kinds & (1 << U_TIME))
        rc = edit_period(p, f, standalone);
    else if ((kinds & (1 << U_AGG)) ||
             (f->nu == 1 && f->u[0].kind == U_REF && !pl_ref_is_filter(f, &f->u[0]) &&
              pl_has_kind(f, &f->u[0], M_COLUMN | M_NUMERIC | M_DERIVED | M_GLOSS)))
        rc = edit_measure(p, f, standalone, why, whylen);
    else
        rc = edit_filters(p, f, standalone, why, whylen);
out:
    pl_ctx_free(p);
    pl_ctx_free(f);
    return rc;
}

int planner_is_followup(const catalog *cat, const glossary *g, const char *question)
{
    static const char *const refer[] = {"those", "them", "these",   "that",
                                        "it",    "same", "instead", NULL};
    static text_words w; /* large; one request at a time per process */
    char stripped[2048], why[8];
    int add, i, j, whole = 0;
    ctx *x;

    if (strip_markers(question, stripped, sizeof stripped, &add) > 0)
        return 1; /* it began or ended with a follow-up word */
    text_split(question, 0, &w);
    for (i = 0; i < w.n; i++)
        if (in_list(w.w[i], refer)) return 1;
    /* a question that measures or names a table of its own stands alone ("How many events
     * are there?"); a fragment ("by channel", "through the box office") does not */
    if (!(x = scan_question(cat, g, stripped, "question", why, sizeof why))) return 1;
    for (i = 0; i < x->nu && !whole; i++) {
        whole = x->u[i].kind == U_AGG || x->u[i].kind == U_TOP;
        for (j = 0; x->u[i].kind == U_REF && j < x->u[i].nc; j++)
            whole |= x->u[i].c[j].kind == R_TABLE;
    }
    pl_ctx_free(x);
    return !whole;
}
