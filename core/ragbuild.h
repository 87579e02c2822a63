/* ragbuild -- private to the index build (ragindex.c: words, expansions, postings, names,
 * values; ragjoin.c: the join graph and the copies of tables): the builder both fill.
 *
 * The builder owns every buf and array in it until finish() hands them to the index. */
#ifndef T2_RAGBUILD_H
#define T2_RAGBUILD_H

#include "buf.h"
#include "ragindex.h"
#include "text.h"

#include <stddef.h>

#define ARR(b, T)   ((T *)(void *)(b).p)
#define COUNT(b, T) ((int)((b).len / sizeof(T)))

/* A column whose name is in this share of the tables is bookkeeping (crt_ts, created_by),
 * never a join key or evidence of a copy. */
#define COMMON_COL 0.25

typedef struct ri_exp { /* what a word stands for */
    int word;
    float factor;
} ri_exp;

typedef struct bword {       /* a word during the build */
    size_t soff, roff;       /* stem and first spelling, in pool */
    int len, ident, comment; /* occurrences in identifiers and in comments */
    int exp, nexp;           /* exps[exp .. exp + nexp) */
    int glued;               /* its expansions are its parts */
} bword;

typedef struct rawent {
    size_t roff;
    int word;
} rawent;

typedef struct builder {
    const catalog *cat;
    buf pool, words, exps, names, gweight, values, edges, refs, colwords, markers, scratch;
    int *hash, hmask; /* words by stem */
    rawent *rhash;    /* every spelling seen -> its word */
    int rmask, nraw;
    int *mark, *slot; /* per word: last table that used it, its place in scratch */
    int *coldf;       /* per column (flat, table by table): tables with a column so named */
    int *colbase;     /* per table: its first column's position in coldf */
} builder;

/* The word spelt raw (lower-case), or -1. */
int rb_find_raw(const builder *b, const char *raw);
/* The string at offset off of the pool. */
const char *rb_str(const builder *b, size_t off);
/* The words of an identifier: text_split's, each without trailing digits when two or more
 * letters precede them ("addr_ln1" -> "addr" "ln"). */
void rb_ident_words(const char *s, text_words *tw);
/* 1 if column j of table t is bookkeeping (see COMMON_COL). */
int rb_bookkeeping(const builder *b, int t, int j);

/* ragjoin.c. Both 0 or -1 (out of memory). Copies first: keys never point to a copy. */
int rb_build_copies(builder *b, rag_index *x);
int rb_build_graph(builder *b, rag_index *x);

#endif
