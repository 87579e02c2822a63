/* body -- parses a request body into a JSON object (json-c), with the service's rules; the
 * HTTP layer reads the bytes, this module only judges them (so it can be fuzzed alone).
 *
 * Owns nothing: on success *out is the caller's (json_object_put()). */
#ifndef T2_BODY_H
#define T2_BODY_H

#include "err.h"

#include <json-c/json.h>
#include <stddef.h>

#define BODY_MAX_DEPTH 32

/* p[0..n) must be NUL-terminated at p[n] (the NUL ends a top-level number or literal).
 * 0 with *out set to an object; -1 with *out NULL and err: E_BAD_JSON for an empty body,
 * invalid JSON, an embedded NUL, trailing non-blank bytes or nesting deeper than
 * BODY_MAX_DEPTH; E_VALIDATION (field "body") for null or any JSON value that is not an
 * object; E_INTERNAL when out of memory. */
int body_parse(const char *p, size_t n, json_object **out, t2err *err);

#endif
