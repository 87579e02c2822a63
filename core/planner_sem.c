/* planner_sem -- the planner's semantic path: a question made only of the semantic layer's
 * words (one measure or ratio, dimensions after "by"/"per"/"each", entities, a time grain,
 * "in <year>") and function words becomes the layer's SQL; any other word leaves the
 * question to the ordinary planner (planner.c). See planner.h.
 *
 * Joins follow the catalog's many-to-one foreign keys from each measure's base table; a
 * measure made of several (sum_of, ratios) computes each part over its own table, grouped,
 * and adds the parts up with UNION ALL, so that no join drops the rows of one part. Owns
 * nothing past the call. */
#include "planner.h"

#include "text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SQ_TOK  48 /* words in a question */
#define SQ_WLEN 32
#define SQ_DIM  3
#define SQ_ENT  4
#define SQ_PATH 4 /* foreign-key hops followed */

typedef struct sq {
    const catalog *cat;
    const semantic *s;
    char w[SQ_TOK][SQ_WLEN];
    int nw;
    int measure; /* definition index of the measure or ratio */
    int dims[SQ_DIM], ndims;
    int ents[SQ_ENT], nents;
    int grain; /* SEMG_* or 0 */
    int year;  /* 0 = none */
} sq;

static const char *const STOP[] = {
    "what",  "whats", "is",   "are",     "was",       "were",   "the",    "a",    "an",    "show",
    "me",    "give",  "list", "get",     "tell",      "our",    "of",     "for",  "in",    "at",
    "from",  "with",  "all",  "total",   "and",       "please", "how",    "much", "many",  "do",
    "does",  "did",   "we",   "have",    "has",       "made",   "make",   "been", "there", "sold",
    "by",    "per",   "each", "every",   "across",    "during", "broken", "down", "split", "its",
    "their", "us",    "find", "compute", "calculate", "s",      "to",     NULL};
static const char *const GROUPING[] = {"by", "per", "each", "every", "across", NULL};
static const char *const GRAIN_ADJ[] = {"daily", "weekly", "monthly", "quarterly", "yearly", NULL};

static int in_words(const char *w, const char *const *list)
{
    int i;

    for (i = 0; list[i]; i++)
        if (strcmp(w, list[i]) == 0) return i;
    return -1;
}

/* Lower-case words of s (letters and digits) into w; the count, or -1 when there are too many. */
static int words(const char *s, char w[][SQ_WLEN], int max)
{
    int n = 0;

    while (*s) {
        size_t l = 0;
        while (*s && !isalnum((unsigned char)*s))
            s++;
        if (!*s) break;
        if (n == max) return -1;
        while (isalnum((unsigned char)*s)) {
            if (l + 1 < SQ_WLEN) w[n][l++] = (char)tolower((unsigned char)*s);
            s++;
        }
        w[n++][l] = '\0';
    }
    return n;
}

static int word_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la == lb) return strcmp(a, b) == 0;
    if (la + 1 == lb) return b[la] == 's' && strncmp(a, b, la) == 0;
    if (lb + 1 == la) return a[lb] == 's' && strncmp(a, b, lb) == 0;
    return 0;
}

/* Length in words of phrase p matched at word i of the question, 0 if it does not match. */
static int phrase_at(const sq *q, int i, const char *p)
{
    char pw[8][SQ_WLEN];
    int n = words(p, pw, 8), k;

    if (n <= 0 || i + n > q->nw) return 0;
    for (k = 0; k < n; k++)
        if (!word_eq(q->w[i + k], pw[k])) return 0;
    return n;
}

/* The longest definition name or synonym at word i: its length, *def its index. */
static int longest_def(const sq *q, int i, int *def)
{
    int d, k, best = 0;

    for (d = 0; d < q->s->n; d++) {
        const sem_def *sd = &q->s->d[d];
        int l = phrase_at(q, i, sd->name);
        for (k = 0; k < sd->nsyn; k++) {
            int m = phrase_at(q, i, sd->syn[k]);
            if (m > l) l = m;
        }
        if (l > best) best = l, *def = d;
    }
    return best;
}

static int grain_word(const char *w)
{
    static const char *const G[] = {"day", "week", "month", "quarter", "year", NULL};
    int i = in_words(w, GRAIN_ADJ);

    if (i >= 0) return 1 << i;
    for (i = 0; G[i]; i++)
        if (word_eq(w, G[i])) return 1 << i;
    return 0;
}

/* Reads the question's words into q; 0 when every word is understood, 1 when not. */
static int read_question(sq *q)
{
    int i = 0, grouping = 0;

    q->measure = -1;
    while (i < q->nw) {
        int d = -1, l = longest_def(q, i, &d), g;
        const sem_def *sd = d >= 0 ? &q->s->d[d] : NULL;
        if (l && (sd->kind == SEM_MEASURE || sd->kind == SEM_RATIO)) {
            if (q->measure >= 0 && q->measure != d) return 1; /* one measure at a time */
            q->measure = d, grouping = 0;
        } else if (l && sd->kind == SEM_ENTITY && q->nents < SQ_ENT) {
            q->ents[q->nents++] = d, grouping = 0;
        } else if (l && sd->kind == SEM_DIMENSION && !sd->grains && grouping && q->ndims < SQ_DIM) {
            q->dims[q->ndims++] = d;
        } else if (!l && (g = grain_word(q->w[i])) &&
                   (grouping || in_words(q->w[i], GRAIN_ADJ) >= 0) && !q->grain) {
            q->grain = g, l = 1;
        } else if (!l && i > 0 && strlen(q->w[i]) == 4 && isdigit((unsigned char)q->w[i][0]) &&
                   (strcmp(q->w[i - 1], "in") == 0 || strcmp(q->w[i - 1], "during") == 0) &&
                   !q->year) {
            int y = (int)strtol(q->w[i], NULL, 10);
            if (y < 1900 || y > 2200) return 1;
            q->year = y, l = 1;
        } else if (!l && in_words(q->w[i], STOP) >= 0) {
            if (in_words(q->w[i], GROUPING) >= 0) grouping = 1;
            l = 1;
        } else {
            return 1;
        }
        i += l;
    }
    return q->measure >= 0 ? 0 : 1;
}

/* The many-to-one path from table a to table b: fills via[] with foreign-key indexes (from a
 * outwards) and returns its length; -1 when b is unreachable or two shortest paths tie. */
static int fk_path(const catalog *cat, int a, int b, int *via, int depth)
{
    int i, best = -1, ties = 0, sub[SQ_PATH];

    if (a == b) return 0;
    if (depth == 0) return -1;
    for (i = 0; i < cat->nfks; i++) {
        int l;
        if (cat->fks[i].table != a || cat->fks[i].ref_table == a) continue;
        if ((l = fk_path(cat, cat->fks[i].ref_table, b, sub, depth - 1)) < 0) continue;
        if (best < 0 || l + 1 < best) {
            best = l + 1, ties = 0;
            via[0] = i;
            memcpy(via + 1, sub, (size_t)l * sizeof *via);
        } else if (l + 1 == best) {
            ties = 1;
        }
    }
    return ties ? -1 : best;
}

static int add_table(buf *b, const catalog *cat, int t)
{
    return buf_printf(b, "\"%s\".\"%s\"", cat->tables[t].schema, cat->tables[t].name);
}

/* FROM <base> LEFT JOIN ... for every table the dimensions and entities need; -1 when one is
 * out of reach of base (the question is then not this path's). */
static int write_from(const sq *q, int base, buf *b)
{
    int i, k, j, via[SQ_PATH], done[SQ_PATH * (SQ_DIM + SQ_ENT)], ndone = 0;
    int need[SQ_DIM + SQ_ENT], nneed = 0;

    for (i = 0; i < q->ndims; i++)
        need[nneed++] = catalog_find_table(q->cat, q->s->d[q->dims[i]].table);
    for (i = 0; i < q->nents; i++)
        need[nneed++] = catalog_find_table(q->cat, q->s->d[q->ents[i]].table);
    if (buf_adds(b, " FROM ") < 0 || add_table(b, q->cat, base) < 0) return -1;
    for (i = 0; i < nneed; i++) {
        int l = need[i] < 0 ? -1 : fk_path(q->cat, base, need[i], via, SQ_PATH);
        if (l < 0) return -1;
        for (k = 0; k < l; k++) {
            const cat_fk *f = &q->cat->fks[via[k]];
            for (j = 0; j < ndone && done[j] != via[k]; j++)
                ;
            if (j < ndone) continue; /* joined already */
            done[ndone++] = via[k];
            if (buf_adds(b, " LEFT JOIN ") < 0 || add_table(b, q->cat, f->ref_table) < 0 ||
                buf_printf(b, " ON \"%s\".\"%s\" = \"%s\".\"%s\"",
                           q->cat->tables[f->ref_table].name,
                           q->cat->tables[f->ref_table].cols[f->ref_column].name,
                           q->cat->tables[f->table].name,
                           q->cat->tables[f->table].cols[f->column].name) < 0)
                return -1;
        }
    }
    return 0;
}

/* The grouping expressions in order: the time grain first, then the dimensions. */
static int write_keys(const sq *q, const sem_def *m, buf *b, int with_alias)
{
    int i;

    if (q->grain && buf_printf(b, "date_trunc('%s', %s)%s", semantic_grain_name(q->grain), m->time,
                               with_alias ? " AS \"period\"" : "") < 0)
        return -1;
    for (i = 0; i < q->ndims; i++) {
        const sem_def *d = &q->s->d[q->dims[i]];
        if (buf_printf(b, "%s%s", i || q->grain ? ", " : "", d->expr) < 0) return -1;
        if (with_alias && buf_printf(b, " AS \"%s\"", d->name) < 0) return -1;
    }
    return 0;
}

/* One simple measure m as SELECT keys, value FROM ... WHERE ... GROUP BY keys. slot/nslots:
 * its value column among the branches of a UNION (nslots 0: a plain query). */
static int write_part(const sq *q, const sem_def *m, int slot, int nslots, buf *b)
{
    int base = catalog_find_table(q->cat, m->table), nk = q->ndims + (q->grain ? 1 : 0), i;

    if (base < 0 || (q->grain && !m->time) || (q->year && !m->time)) return -1;
    if (buf_adds(b, "SELECT ") < 0 || write_keys(q, m, b, 1) < 0) return -1;
    if (nk && buf_adds(b, ", ") < 0) return -1;
    if (!nslots && buf_printf(b, "%s AS \"%s\"", m->expr, m->name) < 0) return -1;
    for (i = 0; i < nslots; i++)
        if (buf_printf(b, "%s%s AS v%d", i ? ", " : "", i == slot ? m->expr : "NULL::numeric", i) <
            0)
            return -1;
    if (write_from(q, base, b) < 0) return -1;
    if (m->filter && buf_printf(b, " WHERE %s", m->filter) < 0) return -1;
    for (i = 0; i < q->nents; i++)
        if (buf_printf(b, " %s %s", m->filter || i ? "AND" : "WHERE", q->s->d[q->ents[i]].filter) <
            0)
            return -1;
    if (q->year && buf_printf(b, " %s %s >= '%d-01-01' AND %s < '%d-01-01'",
                              m->filter || q->nents ? "AND" : "WHERE", m->time, q->year, m->time,
                              q->year + 1) < 0)
        return -1;
    if (nk && buf_adds(b, " GROUP BY ") < 0) return -1;
    for (i = 0; i < nk; i++)
        if (buf_printf(b, "%s%d", i ? ", " : "", i + 1) < 0) return -1;
    return 0;
}

static int write_order(const sq *q, buf *b, int nk)
{
    if (!nk) return 0;
    if (q->grain) return buf_adds(b, " ORDER BY 1");
    return buf_printf(b, " ORDER BY %d DESC NULLS LAST", nk + 1);
}

/* A composite measure or a ratio: its parts in one UNION ALL, added up per group. */
static int write_union(const sq *q, const sem_def *top, buf *b)
{
    int nparts = top->nparts, nk = q->ndims + (q->grain ? 1 : 0), i, ratio = top->kind == SEM_RATIO;
    const char *const KEYS[] = {"period"};

    if (buf_adds(b, "SELECT ") < 0) return -1;
    for (i = 0; i < nk; i++) {
        const char *name =
            q->grain && i == 0 ? KEYS[0] : q->s->d[q->dims[i - (q->grain ? 1 : 0)]].name;
        if (buf_printf(b, "u.\"%s\", ", name) < 0) return -1;
    }
    if (ratio) {
        if (buf_printf(b, "%scoalesce(sum(u.v0), 0)::numeric / nullif(sum(u.v1), 0) AS \"%s\"",
                       top->percent ? "100 * " : "", top->name) < 0)
            return -1;
    } else {
        for (i = 0; i < nparts; i++)
            if (buf_printf(b, "%scoalesce(sum(u.v%d), 0)", i ? " + " : "", i) < 0) return -1;
        if (buf_printf(b, " AS \"%s\"", top->name) < 0) return -1;
    }
    if (buf_adds(b, " FROM (") < 0) return -1;
    for (i = 0; i < nparts; i++) {
        const sem_def *m = &q->s->d[semantic_find(q->s, SEM_MEASURE, top->parts[i])];
        if ((i && buf_adds(b, " UNION ALL ") < 0) || write_part(q, m, i, nparts, b) < 0) return -1;
    }
    if (buf_adds(b, ") u") < 0) return -1;
    if (nk && buf_adds(b, " GROUP BY ") < 0) return -1;
    for (i = 0; i < nk; i++)
        if (buf_printf(b, "%s%d", i ? ", " : "", i + 1) < 0) return -1;
    return write_order(q, b, nk);
}

/* "tickets sold (tickets in sales ...), by event category, for concerts, in 2024". */
static int explain(const sq *q, buf *e)
{
    const sem_def *m = &q->s->d[q->measure];
    int i, rc = buf_printf(e, "%s", m->name);

    if (m->description) rc |= buf_printf(e, " (%s)", m->description);
    if (q->grain) rc |= buf_printf(e, ", by %s", semantic_grain_name(q->grain));
    for (i = 0; i < q->ndims; i++)
        rc |= buf_printf(e, "%s %s", i || q->grain ? " and" : ", by", q->s->d[q->dims[i]].name);
    for (i = 0; i < q->nents; i++)
        rc |= buf_printf(e, "%s %s (%s)", i ? " and" : ", for", q->s->d[q->ents[i]].name,
                         q->s->d[q->ents[i]].filter);
    if (q->year) rc |= buf_printf(e, ", in %d", q->year);
    return rc ? -1 : 0;
}

int planner_semantic(const catalog *cat, const semantic *s, const char *question, buf *sql,
                     buf *explanation, buf *measures, int *nmeasures)
{
    sq *q = calloc(1, sizeof *q);
    const sem_def *m;
    int rc = 1, nk, i;

    if (!q) return -1;
    if (!s || !s->n || !cat) goto done;
    q->cat = cat, q->s = s;
    if ((q->nw = words(question, q->w, SQ_TOK)) <= 0 || read_question(q) != 0) goto done;
    m = &s->d[q->measure];
    nk = q->ndims + (q->grain ? 1 : 0);
    if (m->kind == SEM_MEASURE && !m->nparts) {
        if (write_part(q, m, 0, 0, sql) < 0 || write_order(q, sql, nk) < 0) goto miss;
    } else if (write_union(q, m, sql) < 0) {
        goto miss;
    }
    if (explain(q, explanation) < 0 || buf_add(measures, m->name, strlen(m->name) + 1) < 0)
        goto miss;
    *nmeasures = 1;
    for (i = 0; i < m->nparts; i++)
        if (buf_add(measures, m->parts[i], strlen(m->parts[i]) + 1) == 0) ++*nmeasures;
    rc = 0;
    goto done;
miss:
    buf_reset(sql);
    buf_reset(explanation);
    buf_reset(measures);
    rc = 1;
done:
    free(q);
    return rc;
}
