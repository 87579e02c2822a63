/* rolecat -- the catalog as one database role sees it: only the relations and columns the
 * role may SELECT (PostgreSQL's has_column_privilege, which counts table-level grants, and
 * USAGE on the schema), so that retrieval, the prompt, the planner, the name check and
 * /schema never show another role's names.
 *
 * A rolecat caches one filtered catalog per role (ROLECAT_MAX roles, least recently used
 * replaced), rebuilt when the full catalog changes (its fingerprint) or after ROLECAT_TTL_S
 * (grants change without the catalog changing). It owns the catalogs it returns: a pointer
 * from rolecat_get() stays valid until the next rolecat_get() or rolecat_free(). */
#ifndef T2_ROLECAT_H
#define T2_ROLECAT_H

#include "catalog.h"
#include "err.h"

#include <libpq-fe.h>

#define ROLECAT_MAX   16
#define ROLECAT_TTL_S 30

typedef struct rolecat rolecat;

rolecat *rolecat_new(void); /* NULL on out of memory */
void rolecat_free(rolecat *rc);
/* The part of base role can read (schemas: the allowed ones). NULL with err when the
 * privileges cannot be read (E_DB_UNAVAILABLE) or memory runs out. */
const catalog *rolecat_get(rolecat *rc, PGconn *conn, const catalog *base, char **schemas,
                           int nschemas, const char *role, t2err *err);
/* A copy of base with only the columns keep[t][c] != 0 (and the tables with at least one),
 * their keys between kept columns, and common values where keep is 1; 2 marks a table under
 * row-level security: its columns are kept without common values and its row estimate is
 * unknown (-1), since both describe every tenant's rows. Fingerprint computed. NULL on OOM. */
catalog *catalog_subset(const catalog *base, unsigned char *const *keep);

#endif
