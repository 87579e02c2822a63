/* examples -- the t2sql.examples table: verified question -> SQL pairs. This module owns all
 * SQL of that table: the admin endpoints' list/add/delete and the copy each process keeps for
 * direct answers and few-shot prompts.
 *
 * An example_set owns its array and every string in it; example_set_free() releases them.
 * JSON documents handed out (*out) belong to the caller (json_object_put). Every function
 * takes a healthy connection from the caller; on an error the caller runs pgc_check(). An
 * example's SQL is stored as given: the caller validates it first (guard, catalog, PREPARE). */
#ifndef T2_EXAMPLES_H
#define T2_EXAMPLES_H

#include "err.h"

#include <json-c/json.h>
#include <libpq-fe.h>

typedef struct t2example {
    char *question;
    char *sql;
} t2example;

typedef struct example_set {
    t2example *v;
    int n;
    char ver[64]; /* "count:max(id)" of the table when loaded; "" = never loaded */
} example_set;

/* Reloads s when the table changed since it was loaded (checked by a one-row version query).
 * 1 reloaded, 0 unchanged, -1 the database failed (s is kept as it was). */
int example_set_refresh(example_set *s, PGconn *conn);
/* Forgets the version, so the next refresh reloads. */
void example_set_stale(example_set *s);
void example_set_free(example_set *s);

/* {"examples": [{id, question, sql, created_at}, ...]} by id. 0 or -1 with err. */
int examples_list(PGconn *conn, json_object **out, t2err *err);
/* Inserts one example; *out is the stored row {id, question, sql, created_at}. */
int examples_add(PGconn *conn, const char *question, const char *sql, const char *owner,
                 json_object **out, t2err *err);
/* Deletes example id. 0, or -1 with E_NOT_FOUND (no such id) or a database error. */
int examples_delete(PGconn *conn, long id, t2err *err);

#endif
