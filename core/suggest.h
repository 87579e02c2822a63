/* suggest -- the questions offered with a 422 cannot_answer: ones this service answers.
 *
 * Two sources, in this order: the questions the offline planner quoted in its reason for
 * declining (each was planned for real before it was quoted, see planner_decline.c), then
 * the verified examples' questions (answered as written whenever example matching is on,
 * example_match_pct <= 100). Duplicates are dropped; at most max are returned.
 *
 * Ownership: the returned array is new; the caller owns it (json_object_put). */
#ifndef T2_SUGGEST_H
#define T2_SUGGEST_H

#include "pipeline.h"

#include <json-c/json.h>

#define SUGGEST_MAX 5

/* why: the decline reason (err->detail), may be NULL. Never NULL (an empty array at worst). */
json_object *suggest_questions(const t2ctx *x, const char *why, int max);

#endif
