/* guardtree -- libpg_query's JSON parse tree as a flat token array, and the accessors the SQL
 * guard (sqlguard.c) and its constant folding (guardfold.c) read it with. Internal to them
 * and to order.c (the tie-breaker of pages).
 *
 * gtree_read() tokenizes pg_query's JSON text in place: strings are unescaped and
 * NUL-terminated inside that text, so every string a token points to lives as long as the
 * caller keeps the text (pg_query's parse result). The token array belongs to the gtree and
 * is released by gtree_free(). Nothing else allocates. */
#ifndef T2_GUARDTREE_H
#define T2_GUARDTREE_H

#include <stddef.h>

/* JSON levels of the parse tree; spider's deepest query needs 40. The walks recurse once per
 * level, so this also bounds the stack they use. */
#define GUARD_TREE_DEPTH 1000

/* One JSON value. Object tokens are followed by key, value, key, value...; next skips the
 * whole subtree, so the tokens are in pre-order. */
enum { J_OBJ, J_ARR, J_STR, J_PRIM };

typedef struct jtok {
    int type;
    int size;      /* J_OBJ: keys; J_ARR: elements */
    int next;      /* index of the first token after this value */
    const char *s; /* J_STR: unescaped, NUL-terminated; J_PRIM: first character */
} jtok;

typedef struct gtree {
    jtok *t; /* t[0] is the root */
    int nt, capt;
    const char *sql; /* the statement; "location" fields are offsets into it */
    size_t sqllen;
} gtree;

/* Tokenizes json (modified in place) into g->t. 0; -1 on malformed JSON or out of memory; -2
 * when nested deeper than GUARD_TREE_DEPTH. */
int gtree_read(gtree *g, char *json);
void gtree_free(gtree *g);

/* The value of key in object o, or -1. */
int gtree_field(const gtree *g, int o, const char *key);
/* The string value of key in object o, or NULL. */
const char *gtree_str(const gtree *g, int o, const char *key);
/* The only key of a node object ({"Type": {...}}), its body in *body; NULL if not a node. */
const char *gtree_node(const gtree *g, int n, int *body);
/* Element i of array a, or -1. */
int gtree_elem(const gtree *g, int a, int i);
/* Splits a name list ([{"String":{"sval":..}}, ...]) into its last part and the one before
 * it (NULL when unqualified); *nparts is the list length. -1 if the list is malformed. */
int gtree_name(const gtree *g, int list, const char **schema, const char **name, int *nparts);

#endif
