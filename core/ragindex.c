/* ragindex -- builds retrieval's index of a catalog; see ragindex.h.
 *
 * The build, in order: every word of the names and comments (identifiers split at _, -,
 * camelCase and acronyms, trailing digits dropped); what each identifier word stands for --
 * the common abbreviation table, then abbreviations learned from the catalog's own longer
 * words ("cntrct" -> "contract" when "contract" occurs in a comment or another name), then
 * glued words split into words seen elsewhere ("billingaccount" -> "billing" "account"); the
 * postings (per word, the tables it occurs in, with the weight of where it occurs); the words
 * of each table's name with their rarity among table names; common values; the join graph;
 * and which tables copy another. Strings live in one pool; arrays are bufs of structs. */
#include "ragindex.h"

#include "abbrev.h"
#include "ragbuild.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Where a word occurs, as a weight. */
#define W_TABLE    2.0f
#define W_TCOMMENT 1.5f
#define W_COLUMN   1.5f
#define W_CCOMMENT 0.8f
#define W_VALUE    2.5f
/* What an expansion is worth next to the word itself. */
#define F_COMMON  0.9f /* the common abbreviation table */
#define F_LEARNED 0.8f /* learned from the catalog's words */
#define F_GLUED   0.9f /* a part of a glued word */
#define EXP_MAX   4    /* expansions kept per word */
#define LEARN_MAX 2    /* learned expansions per abbreviation */

typedef struct scratch_ent {
    int word;
    float weight;
} scratch_ent;

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

const char *rb_str(const builder *b, size_t off)
{
    return b->pool.p + off;
}

static int pool_add(builder *b, const char *s, size_t *off)
{
    *off = b->pool.len;
    return buf_add(&b->pool, s, strlen(s) + 1);
}

static int find_word(const builder *b, const char *stem)
{
    uint32_t h = hash_str(stem) & (uint32_t)b->hmask;
    const bword *w = ARR(b->words, bword);

    for (; b->hash[h] >= 0; h = (h + 1) & (uint32_t)b->hmask)
        if (strcmp(rb_str(b, w[b->hash[h]].soff), stem) == 0) return b->hash[h];
    return -1;
}

int rb_find_raw(const builder *b, const char *raw)
{
    uint32_t h = hash_str(raw) & (uint32_t)b->rmask;

    for (; b->rhash[h].word >= 0; h = (h + 1) & (uint32_t)b->rmask)
        if (strcmp(rb_str(b, b->rhash[h].roff), raw) == 0) return b->rhash[h].word;
    return -1;
}

/* Doubles both hash tables when half full. */
static int rehash(builder *b)
{
    int n = COUNT(b->words, bword), i;
    const bword *w = ARR(b->words, bword);

    if (n * 2 >= b->hmask) {
        int nm = b->hmask * 2 + 1, *nh = malloc(((size_t)nm + 1) * sizeof(int));
        if (!nh) return -1;
        memset(nh, 0xff, ((size_t)nm + 1) * sizeof(int));
        for (i = 0; i < n; i++) {
            uint32_t h = hash_str(rb_str(b, w[i].soff)) & (uint32_t)nm;
            while (nh[h] >= 0)
                h = (h + 1) & (uint32_t)nm;
            nh[h] = i;
        }
        free(b->hash);
        b->hash = nh;
        b->hmask = nm;
    }
    if (b->nraw * 2 >= b->rmask) {
        int nm = b->rmask * 2 + 1;
        rawent *nr = malloc(((size_t)nm + 1) * sizeof(rawent));
        if (!nr) return -1;
        for (i = 0; i <= nm; i++)
            nr[i].word = -1;
        for (i = 0; i <= b->rmask; i++) {
            uint32_t h;
            if (b->rhash[i].word < 0) continue;
            h = hash_str(rb_str(b, b->rhash[i].roff)) & (uint32_t)nm;
            while (nr[h].word >= 0)
                h = (h + 1) & (uint32_t)nm;
            nr[h] = b->rhash[i];
        }
        free(b->rhash);
        b->rhash = nr;
        b->rmask = nm;
    }
    return 0;
}

/* The word of raw (lower-case), added if new; counts the occurrence. -1 on out of memory. */
static int intern(builder *b, const char *raw, int ident, int comment)
{
    char stem[TEXT_WORD_MAX];
    int id = rb_find_raw(b, raw);
    uint32_t h;

    if (id < 0) {
        str_copy(stem, sizeof stem, raw);
        text_stem(stem);
        if ((id = find_word(b, stem)) < 0) {
            bword nw;
            memset(&nw, 0, sizeof nw);
            nw.len = (int)strlen(stem);
            if (pool_add(b, stem, &nw.soff) < 0 || pool_add(b, raw, &nw.roff) < 0 ||
                buf_add(&b->words, &nw, sizeof nw) < 0)
                return -1;
            id = COUNT(b->words, bword) - 1;
            for (h = hash_str(stem) & (uint32_t)b->hmask; b->hash[h] >= 0;
                 h = (h + 1) & (uint32_t)b->hmask)
                ;
            b->hash[h] = id;
        }
        for (h = hash_str(raw) & (uint32_t)b->rmask; b->rhash[h].word >= 0;
             h = (h + 1) & (uint32_t)b->rmask)
            ;
        if (pool_add(b, raw, &b->rhash[h].roff) < 0) return -1;
        b->rhash[h].word = id;
        b->nraw++;
        if (rehash(b) < 0) return -1;
    }
    ARR(b->words, bword)[id].ident += ident;
    ARR(b->words, bword)[id].comment += comment;
    return id;
}

void rb_ident_words(const char *s, text_words *tw)
{
    int i, k = 0;

    text_split(s, 0, tw);
    for (i = 0; i < tw->n; i++) {
        char *w = tw->w[i];
        size_t n = strlen(w);
        while (n > 2 && isdigit((unsigned char)w[n - 1]) && !isdigit((unsigned char)w[n - 2]))
            w[--n] = '\0';
        while (n > 2 && isdigit((unsigned char)w[n - 1]))
            n--;
        if (n >= 2 && isalpha((unsigned char)w[0]) && isalpha((unsigned char)w[n - 1])) w[n] = '\0';
        if (k != i) memcpy(tw->w[k], w, TEXT_WORD_MAX);
        k++;
    }
    tw->n = k;
}

/* The words of s: an identifier's parts, or a text's words. 0 words for NULL or "". */
static void words_of(const char *s, int is_ident, text_words *tw)
{
    tw->n = 0;
    if (!s || !*s) return;
    if (is_ident)
        rb_ident_words(s, tw);
    else
        text_split(s, 0, tw);
}

/* Interns every word of s; 0 or -1. */
static int intern_text(builder *b, const char *s, int is_ident)
{
    text_words tw;
    int i;

    words_of(s, is_ident, &tw);
    for (i = 0; i < tw.n; i++)
        if (intern(b, tw.w[i], is_ident, !is_ident) < 0) return -1;
    return 0;
}

int rb_bookkeeping(const builder *b, int t, int j)
{
    int df = b->coldf[b->colbase[t] + j];

    return df >= 8 && df >= COMMON_COL * b->cat->ntables;
}

typedef struct colname {
    char name[TEXT_WORD_MAX * 2];
    int pos;
} colname;

static int cmp_colname(const void *a, const void *b)
{
    return strcmp(((const colname *)a)->name, ((const colname *)b)->name);
}

/* For each column, how many tables have a column of that name (case and _ aside). */
static int column_df(builder *b)
{
    const catalog *cat = b->cat;
    int t, j, n = 0, i, k;
    colname *all;

    if (!(b->colbase = calloc((size_t)cat->ntables + 1, sizeof(int)))) return -1;
    for (t = 0; t < cat->ntables; t++) {
        b->colbase[t] = n;
        n += cat->tables[t].ncols;
    }
    all = calloc((size_t)n + 1, sizeof *all);
    if (!all || !(b->coldf = calloc((size_t)n + 1, sizeof(int)))) {
        free(all);
        return -1;
    }
    for (t = 0, n = 0; t < cat->ntables; t++)
        for (j = 0; j < cat->tables[t].ncols; j++, n++) {
            const char *s = cat->tables[t].cols[j].name;
            size_t m = 0;
            for (; *s && m + 1 < sizeof all[n].name; s++)
                if (isalnum((unsigned char)*s)) all[n].name[m++] = (char)tolower((unsigned char)*s);
            all[n].pos = n;
        }
    qsort(all, (size_t)n, sizeof *all, cmp_colname);
    for (i = 0; i < n; i = k) {
        for (k = i; k < n && strcmp(all[k].name, all[i].name) == 0; k++)
            ;
        for (j = i; j < k; j++)
            b->coldf[all[j].pos] = k - i;
    }
    free(all);
    return 0;
}

static int add_exp(builder *b, int word, float factor)
{
    ri_exp e = {word, factor};

    return buf_add(&b->exps, &e, sizeof e);
}

/* The common table's meanings of word w, each word of each meaning an expansion. */
static int expand_common(builder *b, int w)
{
    const char *mean[EXP_MAX];
    char raw[TEXT_WORD_MAX];
    int n, i, added = 0;

    str_copy(raw, sizeof raw, rb_str(b, ARR(b->words, bword)[w].roff));
    n = abbrev_expand(raw, mean, EXP_MAX);
    for (i = 0; i < n; i++) {
        text_words tw;
        int k, id;
        text_split(mean[i], 0, &tw);
        for (k = 0; k < tw.n && added < EXP_MAX; k++) {
            if ((id = intern(b, tw.w[k], 0, 0)) < 0 || add_exp(b, id, F_COMMON) < 0) return -1;
            added++;
        }
    }
    return added;
}

/* 1 if raw[0..n) is a word of the catalog that a glued word may be made of. */
static int dict_word(const builder *b, const char *raw, size_t n)
{
    char part[TEXT_WORD_MAX];
    int id;

    if (n < 2 || n >= sizeof part) return 0;
    memcpy(part, raw, n);
    part[n] = '\0';
    if (n == 2) return abbrev_expand(part, (const char *[]){NULL}, 1) > 0;
    if ((id = rb_find_raw(b, part)) < 0) { /* "account" when only "accounts" occurs */
        text_stem(part);
        if ((id = find_word(b, part)) < 0) return 0;
    }
    return !ARR(b->words, bword)[id].glued;
}

/* Splits a glued word into the fewest catalog words of 3+ letters (a 2-letter class word such
 * as "id" or "no" may end it): "billingaccountid" -> billing account id. Writes the part
 * lengths to parts; returns how many (0 if it does not split into two or more). */
static int split_glued(const builder *b, const char *raw, int *parts)
{
    size_t n = strlen(raw), i, j;
    int best[TEXT_WORD_MAX + 1], from[TEXT_WORD_MAX + 1], k = 0;

    if (n < 7 || n >= TEXT_WORD_MAX) return 0;
    for (i = 0; i <= n; i++)
        best[i] = -1;
    best[0] = 0;
    for (i = 0; i < n; i++) {
        if (best[i] < 0) continue;
        for (j = i + 2; j <= n; j++) {
            if ((j - i == 2 && j != n) || j - i == n) continue; /* not the word itself */
            if ((best[j] < 0 || best[i] + 1 < best[j]) && dict_word(b, raw + i, j - i)) {
                best[j] = best[i] + 1;
                from[j] = (int)i;
            }
        }
    }
    if (best[n] < 2) return 0;
    for (j = n; j > 0; j = (size_t)from[j])
        parts[k++] = (int)j - from[j];
    for (i = 0; i < (size_t)k / 2; i++) { /* they were collected back to front */
        int t = parts[i];
        parts[i] = parts[k - 1 - i];
        parts[k - 1 - i] = t;
    }
    return k;
}

static int expand_glued(builder *b, int w)
{
    char raw[TEXT_WORD_MAX], part[TEXT_WORD_MAX];
    int parts[TEXT_WORD_MAX], n, i, off = 0, id;

    str_copy(raw, sizeof raw, rb_str(b, ARR(b->words, bword)[w].roff));
    if ((n = split_glued(b, raw, parts)) == 0) return 0;
    for (i = 0; i < n && i < EXP_MAX; i++) {
        memcpy(part, raw + off, (size_t)parts[i]);
        part[parts[i]] = '\0';
        off += parts[i];
        if ((id = intern(b, part, 0, 0)) < 0 || add_exp(b, id, F_GLUED) < 0) return -1;
    }
    ARR(b->words, bword)[w].glued = 1;
    return i;
}

/* Learns what the abbreviation w stands for: the catalog's longer words it abbreviates,
 * the most used first. Candidates are words of comments and plain identifier words. */
static int expand_learned(builder *b, int w, int nwords)
{
    const bword *words = ARR(b->words, bword);
    const char *a = rb_str(b, words[w].roff);
    int pick[LEARN_MAX], score[LEARN_MAX], np = 0, i, j;

    for (i = 0; i < nwords; i++) {
        const char *c = rb_str(b, words[i].roff);
        int s;
        if (i == w || c[0] != a[0] || words[i].glued || abbrev_like(c) || !abbrev_of(a, c))
            continue;
        s = words[i].comment * 2 + words[i].ident;
        if (np < LEARN_MAX)
            j = np++;
        else if (s <= score[np - 1])
            continue;
        else
            j = np - 1;
        for (; j > 0 && score[j - 1] < s; j--) {
            pick[j] = pick[j - 1];
            score[j] = score[j - 1];
        }
        pick[j] = i;
        score[j] = s;
    }
    for (i = 0; i < np; i++)
        if (add_exp(b, pick[i], F_LEARNED) < 0) return -1;
    return np;
}

/* Expansions of every identifier word, in word order (so exps is a CSR by word). */
static int expand_all(builder *b)
{
    int nwords = COUNT(b->words, bword), w, n;

    for (w = 0; w < nwords; w++) { /* glued words first: learning skips them */
        bword *bw = &ARR(b->words, bword)[w];
        if (!bw->ident || bw->comment) continue;
        if (abbrev_like(rb_str(b, bw->roff))) continue;
        if (expand_glued(b, w) < 0) return -1;
    }
    buf_reset(&b->exps);
    for (w = 0; w < nwords; w++) {
        bword *bw = &ARR(b->words, bword)[w];
        const char *raw = rb_str(b, bw->roff);
        size_t rl = strlen(raw);
        int start = COUNT(b->exps, ri_exp);
        n = 0;
        if (bw->ident && (n = expand_common(b, w)) < 0) return -1;
        if (n == 0 && bw->ident && !bw->comment && rl >= 3 && rl <= 6 &&
            !text_is_stop(rb_str(b, bw->soff)) && (n = expand_learned(b, w, nwords)) < 0)
            return -1;
        if (n == 0 && bw->glued && (n = expand_glued(b, w)) < 0) return -1;
        bw = &ARR(b->words, bword)[w];
        bw->exp = start;
        bw->nexp = COUNT(b->exps, ri_exp) - start;
    }
    return 0;
}

/* Adds word w (and what it stands for) to the current table's scratch with weight. */
static int scratch_add(builder *b, int t, int w, float weight, int expand)
{
    const bword *bw = &ARR(b->words, bword)[w];
    int i;

    if (text_is_stop(rb_str(b, bw->soff))) return 0;
    if (b->mark[w] != t) {
        scratch_ent e = {w, weight};
        b->mark[w] = t;
        b->slot[w] = COUNT(b->scratch, scratch_ent);
        if (buf_add(&b->scratch, &e, sizeof e) < 0) return -1;
    } else if (ARR(b->scratch, scratch_ent)[b->slot[w]].weight < weight) {
        ARR(b->scratch, scratch_ent)[b->slot[w]].weight = weight;
    }
    for (i = 0; expand && i < bw->nexp; i++) {
        const ri_exp *e = &ARR(b->exps, ri_exp)[bw->exp + i];
        if (scratch_add(b, t, e->word, weight * e->factor, 0) < 0) return -1;
    }
    return 0;
}

static int scratch_text(builder *b, int t, const char *s, float weight, int is_ident)
{
    text_words tw;
    int i, w;

    words_of(s, is_ident, &tw);
    for (i = 0; i < tw.n; i++)
        if ((w = rb_find_raw(b, tw.w[i])) >= 0 && scratch_add(b, t, w, weight, is_ident) < 0)
            return -1;
    return 0;
}

/* Postings: for each word, the tables it occurs in with their best weight, by word. */
static int build_posts(builder *b, rag_index *x)
{
    const catalog *cat = b->cat;
    int nw = COUNT(b->words, bword), t, j, i, *count = NULL, *fill = NULL, rc = -1;
    buf all = BUF_INIT(0); /* (word, table, weight) as scratch_ent + table */

    if (!(count = calloc((size_t)nw + 1, sizeof(int))) ||
        !(fill = calloc((size_t)nw + 1, sizeof(int))))
        goto fail;
    for (t = 0; t < cat->ntables; t++) {
        const cat_table *tb = &cat->tables[t];
        buf_reset(&b->scratch);
        if (scratch_text(b, t, tb->name, W_TABLE, 1) < 0 ||
            scratch_text(b, t, tb->comment, W_TCOMMENT, 0) < 0)
            goto fail;
        for (j = 0; j < tb->ncols; j++)
            if (scratch_text(b, t, tb->cols[j].name, W_COLUMN, 1) < 0 ||
                scratch_text(b, t, tb->cols[j].comment, W_CCOMMENT, 0) < 0)
                goto fail;
        for (i = 0; i < COUNT(b->scratch, scratch_ent); i++) {
            scratch_ent e = ARR(b->scratch, scratch_ent)[i];
            ri_post p = {t, e.weight};
            if (buf_add(&all, &e.word, sizeof e.word) < 0 || buf_add(&all, &p, sizeof p) < 0)
                goto fail;
            count[e.word + 1]++;
        }
    }
    for (i = 0; i < nw; i++)
        count[i + 1] += count[i];
    if (!(x->posts = malloc(((size_t)count[nw] + 1) * sizeof(ri_post)))) goto fail;
    for (i = 0; (size_t)i < all.len; i += (int)(sizeof(int) + sizeof(ri_post))) {
        int w;
        memcpy(&w, all.p + i, sizeof w);
        memcpy(&x->posts[count[w] + fill[w]++], all.p + i + sizeof w, sizeof(ri_post));
    }
    for (i = 0; i < nw; i++) {
        x->words[i].post = count[i];
        x->words[i].npost = fill[i];
    }
    rc = 0;
fail:
    free(count);
    free(fill);
    buf_free(&all);
    return rc;
}

/* The words of each table's name, grouped by the name word they spell, and each group's
 * rarity among the table names (a module prefix shared by many tables weighs little). */
static int build_names(builder *b, rag_index *x)
{
    const catalog *cat = b->cat;
    int nw = COUNT(b->words, bword), t, i, k, *df = calloc((size_t)nw + 1, sizeof(int));

    if (!df) return -1;
    for (t = 0; t < cat->ntables; t++) {
        text_words tw;
        ri_table *rt = &x->tables[t];
        int group = 0;
        rb_ident_words(cat->tables[t].name, &tw);
        rt->name = COUNT(b->names, ri_name);
        for (i = 0; i < tw.n; i++) {
            int w = rb_find_raw(b, tw.w[i]);
            const bword *bw;
            if (w < 0 || text_is_stop(rb_str(b, ARR(b->words, bword)[w].soff))) continue;
            bw = &ARR(b->words, bword)[w];
            if (bw->glued) { /* each part is a name word; the whole word spells each */
                for (k = 0; k < bw->nexp; k++) {
                    const ri_exp *e = &ARR(b->exps, ri_exp)[bw->exp + k];
                    ri_name a = {group, e->word, 1.0f}, whole = {group, w, 1.0f};
                    if (buf_add(&b->names, &a, sizeof a) < 0 ||
                        buf_add(&b->names, &whole, sizeof whole) < 0)
                        goto fail;
                    group++;
                }
                continue;
            }
            ri_name own = {group, w, 1.0f};
            if (buf_add(&b->names, &own, sizeof own) < 0) goto fail;
            for (k = 0; k < bw->nexp; k++) {
                const ri_exp *e = &ARR(b->exps, ri_exp)[bw->exp + k];
                ri_name a = {group, e->word, e->factor};
                if (buf_add(&b->names, &a, sizeof a) < 0) goto fail;
            }
            group++;
        }
        rt->nname = COUNT(b->names, ri_name) - rt->name;
        rt->ngroup = group;
    }
    for (t = 0; t < cat->ntables; t++) { /* df of each group's first spelling */
        const ri_name *nm = ARR(b->names, ri_name) + x->tables[t].name;
        for (i = 0; i < x->tables[t].nname; i++)
            if (i == 0 || nm[i].group != nm[i - 1].group) {
                if (b->mark[nm[i].word] == -2 - t) continue;
                b->mark[nm[i].word] = -2 - t;
                df[nm[i].word]++;
            }
    }
    for (t = 0; t < cat->ntables; t++) {
        const ri_name *nm = ARR(b->names, ri_name) + x->tables[t].name;
        x->tables[t].group = COUNT(b->gweight, float);
        for (i = 0; i < x->tables[t].nname; i++)
            if (i == 0 || nm[i].group != nm[i - 1].group) {
                float g = (float)log(1.0 + (double)cat->ntables / (df[nm[i].word] + 1.0));
                if (buf_add(&b->gweight, &g, sizeof g) < 0) goto fail;
            }
    }
    free(df);
    return 0;
fail:
    free(df);
    return -1;
}

static int is_numeric(const char *s)
{
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && *s != '.' && *s != '-') return 0;
    return 1;
}

static int build_values(builder *b, rag_index *x)
{
    const catalog *cat = b->cat;
    int t, j, v;

    for (t = 0; t < cat->ntables; t++)
        for (j = 0; j < cat->tables[t].ncols; j++) {
            const cat_column *c = &cat->tables[t].cols[j];
            for (v = 0; v < c->nvalues; v++) {
                ri_value e = {c->values[v], t, W_VALUE};
                if (strlen(c->values[v]) < 2) continue;
                if (is_numeric(c->values[v]) || strlen(c->values[v]) < 3) e.bonus = W_VALUE / 3;
                if (buf_add(&b->values, &e, sizeof e) < 0) return -1;
            }
        }
    x->nvalues = COUNT(b->values, ri_value);
    return 0;
}

static void builder_free(builder *b)
{
    buf *bufs[] = {&b->pool,  &b->words, &b->exps,     &b->names,   &b->gweight, &b->values,
                   &b->edges, &b->refs,  &b->colwords, &b->markers, &b->scratch};
    size_t i;

    for (i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        buf_free(bufs[i]);
    free(b->hash);
    free(b->rhash);
    free(b->mark);
    free(b->slot);
    free(b->coldf);
    free(b->colbase);
}

static void index_free(void *p)
{
    rag_index *x = p;

    if (!x) return;
    free(x->words);
    free(x->hash);
    free(x->order);
    free(x->posts);
    free(x->names);
    free(x->gweight);
    free(x->values);
    free(x->edges);
    free(x->refs);
    free(x->colwords);
    free(x->markers);
    free(x->fk_of);
    free(x->tables);
    free(x->pool);
    free(x);
}

/* Hands the builder's arrays to x, with pointers resolved from pool offsets. */
static int finish(builder *b, rag_index *x)
{
    const bword *bw = ARR(b->words, bword);
    int n = COUNT(b->words, bword), i, c, fill[257];

    x->nwords = n;
    x->pool = buf_steal(&b->pool);
    for (i = 0; i < n; i++) {
        x->words[i].stem = x->pool + bw[i].soff;
        x->words[i].raw = x->pool + bw[i].roff;
        x->words[i].len = bw[i].len;
        x->words[i].abbr = abbrev_like(x->words[i].raw);
    }
    x->hash = b->hash;
    x->hmask = b->hmask;
    b->hash = NULL;
    if (!(x->order = malloc(((size_t)n + 1) * sizeof(int)))) return -1;
    memset(x->byfirst, 0, sizeof x->byfirst);
    for (i = 0; i < n; i++)
        x->byfirst[(unsigned char)x->words[i].stem[0] + 1]++;
    for (c = 0; c < 256; c++)
        x->byfirst[c + 1] += x->byfirst[c];
    memcpy(fill, x->byfirst, sizeof fill);
    for (i = 0; i < n; i++)
        x->order[fill[(unsigned char)x->words[i].stem[0]]++] = i;
    x->names = (ri_name *)(void *)buf_steal(&b->names);
    x->gweight = (float *)(void *)buf_steal(&b->gweight);
    x->values = (ri_value *)(void *)buf_steal(&b->values);
    x->edges = (ri_edge *)(void *)buf_steal(&b->edges);
    x->refs = (ri_edge *)(void *)buf_steal(&b->refs);
    x->colwords = (int *)(void *)buf_steal(&b->colwords);
    x->markers = (int *)(void *)buf_steal(&b->markers);
    return 0;
}

static rag_index *build(const catalog *cat)
{
    builder b;
    rag_index *x = calloc(1, sizeof *x);
    int t, j, nw, i;

    memset(&b, 0, sizeof b);
    b.cat = cat;
    b.hmask = b.rmask = 1023;
    b.hash = malloc(1024 * sizeof(int));
    b.rhash = malloc(1024 * sizeof(rawent));
    if (!x || !b.hash || !b.rhash) goto fail;
    memset(b.hash, 0xff, 1024 * sizeof(int));
    for (i = 0; i < 1024; i++)
        b.rhash[i].word = -1;
    for (t = 0; t < cat->ntables; t++) {
        const cat_table *tb = &cat->tables[t];
        if (intern_text(&b, tb->name, 1) < 0 || intern_text(&b, tb->comment, 0) < 0) goto fail;
        for (j = 0; j < tb->ncols; j++)
            if (intern_text(&b, tb->cols[j].name, 1) < 0 ||
                intern_text(&b, tb->cols[j].comment, 0) < 0)
                goto fail;
    }
    if (expand_all(&b) < 0) goto fail;
    nw = COUNT(b.words, bword);
    x->ntables = cat->ntables;
    b.mark = malloc(((size_t)nw + 1) * sizeof(int));
    b.slot = malloc(((size_t)nw + 1) * sizeof(int));
    x->words = calloc((size_t)nw + 1, sizeof(ri_word));
    x->tables = calloc((size_t)cat->ntables + 1, sizeof(ri_table));
    if (!b.mark || !b.slot || !x->words || !x->tables) goto fail;
    memset(b.mark, 0xff, ((size_t)nw + 1) * sizeof(int));
    if (column_df(&b) < 0 || build_posts(&b, x) < 0 || build_names(&b, x) < 0 ||
        build_values(&b, x) < 0 || rb_build_copies(&b, x) < 0 || rb_build_graph(&b, x) < 0 ||
        finish(&b, x) < 0)
        goto fail;
    builder_free(&b);
    return x;
fail:
    builder_free(&b);
    index_free(x);
    return NULL;
}

const rag_index *rag_index_get(const catalog *cat)
{
    rag_index *x;

    if (cat->derived->p && cat->derived->free_fn == index_free) return cat->derived->p;
    if (!(x = build(cat))) return NULL;
    if (cat->derived->p && cat->derived->free_fn) cat->derived->free_fn(cat->derived->p);
    cat->derived->p = x;
    cat->derived->free_fn = index_free;
    return x;
}

int rag_index_word(const rag_index *x, const char *stem)
{
    uint32_t h = hash_str(stem) & (uint32_t)x->hmask;

    for (; x->hash[h] >= 0; h = (h + 1) & (uint32_t)x->hmask)
        if (strcmp(x->words[x->hash[h]].stem, stem) == 0) return x->hash[h];
    return -1;
}
