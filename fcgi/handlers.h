/* handlers -- one function per endpoint; each answers the request completely (status,
 * headers, body) and returns 0, or -1 when the client went away. Grouped by file:
 * h_query.c (/query), h_export.c (/export/...), h_misc.c (/health, /ready, /schema,
 * /metrics), h_examples.c (/examples). */
#ifndef T2_HANDLERS_H
#define T2_HANDLERS_H

#include "http.h"

int h_health(req *r);
int h_ready(req *r);
int h_schema(req *r);
int h_metrics(req *r);
int h_audit(req *r);
int h_query(req *r);
int h_export_start(req *r);
int h_export_status(req *r);
int h_export_cancel(req *r);
int h_examples_list(req *r);
int h_examples_add(req *r);
int h_examples_delete(req *r);

/* The last path segment after prefix ("/export/status/"), or NULL if there is none. */
const char *path_tail(const req *r, const char *prefix);
/* Reads optional JSON fields with type checks; 0 (absent: *out untouched), 1 (set), or -1
 * with a 422 naming the field. */
int field_int(json_object *o, const char *name, long min, long max, long *out, t2err *err);
int field_str(json_object *o, const char *name, const char **out, t2err *err);
int field_bool(json_object *o, const char *name, int *out, t2err *err);
/* Appends the trimmed question to out if it has 1..max_question_chars characters (UTF-8),
 * else -1 with a 422 on field "question". */
int question_text(const req *r, const char *question, buf *out, t2err *err);

#endif
