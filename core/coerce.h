/* coerce -- the old service's input rules for scalar request fields: what pydantic v1 (1.10,
 * under FastAPI 0.92) accepts for an `int`, a `bool` and a `str` field, and what it makes of
 * it. The body itself stays strict JSON (body.c); only the value of a member is coerced.
 *
 *   int   a JSON integer; true/false (1/0); a float, truncated toward zero (2.9 -> 2); a
 *         string Python's int() reads: optional whitespace, an optional sign, decimal digits
 *         of any script with single underscores between them ("1_000"), at most 4300
 *         characters. Not: null, "2.0", "1e3", "0x10", "", arrays, objects.
 *   bool  true/false; 1/0 (also 1.0/0.0); the strings (case-insensitive, not trimmed) "1",
 *         "on", "t", "true", "y", "yes" and "0", "off", "f", "false", "n", "no". Nothing else.
 *   str   a string; an integer as its digits, true/false as "True"/"False", a float as
 *         Python's repr() writes it ("1.5", "1e+16"). Not: null, arrays, objects.
 * Nothing here allocates; json objects stay the caller's. */
#ifndef T2_COERCE_H
#define T2_COERCE_H

#include <json-c/json.h>
#include <stddef.h>

/* 0 with *out set; -1 when pydantic refuses the value; -2 when it is an integer beyond
 * long long (pydantic takes it; every field's range then refuses it). */
int coerce_int(json_object *v, long long *out);
/* 0 with *out 0 or 1; -1 when refused. */
int coerce_bool(json_object *v, int *out);
/* 0 when v is a string (use json_object_get_string); 1 when a number or boolean was written
 * into dst as pydantic's str() of it; -1 when refused (or dst is too small). */
int coerce_str(json_object *v, char *dst, size_t n);

#endif
