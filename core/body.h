/* body -- parses a request body into a JSON object (json-c), with the service's rules, and
 * judges request text; the HTTP layer reads the bytes, this module only judges them (so it
 * can be fuzzed alone).
 *
 * Only strict JSON (RFC 8259) is accepted: no single quotes, comments, trailing commas,
 * unquoted keys, NaN or Infinity, leading zeros, hex or "1." numbers, raw control
 * characters in strings, invalid UTF-8, unpaired surrogate escapes, \u0000 (PostgreSQL's
 * text cannot hold it either), repeated keys in one object (refused, where the old
 * service's parser kept the last: two readers of one body must not see different values),
 * bytes after the value, or nesting deeper than BODY_MAX_DEPTH. A UTF-8 byte order mark at
 * the very start is skipped, as RFC 8259 8.1 allows and the old service did.
 *
 * Owns nothing: on success *out is the caller's (json_object_put()). */
#ifndef T2_BODY_H
#define T2_BODY_H

#include "err.h"

#include <json-c/json.h>
#include <stddef.h>

#define BODY_MAX_DEPTH 32

/* p[0..n) must be NUL-terminated at p[n] (the NUL ends a top-level number or literal).
 * 0 with *out set to an object; -1 with *out NULL and err: E_BAD_JSON for an empty body or
 * anything that is not strict JSON (the detail says what and where); E_VALIDATION (field
 * "body") for null or any JSON value that is not an object; E_VALIDATION on the field when
 * a top-level member's string value is not Unicode text (invalid UTF-8 or an unpaired
 * surrogate escape: a question a model must never see); E_INTERNAL when out of memory. */
int body_parse(const char *p, size_t n, json_object **out, t2err *err);

/* Text a person typed (the question): 0 if s[0..n) is valid UTF-8 holding no control
 * character other than tab, line feed and carriage return (C0, DEL and C1 are refused);
 * else -1 with err E_VALIDATION on field, saying which byte. */
int body_text(const char *field, const char *s, size_t n, t2err *err);

/* The string member k of object o (borrowed from o), or NULL when o has no such member or it
 * is not a string. */
const char *body_str(json_object *o, const char *k);

#endif
