/* guardfold -- constant folding for the SQL guard's size caps. Internal to the guard
 * (sqlguard.c).
 *
 * It evaluates what a parse-tree node amounts to without reading any data: numbers
 * (literals, casts, + - * / ^ %, unary minus, power/abs/round/..., GREATEST/LEAST,
 * COALESCE, (SELECT <constant>)), timestamps and intervals ('2024-01-01'::date, now(),
 * CURRENT_DATE, '1 day', interval '1' hour, date + 7, ts - ts), and a lower bound of the
 * size of a value or set: the characters of repeat, lpad, rpad, concat, concat_ws, format
 * with a width, ||, encode and the text functions that keep their argument's length; the
 * elements of array_fill; the rows of generate_series (numbers or timestamps); and
 * string_agg/array_agg/json_agg and friends over a FROM of generate_series calls. A column, a
 * parameter or anything it does not model is unknown, and an unknown size is 0: the caller refuses
 * only what is proven too large.
 *
 * A gfold belongs to one parse tree; it keeps one memo entry per token (made on first use)
 * so every node is evaluated once. gfold_free() releases it. */
#ifndef T2_GUARDFOLD_H
#define T2_GUARDFOLD_H

#include "guardtree.h"

/* A proven size above this (characters, array elements, rows) is refused: one such call makes
 * a backend allocate up to 1 GB (repeat, lpad, rpad, array_fill and the aggregates build the
 * whole value in memory) or run a billion rows before statement_timeout can stop it. */
#define GUARD_MAX_COUNT 10000000.0

struct fval;

typedef struct gfold {
    const gtree *g;
    struct fval *memo; /* g->nt entries, calloc'd on first use; NULL if that failed */
    double now;        /* seconds since 1970 for now() and CURRENT_DATE; 0 until needed */
} gfold;

/* The least size node n produces, and in *what its unit ("characters", "array elements",
 * "rows"); 0 (and *what "") when nothing is proven. agg_rows: the rows an aggregate at n's
 * query level reads when known (gfold_from_rows() of a level without WHERE or GROUP BY),
 * else 0. */
double gfold_size(gfold *f, int n, double agg_rows, const char **what);
/* The rows the FROM clause of SelectStmt body s produces at least: 1 without FROM, the
 * product of its generate_series calls (comma or CROSS JOIN); 0 when it reads anything
 * else. */
double gfold_from_rows(gfold *f, int s);
void gfold_free(gfold *f);

#endif
