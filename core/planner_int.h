/* planner_int -- the offline planner's private header: the limits, the unit and reading
 * types, the per-call context, and what each planner module offers the others.
 *
 * Included only by core/planner*.c; nothing here is part of the public API (planner.h).
 * Exported names start with pl_. The context is allocated and freed by pl_plan()
 * (planner.c); every other module only reads or fills parts of it, as its section says. */
#ifndef T2_PLANNER_INT_H
#define T2_PLANNER_INT_H

#include "buf.h"
#include "catalog.h"
#include "glossary.h"
#include "planner.h"
#include "text.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

/* Messages for users are cut to fit their buffers on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define MAXTOK   64 /* tokens in a question; longer questions are declined */
#define MAXUNIT  64 /* units (one per token at most) */
#define MAXCAND  16 /* readings of one phrase */
#define PH_WORDS 6  /* words in one lexicon phrase */
#define MAXMEAS  4  /* measures in one question */
#define MAXDIM   4  /* dimensions in one question */
#define MAXPROJ  8  /* listed columns */
#define MAXDEPTH 3  /* longest foreign-key path followed */
#define MAXTRIES 16 /* main tables tried for one question */

/* AGG_SHARE: the share of the rows that meet the question's conditions ("what share of sales
 * were refunded"): the conditions become the measure, not the WHERE clause */
/* AGG_RATIO: "ratio of X to Y", two numeric columns of one table: the ratio of their totals,
 * or of their values row by row when the rows of the table are asked for ("for each fare") */
enum { AGG_NONE, AGG_COUNT, AGG_SUM, AGG_AVG, AGG_MIN, AGG_MAX, AGG_SHARE, AGG_RATIO };
/* what a phrase reading names (cand.kind, lexent.kind) */
enum { R_TABLE = 1, R_COLUMN, R_VALUE, R_GLOSS, R_DERIVED, R_COMMENT };
/* what the scanner made of a stretch of tokens (unit.kind) */
enum {
    U_REF = 1,
    U_AGG,
    U_BY,
    U_BYPREV,
    U_TOP,
    U_RECENT,
    U_CMP,
    U_TIME,
    U_GRAIN,
    U_NEG,
    U_DISTINCT,
    U_LIMIT,
    U_LIT,      /* a quoted string; super = 1 after "named" or "called", LIT_PREFIX after
                 * "starts with", LIT_CONTAINS after "contains" (a[0]: the quoted token) */
    U_RATIO_TO, /* "to", "versus" after "ratio of" */
    U_ORDER     /* "ordered by", "in descending order": desc 1/0/-1 (not said), n = 1 when the key
                 * follows, super = 1 alphabetically */
};
enum { LIT_PREFIX = 2, LIT_CONTAINS };
enum { GR_DAY = 1, GR_WEEK, GR_MONTH, GR_QUARTER, GR_YEAR };
enum { CMP_GT = 1, CMP_GE, CMP_LT, CMP_LE, CMP_EQ, CMP_BETWEEN };
/* what the interpretation made of a unit (unit.role) */
enum {
    ROLE_NONE,
    ROLE_MEASURE,
    ROLE_COUNTED, /* the table whose rows are counted */
    ROLE_DIM,
    ROLE_RANKDIM,
    ROLE_FILTER,
    ROLE_MENTION,
    ROLE_QUAL, /* a table word qualifying the next or previous column */
    ROLE_TIMECOL,
    ROLE_CMPCOL,
    ROLE_PROJ,
    ROLE_ORDER /* the column after "ordered by" */
};
/* how strongly a phrase reading binds; higher wins, then the nearer table */
enum {
    P_COMMENT = 5,
    P_TABLE_PART = 8,
    P_COL_PART = 10,
    P_TABLE = 25,
    P_COL = 30,
    P_VALUE = 40,
    P_GLOSS = 50
};
/* glossary entry kinds */
enum { GK_NONE, GK_FILTER, GK_TABLE, GK_MEASURE };

/* reading masks for pl_pick() and pl_has_kind(): one bit per R_* kind */
#define M_TABLE   (1u << R_TABLE)
#define M_COLUMN  (1u << R_COLUMN)
#define M_VALUE   (1u << R_VALUE)
#define M_GLOSS   (1u << R_GLOSS)
#define M_DERIVED (1u << R_DERIVED)
#define M_COMMENT (1u << R_COMMENT)
#define M_NUMERIC (1u << 15) /* with M_COLUMN: numeric columns only */
#define M_ANY     0x7fffu
#define M_FILTER  (M_VALUE | M_GLOSS)

typedef struct ptok {
    char raw[TEXT_WORD_MAX]; /* lower-case */
    char st[TEXT_WORD_MAX];  /* stemmed */
    int isnum;               /* a number; ntxt is its SQL form */
    double num;
    char ntxt[32];
    int y, m, d; /* an ISO date token when y > 0 */
    int lit;     /* 1 + index into lits for a quoted string, else 0 */
    int used;
} ptok;

/* one reading of a phrase: a table, a column, a value of a column, a glossary entry */
typedef struct cand {
    int kind, prio, table, col, val, gloss;
    int via; /* 1 + the foreign key the phrase says its table is joined along ("buyer city"),
              * 0 any (planner_clarify.c) */
} cand;

typedef struct unit {
    int kind, pos, end; /* tokens [pos, end) */
    int agg, super;     /* U_AGG: AGG_*, super = a superlative ("highest", "most") */
    int desc;           /* U_TOP, U_RECENT */
    long n;             /* U_TOP, U_RECENT, U_LIMIT; 0 = not given */
    int cmp;            /* U_CMP */
    char a[32], b[32];
    char lo[96], hi[96]; /* U_TIME: SQL bounds, "" = open */
    int grain;           /* U_GRAIN */
    cand c[MAXCAND];     /* U_REF readings */
    int nc;
    int pick; /* chosen reading, -1 none */
    int role;
    int neg;
    int plural;
    int bound;  /* U_TIME / U_CMP / U_NEG / U_BY: consumed by the interpreter */
    int amount; /* U_AGG of money spent ("spent the most"), U_TOP of size ("3 largest"); for
                 * U_AGG share words, 100 when a percentage */
} unit;

typedef struct lexent {
    int kind, prio, table, col, val, gloss;
    int via; /* as cand.via */
    int nw;
    unsigned off[PH_WORDS]; /* words, as offsets into ctx.pool */
} lexent;

typedef struct gloss_info {
    int kind;
    int table; /* first table of the entry in this catalog, -1 none */
    int ok;    /* every table it names exists here */
    int agg;   /* GK_MEASURE: aggregate and its expression */
    char expr[256];
} gloss_info;

typedef struct measure {
    int agg, distinct, super;
    int kind; /* R_TABLE (rows), R_COLUMN, R_DERIVED */
    int table, col, gloss;
    int unit;
    int pct;  /* AGG_SHARE: times 100 */
    int col2; /* AGG_RATIO: the divisor column (of table), col the dividend */
} measure;

typedef struct dim {
    int kind;              /* R_COLUMN, R_TABLE (entity), U_GRAIN */
    int table, col, grain; /* R_TABLE: col is -1, or the column its groups are ordered by */
} dim;

typedef struct ctx {
    const catalog *cat;
    const glossary *g;
    /* joins (planner_join.c): the catalog's foreign keys, or those its names imply */
    const cat_fk *fks;
    int nfks;
    cat_fk *ifks;
    /* tokens (planner_scan.c) */
    ptok t[MAXTOK];
    int nt;
    char lits[4][256];
    int nlits;
    /* lexicon (planner_lex.c) */
    lexent *lx;
    buf pool; /* the lexicon's words, NUL-separated */
    int nlx, caplx;
    gloss_info *gi; /* one per glossary entry */
    /* units (planner_scan.c, planner_time.c) */
    unit u[MAXUNIT];
    int nu;
    char unknown[256]; /* unexplained words */
    /* interpretation, per main-table attempt (planner_interp.c, planner_filter.c) */
    int main;
    int *dist, *via, *amb, *need; /* per table: see pl_walk_fks() */
    int *route; /* per table: 1 + the only key it may be joined along, -1 none (pl_route_hints()) */
    measure m[MAXMEAS];
    int nm;
    dim d[MAXDIM];
    int nd;
    int proj[MAXPROJ][2];
    int nproj;
    int distinct_proj;
    int rank; /* 0 none, 1 ranking by the measure */
    int rank_desc;
    long limit;
    int order_t, order_c, order_desc; /* listing order column, -1 none */
    int having_unit;                  /* U_CMP applied to the measure, -1 none */
    int rankdim;                      /* the unit whose groups (or rows) are ranked, -1 none */
    int rank_size;                    /* the ranking word is one of size ("largest") */
    int super_unit;                   /* the U_AGG unit of a superlative measure, -1 none */
    int ord_unit;          /* the U_ORDER unit that says the order, -1 none (planner_order.c) */
    int per_row;           /* a ratio row by row: "for each" names the main table */
    char ratio_expr[2200]; /* a ratio of rows counted on conditions (planner_ratio.c) */
    int limit_guess;       /* x->limit is a guess from a plural ("the largest lakes": 10) */
    int ref_count;         /* second round: rows of a table the main one refers to may be
                            * counted through its references (planner.c) */
    int listing;           /* set by pl_pass_rest(): nothing measured or grouped, rows are listed */
    int list_table;        /* listed whole rows are of this table, not the main one (-1) */
    buf where;             /* the WHERE conditions so far (planner_sql.c's pl_where_*) */
    char err[400];
    int tie_unit;    /* the first phrase pl_pick() found two equal readings of, -1 none */
    cand tie[2];     /* those readings */
    text_words w[4]; /* scratch for splitting names */

    /* what else planner_clarify() asks about (planner_clarify.c) */
    int amb_unit, amb_table, amb_main; /* the first phrase whose only readings are of a table
                                        * joined by two equally short paths, -1 none */
    int cs_unit, cs_main; /* a phrase of rows grouped that may be counted or summed, -1 none */
} ctx;

/* ---- tiny helpers shared by every module ---- */

static inline int streq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* 1 if a and b are the same word, or one is the other's plural ("order", "orders"),
 * ignoring case */
static inline int pl_word_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la == lb) return strcasecmp(a, b) == 0;
    if (la + 1 == lb) return b[la] == 's' && strncasecmp(a, b, la) == 0;
    if (lb + 1 == la) return a[lb] == 's' && strncasecmp(a, b, lb) == 0;
    return 0;
}

static inline int in_list(const char *w, const char *const *list)
{
    int i;

    for (i = 0; list[i]; i++)
        if (list[i][0] == w[0] && streq(w, list[i])) return 1;
    return 0;
}

static inline const cat_column *column(const ctx *x, int t, int c)
{
    return &x->cat->tables[t].cols[c];
}

/* 1 if token i is the unused word w / one of list. */
static inline int tok_is(const ctx *x, int i, const char *w)
{
    return i >= 0 && i < x->nt && !x->t[i].used && x->t[i].raw[0] == w[0] && streq(x->t[i].raw, w);
}

static inline int tok_in(const ctx *x, int i, const char *const *list)
{
    return i >= 0 && i < x->nt && !x->t[i].used && in_list(x->t[i].raw, list);
}

/* Token i as a whole non-negative number up to 1e9, else -1. */
static inline long tok_int(const ctx *x, int i)
{
    const ptok *t;

    if ((unsigned)i >= (unsigned)x->nt) return -1; /* i < 0 or past the last token */
    t = &x->t[i];
    if (t->used || !t->isnum || strchr(t->ntxt, '.') || t->num > 1e9) return -1;
    return (long)t->num;
}

static inline const cand *picked(const unit *u)
{
    return u->pick >= 0 ? &u->c[u->pick] : NULL;
}

/* Index of the U_REF unit right after / before unit i (no other unit between), or -1. */
static inline int next_ref(const ctx *x, int i)
{
    return i + 1 < x->nu && x->u[i + 1].kind == U_REF ? i + 1 : -1;
}

static inline int prev_ref(const ctx *x, int i)
{
    return i > 0 && x->u[i - 1].kind == U_REF ? i - 1 : -1;
}

/* ---- planner.c: the entry ---- */

/* A context for one question; NULL when out of memory. Freed with pl_ctx_free(). */
ctx *pl_ctx_new(const catalog *cat, const glossary *g);
void pl_ctx_free(ctx *x);
/* pl_plan() in a fresh context x the caller keeps (for its tie, planner_follow.c). */
int pl_plan_in(ctx *x, const char *question, buf *sql, char *why, size_t whylen, int nested);

/* planner_plan() with nested = 1 when planning a suggested example (no examples of those). */
int pl_plan(const catalog *cat, const glossary *g, const char *question, buf *sql, char *why,
            size_t whylen, int nested);

/* ---- planner_join.c: what may be joined ---- */

/* Sets x->fks / x->nfks: the catalog's foreign keys, or for a catalog that declares none
 * the links its column names imply. 0, or -1 when out of memory. */
int pl_join_init(ctx *x);
/* The key column of table t by its names alone, -1 if none: its first column, when named id
 * or as the table's identifier (<table>_id, <table>id, <table>_code), or in a one-word table
 * the column named <initial>id no other one-word table of that initial has. */
int pl_named_key(const catalog *cat, int t);

/* 1 if table t only links others: every column but its own key is a link to another table
 * (at least two; "writes" of authors and publications). */
int pl_is_link(const ctx *x, int t);
/* The column of link table t that refers to table ref, -1 if t is no link or has none or
 * several. */
int pl_link_col(const ctx *x, int t, int ref);

/* ---- planner_lex.c: the words the catalog and the glossary give ---- */

/* Fills x->lx, x->pool and x->gi from the catalog and glossary; 0 or -1 (out of memory). */
int pl_lex_build(ctx *x);
/* Longest lexicon match at token i: returns its length in tokens (0 none) and fills out
 * (MAXCAND) with every reading of that length, each kept at its strongest priority. */
int pl_lex_match(const ctx *x, int i, cand *out, int *nout);
/* Adds words w->w[from..to) (stemmed) as a phrase with reading c (its via included); single
 * stop words are not added. 0, or -1 when out of memory. */
int pl_lex_add(ctx *x, const cand *c, const text_words *w, int from, int to);

/* ---- planner_scan.c: question -> tokens -> units ---- */

/* Cuts q into x->t; -1 when it has more than MAXTOK tokens or too many quoted parts. */
int pl_tokenize(ctx *x, const char *q);
/* Cuts the tokens into x->u; unexplained words go to x->unknown. 0 or -1 (too many units). */
int pl_scan(ctx *x);
/* Appends a unit over tokens [pos, end) and marks them used; NULL when x->u is full. */
unit *pl_new_unit(ctx *x, int kind, int pos, int end);

/* ---- planner_time.c: time phrases ---- */

/* A time range at token i ("in March 2024", "last 30 days", "between 2023 and 2024"): adds
 * a U_TIME unit and returns its length, 0 when there is none, -1 when x->u is full. */
int pl_scan_time(ctx *x, int i);
/* GR_* of a stemmed period word ("month"), 0 if none; and a grain's name ("month"). */
int pl_period_of(const char *st);
const char *pl_grain_name(int g);

/* ---- planner_bind.c: readings of phrases for one main table, and its joins ---- */

int pl_type_numeric(const char *t);
int pl_type_date(const char *t);
int pl_type_bool(const char *t);
/* Shortest many-to-one paths from table m into x->dist/via/amb; clears x->need. */
void pl_walk_fks(ctx *x, int m);
/* Fewest many-to-one hops from table a to table b (at most depth), or -1. */
int pl_hops(const ctx *x, int a, int b, int depth);
/* 1 if table t is joinable from the main table by one unambiguous path. */
int pl_reachable(const ctx *x, int t);
/* The table a reading belongs to (a glossary entry without one: the main table). */
int pl_cand_table(const ctx *x, const cand *c);
/* 1 if reading c is of a kind in mask (a glossary filter counts as M_GLOSS, another entry as
 * M_TABLE). */
int pl_kind_ok(const ctx *x, const cand *c, unsigned mask);
/* 1 if some reading of u is of a kind in mask. */
int pl_has_kind(const ctx *x, const unit *u, unsigned mask);
/* 1 if the strongest reading of u is a filter: a value, a glossary condition or a yes/no
 * column ("refunded", "members", "in Pune"). */
int pl_ref_is_filter(const ctx *x, const unit *u);
/* 1 if the strongest reading of u is a table's whole name, stronger than any column reading
 * ("the most flights": rows of flights, not a column flight_leg.leg_flight; "students" of
 * student, not a part of cares_for_students). */
int pl_table_first(const unit *u);
/* M_COMMENT if every reading of u comes from comments (only then do comments name a
 * column), else 0. */
unsigned pl_comment_ok(const unit *u);
/* Picks the reading of u allowed by mask that binds strongest and lies nearest the main
 * table and returns its index; -1 with x->err set when none is reachable or two tie. */
int pl_pick(ctx *x, unit *u, unsigned mask);
/* The reading of column phrase r of the table named right before it ("states with an area
 * over 1000", "journals whose names"), numeric columns only when numeric: 1 with r->pick
 * set, 0 when no table phrase comes right before or it has no such column (picks cleared). */
int pl_pick_qualified(ctx *x, int r, int numeric);
/* The column of the main table that refers to table t directly and by the only path, -1 if
 * none; and the one column of table t that refers to the main table (its key referred to
 * into *key), -1 if none or several. */
int pl_ref_col(const ctx *x, int t);
int pl_back_ref(const ctx *x, int t, int *key);
/* The words of u, space-separated, into dst; and a reading described for a message. */
void pl_phrase(const ctx *x, const unit *u, char *dst, size_t len);
void pl_cand_name(const ctx *x, const cand *c, char *dst, size_t len);
/* Marks the join path from the main table to t as needed; -1 if t is not reachable. */
int pl_need_table(ctx *x, int t);
/* Adds a measure (a repeat is ignored) and joins its table; -1 with x->err. */
int pl_add_measure(ctx *x, int agg, int distinct, int kind, int t, int c, int g, int ui);
/* Adds a grouping (a repeat is ignored); -1 with x->err when there are too many. */
int pl_add_dim(ctx *x, int kind, int t, int c, int grain);
/* Column indexes of table t, -1 if none: its only date column, its name or title, its
 * single-column key (with no key declared in t, as pl_named_key() says). */
int pl_date_column(const ctx *x, int t);
int pl_label_column(const ctx *x, int t);
int pl_key_column(const ctx *x, int t);
/* Its declared single-column key only (what breaks ties in an order), -1 if none. */
int pl_key_declared(const ctx *x, int t);
/* The one whole-number column of table t that holds a year (named year or *_year), when t has
 * no date column; -1 otherwise. A year grain groups by it and a range of whole years filters
 * on it. */
int pl_year_column(const ctx *x, int t);
/* The one numeric column of table t that holds an amount of money (its name says revenue,
 * price, cost, amount...; not a key), or -1 when it has none or several. */
int pl_amount_column(const ctx *x, int t);

/* ---- planner_interp.c, planner_filter.c: the interpretation ---- */

/* Gives every unit a role for main table x->main by running the passes in order; 0, or -1
 * with x->err set (empty when out of memory). */
int pl_interpret(ctx *x);
/* The passes planner_filter.c owns, in the order pl_interpret() runs them; each returns 0
 * or -1 with x->err set. */
int pl_pass_value_columns(ctx *x);
int pl_pass_qualifiers(ctx *x);
int pl_pass_comparisons(ctx *x);
int pl_pass_time(ctx *x);
int pl_pass_quoted(ctx *x);
int pl_pass_rest(ctx *x);
int pl_pass_unbound(ctx *x);
int pl_pass_label(ctx *x);
int pl_pass_distinct(ctx *x);

/* ---- planner_order.c: "ordered by ...", "in descending order" ---- */

/* An order phrase at token i: adds a U_ORDER unit and returns its length, 0 when there is
 * none, -1 when x->u is full. */
int pl_scan_order(ctx *x, int i);
/* The passes: the key after "ordered by" (early), then the order applied (late). */
int pl_pass_order_key(ctx *x);
int pl_pass_order(ctx *x);
/* "the longest rivers", "the 3 tallest buildings": superlative unit i before the table of
 * unit r (the main table) orders its rows by the one column the adjective is about (its
 * length, height, area). 1 when it did, 0 when the adjective or the table has no such
 * column, -1 with x->err. */
int pl_superlative_rows(ctx *x, int i, int r);

/* ---- planner_ratio.c: "ratio of X to Y" ---- */

/* "to" / "versus" / "vs" at token i after a "ratio of" with none yet: adds a U_RATIO_TO unit
 * and returns 1, else 0; -1 when x->u is full. */
int pl_scan_ratio_to(ctx *x, int i);
/* The measure of ratio unit i: the numeric column after it, divided by the one after its
 * "to" (or "per"), both of one table; 0 or -1 with x->err. */
int pl_measure_ratio(ctx *x, int i);
/* The columns that tell rows of table t apart, shown beside its listed rows: its label and
 * its key. Up to 2 into cols; returns how many. */
int pl_row_columns(const ctx *x, int t, int *cols);

/* ---- planner_sql.c: the SQL writer ---- */

/* Each appends one condition to x->where (ANDed to those before); 0 or -1 when it grows
 * too large. "t.c op v" with v already SQL; the comparison of U_CMP unit u; t.c = 'text';
 * t.c = / <> one value, or [NOT] IN several, of the column's common values vals[0..n);
 * [NOT ](sql) for a glossary condition. */
int pl_where_col(ctx *x, int t, int c, const char *op, const char *v);
int pl_where_cmp(ctx *x, int t, int c, const unit *u);
int pl_where_text(ctx *x, int t, int c, const char *v);
/* t.c ILIKE v, v's own wildcards escaped: equal but for case, starting with v, containing v. */
enum { LIKE_EQUAL, LIKE_PREFIX, LIKE_CONTAINS };
int pl_where_like(ctx *x, int t, int c, const char *v, int how);
int pl_where_values(ctx *x, int t, int c, int neg, const int *vals, int n);
int pl_where_sql(ctx *x, int neg, const char *sql);
/* [NOT] EXISTS (SELECT 1 FROM t WHERE t.tc = m.mc): "authors without publications". */
int pl_where_exists(ctx *x, int neg, int t, int tc, int m, int mc);
/* Appends the SELECT for the interpretation in x to out; 0, or -1 with x->err set. */
int pl_write_sql(ctx *x, buf *out);

/* ---- planner_clarify.c: ambiguities worth a question back ---- */

/* Adds the phrases that name a join path: "<role> <column>" of a table another one refers to
 * twice ("buyer city", "seller city" of users through orders.buyer_id / seller_id) and
 * "<role>" for the table itself when the words name nothing else ("per buyer"), and
 * "<table> <column>" of a table two tables refer to that a third one refers to both of
 * ("warehouses region name", "customers region name" of a shipment's regions). Each reading
 * carries its foreign key in cand.via.
 * 0, or -1 when out of memory. */
int pl_lex_paths(ctx *x);
/* Called by pl_walk_fks() first: x->route of each table a path phrase of the question names
 * is the key that phrase says (the walk follows no other key into it), or -1 (no key) when
 * two phrases name two keys into it. */
void pl_route_hints(ctx *x);
/* pl_pick() found no reachable reading of u allowed by mask: notes u when one is of a table
 * two equally short paths lead to. */
void pl_note_ambiguous_join(ctx *x, const unit *u, unsigned mask);
/* Before rows of x->main are counted for a grouping with nothing measured: -1 with x->err
 * when a phrase naming those rows is a word for a count or a total ("sales") and the table
 * has a column to total (an amount, a quantity); else 0. */
int pl_count_or_sum(ctx *x);

/* ---- planner_follow.c ---- */

/* Appends tokens [from, to) of x not marked in drop (may be NULL) to out, space-separated. */
void pl_emit(const ctx *x, int from, int to, const char *drop, buf *out);

/* ---- planner_decline.c: declines and suggestions ---- */

/* Writes "what. I can answer questions like ..." into why, with up to two example questions
 * about table (or the largest table when -1) that really plan; only what when nested.
 * Returns -1. */
int pl_decline(const ctx *x, const char *what, int table, char *why, size_t whylen, int nested);
/* The table of the first phrase that names one, or -1. */
int pl_first_table(const ctx *x);

#endif
