/* ragjoin -- the index's join graph and copies of tables; see ragindex.h and ragbuild.h.
 *
 * Join graph: every declared foreign key, and every column named like another table's key
 * (its single-column primary key, matched on the normalised name or its last words:
 * "sls_rep_emp_id" -> the table keyed "emp_id"; a key named "id" stands for <last name
 * word>_id). Bookkeeping columns (crt_usr_id in every table) and copies are left out.
 *
 * Copies: a table whose name is another's plus words like hist, audit, stg, bak, archive,
 * snapshot, tmp, old, copy, a year or a version ("cust_ord_hdr_bak_2019", "stg_cust_mstr"),
 * or, failing such a twin, whose columns hold most of the columns of a table sharing a name
 * word with it ("tmp_StockTxn_Load" holds tblStockTxn's). */
#include "ragbuild.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEY_TABLES 4   /* tables one naming-convention key may point to */
#define COPY_SHARE 0.8 /* of a table's own columns a copy must hold */
#define MARK_MAX   8

typedef struct keyent {
    char key[TEXT_WORD_MAX * 2];
    int table;
} keyent;

typedef struct pending_edge {
    int from, to, column, declared;
} pending_edge;

/* Lower-case letters and digits of s ("Cust_ID" -> "custid"). */
static void norm_name(const char *s, char *dst, size_t len)
{
    size_t n = 0;

    for (; *s && n + 1 < len; s++)
        if (isalnum((unsigned char)*s)) dst[n++] = (char)tolower((unsigned char)*s);
    dst[n] = '\0';
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const keyent *)a)->key, ((const keyent *)b)->key);
}

/* Words that make a table a copy of another, besides years and versions. */
static int copy_word(const char *w)
{
    static const char *const words[] = {
        "hist",    "history",  "historical", "aud",    "audit", "stg",     "staging",
        "bak",     "bkp",      "bck",        "backup", "arch",  "archive", "archived",
        "snap",    "snapshot", "tmp",        "temp",   "old",   "copy",    "import",
        "load",    "landing",  "prev",       "legacy", "orig",  "dup",     "shadow",
        "deleted", "obsolete", "save",       "saved",  NULL};
    size_t n = strlen(w), i;

    if (n == 4 && (w[0] == '1' || w[0] == '2') && isdigit((unsigned char)w[1]) &&
        isdigit((unsigned char)w[2]) && isdigit((unsigned char)w[3]))
        return 1;                                                        /* a year */
    if (n >= 2 && w[0] == 'v' && isdigit((unsigned char)w[1])) return 1; /* v2 */
    for (i = 0; words[i]; i++)
        if (strcmp(w, words[i]) == 0) return 1;
    return 0;
}

/* The stems of the table's name words that are not copy words, joined by spaces, into key;
 * the copy words' word ids into marks (up to MARK_MAX). Returns how many copy words. */
static int name_key(const builder *b, const char *name, char *key, size_t len, int *marks)
{
    text_words tw;
    size_t n = 0;
    int i, nm = 0;

    key[0] = '\0';
    rb_ident_words(name, &tw);
    for (i = 0; i < tw.n; i++) {
        int w = rb_find_raw(b, tw.w[i]);
        const char *stem;
        if (w < 0) continue;
        if (copy_word(tw.w[i])) {
            if (nm < MARK_MAX) marks[nm++] = w;
            continue;
        }
        stem = rb_str(b, ARR(b->words, bword)[w].soff);
        if (text_is_stop(stem)) continue;
        n += (size_t)snprintf(key + n, n < len ? len - n : 0, "%s%s", n ? " " : "", stem);
    }
    if (n >= len) key[len - 1] = '\0';
    return nm;
}

/* Share of table base's own columns that table t has too (bookkeeping columns aside). */
static double column_share(const builder *b, int t, int base)
{
    const cat_table *tt = &b->cat->tables[t], *tb = &b->cat->tables[base];
    int j, k, own = 0, held = 0;

    for (j = 0; j < tb->ncols; j++) {
        if (rb_bookkeeping(b, base, j)) continue;
        own++;
        for (k = 0; k < tt->ncols; k++)
            if (strcasecmp(tt->cols[k].name, tb->cols[j].name) == 0) break;
        held += k < tt->ncols;
    }
    return own >= 3 ? (double)held / own : 0.0;
}

/* 1 if the name keys a and b share a word. */
static int share_word(const char *a, const char *b)
{
    char wa[TEXT_WORD_MAX];
    const char *p = a;

    while (*p) {
        size_t n = strcspn(p, " ");
        const char *q = b;
        if (n < sizeof wa) {
            memcpy(wa, p, n);
            wa[n] = '\0';
            while (*q) {
                size_t m = strcspn(q, " ");
                if (m == n && memcmp(q, wa, n) == 0) return 1;
                q += m + (q[m] == ' ');
            }
        }
        p += n + (p[n] == ' ');
    }
    return 0;
}

int rb_build_copies(builder *b, rag_index *x)
{
    const catalog *cat = b->cat;
    int nt = cat->ntables, t, i, marks[MARK_MAX], nm, rc = -1;
    keyent *keys = calloc((size_t)nt + 1, sizeof *keys), *sorted = NULL;
    char *marked = calloc((size_t)nt + 1, 1);

    if (!keys || !marked || !(sorted = calloc((size_t)nt + 1, sizeof *sorted))) goto fail;
    for (t = 0; t < nt; t++) {
        marked[t] = name_key(b, cat->tables[t].name, keys[t].key, sizeof keys[t].key, marks) > 0;
        keys[t].table = t;
        x->tables[t].copy_of = -1;
    }
    memcpy(sorted, keys, (size_t)nt * sizeof *keys);
    qsort(sorted, (size_t)nt, sizeof *sorted, cmp_key);
    for (t = 0; t < nt; t++) {
        const keyent *twin = NULL;
        int base = -1;
        double best = COPY_SHARE;
        if (!marked[t]) continue;
        nm = name_key(b, cat->tables[t].name, keys[t].key, sizeof keys[t].key, marks);
        if (keys[t].key[0]) twin = bsearch(&keys[t], sorted, (size_t)nt, sizeof *sorted, cmp_key);
        while (twin && twin > sorted && strcmp(twin[-1].key, keys[t].key) == 0)
            twin--;
        for (; twin && twin < sorted + nt && strcmp(twin->key, keys[t].key) == 0; twin++)
            if (!marked[twin->table]) { /* the unmarked table of that name */
                base = twin->table;
                break;
            }
        for (i = 0; base < 0 && i < nt; i++) { /* else the table whose columns it holds */
            double s;
            if (i == t || marked[i] || !share_word(keys[t].key, keys[i].key)) continue;
            if ((s = column_share(b, t, i)) >= best) {
                best = s;
                base = i;
            }
        }
        if (base < 0) continue;
        x->tables[t].copy_of = base;
        x->tables[t].marker = COUNT(b->markers, int);
        for (i = 0; i < nm; i++)
            if (buf_add(&b->markers, &marks[i], sizeof marks[i]) < 0) goto fail;
        x->tables[t].nmarker = nm;
    }
    rc = 0;
fail:
    free(keys);
    free(sorted);
    free(marked);
    return rc;
}

/* Keys of the naming convention: each table's single-column primary key by its normalised
 * name ("cust_id" -> custid); a key named just "id" stands for <last name word>id. */
static int table_keys(const catalog *cat, const rag_index *x, keyent **out, int *nout)
{
    keyent *k = calloc((size_t)cat->ntables + 1, sizeof *k);
    int t, j, n = 0;

    if (!k) return -1;
    for (t = 0; t < cat->ntables; t++) {
        const cat_table *tb = &cat->tables[t];
        int pk = -1, npk = 0;
        for (j = 0; j < tb->ncols; j++)
            if (tb->cols[j].pk) {
                pk = j;
                npk++;
            }
        if (npk != 1 || x->tables[t].copy_of >= 0) continue;
        norm_name(tb->cols[pk].name, k[n].key, sizeof k[n].key);
        if (strcmp(k[n].key, "id") == 0) {
            text_words tw;
            char last[TEXT_WORD_MAX];
            rb_ident_words(tb->name, &tw);
            if (tw.n == 0) continue;
            str_copy(last, sizeof last, tw.w[tw.n - 1]);
            if (text_is_plural(last)) last[strlen(last) - 1] = '\0';
            snprintf(k[n].key, sizeof k[n].key, "%sid", last);
        }
        if (strlen(k[n].key) < 4) continue;
        k[n++].table = t;
    }
    qsort(k, (size_t)n, sizeof *k, cmp_key);
    *out = k;
    *nout = n;
    return 0;
}

/* Tables whose key the column's name is, or ends with at a word boundary ("sls_rep_emp_id"
 * -> the table keyed emp_id); the longest such ending wins. Writes up to KEY_TABLES tables;
 * returns how many. */
static int key_targets(const keyent *keys, int nkeys, const char *column, int *to)
{
    text_words tw;
    int s, i, n = 0;

    rb_ident_words(column, &tw);
    for (s = 0; s < tw.n && n == 0; s++) {
        keyent probe;
        const keyent *hit;
        size_t len = 0;
        probe.key[0] = '\0';
        for (i = s; i < tw.n; i++) {
            char part[TEXT_WORD_MAX];
            norm_name(tw.w[i], part, sizeof part);
            if (str_copy(probe.key + len, sizeof probe.key - len, part) < 0) break;
            len += strlen(part);
        }
        if (i < tw.n || !(hit = bsearch(&probe, keys, (size_t)nkeys, sizeof *keys, cmp_key)))
            continue;
        while (hit > keys && strcmp(hit[-1].key, probe.key) == 0)
            hit--;
        for (; hit < keys + nkeys && strcmp(hit->key, probe.key) == 0 && n < KEY_TABLES; hit++)
            to[n++] = hit->table;
    }
    return n;
}

/* The column's words and what they stand for, appended to colwords. */
static int column_words(builder *b, const char *name, ri_edge *e)
{
    text_words tw;
    int i, k, w;

    e->word = COUNT(b->colwords, int);
    rb_ident_words(name, &tw);
    for (i = 0; i < tw.n; i++) {
        const bword *bw;
        if ((w = rb_find_raw(b, tw.w[i])) < 0) continue;
        bw = &ARR(b->words, bword)[w];
        if (buf_add(&b->colwords, &w, sizeof w) < 0) return -1;
        for (k = 0; k < bw->nexp; k++)
            if (buf_add(&b->colwords, &ARR(b->exps, ri_exp)[bw->exp + k].word, sizeof w) < 0)
                return -1;
    }
    e->nword = COUNT(b->colwords, int) - e->word;
    return 0;
}

/* Lays the pending edges out per table (counting sort): undirected into edges, outgoing
 * (with the referencing column's words) into refs. */
static int lay_out(builder *b, rag_index *x, const pending_edge *pe, int npe)
{
    int nt = b->cat->ntables, t, i, rc = -1;
    int *ne = calloc((size_t)nt + 1, sizeof(int)), *nr = calloc((size_t)nt + 1, sizeof(int));
    ri_edge *edges = NULL, *refs = NULL;

    if (!ne || !nr) goto fail;
    for (i = 0; i < npe; i++) {
        ne[pe[i].from + 1]++;
        ne[pe[i].to + 1]++;
        nr[pe[i].from + 1]++;
    }
    for (t = 0; t < nt; t++) {
        ne[t + 1] += ne[t];
        nr[t + 1] += nr[t];
        x->tables[t].edge = ne[t];
        x->tables[t].ref = nr[t];
    }
    edges = calloc((size_t)ne[nt] + 1, sizeof *edges);
    refs = calloc((size_t)nr[nt] + 1, sizeof *refs);
    if (!edges || !refs) goto fail;
    for (i = 0; i < npe; i++) {
        const pending_edge *p = &pe[i];
        ri_edge *out = &edges[x->tables[p->from].edge + x->tables[p->from].nedge++];
        ri_edge *back = &edges[x->tables[p->to].edge + x->tables[p->to].nedge++];
        ri_edge *ref = &refs[x->tables[p->from].ref + x->tables[p->from].nref++];
        *out = (ri_edge){p->to, p->column, p->declared, 0, 0};
        *back = (ri_edge){p->from, -1, p->declared, 0, 0};
        *ref = *out;
        if (column_words(b, b->cat->tables[p->from].cols[p->column].name, ref) < 0) goto fail;
    }
    if (buf_add(&b->edges, edges, (size_t)ne[nt] * sizeof *edges) < 0 ||
        buf_add(&b->refs, refs, (size_t)nr[nt] * sizeof *refs) < 0)
        goto fail;
    rc = 0;
fail:
    free(ne);
    free(nr);
    free(edges);
    free(refs);
    return rc;
}

/* The declared foreign keys of each table, for rendering: fk_of by referencing table. */
static int lay_out_fks(const catalog *cat, rag_index *x)
{
    int t, i, *pos;

    if (!(x->fk_of = malloc(((size_t)cat->nfks + 1) * sizeof(int)))) return -1;
    if (!(pos = calloc((size_t)cat->ntables + 1, sizeof(int)))) return -1;
    for (i = 0; i < cat->nfks; i++)
        pos[cat->fks[i].table + 1]++;
    for (t = 0; t < cat->ntables; t++) {
        pos[t + 1] += pos[t];
        x->tables[t].fk = pos[t];
        x->tables[t].nfk = 0;
    }
    for (i = 0; i < cat->nfks; i++) {
        ri_table *rt = &x->tables[cat->fks[i].table];
        x->fk_of[rt->fk + rt->nfk++] = i;
    }
    free(pos);
    return 0;
}

int rb_build_graph(builder *b, rag_index *x)
{
    const catalog *cat = b->cat;
    keyent *keys = NULL;
    buf pend = BUF_INIT(0);
    int nkeys = 0, t, j, i, to[KEY_TABLES], n, rc = -1, ncols = 0;
    char *declared;

    for (t = 0; t < cat->ntables; t++)
        ncols += cat->tables[t].ncols;
    if (!(declared = calloc((size_t)ncols + 1, 1))) return -1;
    for (i = 0; i < cat->nfks; i++) {
        const cat_fk *f = &cat->fks[i];
        pending_edge e = {f->table, f->ref_table, f->column, 1};
        declared[b->colbase[f->table] + f->column] = 1;
        if (f->table != f->ref_table && buf_add(&pend, &e, sizeof e) < 0) goto fail;
    }
    if (table_keys(cat, x, &keys, &nkeys) < 0) goto fail;
    for (t = 0; t < cat->ntables; t++) {
        if (x->tables[t].copy_of >= 0) continue;
        for (j = 0; j < cat->tables[t].ncols; j++) {
            if (rb_bookkeeping(b, t, j) || declared[b->colbase[t] + j]) continue;
            n = key_targets(keys, nkeys, cat->tables[t].cols[j].name, to);
            for (i = 0; i < n; i++) {
                pending_edge e = {t, to[i], j, 0};
                if (to[i] != t && buf_add(&pend, &e, sizeof e) < 0) goto fail;
            }
        }
    }
    rc = lay_out(b, x, ARR(pend, pending_edge), COUNT(pend, pending_edge));
    if (rc == 0) rc = lay_out_fks(cat, x); /* both 0 or -1 */
fail:
    free(keys);
    free(declared);
    buf_free(&pend);
    return rc;
}
