/* rag -- prompt context: the schema, glossary hints and examples; see rag.h.
 * This first version renders every table in catalog order until the budget is spent. */
#include "rag.h"

#include <string.h>

int rag_tokens(const char *text, size_t len)
{
    (void)text;
    return (int)((len + 3) / 4);
}

static int render_table(const catalog *cat, int ti, buf *out)
{
    const cat_table *t = &cat->tables[ti];
    int j, k;

    if (buf_printf(out, "TABLE %s.%s", t->schema, t->name) < 0)
        return -1;
    if (t->comment && buf_printf(out, " -- %s", t->comment) < 0)
        return -1;
    if (buf_adds(out, "\n") < 0)
        return -1;
    for (j = 0; j < t->ncols; j++) {
        const cat_column *c = &t->cols[j];
        if (buf_printf(out, "  %s %s%s", c->name, c->type, c->pk ? " PRIMARY KEY" : "") < 0)
            return -1;
        for (k = 0; k < cat->nfks; k++)
            if (cat->fks[k].table == ti && cat->fks[k].column == j &&
                buf_printf(out, " REFERENCES %s(%s)", cat->tables[cat->fks[k].ref_table].name,
                           cat->tables[cat->fks[k].ref_table].cols[cat->fks[k].ref_column].name) <
                    0)
                return -1;
        if (c->comment && buf_printf(out, " -- %s", c->comment) < 0)
            return -1;
        if (c->nvalues) {
            if (buf_adds(out, c->comment ? "; values: " : " -- values: ") < 0)
                return -1;
            for (k = 0; k < c->nvalues && k < 12; k++)
                if (buf_printf(out, "%s'%s'", k ? ", " : "", c->values[k]) < 0)
                    return -1;
        }
        if (buf_adds(out, "\n") < 0)
            return -1;
    }
    return 0;
}

int rag_context(const catalog *cat, const glossary *g, const rag_example *ex, int nex,
                const char *question, long budget_tokens, buf *out, rag_selection *sel)
{
    int i, idx[16], n;
    size_t before;

    sel->ntables = 0;
    if (buf_adds(out, "Schema:\n") < 0)
        return -1;
    for (i = 0; i < cat->ntables && sel->ntables < RAG_MAX_TABLES; i++) {
        before = out->len;
        if (render_table(cat, i, out) < 0)
            return -1;
        if (rag_tokens(out->p, out->len) > budget_tokens && sel->ntables > 0) {
            out->len = before;
            out->p[before] = '\0';
            break;
        }
        sel->tables[sel->ntables++] = i;
    }
    n = g ? glossary_match(g, question, idx, 16) : 0;
    if (n && buf_adds(out, "\nGlossary:\n") < 0)
        return -1;
    for (i = 0; i < n; i++)
        if (buf_printf(out, "- %s: %s\n", g->e[idx[i]].term, g->e[idx[i]].hint) < 0)
            return -1;
    if (nex && buf_adds(out, "\nVerified examples:\n") < 0)
        return -1;
    for (i = 0; i < nex; i++)
        if (buf_printf(out, "Q: %s\nSQL: %s\n", ex[i].question, ex[i].sql) < 0)
            return -1;
    sel->tokens = rag_tokens(out->p, out->len);
    return 0;
}
