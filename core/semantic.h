/* semantic -- the semantic layer: business measures, ratios, dimensions and entities defined
 * once in a YAML file (conf/semantic.yaml, read with libyaml), checked at load, and shared by
 * the planner (planner_semantic.c), the model's prompt (rag) and GET /semantic.
 *
 * A semantic owns every string in it; semantic_free() releases them. Nothing here talks to
 * the database: semantic_check() hands each definition's probe SQL to a caller's function
 * (the pipeline's guard + catalog names + PREPARE in the read-only transaction). */
#ifndef T2_SEMANTIC_H
#define T2_SEMANTIC_H

#include "buf.h"
#include "err.h"

#include <json-c/json.h>

#define SEM_MAX_DEFS 512 /* definitions in one file */
#define SEM_MAX_SYN  16  /* synonyms of one definition */
#define SEM_MAX_PART 8   /* measures a composite measure adds up */

enum { SEM_MEASURE = 1, SEM_RATIO, SEM_DIMENSION, SEM_ENTITY };
/* time grains of a time dimension (sem_def.grains bits) */
enum { SEMG_DAY = 1, SEMG_WEEK = 2, SEMG_MONTH = 4, SEMG_QUARTER = 8, SEMG_YEAR = 16 };

typedef struct sem_def {
    int kind; /* SEM_* */
    int line; /* 1-based line of the definition in the file */
    char *name;
    char *syn[SEM_MAX_SYN];
    int nsyn;
    char *description; /* may be NULL */
    char *table;       /* measure: base table; dimension, entity: its table; NULL otherwise */
    char *expr;        /* measure: aggregate SQL ("sum(ticket_sales.quantity)"); dimension: an
                        * SQL expression over its table; NULL for a composite measure, a ratio,
                        * an entity or a time dimension */
    char *filter;      /* measure, entity: an SQL condition over the table, or NULL */
    char *time;        /* measure: the date/time column a time grain truncates, or NULL */
    char *unit;        /* "count", "currency", "percent", ... or NULL */
    char *format;      /* display hint ("0.00", "integer"), or NULL */
    char *parts[SEM_MAX_PART]; /* composite measure: the measures it adds; ratio: numerator,
                                * denominator */
    int nparts;
    int percent; /* ratio: times 100 */
    int grains;  /* time dimension: SEMG_* bits; 0 for any other dimension */
} sem_def;

typedef struct semantic {
    sem_def *d;
    int n, cap;
} semantic;

/* Reads and checks the shape of the file at path: every definition has a name, the fields its
 * kind needs, names unique among every kind, references to measures that exist. A missing file
 * gives an empty layer. NULL with err (E_VALIDATION, "path:line: measure \"x\": why") on any
 * invalid definition or on out of memory. The caller frees the result with semantic_free(). */
semantic *semantic_load(const char *path, t2err *err);
/* The two halves of semantic_load. semantic_read appends the file's bytes to text (made with
 * BUF_INIT(SEMANTIC_FILE_MAX)): 1, or 0 when there is no file (path empty or missing), or -1
 * with err. semantic_parse checks the shape of text (len bytes; NULL: no file, an empty
 * layer), naming path in its errors. */
#define SEMANTIC_FILE_MAX (4 << 20)
int semantic_read(const char *path, buf *text, t2err *err);
semantic *semantic_parse(const char *path, const char *text, size_t len, t2err *err);
void semantic_free(semantic *s);
/* Index of the definition of kind (0 = any) named name (case-insensitive), or -1. */
int semantic_find(const semantic *s, int kind, const char *name);
/* The SQL that checks definition i (SELECT <expr> FROM <table> WHERE <filter> ...), appended
 * to out; 0, or 1 when the definition has nothing to check by itself (a ratio, a composite
 * measure, a time dimension), -1 when out does not fit. */
int semantic_probe_sql(const semantic *s, int i, buf *out);
/* Calls check(arg, sql, err) with every definition's probe SQL; the first failure is
 * reported as "path:N: measure \"x\": <check's error>" with check's code. 0 or -1. */
typedef int (*sem_check_fn)(void *arg, const char *sql, t2err *err);
int semantic_check(const semantic *s, const char *path, sem_check_fn check, void *arg, t2err *err);
/* {"measures": [...], "ratios": [...], "dimensions": [...], "entities": [...]}, the caller
 * owns it (json_object_put). NULL on out of memory. */
json_object *semantic_to_json(const semantic *s);
/* "day", "week", ... for one SEMG_* bit, NULL for another value. */
const char *semantic_grain_name(int grain);

#endif
