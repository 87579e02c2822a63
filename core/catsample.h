/* catsample -- common values of low-cardinality text columns that have no statistics yet (a
 * freshly loaded table that no ANALYZE has read), sampled with a bounded read-only query so
 * that retrieval and the offline planner know them ("mountains in Nepal"). Statistics, once
 * they exist, replace the sample: catalog_load() reads pg_stats first and its probe changes
 * when a column's statistics appear.
 *
 * Each column costs one statement in the read-only transaction (txn_begin: as the query
 * role, statement_timeout = ms): its first `rows` rows (LIMIT, no ORDER BY), grouped; at most
 * 100 distinct values counts as low cardinality, and the 25 most frequent are kept. Owns
 * nothing; values are added to the catalog. */
#ifndef T2_CATSAMPLE_H
#define T2_CATSAMPLE_H

#include "catalog.h"
#include "txn.h"

/* Samples every column of c with nostats set (at most 200 columns, and for at most ten times
 * ms in all). rows = 0 does nothing. Returns the number of columns that got values; a column
 * whose query fails or times out is skipped (logged). */
int catalog_sample(PGconn *conn, catalog *c, const txn_limits *lim, long rows, long ms);

#endif
