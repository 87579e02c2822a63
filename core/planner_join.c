/* planner_join -- the many-to-one links the planner may join along: the catalog's foreign
 * keys, or, for a catalog that declares none (many do not), the links its names imply: a
 * column of one table named like another table's key (its first column named id, <table>_id,
 * <table>id or <table>_code, of the same type) refers to that table. One such column per
 * key name; a name two tables could own implies nothing.
 *
 * Owns x->ifks (allocated here, freed by pl_ctx_free()); x->fks points at the catalog's
 * keys or at x->ifks. */
#include "planner_int.h"

#include <stdlib.h>

/* Above this many tables the names are not compared (it would cost more than planning). */
#define MAX_INFER_TABLES 300

int pl_named_key(const catalog *cat, int t)
{
    const cat_table *tb = &cat->tables[t];
    const char *c0;
    size_t l = strlen(tb->name);

    if (tb->ncols == 0) return -1;
    c0 = tb->cols[0].name;
    if (strncmp(c0, tb->name, l) != 0) return -1;
    c0 += l;
    return streq(c0, "_id") || streq(c0, "id") || streq(c0, "_code") ? 0 : -1;
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
                if (!streq(col->name, kc->name) || !streq(col->type, kc->type)) continue;
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
