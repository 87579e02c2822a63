/* glossary -- business terms from conf/glossary and t2sql.glossary; see glossary.h. */
#include "glossary.h"

#include "buf.h"
#include "mem.h"
#include "text.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

glossary *glossary_new(void)
{
    return calloc(1, sizeof(glossary));
}

void glossary_free(glossary *g)
{
    int i;

    if (!g) return;
    for (i = 0; i < g->n; i++) {
        free(g->e[i].term);
        free(g->e[i].hint);
        free(g->e[i].tables);
        free(g->e[i].filter);
    }
    free(g->e);
    free(g);
}

int glossary_add(glossary *g, const char *term, const char *hint, const char *tables,
                 const char *filter)
{
    gloss_entry *e;

    if (mem_grow(&g->e, &g->cap, g->n, sizeof *g->e) < 0) return -1;
    e = &g->e[g->n];
    e->term = strdup(term);
    e->hint = strdup(hint ? hint : "");
    e->tables = strdup(tables ? tables : "");
    e->filter = filter && *filter ? strdup(filter) : NULL;
    if (!e->term || !e->hint || !e->tables || (filter && *filter && !e->filter)) {
        free(e->term);
        free(e->hint);
        free(e->tables);
        free(e->filter);
        return -1;
    }
    g->n++;
    return 0;
}

int glossary_load_file(glossary *g, const char *path, t2err *err)
{
    FILE *f;
    char line[4096];
    int lineno = 0;

    if (!path || !*path) return 0;
    if (!(f = fopen(path, "r")))
        return errno == ENOENT ? 0 : err_set(err, E_INTERNAL, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char *fld[4] = {NULL, NULL, NULL, NULL}, *s, *bar;
        int n = 0, ch;

        lineno++;
        if (!strchr(line, '\n') && (ch = getc(f)) != EOF && ch != '\n') {
            /* else the rest would be read as one more (bogus) entry */
            fclose(f);
            return err_set(err, E_INTERNAL, "%s:%d: line too long (over %zu bytes)", path, lineno,
                           sizeof line - 1);
        }
        s = str_trim(line);
        if (!*s || *s == '#') continue;
        while (n < 4) {
            bar = n < 3 ? strchr(s, '|') : NULL;
            if (bar) *bar = '\0';
            fld[n++] = str_trim(s);
            if (!bar) break;
            s = bar + 1;
        }
        if (n < 3 || !*fld[0]) {
            fclose(f);
            return err_set(err, E_INTERNAL, "%s:%d: expected term | tables | hint [| filter]", path,
                           lineno);
        }
        if (glossary_add(g, fld[0], fld[2], fld[1], n > 3 ? fld[3] : NULL) < 0) {
            fclose(f);
            return err_set(err, E_INTERNAL, "out of memory");
        }
    }
    fclose(f);
    return 0;
}

int glossary_load_db(glossary *g, PGconn *conn, t2err *err)
{
    PGresult *r = PQexec(conn, "SELECT term, coalesce(hint, ''), coalesce(tables, ''), filter"
                               " FROM t2sql.glossary ORDER BY term");
    int i, rc = 0;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return 0; /* no table yet: nothing to add */
    }
    for (i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = glossary_add(g, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                          PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3));
    PQclear(r);
    return rc < 0 ? err_set(err, E_INTERNAL, "out of memory") : 0;
}

/* Number of words of the term if all occur consecutively in q, else 0. */
static int term_hits(const text_words *q, const char *term)
{
    text_words t;
    int i, j;

    text_split(term, 1, &t);
    if (t.n == 0) return 0;
    for (i = 0; i + t.n <= q->n; i++) {
        for (j = 0; j < t.n; j++)
            if (strcmp(q->w[i + j], t.w[j]) != 0) break;
        if (j == t.n) return t.n;
    }
    return 0;
}

int glossary_match(const glossary *g, const char *question, int *idx, int max)
{
    static text_words q;
    int score[256];
    int i, j, n = 0;

    if (max > 256) max = 256;
    if (max <= 0) return 0;
    text_split(question, 1, &q);
    for (i = 0; i < g->n; i++) { /* all entries: a longer term may come after max short ones */
        int s = term_hits(&q, g->e[i].term);
        if (!s || (n == max && score[n - 1] >= s)) continue;
        if (n < max) n++; /* else the last (shortest) one drops out */
        for (j = n - 1; j > 0 && score[j - 1] < s; j--) { /* longer terms first */
            idx[j] = idx[j - 1];
            score[j] = score[j - 1];
        }
        idx[j] = i;
        score[j] = s;
    }
    return n;
}
