/* planner_join -- the many-to-one links the planner may join along: the catalog's foreign
 * keys, or, for a catalog that declares none (many do not), the links its names imply: a
 * column of one table named like another table's key, of the same type, refers to that
 * table. A table's key by its names: its first column named <table>_id, <table>id or
 * <table>_code (referred to by that name), its first column named id (referred to as
 * <table>_id or <table>id), or in a one-word table name a column named <initial>id ("aid" in
 * author, "pid" in publication) that no other one-word table of that initial has. One such
 * column per key name; a name two tables could own implies nothing.
 *
 * Owns x->ifks (allocated here, freed by pl_ctx_free()); x->fks points at the catalog's
 * keys or at x->ifks. */
#include "planner_int.h"

#include <stdlib.h>

/* Above this many tables the names are not compared (it would cost more than planning). */
#define MAX_INFER_TABLES 300

/* The column of one-word table t named <initial>id, when no other one-word table with that
 * initial has a column of that name; -1 otherwise. */
static int initial_key(const catalog *cat, int t)
{
    const char *tn = cat->tables[t].name;
    char want[3] = {tn[0], 'i', 'd'};
    int k = -1, i, o;

    if (!isalpha((unsigned char)tn[0]) || strchr(tn, '_') || strlen(tn) < 3) return -1;
    for (i = 0; i < cat->tables[t].ncols; i++)
        if (strncmp(cat->tables[t].cols[i].name, want, 3) == 0 && !cat->tables[t].cols[i].name[3])
            k = i;
    if (k < 0) return -1;
    for (o = 0; o < cat->ntables; o++) {
        const char *on = cat->tables[o].name;
        if (o == t || on[0] != tn[0] || strchr(on, '_')) continue;
        for (i = 0; i < cat->tables[o].ncols; i++)
            if (streq(cat->tables[o].cols[i].name, cat->tables[t].cols[k].name)) return -1;
    }
    return k;
}

/* 1 if the first column of table t is a text *_name column no other table starts with, and
 * another table has it ("city_name" of geographic, where restaurants name their city). */
static int name_first(const catalog *cat, int t)
{
    const char *c0 = cat->tables[t].cols[0].name;
    size_t l = strlen(c0);
    int o, c, other = 0;

    if (l < 6 || !streq(c0 + l - 5, "_name") || !streq(cat->tables[t].cols[0].type, "text"))
        return 0;
    for (o = 0; o < cat->ntables; o++) {
        if (o == t || cat->tables[o].ncols == 0) continue;
        if (streq(cat->tables[o].cols[0].name, c0)) return 0;
        for (c = 1; c < cat->tables[o].ncols; c++)
            if (streq(cat->tables[o].cols[c].name, c0)) other = 1;
    }
    return other;
}

/* 1 if the first column of table t is named <its last word>_id ("offering_id" of
 * course_offering) and no table is named that word (instructor_id of comment_instructor is
 * the key of instructor). */
static int last_word_key(const catalog *cat, int t)
{
    const cat_table *tb = &cat->tables[t];
    const char *w = strrchr(tb->name, '_'), *c0 = tb->cols[0].name;
    size_t l;
    int o;

    if (!w || !w[1]) return 0;
    l = strlen(++w);
    if (strncmp(c0, w, l) != 0 || !streq(c0 + l, "_id")) return 0;
    for (o = 0; o < cat->ntables; o++)
        if (streq(cat->tables[o].name, w)) return 0;
    return 1;
}

int pl_named_key(const catalog *cat, int t)
{
    const cat_table *tb = &cat->tables[t];
    const char *c0;
    size_t l = strlen(tb->name);

    if (tb->ncols == 0) return -1;
    c0 = tb->cols[0].name;
    if (streq(c0, "id")) return 0;
    if (strncmp(c0, tb->name, l) == 0 && (streq(c0 + l, "_id") || streq(c0 + l, "id") ||
                                          streq(c0 + l, "_code") || streq(c0 + l, "_name")))
        return 0;
    if (name_first(cat, t) || last_word_key(cat, t)) return 0;
    return initial_key(cat, t);
}

/* 1 if column name n of another table refers to key column k of table b by its name. */
static int refers(const cat_table *b, int k, const char *n)
{
    size_t l = strlen(b->name);

    if (!streq(b->cols[k].name, "id")) return streq(n, b->cols[k].name);
    return strncmp(n, b->name, l) == 0 && (streq(n + l, "_id") || streq(n + l, "id"));
}

int pl_join_init(ctx *x)
{
    const catalog *cat = x->cat;
    int a, b, c, n = 0, cap = 0;

    x->fks = cat->fks;
    x->nfks = cat->nfks;
    if (cat->nfks > 0 || cat->ntables > MAX_INFER_TABLES) return 0;
    for (b = 0; b < cat->ntables; b++) {
        int k = pl_named_key(cat, b);
        const cat_column *kc;
        if (k < 0) continue;
        kc = &cat->tables[b].cols[k];
        for (a = 0; a < cat->ntables; a++)
            for (c = 0; a != b && c < cat->tables[a].ncols; c++) {
                const cat_column *col = &cat->tables[a].cols[c];
                if (!refers(&cat->tables[b], k, col->name) || !streq(col->type, kc->type)) continue;
                if (n == cap) {
                    cat_fk *nf = realloc(x->ifks, (size_t)(cap = cap ? cap * 2 : 16) * sizeof *nf);
                    if (!nf) return -1;
                    x->ifks = nf;
                }
                x->ifks[n++] = (cat_fk){a, c, b, k};
            }
    }
    x->fks = x->ifks;
    x->nfks = n;
    return 0;
}

/* The index of the one link of x->fks from column c of table t, -1 if none or several. */
static int link_of(const ctx *x, int t, int c)
{
    int i, k = -1;

    for (i = 0; i < x->nfks; i++)
        if (x->fks[i].table == t && x->fks[i].column == c) {
            if (k >= 0) return -1;
            k = i;
        }
    return k;
}

int pl_is_link(const ctx *x, int t)
{
    const cat_table *tb = &x->cat->tables[t];
    int c, n = 0, own = pl_key_column(x, t);

    for (c = 0; c < tb->ncols; c++) {
        if (c == own) continue;
        if (link_of(x, t, c) < 0) return 0;
        n++;
    }
    return n >= 2;
}

int pl_link_col(const ctx *x, int t, int ref)
{
    int c, k = -1, l;

    if (!pl_is_link(x, t)) return -1;
    for (c = 0; c < x->cat->tables[t].ncols; c++)
        if ((l = link_of(x, t, c)) >= 0 && x->fks[l].ref_table == ref) {
            if (k >= 0) return -1;
            k = c;
        }
    return k;
}
