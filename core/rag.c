/* rag -- schema retrieval: ranks the catalog's tables against a question, adds the tables
 * needed to join the best ones, and renders them with the matched glossary hints and the most
 * similar verified examples within a token budget; see rag.h.
 *
 * The words of the catalog come from its index (ragindex.h), built once per catalog, so a
 * question costs a pass over the index's words and postings, not over the catalog's text.
 *
 * Score of a table = sum over the question's words of (best match of the word in the table,
 * weighted by where it matched: table name > column name, comment > column comment; an
 * abbreviation or a glued word's part counts a little less) times the word's rarity across
 * the catalog (IDF, so "id" and "name" count little), plus how much of the table's name the
 * question covers, exact mentions of common values, glossary terms naming the table, and
 * tables used by similar examples. A copy of another table (history, audit, staging, backup)
 * counts for less unless the question asks for what makes it a copy. A table then gets a
 * share of its best neighbour's score in the join graph, and a table referenced by a column
 * the question names ("per sales rep" -> the employee table behind sls_rep_emp_id) a share
 * of that match.
 *
 * Not thread-safe (a static qsort context, and text_similarity's buffers): each FastCGI
 * worker is a single-threaded process. */
#include "rag.h"

#include "abbrev.h"
#include "ragindex.h"
#include "text.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QW_MAX       48  /* question words considered */
#define EX_MAX       3   /* examples rendered */
#define CORE_MAX     6   /* tables joined by FK paths */
#define PATH_DEPTH   3   /* longest FK path added to join two core tables */
#define VALUES_SHOWN 8   /* common values rendered per column */
#define FULL_FRAC    0.4 /* tables scoring at least this share of the best are rendered in full */

/* Weights of the ranking (where a word occurs is weighed in the index). */
#define W_GLOSS      6.0
#define W_GLOSS_HINT 2.5
#define W_EXAMPLE    4.0
#define W_COVER      2.0
#define W_SYNONYM    0.8
#define M_ABBR       0.6 /* an identifier word abbreviating a question word ("hdr" header) */
#define FK_SHARE     0.3 /* of the best neighbour's score */
#define REF_SHARE    0.5 /* of a referencing column's match */
#define COPY_FACTOR  0.4 /* a copy's score, unless the question names what makes it one */

typedef struct qword {
    char w[TEXT_WORD_MAX];   /* stem */
    char raw[TEXT_WORD_MAX]; /* as written, lower-case */
    size_t len;
    double weight; /* < 1 for words that are usually about the SQL, not the schema */
    double idf;
    int pair; /* two question words run together: matched whole, never as an abbreviation */
} qword;

typedef struct wmatch {
    int k, word;
    float m;
} wmatch;

typedef struct ranker {
    const catalog *cat;
    const rag_index *x;
    qword q[QW_MAX];
    int nq;
    char qlow[1024];          /* lower-cased question, for value mentions */
    unsigned char qstart[32]; /* bitmap of characters that start a word of qlow */
    float *best;              /* ntables x nq: best weighted match of word k in table t */
    float *wm;                /* per index word: best match times the question word's idf */
    buf matches;              /* wmatch: every (question word, index word) that matched */
    double *score;            /* own score */
    double *prop;             /* score after the neighbours' shares; the ranking key */
    int *order;               /* tables by prop, best first */
} ranker;

int rag_prepare(const catalog *cat)
{
    return rag_index_get(cat) ? 0 : -1;
}

int rag_tokens(const char *text, size_t len)
{
    /* Length-based on purpose: the budget check can then price text before writing it. */
    (void)text;
    return (int)((len + 3) / 4);
}

/* Words of questions that are about the query's shape, not about which table. */
static double qword_weight(const char *w)
{
    static const char *const weak_list[] = {
        "many",    "much",     "count",    "total",      "average",   "sum",     "maximum",
        "minimum", "max",      "min",      "most",       "least",     "highest", "lowest",
        "largest", "smallest", "distinct", "different",  "number",    "top",     "more",
        "less",    "than",     "sort",     "descending", "ascending", "also",    "both",
        "only",    "not",      "no",       "yes",        "one",       "two",     NULL};
    static text_wordset weak = {.words = weak_list};

    return text_wordset_find(&weak, w) >= 0 ? 0.35 : 1.0;
}

/* Adds a question word unless it is a stop word or already there: 0 if added, else 1. */
static int add_qword(ranker *r, const char *w, const char *raw, double weight)
{
    int j;

    if (r->nq >= QW_MAX || text_is_stop(w)) return 1;
    for (j = 0; j < r->nq; j++)
        if (strcmp(r->q[j].w, w) == 0) return 1;
    str_copy(r->q[r->nq].w, TEXT_WORD_MAX, w);
    str_copy(r->q[r->nq].raw, TEXT_WORD_MAX, raw);
    r->q[r->nq].len = strlen(r->q[r->nq].w);
    r->q[r->nq].weight = weight;
    r->q[r->nq].pair = 0;
    r->nq++;
    return 0;
}

/* Everyday words for what schemas usually name otherwise, as pairs (word, what to look for
 * too), both directions where it makes sense. Small on purpose: each pair must hold in almost
 * any schema. */
static const char *const synonym_list[] = {
    "nation",     "country",    "country",    "nation",   "store",     "shop",       "shop",
    "store",      "client",     "customer",   "customer", "client",    "buyer",      "customer",
    "staff",      "employee",   "employee",   "staff",    "worker",    "employee",   "film",
    "movie",      "movie",      "film",       "town",     "city",      "pupil",      "student",
    "teacher",    "instructor", "instructor", "teacher",  "professor", "instructor", "wage",
    "salary",     "salary",     "wage",       "item",     "product",   "product",    "item",
    "purchase",   "order",      "cost",       "price",    "price",     "cost",       "person",
    "people",     "people",     "person",     "speak",    "language",  "spoken",     "language",
    "automobile", "car",        "kid",        "child",    "telephone", "phone",      "birthday",
    "birth",      "born",       "birth",      NULL,
};
static text_wordset synonyms = {.words = synonym_list};

/* The question's distinct non-stop stemmed words, then adjacent pairs joined ("high
 * school" -> "highschool") for identifiers that run words together, then synonyms. */
static void question_words(ranker *r, const char *question)
{
    text_words raw, tw;
    size_t i, n;
    int k;

    text_split(question, 0, &raw);
    tw = raw;
    for (k = 0; k < tw.n; k++)
        text_stem(tw.w[k]);
    r->nq = 0;
    for (k = 0; k < tw.n; k++)
        add_qword(r, tw.w[k], raw.w[k], qword_weight(tw.w[k]));
    for (k = 0; k + 1 < tw.n; k++) {
        char pair[TEXT_WORD_MAX * 2], rawpair[TEXT_WORD_MAX * 2];
        if (text_is_stop(tw.w[k]) || text_is_stop(tw.w[k + 1]) || qword_weight(tw.w[k]) < 1 ||
            qword_weight(tw.w[k + 1]) < 1)
            continue;
        if (snprintf(pair, sizeof pair, "%s%s", tw.w[k], tw.w[k + 1]) < TEXT_WORD_MAX &&
            snprintf(rawpair, sizeof rawpair, "%s%s", raw.w[k], raw.w[k + 1]) < TEXT_WORD_MAX)
            if (add_qword(r, pair, rawpair, 1.0) == 0) r->q[r->nq - 1].pair = 1;
    }
    for (k = 0; k < tw.n; k++) {
        const char *from, *to;
        int sy;
        for (sy = 0; (from = text_wordset_stem(&synonyms, sy)) != NULL; sy += 2)
            if (strcmp(tw.w[k], from) == 0 && (to = text_wordset_stem(&synonyms, sy + 1)))
                add_qword(r, to, synonym_list[sy + 1], W_SYNONYM);
    }
    n = strlen(question);
    if (n >= sizeof r->qlow) n = sizeof r->qlow - 1;
    memset(r->qstart, 0, sizeof r->qstart);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tolower((unsigned char)question[i]);
        r->qlow[i] = (char)c;
        if (i == 0 || !isalnum((unsigned char)r->qlow[i - 1]))
            r->qstart[c >> 3] |= (unsigned char)(1u << (c & 7));
    }
    r->qlow[n] = '\0';
}

/* How well question word q matches identifier word w, in [0, 1]. */
static double word_match(const qword *q, const char *w, size_t wl)
{
    size_t ql = q->len, sh = ql < wl ? ql : wl, lo = ql < wl ? wl : ql;

    if (wl == 0 || q->w[0] != w[0]) return 0.0; /* every case below shares the first letter */
    if (ql == wl && memcmp(q->w, w, ql) == 0) return 1.0;
    if (sh >= 4 && memcmp(q->w, w, sh) == 0) /* "perform" ~ "performance" */
        return lo - sh <= 3 ? 0.75 : 0.5;
    if (sh >= 5 && lo - sh <= 1 && q->w[0] == w[0] && text_edit_distance(q->w, w, 2) <= 1)
        return 0.6; /* "colour" ~ "color", misspellings */
    return 0.0;
}

/* 1 if value v occurs in the question as whole words (case-insensitive). */
static int value_mentioned(const ranker *r, const char *v)
{
    size_t vl = strlen(v);
    unsigned char c0;
    const char *p;

    if (vl < 2 || vl >= sizeof r->qlow) return 0;
    c0 = (unsigned char)tolower((unsigned char)v[0]);
    if (!(r->qstart[c0 >> 3] & (1u << (c0 & 7)))) return 0;
    for (p = r->qlow; (p = strchr(p, (char)c0)) != NULL; p++) {
        if (p > r->qlow && isalnum((unsigned char)p[-1])) continue;
        if (strncasecmp(p, v, vl) == 0 && !isalnum((unsigned char)p[vl])) return 1;
    }
    return 0;
}

/* Every index word each question word matches, with how well; then, through the postings,
 * each table's best match of each question word, the words' IDF, and wm. 0 or -1. */
static int match_words(ranker *r)
{
    const rag_index *x = r->x;
    int nq = r->nq, k, i, p, *df = NULL;

    if (!(df = calloc((size_t)nq + 1, sizeof(int)))) return -1;
    for (k = 0; k < nq; k++) {
        unsigned char c = (unsigned char)r->q[k].w[0];
        for (i = x->byfirst[c]; i < x->byfirst[c + 1]; i++) {
            const ri_word *w = &x->words[x->order[i]];
            double m = word_match(&r->q[k], w->stem, (size_t)w->len);
            wmatch e;
            if (m == 0 && w->abbr && !r->q[k].pair && abbrev_of(w->raw, r->q[k].raw)) m = M_ABBR;
            if (m == 0) continue;
            e = (wmatch){k, x->order[i], (float)m};
            if (buf_add(&r->matches, &e, sizeof e) < 0) goto fail;
            for (p = w->post; p < w->post + w->npost; p++) {
                float *b = &r->best[(size_t)x->posts[p].table * (size_t)nq + (size_t)k];
                float v = (float)m * x->posts[p].weight;
                if (*b == 0) df[k]++;
                if (v > *b) *b = v;
            }
        }
    }
    for (k = 0; k < nq; k++)
        r->q[k].idf = r->q[k].weight * (1.0 + log((x->ntables + 1.0) / (df[k] + 1.0)));
    for (i = 0; (size_t)i < r->matches.len / sizeof(wmatch); i++) {
        const wmatch *e = &((const wmatch *)(void *)r->matches.p)[i];
        float v = e->m * (float)r->q[e->k].idf;
        if (v > r->wm[e->word]) r->wm[e->word] = v;
    }
    free(df);
    return 0;
fail:
    free(df);
    return -1;
}

/* How much of table t's name the question covers: each name word weighted by its rarity
 * among table names, by the best-matched of its spellings. */
static double name_coverage(const ranker *r, int t)
{
    const ri_table *rt = &r->x->tables[t];
    const ri_name *nm = r->x->names + rt->name;
    double sum = 0, all = 0, best = 0;
    int i, g = -1;

    for (i = 0; i <= rt->nname; i++) {
        if (i == rt->nname || nm[i].group != g) {
            if (g >= 0) {
                double gw = r->x->gweight[rt->group + g];
                sum += gw * best;
                all += gw;
            }
            if (i == rt->nname) break;
            g = nm[i].group;
            best = 0;
        }
        if (nm[i].factor * r->wm[nm[i].word] > best) best = nm[i].factor * r->wm[nm[i].word];
    }
    return all > 0 ? sum / all : 0;
}

/* 1 if the question names one of the words that make table t a copy ("history", "audit"). */
static int asks_for_copy(const ranker *r, int t)
{
    const ri_table *rt = &r->x->tables[t];
    int i;

    for (i = 0; i < rt->nmarker; i++) {
        int w = r->x->markers[rt->marker + i];
        const ri_word *rw = &r->x->words[w];
        int k;
        if (r->wm[w] > 0) return 1;
        for (k = 0; k < r->nq; k++) /* "history" for "hist" */
            if (abbrev_of(rw->raw, r->q[k].raw)) return 1;
    }
    return 0;
}

/* Scores every table's own text: names, comments, values. */
static void score_tables(ranker *r)
{
    const rag_index *x = r->x;
    int t, k, v, nq = r->nq;

    for (v = 0; v < x->nvalues; v++)
        if (x->values[v].bonus > r->score[x->values[v].table] &&
            value_mentioned(r, x->values[v].text))
            r->score[x->values[v].table] = x->values[v].bonus;
    for (t = 0; t < x->ntables; t++) {
        const float *best = r->best + (size_t)t * (size_t)nq;
        for (k = 0; k < nq; k++)
            r->score[t] += best[k] * r->q[k].idf;
        r->score[t] += W_COVER * name_coverage(r, t);
        if (x->tables[t].copy_of >= 0 && r->score[t] > 0 && !asks_for_copy(r, t))
            r->score[t] *= COPY_FACTOR;
    }
}

/* The table named by s[0..n) (trimmed, optionally schema-qualified), or -1. */
static int named_table(const catalog *cat, const char *s, size_t n)
{
    char name[256];

    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || n >= sizeof name) return -1;
    memcpy(name, s, n);
    name[n] = '\0';
    return catalog_find_table(cat, name);
}

/* Boosts, once each, the tables whose names occur in text (SQL or a hint) as identifiers:
 * "t", "schema.t", or the table part of "t.column" / "schema.t.column". */
static void boost_identifiers(ranker *r, const char *text, double boost)
{
    const char *p = text;
    int seen[32], nseen = 0, i;

    while (*p) {
        char id[256];
        size_t n = 0;
        int t;
        if (*p == '\'') { /* a string literal names nothing ('' inside just toggles twice) */
            for (p++; *p && *p != '\''; p++)
                ;
            p += *p != '\0';
            continue;
        }
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '"')) {
            p++;
            continue;
        }
        for (; *p && (isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '"'); p++)
            if (*p != '"' && n + 1 < sizeof id) id[n++] = *p;
        id[n] = '\0';
        if (n == 0 || isdigit((unsigned char)id[0])) continue;
        t = named_table(r->cat, id, n);
        if (t < 0 && strchr(id, '.')) t = named_table(r->cat, id, (size_t)(strrchr(id, '.') - id));
        for (i = 0; t >= 0 && i < nseen; i++)
            if (seen[i] == t) t = -1;
        if (t < 0 || nseen == (int)(sizeof seen / sizeof seen[0])) continue;
        seen[nseen++] = t;
        r->score[t] += boost;
    }
}

static void boost_glossary(ranker *r, const glossary *g, const int *gi, int ng)
{
    int i;

    for (i = 0; i < ng; i++) {
        const gloss_entry *e = &g->e[gi[i]];
        const char *p = e->tables, *comma;

        if (!p || !*p) {
            boost_identifiers(r, e->hint, W_GLOSS_HINT);
            continue;
        }
        for (;; p = comma + 1) {
            comma = strchr(p, ',');
            int t = named_table(r->cat, p, comma ? (size_t)(comma - p) : strlen(p));
            if (t >= 0) r->score[t] += W_GLOSS;
            if (!comma) break;
        }
    }
}

/* Picks up to EX_MAX examples with some similarity to the question, best first. */
static int pick_examples(const rag_example *ex, int nex, const char *question, int *pick,
                         double *sim)
{
    int i, j, n = 0;

    for (i = 0; i < nex; i++) {
        double s = text_similarity(question, ex[i].question);
        if (s <= 0 || (n == EX_MAX && s <= sim[n - 1])) continue;
        for (j = n < EX_MAX ? n++ : EX_MAX - 1; j > 0 && sim[j - 1] < s; j--) {
            pick[j] = pick[j - 1];
            sim[j] = sim[j - 1];
        }
        pick[j] = i;
        sim[j] = s;
    }
    return n;
}

static const ranker *sort_ranker; /* qsort has no context argument */

static int by_prop(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    double px = sort_ranker->prop[x], py = sort_ranker->prop[y];

    if (px != py) return px < py ? 1 : -1;
    return x - y;
}

/* A column's match: the best of its words'. */
static double column_match(const ranker *r, const ri_edge *e)
{
    double m = 0;
    int i;

    for (i = 0; i < e->nword; i++)
        if (r->wm[r->x->colwords[e->word + i]] > m) m = r->wm[r->x->colwords[e->word + i]];
    return m;
}

static void rank_tables(ranker *r)
{
    const rag_index *x = r->x;
    int t, i;

    for (t = 0; t < x->ntables; t++) {
        const ri_table *rt = &x->tables[t];
        double nb = 0;
        for (i = rt->edge; i < rt->edge + rt->nedge; i++)
            if (r->score[x->edges[i].to] > nb) nb = r->score[x->edges[i].to];
        r->prop[t] = r->score[t] + FK_SHARE * nb;
        r->order[t] = t;
    }
    for (t = 0; t < x->ntables; t++) { /* "per sales rep": the table behind sls_rep_emp_id */
        const ri_table *rt = &x->tables[t];
        if (r->score[t] <= 0) continue;
        for (i = rt->ref; i < rt->ref + rt->nref; i++) {
            double m = column_match(r, &x->refs[i]);
            if (m > 0) r->prop[x->refs[i].to] += REF_SHARE * m;
        }
    }
    sort_ranker = r;
    qsort(r->order, (size_t)x->ntables, sizeof(int), by_prop);
    sort_ranker = NULL;
}

/* Appends to list (of *n, marked in `in`) the core tables -- the best ones -- and, before
 * each, the tables on the shortest FK path (<= PATH_DEPTH hops) from those already chosen. */
static int choose_core(ranker *r, int *list, int *n, char *in)
{
    const catalog *cat = r->cat;
    int nt = cat->ntables, i, c, *dist = NULL, *par = NULL, *queue = NULL;
    double top;

    if (nt == 0) return 0;
    top = r->prop[r->order[0]];
    if (top <= 0) return 0;
    dist = malloc((size_t)nt * sizeof(int));
    par = malloc((size_t)nt * sizeof(int));
    queue = malloc((size_t)nt * sizeof(int));
    if (!dist || !par || !queue) goto fail;
    for (c = 0; c < nt && c < CORE_MAX && *n < RAG_MAX_TABLES; c++) {
        int tc = r->order[c], qh = 0, qt = 0;

        if (r->prop[tc] < 0.5 * top) break;
        if (*n > 0 && !in[tc]) {
            for (i = 0; i < nt; i++)
                dist[i] = -1;
            for (i = 0; i < *n; i++) {
                dist[list[i]] = 0;
                par[list[i]] = -1;
                queue[qt++] = list[i];
            }
            while (qh < qt && dist[tc] < 0) {
                int u = queue[qh++], e;
                if (dist[u] >= PATH_DEPTH) continue;
                for (e = 0; e < r->x->tables[u].nedge; e++) {
                    int v = r->x->edges[r->x->tables[u].edge + e].to;
                    if (dist[v] >= 0) continue;
                    dist[v] = dist[u] + 1;
                    par[v] = u;
                    queue[qt++] = v;
                }
            }
            if (dist[tc] > 1) /* add the intermediate tables, nearest the chosen ones first */
                for (i = par[tc]; i >= 0 && !in[i] && *n < RAG_MAX_TABLES; i = par[i]) {
                    list[(*n)++] = i;
                    in[i] = 1;
                }
        }
        if (!in[tc] && *n < RAG_MAX_TABLES) {
            list[(*n)++] = tc;
            in[tc] = 1;
        }
    }
    free(dist);
    free(par);
    free(queue);
    return 0;
fail:
    free(dist);
    free(par);
    free(queue);
    return -1;
}

/* Appends a, b, c and d (the schema's lines are many and short: no format to parse). */
static int adds4(buf *out, const char *a, const char *b, const char *c, const char *d)
{
    return buf_adds(out, a) < 0 || buf_adds(out, b) < 0 || buf_adds(out, c) < 0 ||
                   buf_adds(out, d) < 0
               ? -1
               : 0;
}

/* Renders column j of table ti on one line. */
static int render_column(const ranker *r, int ti, int j, buf *out)
{
    const catalog *cat = r->cat;
    const cat_column *c = &cat->tables[ti].cols[j];
    size_t shown = 0;
    int k;

    if (adds4(out, "  ", c->name, " ", c->type) < 0 || (c->pk && buf_adds(out, " PRIMARY KEY") < 0))
        return -1;
    for (k = 0; k < r->x->tables[ti].nfk; k++) {
        const cat_fk *f = &cat->fks[r->x->fk_of[r->x->tables[ti].fk + k]];
        const cat_table *rt = &cat->tables[f->ref_table];
        if (f->column == j &&
            (adds4(out, " REFERENCES ", rt->name, "(", rt->cols[f->ref_column].name) < 0 ||
             buf_addc(out, ')') < 0))
            return -1;
    }
    if (c->comment && adds4(out, " -- ", c->comment, "", "") < 0) return -1;
    if (c->nvalues) {
        int first = 1, pass;
        if (buf_adds(out, c->comment ? "; values: " : " -- values: ") < 0) return -1;
        /* values the question mentions first, then the most common ones */
        for (pass = 0; pass < 2; pass++)
            for (k = 0; k < c->nvalues && shown < VALUES_SHOWN; k++) {
                if (value_mentioned(r, c->values[k]) != (pass == 0)) continue;
                if (buf_printf(out, "%s'%s'", first ? "" : ", ", c->values[k]) < 0) return -1;
                first = 0;
                shown++;
            }
    }
    return buf_adds(out, "\n");
}

/* Full form: one line per column with type, keys, comment and common values. */
static int render_full(const ranker *r, int ti, buf *out)
{
    const cat_table *t = &r->cat->tables[ti];
    int j;

    if (adds4(out, "TABLE ", t->schema, ".", t->name) < 0) return -1;
    if (t->comment && adds4(out, " -- ", t->comment, "", "") < 0) return -1;
    if (buf_adds(out, "\n") < 0) return -1;
    for (j = 0; j < t->ncols; j++)
        if (render_column(r, ti, j, out) < 0) return -1;
    return 0;
}

/* Compact form: the table and its column names on one line. */
static int render_compact(const ranker *r, int ti, buf *out)
{
    const cat_table *t = &r->cat->tables[ti];
    int j;

    if (adds4(out, "TABLE ", t->schema, ".", t->name) < 0 || buf_addc(out, '(') < 0) return -1;
    for (j = 0; j < t->ncols; j++)
        if (adds4(out, j ? ", " : "", t->cols[j].name, "", "") < 0) return -1;
    return buf_adds(out, ")\n");
}

static int render_glossary(const glossary *g, const int *gi, int ng, buf *out)
{
    int i;

    if (ng && buf_adds(out, "\nGlossary:\n") < 0) return -1;
    for (i = 0; i < ng; i++)
        if (buf_printf(out, "- %s: %s\n", g->e[gi[i]].term, g->e[gi[i]].hint) < 0) return -1;
    return 0;
}

static int render_examples(const rag_example *ex, const int *pick, int n, buf *out)
{
    int i;

    if (n && buf_adds(out, "\nVerified examples:\n") < 0) return -1;
    for (i = 0; i < n; i++)
        if (buf_printf(out, "Q: %s\nSQL: %s\n", ex[pick[i]].question, ex[pick[i]].sql) < 0)
            return -1;
    return 0;
}

/* Appends "Schema:" and the tables of list in order. With all_full, every table in full or
 * nothing: returns 1 as soon as one does not fit (the caller truncates). Otherwise a table
 * is rendered in full if it is a core table or scores FULL_FRAC of the best, compact if the
 * full form does not fit, and skipped if neither does; the search stops after many misses.
 * The budget counts what out held past start and the tail still to come. 0, 1 or -1. */
static int render_schema(const ranker *r, const int *list, int n, const char *in, int all_full,
                         long budget, size_t start, size_t tail_len, buf *out, rag_selection *sel)
{
    buf one = BUF_INIT(0);
    double top = n ? r->prop[list[0]] : 0;
    int i, misses = 0, rc = -1;

    if (buf_adds(out, "Schema:\n") < 0) goto fail;
    for (i = 0; i < n && sel->ntables < RAG_MAX_TABLES && misses < 64; i++) {
        int ti = list[i];
        int full = all_full || in[ti] || (top > 0 && r->prop[ti] >= FULL_FRAC * top);
        size_t room = out->len - start + tail_len;

        buf_reset(&one);
        if (full && render_full(r, ti, &one) < 0) goto fail;
        if (full && rag_tokens(NULL, room + one.len) > budget) {
            if (all_full) {
                rc = 1;
                goto fail;
            }
            buf_reset(&one);
            full = 0;
        }
        if (!full && render_compact(r, ti, &one) < 0) goto fail;
        if (rag_tokens(NULL, room + one.len) > budget) {
            misses++;
            continue;
        }
        if (buf_add(out, one.p, one.len) < 0) goto fail;
        sel->tables[sel->ntables++] = ti;
    }
    rc = 0;
fail:
    buf_free(&one);
    return rc;
}

static void ranker_free(ranker *r)
{
    free(r->best);
    free(r->wm);
    buf_free(&r->matches);
    free(r->score);
    free(r->prop);
    free(r->order);
}

/* Fits glossary hints and examples into half the budget, dropping examples first, then
 * hints, from the least relevant. Renders the survivors into tail. */
static int fit_tail(const glossary *g, const int *gi, int *ng, const rag_example *ex,
                    const int *pick, int *npick, long budget, buf *tail)
{
    for (;;) {
        buf_reset(tail);
        if (render_glossary(g, gi, *ng, tail) < 0 || render_examples(ex, pick, *npick, tail) < 0)
            return -1;
        if (rag_tokens(tail->p, tail->len) <= budget / 2 || (*ng == 0 && *npick == 0)) return 0;
        if (*npick)
            (*npick)--;
        else
            (*ng)--;
    }
}

int rag_context(const catalog *cat, const glossary *g, const rag_example *ex, int nex,
                const char *question, long budget_tokens, buf *out, rag_selection *sel)
{
    ranker r;
    buf tail = BUF_INIT(0);
    int gi[16], ng = 0, pick[EX_MAX], npick = 0, i, n = 0, *list = NULL;
    double exsim[EX_MAX];
    char *in = NULL;
    size_t nt = (size_t)cat->ntables, start = out->len;
    int rc = -1;

    memset(&r, 0, sizeof r);
    r.cat = cat;
    sel->ntables = 0;
    sel->tokens = 0;
    if (!(r.x = rag_index_get(cat))) goto fail;
    question_words(&r, question ? question : "");
    r.best = calloc(nt * (size_t)(r.nq ? r.nq : 1) + 1, sizeof(float));
    r.wm = calloc((size_t)r.x->nwords + 1, sizeof(float));
    r.score = calloc(nt + 1, sizeof(double));
    r.prop = calloc(nt + 1, sizeof(double));
    r.order = calloc(nt + 1, sizeof(int));
    list = calloc(nt + 1, sizeof(int));
    in = calloc(nt + 1, 1);
    if (!r.best || !r.wm || !r.score || !r.prop || !r.order || !list || !in || match_words(&r) < 0)
        goto fail;

    score_tables(&r);
    if (g) {
        ng = glossary_match(g, question ? question : "", gi, 16);
        boost_glossary(&r, g, gi, ng);
    }
    if (ex && nex > 0) {
        npick = pick_examples(ex, nex, question ? question : "", pick, exsim);
        for (i = 0; i < npick; i++)
            boost_identifiers(&r, ex[pick[i]].sql, W_EXAMPLE * exsim[i]);
    }
    rank_tables(&r);
    if (choose_core(&r, list, &n, in) < 0) goto fail;
    for (i = 0; i < cat->ntables; i++)
        if (!in[r.order[i]]) list[n++] = r.order[i];

    if (fit_tail(g, gi, &ng, ex, pick, &npick, budget_tokens, &tail) < 0) goto fail;
    /* The whole schema in full when it fits; otherwise full for the relevant tables and
     * compact for the rest. */
    if (n <= RAG_MAX_TABLES) {
        int full = render_schema(&r, list, n, in, 1, budget_tokens, start, tail.len, out, sel);
        if (full < 0) goto fail;
        if (full > 0) {
            out->len = start;
            out->p[start] = '\0';
            sel->ntables = 0;
        }
        if (full == 0) n = 0; /* done */
    }
    if (n && render_schema(&r, list, n, in, 0, budget_tokens, start, tail.len, out, sel) < 0)
        goto fail;
    if (rag_tokens(NULL, out->len - start + tail.len) > budget_tokens) {
        /* not even the header fits: leave out what we wrote */
        out->len = start;
        if (out->p) out->p[start] = '\0';
    }
    if (tail.len && buf_add(out, tail.p, tail.len) < 0) goto fail;
    sel->tokens = rag_tokens(out->p + start, out->len - start);
    rc = 0;
fail:
    if (rc < 0 && out->p) { /* leave out as it was */
        out->len = start;
        out->p[start] = '\0';
    }
    ranker_free(&r);
    buf_free(&tail);
    free(list);
    free(in);
    return rc;
}
