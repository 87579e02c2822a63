/* planner -- the offline planner: a deterministic question -> SQL translator that uses only
 * the catalog, the glossary and the catalog's common values; it never guesses.
 *
 * Owns nothing past the call; the SQL goes into a caller-owned buf. */
#ifndef T2_PLANNER_H
#define T2_PLANNER_H

#include "buf.h"
#include "catalog.h"
#include "glossary.h"
#include "semantic.h"

/* Returns 0 and appends one SELECT to sql, or -1 and writes into why (a sentence saying what
 * it could not interpret, with one or two example questions it can answer about the tables
 * it matched). */
int planner_plan(const catalog *cat, const glossary *g, const char *question, buf *sql, char *why,
                 size_t whylen);

/* planner_sem.c: the semantic layer's path. 0: sql holds one SELECT computing the question's
 * measure or ratio of s, explanation its plain English and measures (*nmeasures
 * NUL-separated names) the measures used; 1: the question has words outside the layer (or
 * needs a join the catalog cannot make) and is left to planner_plan(); -1: out of memory. */
int planner_semantic(const catalog *cat, const semantic *s, const char *question, buf *sql,
                     buf *explanation, buf *measures, int *nmeasures);

#endif
