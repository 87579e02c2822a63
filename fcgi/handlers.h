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

#endif
