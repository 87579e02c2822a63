/* catalog -- what the service knows of the database: tables and views, columns, types,
 * keys, comments, row estimates and common values, plus a fingerprint that changes whenever
 * any of it does.
 *
 * A catalog owns every string and array in it; catalog_free() releases all. The builder
 * functions (catalog_new, catalog_add_*) are how the loader, the JSON reader, the Spider
 * reader of t2sql-rag-eval and the tests all make one, so there is one shape to trust.
 * It also owns what its users derive from it (retrieval's index): made on first use, dropped
 * by every catalog_add_* and by catalog_free. */
#ifndef T2_CATALOG_H
#define T2_CATALOG_H

#include "err.h"

#include <json-c/json.h>
#include <libpq-fe.h>

typedef struct cat_column {
    char *name;
    char *type;    /* format_type() text, e.g. "numeric(10,2)", "timestamp with time zone" */
    char *comment; /* NULL if none */
    int pk;        /* part of the primary key */
    int notnull;
    char **values; /* common values (pg_stats.most_common_vals) for low-cardinality text */
    int nvalues;
    int nostats; /* text column with no pg_stats row yet (set by catalog_load; not in JSON) */
} cat_column;

typedef struct cat_table {
    char *schema;
    char *name;
    char *comment; /* NULL if none */
    char kind;     /* 'r' table, 'v' view, 'm' materialized view, 'p' partitioned, 'f' foreign */
    double rows;   /* planner's estimate (reltuples), -1 unknown */
    cat_column *cols;
    int ncols, capcols;
} cat_table;

typedef struct cat_fk {
    int table, column;         /* referencing table and column index */
    int ref_table, ref_column; /* referenced */
} cat_fk;

/* Data derived from a catalog by one of its users, kept with it: p is freed with free_fn. */
typedef struct cat_derived {
    void *p;
    void (*free_fn)(void *);
} cat_derived;

typedef struct catalog {
    cat_table *tables;
    int ntables, captables;
    cat_fk *fks;
    int nfks, capfks;
    char fingerprint[65]; /* hex; "" until computed */
    cat_derived *derived; /* never NULL; set through a const catalog too (the index is a cache) */
} catalog;

/* NULL on out of memory. */
catalog *catalog_new(void);
void catalog_free(catalog *c);
/* Returns the new table's index, or -1 on out of memory. Strings are copied. */
int catalog_add_table(catalog *c, const char *schema, const char *name, char kind,
                      const char *comment, double rows);
/* Returns the new column's index, or -1. type/comment may be NULL. */
int catalog_add_column(catalog *c, int table, const char *name, const char *type,
                       const char *comment, int pk, int notnull);
int catalog_add_value(catalog *c, int table, int column, const char *value);
int catalog_add_fk(catalog *c, int table, int column, int ref_table, int ref_column);

/* Finds a table by name, optionally "schema.name"; case-insensitive. -1 if none. */
int catalog_find_table(const catalog *c, const char *name);
/* Finds a column of table t by name; case-insensitive. -1 if none. */
int catalog_find_column(const catalog *c, int t, const char *name);
/* Computes c->fingerprint from the content. */
void catalog_fingerprint(catalog *c);

/* Loads tables, views, columns, keys, comments, estimates and common values of the given
 * schemas. Returns 0 with *out owned by the caller, or -1 with err set. */
int catalog_load(PGconn *conn, char **schemas, int nschemas, catalog **out, t2err *err);
/* A cheap query result that changes when the schema does (for "do I reload?"); 0 or -1. */
int catalog_probe(PGconn *conn, char **schemas, int nschemas, char *dst, size_t len, t2err *err);

/* JSON form (GET /schema and the Redis copy). Caller owns the returned object. */
json_object *catalog_to_json(const catalog *c);
/* Reverse of catalog_to_json; NULL on malformed input. Caller frees with catalog_free. */
catalog *catalog_from_json(json_object *j);

#endif
