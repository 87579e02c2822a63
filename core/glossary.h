/* glossary -- business terms with SQL hints and the tables they apply to, from the
 * glossary file (conf/glossary) and the t2sql.glossary table, matched against questions
 * with stemming and multi-word terms.
 *
 * A glossary owns its entries; glossary_free() releases them. */
#ifndef T2_GLOSSARY_H
#define T2_GLOSSARY_H

#include "err.h"

#include <libpq-fe.h>

typedef struct gloss_entry {
    char *term;   /* "membership holder" */
    char *hint;   /* "customers.is_member = TRUE" -- SQL fragment or prose for the model */
    char *tables; /* comma-separated table names it applies to; may be "" */
    char *filter; /* SQL boolean expression the planner may AND in, or NULL */
} gloss_entry;

typedef struct glossary {
    gloss_entry *e;
    int n, cap;
} glossary;

glossary *glossary_new(void);
void glossary_free(glossary *g);
/* Adds one entry (strings copied); 0 or -1. */
int glossary_add(glossary *g, const char *term, const char *hint, const char *tables,
                 const char *filter);
/* Reads the file format documented at the top of conf/glossary. A missing file is not an
 * error (returns 0, nothing added). */
int glossary_load_file(glossary *g, const char *path, t2err *err);
/* Adds the rows of t2sql.glossary (term, hint, tables, filter). Missing table = 0. */
int glossary_load_db(glossary *g, PGconn *conn, t2err *err);
/* Fills idx with the indexes of entries whose term occurs in question (stemmed,
 * multi-word, case-insensitive), best first. Returns the count (<= max). */
int glossary_match(const glossary *g, const char *question, int *idx, int max);

#endif
