/* planner -- the offline planner: a deterministic question -> SQL translator that uses only
 * the catalog, the glossary and the catalog's common values; it never guesses.
 *
 * Owns nothing past the call; the SQL goes into a caller-owned buf. */
#ifndef T2_PLANNER_H
#define T2_PLANNER_H

#include "buf.h"
#include "catalog.h"
#include "glossary.h"

/* Returns 0 and appends one SELECT to sql, or -1 and writes into why (a sentence saying what
 * it could not interpret, with one or two example questions it can answer about the tables
 * it matched). */
int planner_plan(const catalog *cat, const glossary *g, const char *question, buf *sql, char *why,
                 size_t whylen);

#endif
