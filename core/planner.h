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

/* planner_follow.c: a follow-up read as an edit of the standalone question prev (a filter
 * added or replaced, a grouping or time grain changed or added, the measure, the ranking or
 * the period changed, the same thing asked for another value). 0: standalone holds the
 * edited question, to be planned like any other; -1: why says what is unclear. */
int planner_followup(const catalog *cat, const glossary *g, const char *prev, const char *followup,
                     buf *standalone, char *why, size_t whylen);
/* 1 if question reads as a follow-up ("now by month", "what about Mumbai?", "top 5 of
 * those", "by channel": follow-up words, or a fragment that neither measures nor names a
 * table), else 0. */
int planner_is_followup(const catalog *cat, const glossary *g, const char *question);
/* planner_clarify.c: when the planner declines question because it cannot choose between
 * equal readings -- a phrase naming columns of two tables or a value of two columns, a table
 * joined by two equally short foreign-key paths, rows grouped by a word that may be their
 * number or a total ("sales by category"; the totals include the semantic layer s's measures
 * of those rows, s may be NULL) -- a question back for the user:
 * {"question": "...", "options": [{"label", "question"}, ...]} into json, each option's
 * question a whole question that plans; 1. 0 when there is no such ambiguity. */
int planner_clarify(const catalog *cat, const glossary *g, const semantic *s, const char *question,
                    buf *json);

#endif
