/* ragindex -- retrieval's index of one catalog: every word of its names and comments
 * (stemmed, with what abbreviations and glued words stand for), where each word occurs and
 * with what weight, the words of each table's name, the common values, the join graph
 * (declared foreign keys and keys that follow naming conventions: cust_ord_hdr.cust_id ->
 * the table whose key is cust_id) and which tables copy another (history, audit, staging,
 * backup and archive copies).
 *
 * Built on the first rag_index_get() of a catalog and kept in catalog->derived, so it is
 * freed with the catalog and dropped when the catalog changes; read-only once built. Used by
 * rag.c only. */
#ifndef T2_RAGINDEX_H
#define T2_RAGINDEX_H

#include "catalog.h"

typedef struct ri_word {
    const char *stem; /* the key: Snowball stem */
    const char *raw;  /* the first spelling seen, lower-case */
    int len;          /* strlen(stem) */
    int abbr;         /* raw looks like an abbreviation (abbrev_like) */
    int post, npost;  /* the tables it occurs in: posts[post .. post + npost) */
} ri_word;

typedef struct ri_post {
    int table;
    float weight; /* where it occurs (name > column > comment), times any expansion factor */
} ri_post;

/* One spelling of one word of a table's name: the word itself or what it stands for. */
typedef struct ri_name {
    int group; /* the name word it spells, 0-based within the table */
    int word;
    float factor;
} ri_name;

typedef struct ri_value {
    const char *text; /* borrowed from the catalog */
    int table;
    float bonus;
} ri_value;

/* An edge of the join graph, or a reference of a table's column to another table. */
typedef struct ri_edge {
    int to;
    int column;      /* the referencing column (in the table the edge starts from) */
    int declared;    /* a declared foreign key, not a naming convention */
    int word, nword; /* the column's words: colwords[word .. word + nword) */
} ri_edge;

typedef struct ri_table {
    int name, nname;     /* names[name .. name + nname) */
    int group, ngroup;   /* gweight[group .. group + ngroup): rarity of each name word */
    int edge, nedge;     /* undirected join graph: edges[edge .. edge + nedge) */
    int ref, nref;       /* the tables its columns reference: refs[ref .. ref + nref) */
    int marker, nmarker; /* words that make it a copy: markers[...] */
    int copy_of;         /* the table it copies, or -1 */
    int fk, nfk;         /* its declared foreign keys, for rendering: fk_of[fk .. fk + nfk) */
} ri_table;

typedef struct rag_index {
    int nwords;
    ri_word *words;
    int *hash, hmask; /* open addressing over words by stem */
    int byfirst[257]; /* words by first byte: order[byfirst[c] .. byfirst[c + 1]) */
    int *order;
    ri_post *posts;
    ri_name *names;
    float *gweight;
    ri_value *values;
    int nvalues;
    ri_edge *edges, *refs;
    int *colwords, *markers, *fk_of;
    ri_table *tables;
    int ntables;
    char *pool; /* every string above but the values' */
} rag_index;

/* The index of cat, built now if it has none. NULL on out of memory. */
const rag_index *rag_index_get(const catalog *cat);
/* The word whose stem is stem, or -1. */
int rag_index_word(const rag_index *x, const char *stem);

#endif
