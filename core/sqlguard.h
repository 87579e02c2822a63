/* sqlguard -- proves a generated statement is one read-only SELECT, on PostgreSQL's own
 * parse tree (libpg_query), and lists the relations it reads.
 *
 * It owns nothing beyond the call: guard_check() fills a caller-owned guard_result.
 * What it refuses: anything but exactly one SelectStmt (TABLE t and VALUES are fine),
 * data-modifying CTEs, SELECT INTO, row locks, denied functions anywhere in the tree (and,
 * in allowlist mode, any function not on the allowlist, and the functions and keywords that
 * disclose the session -- CURRENT_USER, version(), inet_server_addr() ... -- unless
 * allow_session), also when called as x.fn or (x).fn, values and row counts that constant
 * folding proves too large (repeat('x', (10^9)::int), generate_series(1, 1e12)), relations
 * outside the allowed schemas, secret catalogs, and trees past the size/nesting/join
 * limits. A size that depends on data is not refused: statement_timeout, temp_file_limit
 * and the response size cap bound it. */
#ifndef T2_SQLGUARD_H
#define T2_SQLGUARD_H

#include <stddef.h>

typedef struct guard_policy {
    char **schemas; /* allowed schemas for relations (unqualified names resolve to these) */
    int nschemas;
    int allowlist;      /* 1: every function must be on the built-in allowlist */
    int allow_catalogs; /* 1: pg_catalog / information_schema relations allowed (never the
                           secret ones: pg_authid, pg_shadow, pg_user_mappings, ...) */
    size_t max_bytes;   /* 0 = no limit */
    int max_nesting;    /* max subquery/expression nesting depth; 0 = no limit */
    int max_joins;      /* max number of joined relations; 0 = no limit */
    int allow_session;  /* 1: in allowlist mode, current_user, current_database(), version(),
                           inet_server_addr() ... are allowed too */
} guard_policy;

#define GUARD_MAX_RELS 128

typedef struct guard_rel {
    char schema[64]; /* "" when unqualified */
    char name[64];
} guard_rel;

typedef struct guard_result {
    guard_rel rels[GUARD_MAX_RELS]; /* relations read (CTE names excluded), deduplicated */
    int nrels;
    int is_parse_error; /* 1 when the SQL did not parse (invalid rather than unsafe) */
    char why[512];      /* reason for refusal, human-readable */
} guard_result;

/* Returns 0 if sql is safe under p, -1 with res->why set if not. */
int guard_check(const char *sql, const guard_policy *p, guard_result *res);

#endif
