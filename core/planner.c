/* planner -- the offline planner: turns a question into one SELECT using only the catalog,
 * the glossary and the catalog's common values, and declines when any content word of the
 * question is left unexplained. See planner.h.
 *
 * Three stages. The scanner cuts the question into units (a time range, "top 5", "by", an
 * aggregate word, a comparison, a phrase naming a table / column / value / glossary term);
 * every token must end in a unit or be a stop word, or the planner declines naming the word.
 * The interpreter gives each unit a role (measure, dimension, filter, ranking, projection)
 * and picks the main table: the one every other named thing is reachable from through
 * many-to-one foreign keys, trying the strongest readings first. Ties are never broken by
 * guessing: two equally strong readings (a column in two tables at the same distance, two
 * join paths, two main tables that both work) make it decline and say which. The writer
 * emits schema-qualified, quoted-where-needed SQL with the needed joins.
 *
 * Allocates per call and keeps nothing; about 0.05 ms per question on the demo catalog. */
#include "planner.h"

#include "text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
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

enum { AGG_NONE, AGG_COUNT, AGG_SUM, AGG_AVG, AGG_MIN, AGG_MAX };
enum { R_TABLE = 1, R_COLUMN, R_VALUE, R_GLOSS, R_DERIVED, R_COMMENT };
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
    U_LIT /* a quoted string; super = 1 after "named" or "called" */
};
enum { GR_DAY = 1, GR_WEEK, GR_MONTH, GR_QUARTER, GR_YEAR };
enum { CMP_GT = 1, CMP_GE, CMP_LT, CMP_LE, CMP_EQ, CMP_BETWEEN };
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
    ROLE_PROJ
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

typedef struct cand {
    int kind, prio, table, col, val, gloss;
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
    int bound; /* U_TIME / U_CMP / U_NEG / U_BY: consumed by the interpreter */
} unit;

typedef struct lexent {
    int kind, prio, table, col, val, gloss;
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
} measure;

typedef struct dim {
    int kind; /* R_COLUMN, R_TABLE (entity), U_GRAIN */
    int table, col, grain;
} dim;

typedef struct ctx {
    const catalog *cat;
    const glossary *g;
    ptok t[MAXTOK];
    int nt;
    char lits[4][256];
    int nlits;
    lexent *lx;
    buf pool; /* the lexicon's words, NUL-separated */
    int nlx, caplx;
    gloss_info *gi;
    unit u[MAXUNIT];
    int nu;
    char unknown[256]; /* unexplained words */
    /* interpretation, per main-table attempt */
    int main;
    int *dist, *via, *amb, *need;
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
    buf where;
    char err[400];
    text_words w[4]; /* scratch for splitting names */
} ctx;

/* ---- small helpers ---- */

static int is_word_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

static int streq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static int in_list(const char *w, const char *const *list)
{
    int i;

    for (i = 0; list[i]; i++)
        if (list[i][0] == w[0] && streq(w, list[i])) return 1;
    return 0;
}

static int type_numeric(const char *t)
{
    static const char *const num[] = {"smallint",         "integer", "bigint",  "numeric", "real",
                                      "double precision", "money",   "decimal", NULL};
    int i;

    for (i = 0; num[i]; i++)
        if (strncmp(t, num[i], strlen(num[i])) == 0) return 1;
    return 0;
}

static int type_date(const char *t)
{
    return streq(t, "date") || strncmp(t, "timestamp", 9) == 0;
}

static int type_bool(const char *t)
{
    return streq(t, "boolean");
}

static const cat_column *column(const ctx *x, int t, int c)
{
    return &x->cat->tables[t].cols[c];
}

static int is_fk_column(const catalog *cat, int t, int c)
{
    int i;

    for (i = 0; i < cat->nfks; i++)
        if (cat->fks[i].table == t && cat->fks[i].column == c) return 1;
    return 0;
}

/* ---- SQL text ---- */

static int is_reserved(const char *w)
{
    /* PostgreSQL's reserved and type/function-name keywords, space-separated */
    static const char kw[] =
        " all analyse analyze and any array as asc asymmetric authorization binary both case "
        "cast check collate collation column concurrently constraint create cross "
        "current_catalog current_date current_role current_schema current_time "
        "current_timestamp current_user default deferrable desc distinct do else end except "
        "false fetch for foreign freeze from full grant group having ilike in initially inner "
        "intersect into is isnull join lateral leading left like limit localtime "
        "localtimestamp natural not notnull null offset on only or order outer overlaps "
        "placing primary references returning right select session_user similar some "
        "symmetric table tablesample then to trailing true union unique user using variadic "
        "verbose when where window with ";
    char pat[TEXT_WORD_MAX + 2];

    if (strlen(w) >= TEXT_WORD_MAX) return 0;
    snprintf(pat, sizeof pat, " %s ", w);
    return strstr(kw, pat) != NULL;
}

/* Appends an identifier, double-quoted unless it is a plain lower-case non-reserved name. */
static int add_ident(buf *b, const char *s)
{
    const char *p;
    int plain = (*s >= 'a' && *s <= 'z') || *s == '_';

    for (p = s; plain && *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) plain = 0;
    if (plain && !is_reserved(s)) return buf_adds(b, s);
    if (buf_addc(b, '"') < 0) return -1;
    for (p = s; *p; p++)
        if ((*p == '"' && buf_addc(b, '"') < 0) || buf_addc(b, *p) < 0) return -1;
    return buf_addc(b, '"');
}

static int add_literal(buf *b, const char *s)
{
    const char *p;

    if (buf_addc(b, '\'') < 0) return -1;
    for (p = s; *p; p++)
        if ((*p == '\'' && buf_addc(b, '\'') < 0) || buf_addc(b, *p) < 0) return -1;
    return buf_addc(b, '\'');
}

static int add_col(const ctx *x, buf *b, int t, int c)
{
    return add_ident(b, x->cat->tables[t].name) < 0 || buf_addc(b, '.') < 0 ||
                   add_ident(b, column(x, t, c)->name) < 0
               ? -1
               : 0;
}

static int add_table(const ctx *x, buf *b, int t)
{
    return add_ident(b, x->cat->tables[t].schema) < 0 || buf_addc(b, '.') < 0 ||
                   add_ident(b, x->cat->tables[t].name) < 0
               ? -1
               : 0;
}

/* ---- tokens ---- */

static const char *const NUMWORDS[] = {
    "zero",    "one",       "two",      "three",    "four",   "five",     "six",      "seven",
    "eight",   "nine",      "ten",      "eleven",   "twelve", "thirteen", "fourteen", "fifteen",
    "sixteen", "seventeen", "eighteen", "nineteen", "twenty", NULL};

static ptok *new_tok(ctx *x)
{
    ptok *t;

    if (x->nt >= MAXTOK) return NULL;
    t = &x->t[x->nt++];
    memset(t, 0, sizeof *t);
    return t;
}

static int all_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return n > 0;
}

/* Cuts q into tokens; returns -1 when it has more than MAXTOK. */
static int tokenize(ctx *x, const char *q)
{
    size_t i = 0, n = strlen(q);

    while (i < n) {
        unsigned char c = (unsigned char)q[i];
        ptok *t;

        if ((c == '"' || (c == '\'' && (i == 0 || !is_word_byte((unsigned char)q[i - 1])))) &&
            strchr(q + i + 1, (char)c)) {
            const char *e = strchr(q + i + 1, (char)c);
            size_t len = (size_t)(e - (q + i + 1));
            if (len == 0 || len >= sizeof x->lits[0] || x->nlits >= 4 || !(t = new_tok(x)))
                return -1;
            memcpy(x->lits[x->nlits], q + i + 1, len);
            x->lits[x->nlits][len] = '\0';
            t->lit = ++x->nlits;
            str_copy(t->raw, sizeof t->raw, "\"");
            str_copy(t->st, sizeof t->st, "\"");
            i = (size_t)(e - q) + 1;
            continue;
        }
        if (isdigit(c)) {
            size_t s = i, j;
            char tmp[32];
            size_t k = 0;

            if (!(t = new_tok(x))) return -1;
            if (n - i >= 10 && all_digits(q + i, 4) && q[i + 4] == '-' &&
                all_digits(q + i + 5, 2) && q[i + 7] == '-' && all_digits(q + i + 8, 2) &&
                (i + 10 == n || !isdigit((unsigned char)q[i + 10]))) {
                t->y = (q[i] - '0') * 1000 + (q[i + 1] - '0') * 100 + (q[i + 2] - '0') * 10 +
                       (q[i + 3] - '0');
                t->m = (q[i + 5] - '0') * 10 + (q[i + 6] - '0');
                t->d = (q[i + 8] - '0') * 10 + (q[i + 9] - '0');
                memcpy(t->raw, q + i, 10);
                memcpy(t->st, q + i, 10);
                i += 10;
                continue;
            }
            for (j = i; j < n && k + 1 < sizeof tmp; j++) {
                if (isdigit((unsigned char)q[j]))
                    tmp[k++] = q[j];
                else if (q[j] == ',' && j + 3 < n + 1 && all_digits(q + j + 1, 3) &&
                         (j + 4 >= n || !isdigit((unsigned char)q[j + 4])))
                    continue; /* thousands separator */
                else if (q[j] == '.' && j + 1 < n && isdigit((unsigned char)q[j + 1]) &&
                         !strchr(tmp, '.'))
                    tmp[k++] = '.';
                else
                    break;
                tmp[k] = '\0';
            }
            tmp[k] = '\0';
            t->isnum = 1;
            t->num = strtod(tmp, NULL);
            str_copy(t->ntxt, sizeof t->ntxt, tmp);
            str_copy(t->raw, sizeof t->raw, tmp);
            str_copy(t->st, sizeof t->st, tmp);
            i = j > s ? j : s + 1;
            continue;
        }
        if (is_word_byte(c)) {
            size_t s = i, k;
            while (i < n && is_word_byte((unsigned char)q[i]))
                i++;
            if (!(t = new_tok(x))) return -1;
            for (k = 0; k < i - s && k + 1 < sizeof t->raw; k++)
                t->raw[k] = (char)tolower((unsigned char)q[s + k]);
            t->raw[k] = '\0';
            str_copy(t->st, sizeof t->st, t->raw);
            text_stem(t->st);
            for (k = 0; NUMWORDS[k]; k++)
                if (streq(t->raw, NUMWORDS[k])) {
                    t->isnum = 1;
                    t->num = (double)k;
                    snprintf(t->ntxt, sizeof t->ntxt, "%d", (int)k);
                }
            continue;
        }
        i++;
    }
    return 0;
}

static int tok_is(const ctx *x, int i, const char *w)
{
    return i >= 0 && i < x->nt && !x->t[i].used && x->t[i].raw[0] == w[0] && streq(x->t[i].raw, w);
}

static int tok_in(const ctx *x, int i, const char *const *list)
{
    return i >= 0 && i < x->nt && !x->t[i].used && in_list(x->t[i].raw, list);
}

static long tok_int(const ctx *x, int i)
{
    const ptok *t = &x->t[i];

    if (i < 0 || i >= x->nt || t->used || !t->isnum || strchr(t->ntxt, '.') || t->num > 1e9)
        return -1;
    return (long)t->num;
}

/* ---- lexicon: the phrases that name tables, columns, values and glossary terms ---- */

static int lex_add(ctx *x, int kind, int prio, int t, int c, int v, int g, const text_words *w,
                   int from, int to)
{
    lexent *e;
    int i, nw = to - from;

    if (nw <= 0 || nw > PH_WORDS) return 0;
    for (i = from; i < to; i++)
        if (!w->w[i][0]) return 0;
    if (nw == 1 && (text_is_stop(w->w[from]) || strlen(w->w[from]) < 2)) return 0;
    if (x->nlx == x->caplx) {
        int ncap = x->caplx ? x->caplx * 2 : 256;
        lexent *ne = realloc(x->lx, (size_t)ncap * sizeof *ne);
        if (!ne) return -1;
        x->lx = ne;
        x->caplx = ncap;
    }
    e = &x->lx[x->nlx++];
    e->kind = kind;
    e->prio = prio;
    e->table = t;
    e->col = c;
    e->val = v;
    e->gloss = g;
    e->nw = nw;
    for (i = 0; i < nw; i++) {
        e->off[i] = (unsigned)x->pool.len;
        if (buf_add(&x->pool, w->w[from + i], strlen(w->w[from + i]) + 1) < 0) return -1;
    }
    return 0;
}

static int word_in(const text_words *w, const char *s)
{
    int i;

    for (i = 0; i < w->n; i++)
        if (streq(w->w[i], s)) return 1;
    return 0;
}

/* Parses an aggregate call ("SUM(a * b)") out of a glossary hint. */
static int hint_measure(const char *hint, gloss_info *gi)
{
    static const char *const fn[] = {"sum(", "avg(", "count(", "min(", "max(", NULL};
    static const int ag[] = {AGG_SUM, AGG_AVG, AGG_COUNT, AGG_MIN, AGG_MAX};
    int i;

    for (i = 0; fn[i]; i++) {
        const char *p = strcasestr(hint, fn[i]), *s;
        int depth = 1;
        if (!p) continue;
        s = p + strlen(fn[i]);
        for (p = s; *p && depth; p++)
            depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
        if (depth || (size_t)(p - 1 - s) >= sizeof gi->expr || p - 1 == s) return 0;
        memcpy(gi->expr, s, (size_t)(p - 1 - s));
        gi->expr[p - 1 - s] = '\0';
        gi->agg = ag[i];
        return 1;
    }
    return 0;
}

static int build_lexicon(ctx *x)
{
    text_words *tw = &x->w[0], *cw = &x->w[1], *vw = &x->w[2], *gw = &x->w[3];
    const catalog *cat = x->cat;
    int t, c, v, i, j;

    for (t = 0; t < cat->ntables; t++) {
        const cat_table *tb = &cat->tables[t];
        text_split(tb->name, 1, tw);
        if (lex_add(x, R_TABLE, P_TABLE, t, -1, -1, -1, tw, 0, tw->n) < 0) return -1;
        for (i = 0; tw->n > 1 && i < tw->n; i++)
            if (lex_add(x, R_TABLE, P_TABLE_PART, t, -1, -1, -1, tw, i, i + 1) < 0) return -1;
        for (c = 0; c < tb->ncols; c++) {
            const cat_column *col = &tb->cols[c];
            text_words q;
            int skip = 0;

            text_split(col->name, 1, cw);
            if (cw->n > 1 && type_bool(col->type) &&
                (streq(cw->w[0], "is") || streq(cw->w[0], "has") || streq(cw->w[0], "ha")))
                skip = 1;
            if (lex_add(x, R_COLUMN, P_COL, t, c, -1, -1, cw, 0, cw->n) < 0 ||
                (skip && lex_add(x, R_COLUMN, P_COL, t, c, -1, -1, cw, 1, cw->n) < 0))
                return -1;
            /* "event_date" of events is also just "date" */
            for (i = skip; i < cw->n - 1 && word_in(tw, cw->w[i]); i++)
                ;
            if (i > skip && lex_add(x, R_COLUMN, P_COL, t, c, -1, -1, cw, i, cw->n) < 0) return -1;
            /* qualified by each table word: "ticket price", "customer city" */
            for (i = 0; i < tw->n; i++) {
                if (word_in(cw, tw->w[i]) || cw->n + 1 > PH_WORDS) continue;
                q.n = 0;
                memcpy(q.w[q.n++], tw->w[i], TEXT_WORD_MAX);
                for (j = skip; j < cw->n; j++)
                    memcpy(q.w[q.n++], cw->w[j], TEXT_WORD_MAX);
                if (lex_add(x, R_COLUMN, P_COL, t, c, -1, -1, &q, 0, q.n) < 0) return -1;
            }
            if (cw->n > 1 && !streq(cw->w[cw->n - 1], "id") &&
                lex_add(x, R_COLUMN, P_COL_PART, t, c, -1, -1, cw, cw->n - 1, cw->n) < 0)
                return -1;
            /* "payment" of payment_status, "loyalty" of loyalty_points */
            if (cw->n - skip > 1 && !streq(cw->w[cw->n - 1], "id") && !word_in(tw, cw->w[skip]) &&
                lex_add(x, R_COLUMN, P_COL_PART, t, c, -1, -1, cw, skip, skip + 1) < 0)
                return -1;
            for (v = 0; v < col->nvalues; v++) {
                text_split(col->values[v], 1, vw);
                if (vw->n == 0 || vw->n > PH_WORDS) continue;
                for (i = 0; i < vw->n && isdigit((unsigned char)vw->w[i][0]); i++)
                    ;
                if (i == vw->n) /* purely numeric values are not names */
                    continue;
                if (lex_add(x, R_VALUE, P_VALUE, t, c, v, -1, vw, 0, vw->n) < 0) return -1;
            }
            if (col->comment && (type_date(col->type) || type_numeric(col->type))) {
                text_split(col->comment, 1, vw);
                for (i = 0; i < vw->n; i++)
                    if (!text_is_stop(vw->w[i]) &&
                        lex_add(x, R_COMMENT, P_COMMENT, t, c, -1, -1, vw, i, i + 1) < 0)
                        return -1;
            }
        }
    }
    for (i = 0; x->g && i < x->g->n; i++) {
        const gloss_entry *e = &x->g->e[i];
        gloss_info *gi = &x->gi[i];
        char name[256];
        const char *p = e->tables;
        int ok = 1;

        gi->table = -1;
        while (*p) {
            size_t l = strcspn(p, ", ");
            if (l > 0 && l < sizeof name) {
                int ti;
                memcpy(name, p, l);
                name[l] = '\0';
                ti = catalog_find_table(cat, name);
                if (ti < 0)
                    ok = 0;
                else if (gi->table < 0)
                    gi->table = ti;
            }
            p += l;
            p += strspn(p, ", ");
        }
        gi->ok = ok && (gi->table >= 0 || e->filter);
        if (!gi->ok) continue;
        if (e->filter)
            gi->kind = GK_FILTER;
        else if (gi->table >= 0 && hint_measure(e->hint, gi))
            gi->kind = GK_MEASURE;
        else if (gi->table >= 0)
            gi->kind = GK_TABLE;
        else
            continue;
        text_split(e->term, 1, gw);
        if (gi->kind == GK_MEASURE) {
            /* "ticket revenue" is also "revenue" when ticket_sales is the table in play */
            text_words rest;
            text_split(cat->tables[gi->table].name, 1, tw);
            rest.n = 0;
            for (j = 0; j < gw->n; j++)
                if (!word_in(tw, gw->w[j])) memcpy(rest.w[rest.n++], gw->w[j], TEXT_WORD_MAX);
            if (lex_add(x, R_DERIVED, P_COL + 2, gi->table, -1, -1, i, gw, 0, gw->n) < 0 ||
                (rest.n && rest.n < gw->n &&
                 lex_add(x, R_DERIVED, P_COL_PART, gi->table, -1, -1, i, &rest, 0, rest.n) < 0))
                return -1;
        } else if (lex_add(x, R_GLOSS, P_GLOSS, gi->table, -1, -1, i, gw, 0, gw->n) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Longest lexicon match at token i; fills cands (all readings of that length). */
static int lex_match(const ctx *x, int i, cand *out, int *nout)
{
    int best = 0, k, j, n = 0;

    for (k = 0; k < x->nlx; k++) {
        const lexent *e = &x->lx[k];
        if (e->nw < best || i + e->nw > x->nt) continue;
        for (j = 0; j < e->nw; j++) {
            const char *w = x->pool.p + e->off[j];
            if (x->t[i + j].used || x->t[i + j].lit || x->t[i + j].st[0] != w[0] ||
                !streq(x->t[i + j].st, w))
                break;
        }
        if (j < e->nw) continue;
        if (e->nw > best) {
            best = e->nw;
            n = 0;
        }
        for (j = 0; j < n; j++)
            if (out[j].kind == e->kind && out[j].table == e->table && out[j].col == e->col &&
                out[j].val == e->val && out[j].gloss == e->gloss)
                break;
        if (j < n) {
            if (out[j].prio < e->prio) out[j].prio = e->prio;
            continue;
        }
        if (n < MAXCAND) out[n++] = (cand){e->kind, e->prio, e->table, e->col, e->val, e->gloss};
    }
    *nout = n;
    return best;
}

/* ---- scanner ---- */

static unit *new_unit(ctx *x, int kind, int pos, int end)
{
    unit *u;
    int i;

    if (x->nu >= MAXUNIT) return NULL;
    u = &x->u[x->nu++];
    memset(u, 0, sizeof *u);
    u->kind = kind;
    u->pos = pos;
    u->end = end;
    u->pick = -1;
    for (i = pos; i < end; i++)
        x->t[i].used = 1;
    return u;
}

static int month_of(const char *w)
{
    static const char *const full[] = {"january",  "february", "march",  "april",     "may",
                                       "june",     "july",     "august", "september", "october",
                                       "november", "december", NULL};
    static const char *const abbr[] = {"jan", "feb", "mar", "apr", "",    "jun", "jul",
                                       "aug", "sep", "oct", "nov", "dec", NULL};
    int i;

    for (i = 0; full[i]; i++)
        if (streq(w, full[i]) || (abbr[i][0] && streq(w, abbr[i]))) return i + 1;
    if (streq(w, "sept")) return 9;
    return 0;
}

static int year_at(const ctx *x, int i)
{
    long v = tok_int(x, i);

    return v >= 1900 && v <= 2100 && strlen(x->t[i].ntxt) == 4 ? (int)v : 0;
}

static int days_in(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

static void date_lit(char *dst, size_t len, int y, int m, int d)
{
    if (d > days_in(y, m)) {
        d = 1;
        if (++m > 12) {
            m = 1;
            y++;
        }
    }
    snprintf(dst, len, "DATE '%04d-%02d-%02d'", y, m, d);
}

/* An absolute point in time at i: a year, month and year, a day, a quarter. Returns the
 * tokens used (0 if none) and its range [lo, hi) as SQL. */
static int parse_point(const ctx *x, int i, char *lo, char *hi, size_t len)
{
    int y, m, d;
    long v;

    if (i >= x->nt || x->t[i].used) return 0;
    if (x->t[i].y > 0) {
        const ptok *t = &x->t[i];
        if (t->m < 1 || t->m > 12 || t->d < 1 || t->d > days_in(t->y, t->m)) return 0;
        date_lit(lo, len, t->y, t->m, t->d);
        date_lit(hi, len, t->y, t->m, t->d + 1);
        return 1;
    }
    if ((y = year_at(x, i)) > 0) {
        date_lit(lo, len, y, 1, 1);
        date_lit(hi, len, y + 1, 1, 1);
        return 1;
    }
    if (x->t[i].raw[0] == 'q' && x->t[i].raw[1] >= '1' && x->t[i].raw[1] <= '4' &&
        !x->t[i].raw[2] && (y = year_at(x, i + 1)) > 0) {
        m = (x->t[i].raw[1] - '1') * 3 + 1;
        date_lit(lo, len, y, m, 1);
        date_lit(hi, len, m + 3 > 12 ? y + 1 : y, m + 3 > 12 ? 1 : m + 3, 1);
        return 2;
    }
    if ((m = month_of(x->t[i].raw)) > 0) {
        if ((y = year_at(x, i + 1)) > 0) { /* March 2024 */
            date_lit(lo, len, y, m, 1);
            date_lit(hi, len, m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1);
            return 2;
        }
        v = tok_int(x, i + 1); /* March 5 2024 */
        if (v >= 1 && v <= days_in(2000, m) && (y = year_at(x, i + 2)) > 0 && v <= days_in(y, m)) {
            date_lit(lo, len, y, m, (int)v);
            date_lit(hi, len, y, m, (int)v + 1);
            return 3;
        }
        return 0;
    }
    v = tok_int(x, i); /* 5 March 2024 */
    if (v >= 1 && v <= 31 && i + 2 < x->nt && (m = month_of(x->t[i + 1].raw)) > 0 &&
        (y = year_at(x, i + 2)) > 0 && v <= days_in(y, m)) {
        d = (int)v;
        date_lit(lo, len, y, m, d);
        date_lit(hi, len, y, m, d + 1);
        return 3;
    }
    return 0;
}

static int period_of(const char *st)
{
    if (streq(st, "day")) return GR_DAY;
    if (streq(st, "week")) return GR_WEEK;
    if (streq(st, "month")) return GR_MONTH;
    if (streq(st, "quarter")) return GR_QUARTER;
    if (streq(st, "year")) return GR_YEAR;
    return 0;
}

static const char *grain_name(int g)
{
    static const char *const n[] = {"", "day", "week", "month", "quarter", "year"};
    return n[g];
}

/* Relative periods: "last 30 days", "past 3 months", "last month", "this year", "today". */
static int scan_relative(ctx *x, int i, unit *tmp)
{
    static const char *const last[] = {"last", "past", "previous", "prior", NULL};
    static const char *const cur[] = {"this", "current", NULL};
    const char *g;
    long n;
    int p;

    if (tok_is(x, i, "today")) {
        str_copy(tmp->lo, sizeof tmp->lo, "CURRENT_DATE");
        str_copy(tmp->hi, sizeof tmp->hi, "CURRENT_DATE + 1");
        return 1;
    }
    if (tok_is(x, i, "yesterday")) {
        str_copy(tmp->lo, sizeof tmp->lo, "CURRENT_DATE - 1");
        str_copy(tmp->hi, sizeof tmp->hi, "CURRENT_DATE");
        return 1;
    }
    if (tok_in(x, i, last) && (n = tok_int(x, i + 1)) > 0 && i + 2 < x->nt &&
        (p = period_of(x->t[i + 2].st)) > 0) {
        if (p == GR_DAY)
            snprintf(tmp->lo, sizeof tmp->lo, "CURRENT_DATE - %ld", n);
        else if (p == GR_WEEK)
            snprintf(tmp->lo, sizeof tmp->lo, "CURRENT_DATE - %ld", n * 7);
        else
            snprintf(tmp->lo, sizeof tmp->lo, "CURRENT_DATE - INTERVAL '%ld %s'",
                     p == GR_QUARTER ? n * 3 : n, p == GR_YEAR ? "years" : "months");
        str_copy(tmp->hi, sizeof tmp->hi, "CURRENT_DATE + 1");
        return 3;
    }
    if ((tok_in(x, i, last) || tok_in(x, i, cur)) && i + 1 < x->nt &&
        (p = period_of(x->t[i + 1].raw)) > 0) {
        g = grain_name(p);
        if (tok_in(x, i, cur)) {
            snprintf(tmp->lo, sizeof tmp->lo, "date_trunc('%s', CURRENT_DATE)", g);
            snprintf(tmp->hi, sizeof tmp->hi, "date_trunc('%s', CURRENT_DATE) + INTERVAL '1 %s'", g,
                     g);
        } else {
            snprintf(tmp->lo, sizeof tmp->lo, "date_trunc('%s', CURRENT_DATE) - INTERVAL '1 %s'", g,
                     g);
            snprintf(tmp->hi, sizeof tmp->hi, "date_trunc('%s', CURRENT_DATE)", g);
        }
        return 2;
    }
    return 0;
}

static int scan_time(ctx *x, int i)
{
    static const char *const in[] = {"in", "during", "for", "on", "of", "within", NULL};
    static const char *const since[] = {"since", "from", NULL};
    static const char *const before[] = {"before", NULL};
    static const char *const after[] = {"after", NULL};
    static const char *const until[] = {"until", "till", "through", "thru", "to", NULL};
    unit tmp;
    char lo2[96], hi2[96];
    int k, k2, s = i;
    unit *u;

    memset(&tmp, 0, sizeof tmp);
    if (tok_in(x, i, in) && (k = scan_relative(x, i + 1, &tmp)) > 0) {
        k += 1;
        goto done;
    }
    if (tok_in(x, i, in) && tok_is(x, i + 1, "the") && (k = scan_relative(x, i + 2, &tmp)) > 0) {
        k += 2;
        goto done;
    }
    if ((k = scan_relative(x, i, &tmp)) > 0) goto done;
    if ((tok_is(x, i, "between") || tok_is(x, i, "from")) &&
        (k = parse_point(x, i + 1, tmp.lo, hi2, sizeof hi2)) > 0 &&
        (tok_is(x, i + 1 + k, "and") || tok_in(x, i + 1 + k, until)) &&
        (k2 = parse_point(x, i + 2 + k, lo2, tmp.hi, sizeof tmp.hi)) > 0) {
        k = 2 + k + k2;
        goto done;
    }
    if (tok_in(x, i, since) && (k = parse_point(x, i + 1, tmp.lo, hi2, sizeof hi2)) > 0) {
        k += 1;
        goto done;
    }
    if (tok_in(x, i, after) && (k = parse_point(x, i + 1, lo2, tmp.lo, sizeof tmp.lo)) > 0) {
        k += 1;
        goto done;
    }
    if (tok_in(x, i, before) && (k = parse_point(x, i + 1, tmp.hi, hi2, sizeof hi2)) > 0) {
        k += 1;
        goto done;
    }
    if (tok_in(x, i, until) && (k = parse_point(x, i + 1, lo2, tmp.hi, sizeof tmp.hi)) > 0) {
        k += 1;
        goto done;
    }
    if (tok_in(x, i, in) && (k = parse_point(x, i + 1, tmp.lo, tmp.hi, sizeof tmp.hi)) > 0) {
        k += 1;
        goto done;
    }
    if ((k = parse_point(x, i, tmp.lo, tmp.hi, sizeof tmp.hi)) > 0) goto done;
    return 0;
done:
    if (!(u = new_unit(x, U_TIME, s, s + k))) return -1;
    memcpy(u->lo, tmp.lo, sizeof u->lo);
    memcpy(u->hi, tmp.hi, sizeof u->hi);
    return k;
}

static int scan_top(ctx *x, int i)
{
    static const char *const recent[] = {"latest", "newest", "earliest", "oldest", NULL};
    static const char *const hi[] = {"highest", "largest", "biggest", "greatest", NULL};
    static const char *const lo[] = {"lowest", "smallest", NULL};
    long n;
    unit *u;
    int k = 0, desc = 1, kind;

    if (tok_is(x, i, "top") || tok_is(x, i, "bottom")) {
        desc = tok_is(x, i, "top");
        n = tok_int(x, i + 1);
        if (!(u = new_unit(x, U_TOP, i, i + (n > 0 ? 2 : 1)))) return -1;
        u->desc = desc;
        u->n = n > 0 ? n : 0;
        return n > 0 ? 2 : 1;
    }
    n = tok_int(x, i);
    if (n > 0) k = 1;
    if (tok_is(x, i + k, "most") && tok_is(x, i + k + 1, "recent")) {
        kind = U_RECENT;
        k += 2;
    } else if (tok_in(x, i + k, recent)) {
        kind = U_RECENT;
        desc = streq(x->t[i + k].raw, "latest") || streq(x->t[i + k].raw, "newest");
        k += 1;
    } else if (n > 0 && (tok_in(x, i + 1, hi) || tok_in(x, i + 1, lo))) {
        kind = U_TOP; /* "the 5 highest" */
        desc = tok_in(x, i + 1, hi);
        k = 2;
    } else {
        return 0;
    }
    if (n <= 0 && kind == U_RECENT && (n = tok_int(x, i + k)) > 0) k++; /* "latest 5" */
    if (!(u = new_unit(x, kind, i, i + k))) return -1;
    u->desc = desc;
    u->n = n > 0 ? n : 0;
    return k;
}

static int scan_cmp(ctx *x, int i)
{
    static const struct {
        const char *w1, *w2;
        int op;
    } ops[] = {
        {"more", "than", CMP_GT},   {"greater", "than", CMP_GT},   {"higher", "than", CMP_GT},
        {"larger", "than", CMP_GT}, {"bigger", "than", CMP_GT},    {"over", NULL, CMP_GT},
        {"above", NULL, CMP_GT},    {"exceeding", NULL, CMP_GT},   {"at", "least", CMP_GE},
        {"minimum", "of", CMP_GE},  {"less", "than", CMP_LT},      {"fewer", "than", CMP_LT},
        {"lower", "than", CMP_LT},  {"smaller", "than", CMP_LT},   {"under", NULL, CMP_LT},
        {"below", NULL, CMP_LT},    {"at", "most", CMP_LE},        {"up", "to", CMP_LE},
        {"maximum", "of", CMP_LE},  {"exactly", NULL, CMP_EQ},     {"equal", "to", CMP_EQ},
        {"equals", NULL, CMP_EQ},   {"between", NULL, CMP_BETWEEN}};
    static const char *const more[] = {"more", "greater", "higher", "above", "over", NULL};
    static const char *const less[] = {"less", "fewer", "lower", "below", "under", NULL};
    size_t k;
    int w, s = i;
    unit *u;

    /* "3 or more" */
    if (i + 2 < x->nt && x->t[i].isnum && !x->t[i].used && tok_is(x, i + 1, "or") &&
        (tok_in(x, i + 2, more) || tok_in(x, i + 2, less))) {
        if (!(u = new_unit(x, U_CMP, i, i + 3))) return -1;
        u->cmp = in_list(x->t[i + 2].raw, more) ? CMP_GE : CMP_LE;
        str_copy(u->a, sizeof u->a, x->t[i].ntxt);
        return 3;
    }
    for (k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        if (!tok_is(x, i, ops[k].w1)) continue;
        w = 1;
        if (ops[k].w2) {
            if (!tok_is(x, i + 1, ops[k].w2)) continue;
            w = 2;
        }
        if (tok_is(x, i + w, "or") && tok_is(x, i + w + 1, "equal") && tok_is(x, i + w + 2, "to")) {
            w += 3; /* "more than or equal to" */
            if (ops[k].op == CMP_GT || ops[k].op == CMP_LT) {
                if (!x->t[i + w].isnum || x->t[i + w].used) return 0;
                if (!(u = new_unit(x, U_CMP, s, i + w + 1))) return -1;
                u->cmp = ops[k].op == CMP_GT ? CMP_GE : CMP_LE;
                str_copy(u->a, sizeof u->a, x->t[i + w].ntxt);
                return w + 1;
            }
            return 0;
        }
        if (i + w >= x->nt || !x->t[i + w].isnum || x->t[i + w].used) continue;
        if (ops[k].op == CMP_BETWEEN) {
            if (!tok_is(x, i + w + 1, "and") || i + w + 2 >= x->nt || !x->t[i + w + 2].isnum)
                return 0;
            if (!(u = new_unit(x, U_CMP, s, i + w + 3))) return -1;
            u->cmp = CMP_BETWEEN;
            str_copy(u->a, sizeof u->a, x->t[i + w].ntxt);
            str_copy(u->b, sizeof u->b, x->t[i + w + 2].ntxt);
            return w + 3;
        }
        if (!(u = new_unit(x, U_CMP, s, i + w + 1))) return -1;
        u->cmp = ops[k].op;
        str_copy(u->a, sizeof u->a, x->t[i + w].ntxt);
        return w + 1;
    }
    return 0;
}

static int scan_agg(ctx *x, int i)
{
    static const struct {
        const char *w1, *w2, *w3;
        int agg, super;
    } aggs[] = {
        {"how", "many", NULL, AGG_COUNT, 0},     {"how", "much", NULL, AGG_SUM, 0},
        {"total", "number", "of", AGG_COUNT, 0}, {"number", "of", NULL, AGG_COUNT, 0},
        {"count", "of", NULL, AGG_COUNT, 0},     {"count", NULL, NULL, AGG_COUNT, 0},
        {"sum", "of", NULL, AGG_SUM, 0},         {"sum", NULL, NULL, AGG_SUM, 0},
        {"total", NULL, NULL, AGG_SUM, 0},       {"average", NULL, NULL, AGG_AVG, 0},
        {"avg", NULL, NULL, AGG_AVG, 0},         {"mean", NULL, NULL, AGG_AVG, 0},
        {"minimum", NULL, NULL, AGG_MIN, 0},     {"min", NULL, NULL, AGG_MIN, 0},
        {"maximum", NULL, NULL, AGG_MAX, 0},     {"max", NULL, NULL, AGG_MAX, 0},
        {"highest", NULL, NULL, AGG_MAX, 1},     {"largest", NULL, NULL, AGG_MAX, 1},
        {"biggest", NULL, NULL, AGG_MAX, 1},     {"greatest", NULL, NULL, AGG_MAX, 1},
        {"most", NULL, NULL, AGG_MAX, 1},        {"lowest", NULL, NULL, AGG_MIN, 1},
        {"smallest", NULL, NULL, AGG_MIN, 1},    {"least", NULL, NULL, AGG_MIN, 1},
        {"fewest", NULL, NULL, AGG_MIN, 1},
    };
    size_t k;
    int w;
    unit *u;

    for (k = 0; k < sizeof aggs / sizeof aggs[0]; k++) {
        if (!tok_is(x, i, aggs[k].w1)) continue;
        w = 1;
        if (aggs[k].w2) {
            if (!tok_is(x, i + 1, aggs[k].w2)) continue;
            w = 2;
            if (aggs[k].w3) {
                if (!tok_is(x, i + 2, aggs[k].w3)) continue;
                w = 3;
            }
        }
        if (!(u = new_unit(x, U_AGG, i, i + w))) return -1;
        u->agg = aggs[k].agg;
        u->super = aggs[k].super;
        return w;
    }
    return 0;
}

static int scan_by(ctx *x, int i)
{
    static const char *const two[][2] = {{"for", "each"},     {"for", "every"}, {"grouped", "by"},
                                         {"group", "by"},     {"split", "by"},  {"broken", "down"},
                                         {"breakdown", "by"}, {"in", "each"}};
    size_t k;
    int w = 0;

    for (k = 0; k < sizeof two / sizeof two[0] && !w; k++)
        if (tok_is(x, i, two[k][0]) && tok_is(x, i + 1, two[k][1])) w = 2;
    if (w == 2 && tok_is(x, i, "broken") && tok_is(x, i + 2, "by")) w = 3;
    if (!w && (tok_is(x, i, "by") || tok_is(x, i, "per") || tok_is(x, i, "each") ||
               tok_is(x, i, "every") || tok_is(x, i, "across")))
        w = 1;
    if (w) return new_unit(x, U_BY, i, i + w) ? w : -1;
    if (tok_is(x, i, "breakdown") || tok_is(x, i, "breakdowns") || tok_is(x, i, "wise"))
        return new_unit(x, U_BYPREV, i, i + 1) ? 1 : -1;
    return 0;
}

static int scan_grain(ctx *x, int i)
{
    static const char *const adj[] = {"daily",  "weekly", "monthly",  "quarterly",
                                      "yearly", "annual", "annually", NULL};
    static const int adjg[] = {GR_DAY, GR_WEEK, GR_MONTH, GR_QUARTER, GR_YEAR, GR_YEAR, GR_YEAR};
    int k, g;
    unit *u;

    for (k = 0; adj[k]; k++)
        if (tok_is(x, i, adj[k])) {
            if (!(u = new_unit(x, U_GRAIN, i, i + 1))) return -1;
            u->grain = adjg[k];
            return 1;
        }
    if (i < x->nt && !x->t[i].used && (g = period_of(x->t[i].st)) > 0 &&
        ((x->nu > 0 && x->u[x->nu - 1].kind == U_BY && x->u[x->nu - 1].end == i) ||
         (i > 0 && streq(x->t[i - 1].raw, "and") && x->nu > 1 &&
          (x->u[x->nu - 2].kind == U_BY || x->u[x->nu - 1].kind == U_GRAIN)) ||
         (i > 0 && (streq(x->t[i - 1].raw, "which") || streq(x->t[i - 1].raw, "what"))))) {
        if (!(u = new_unit(x, U_GRAIN, i, i + 1))) return -1;
        u->grain = g;
        return 1;
    }
    return 0;
}

static const char *const FILLER[] = {
    "sold",     "sell",       "bought",  "buy",      "purchased", "placed", "made",      "held",
    "overall",  "altogether", "ever",    "only",     "row",       "rows",   "record",    "records",
    "entry",    "entries",    "where",   "having",   "who",       "whose",  "with",      "many",
    "there",    "order",      "ordered", "through",  "via",       "using",  "currently", "exist",
    "existing", "happened",   "happen",  "occurred", NULL};

/* "order" and "ordered" are filler only as verbs ("orders placed", "ordered by"): the
 * lexicon sees them first, so a table named orders still wins. */
static int is_filler(const ptok *t)
{
    return in_list(t->raw, FILLER) || text_is_stop(t->st);
}

static int add_unknown(ctx *x, const char *w)
{
    size_t l = strlen(x->unknown);

    if (strstr(x->unknown, w)) return 0;
    snprintf(x->unknown + l, sizeof x->unknown - l, "%s\"%s\"", l ? ", " : "", w);
    return 0;
}

static int scan(ctx *x)
{
    static const char *const neg[] = {"not",       "non",    "no",      "without",
                                      "excluding", "except", "exclude", NULL};
    static const char *const distinct[] = {"distinct", "unique", "different", NULL};
    cand cs[MAXCAND];
    int i = 0, L, nc, k;
    unit *u;

    while (i < x->nt) {
        if (x->t[i].used) {
            i++;
            continue;
        }
        L = lex_match(x, i, cs, &nc);
        if (L < 2) {
            if ((k = scan_time(x, i)) != 0 || (k = scan_top(x, i)) != 0 ||
                (k = scan_cmp(x, i)) != 0 || (k = scan_grain(x, i)) != 0 ||
                (k = scan_by(x, i)) != 0 || (k = scan_agg(x, i)) != 0) {
                if (k < 0) return -1;
                i += k;
                continue;
            }
            if (tok_in(x, i, neg)) {
                if (!new_unit(x, U_NEG, i, i + 1)) return -1;
                i++;
                continue;
            }
            if (tok_in(x, i, distinct)) {
                if (!new_unit(x, U_DISTINCT, i, i + 1)) return -1;
                i++;
                continue;
            }
        }
        if (L > 0) {
            /* comment words are the weakest reading: only when nothing else fits */
            if (!(nc > 0 && cs[0].kind == R_COMMENT && is_filler(&x->t[i]))) {
                if (!(u = new_unit(x, U_REF, i, i + L))) return -1;
                memcpy(u->c, cs, (size_t)nc * sizeof cs[0]);
                u->nc = nc;
                u->plural = text_is_plural(x->t[i + L - 1].raw);
                i += L;
                continue;
            }
        }
        if (x->t[i].isnum && (k = (int)tok_int(x, i)) > 0 && i + 1 < x->nt) {
            /* "5 events with the highest capacity": a count for a ranking */
            if (!new_unit(x, U_LIMIT, i, i + 1)) return -1;
            x->u[x->nu - 1].n = k;
            i++;
            continue;
        }
        if (x->t[i].lit || ((tok_is(x, i, "named") || tok_is(x, i, "called")) && i + 1 < x->nt &&
                            x->t[i + 1].lit)) {
            int named = !x->t[i].lit;
            if (!(u = new_unit(x, U_LIT, i, i + 1 + named))) return -1;
            u->super = named;
            i += 1 + named;
            continue;
        }
        if (tok_is(x, i, "took") && tok_is(x, i + 1, "place")) { /* "events that took place" */
            x->t[i].used = x->t[i + 1].used = 1;
            i += 2;
            continue;
        }
        if (!is_filler(&x->t[i])) add_unknown(x, x->t[i].raw);
        x->t[i].used = 1;
        i++;
    }
    /* words naming the same column through its comment are one mention: "signed up" (two
     * comment words), "seating capacity" (a column word, then a word of its comment). A
     * comment word never joins the word before it unless that word names the column. */
    for (i = 0; i + 1 < x->nu; i++) {
        unit *a = &x->u[i], *b = &x->u[i + 1];
        int j, m, q, pure = 1;
        if (a->kind != U_REF || b->kind != U_REF || b->pos != a->end) continue;
        for (j = 0; j < a->nc; j++)
            if (a->c[j].kind != R_COMMENT) pure = 0;
        for (j = 0, m = 0; j < a->nc; j++) {
            int keep = 0;
            if (a->c[j].kind != R_COMMENT && !(a->c[j].kind == R_COLUMN && !pure)) continue;
            for (q = 0; q < b->nc; q++)
                if (b->c[q].kind == R_COMMENT && a->c[j].table == b->c[q].table &&
                    a->c[j].col == b->c[q].col)
                    keep = 1;
            if (keep && (pure || a->c[j].kind == R_COLUMN)) a->c[m++] = a->c[j];
        }
        if (m == 0) continue;
        a->nc = m;
        a->end = b->end;
        memmove(b, b + 1, (size_t)(x->nu - i - 2) * sizeof *b);
        x->nu--;
        i--;
    }
    return 0;
}

/* ---- interpretation ---- */

/* Shortest many-to-one paths from table m: dist (-1 unreachable), via (fk index), amb (two
 * different shortest paths: the planner will not choose between them). */
static void walk_fks(ctx *x, int m)
{
    const catalog *cat = x->cat;
    int *queue = x->need, head = 0, tail = 0, i;

    for (i = 0; i < cat->ntables; i++) {
        x->dist[i] = -1;
        x->via[i] = -1;
        x->amb[i] = 0;
    }
    x->dist[m] = 0;
    queue[tail++] = m;
    while (head < tail) {
        int a = queue[head++];
        if (x->dist[a] >= MAXDEPTH) continue;
        for (i = 0; i < cat->nfks; i++) {
            const cat_fk *f = &cat->fks[i];
            int b = f->ref_table;
            if (f->table != a || b == m) continue;
            if (x->dist[b] < 0) {
                x->dist[b] = x->dist[a] + 1;
                x->via[b] = i;
                x->amb[b] = x->amb[a];
                queue[tail++] = b;
            } else if (x->dist[b] == x->dist[a] + 1 && x->via[b] != i) {
                const cat_fk *o = &cat->fks[x->via[b]];
                if (o->table != f->table || o->column != f->column) x->amb[b] = 1;
            }
        }
    }
    for (i = 0; i < cat->ntables; i++)
        x->need[i] = 0;
}

/* Fewest many-to-one hops from table a to table b (at most depth), or -1. */
static int hops(const catalog *cat, int a, int b, int depth)
{
    int i, best = -1;

    if (a == b) return 0;
    if (depth == 0) return -1;
    for (i = 0; i < cat->nfks; i++) {
        int h;
        if (cat->fks[i].table != a || cat->fks[i].ref_table == a) continue;
        h = hops(cat, cat->fks[i].ref_table, b, depth - 1);
        if (h >= 0 && (best < 0 || h + 1 < best)) best = h + 1;
    }
    return best;
}

static int reachable(const ctx *x, int t)
{
    return t >= 0 && x->dist[t] >= 0 && !x->amb[t];
}

static int cand_table(const ctx *x, const cand *c)
{
    if (c->kind == R_GLOSS) return x->gi[c->gloss].table >= 0 ? x->gi[c->gloss].table : x->main;
    return c->table;
}

static int kind_ok(const ctx *x, const cand *c, unsigned mask)
{
    unsigned k = 1u << c->kind;

    if (c->kind == R_GLOSS) k = x->gi[c->gloss].kind == GK_FILTER ? 1u << R_GLOSS : 1u << R_TABLE;
    return (mask & k) != 0;
}

#define M_TABLE   (1u << R_TABLE)
#define M_COLUMN  (1u << R_COLUMN)
#define M_VALUE   (1u << R_VALUE)
#define M_GLOSS   (1u << R_GLOSS)
#define M_DERIVED (1u << R_DERIVED)
#define M_COMMENT (1u << R_COMMENT)
#define M_NUMERIC (1u << 15) /* with M_COLUMN: numeric columns only */
#define M_ANY     0x7fffu
#define M_FILTER  (M_VALUE | M_GLOSS)

static void phrase(const ctx *x, const unit *u, char *dst, size_t len)
{
    size_t l = 0;
    int i;

    dst[0] = '\0';
    for (i = u->pos; i < u->end && l + 2 < len; i++) {
        snprintf(dst + l, len - l, "%s%s", i > u->pos ? " " : "", x->t[i].raw);
        l = strlen(dst);
    }
}

static void cand_name(const ctx *x, const cand *c, char *dst, size_t len)
{
    const catalog *cat = x->cat;

    if (c->kind == R_TABLE)
        snprintf(dst, len, "%s", cat->tables[c->table].name);
    else if (c->kind == R_COLUMN || c->kind == R_COMMENT)
        snprintf(dst, len, "%s.%s", cat->tables[c->table].name,
                 cat->tables[c->table].cols[c->col].name);
    else if (c->kind == R_VALUE)
        snprintf(dst, len, "%s.%s = '%s'", cat->tables[c->table].name,
                 cat->tables[c->table].cols[c->col].name,
                 cat->tables[c->table].cols[c->col].values[c->val]);
    else
        snprintf(dst, len, "the glossary term \"%s\"", x->g->e[c->gloss].term);
}

/* Picks the reading of u allowed by mask that binds strongest and lies nearest the main
 * table; -1 with x->err set when none is reachable or two tie. */
static int pick(ctx *x, unit *u, unsigned mask)
{
    int i, best = -1, tie = -1;
    char ph[128], a[160], b[160];

    for (i = 0; i < u->nc; i++) {
        const cand *c = &u->c[i];
        int t = cand_table(x, c);
        if (!kind_ok(x, c, mask) || !reachable(x, t)) continue;
        if ((c->kind == R_COLUMN || c->kind == R_COMMENT) && (mask & M_NUMERIC) &&
            !type_numeric(column(x, c->table, c->col)->type))
            continue; /* bit 15: numeric columns only */
        if (best < 0 || c->prio > u->c[best].prio ||
            (c->prio == u->c[best].prio && x->dist[t] < x->dist[cand_table(x, &u->c[best])])) {
            best = i;
            tie = -1;
        } else if (c->prio == u->c[best].prio &&
                   x->dist[t] == x->dist[cand_table(x, &u->c[best])]) {
            tie = i;
        }
    }
    phrase(x, u, ph, sizeof ph);
    if (best < 0) {
        snprintf(x->err, sizeof x->err, "\"%s\" names nothing I can relate to %s", ph,
                 x->cat->tables[x->main].name);
        return -1;
    }
    if (tie >= 0) {
        cand_name(x, &u->c[best], a, sizeof a);
        cand_name(x, &u->c[tie], b, sizeof b);
        snprintf(x->err, sizeof x->err, "\"%s\" could mean %s or %s", ph, a, b);
        return -1;
    }
    u->pick = best;
    return best;
}

static int has_kind(const ctx *x, const unit *u, unsigned mask)
{
    int i;

    for (i = 0; i < u->nc; i++)
        if (kind_ok(x, &u->c[i], mask)) return 1;
    return 0;
}

/* 1 if the strongest reading of u is a filter: a value, a glossary condition or a yes/no
 * column ("refunded", "members", "in Pune"). */
static int ref_is_filter(const ctx *x, const unit *u)
{
    int i, best = -1;

    if (u->kind != U_REF) return 0;
    for (i = 0; i < u->nc; i++)
        if (best < 0 || u->c[i].prio > u->c[best].prio) best = i;
    if (best < 0) return 0;
    if (kind_ok(x, &u->c[best], M_FILTER)) return 1;
    return u->c[best].kind == R_COLUMN &&
           type_bool(column(x, u->c[best].table, u->c[best].col)->type);
}

/* 1 if every reading of u comes from comments: only then do comments name a column. */
static unsigned comment_ok(const unit *u)
{
    int i;

    for (i = 0; i < u->nc; i++)
        if (u->c[i].kind != R_COMMENT) return 0;
    return M_COMMENT;
}

static const cand *picked(const unit *u)
{
    return u->pick >= 0 ? &u->c[u->pick] : NULL;
}

static int need_table(ctx *x, int t)
{
    if (!reachable(x, t)) return -1;
    while (t != x->main && !x->need[t]) {
        x->need[t] = 1;
        t = x->cat->fks[x->via[t]].table;
    }
    return 0;
}

static int add_measure(ctx *x, int agg, int distinct, int kind, int t, int c, int g, int ui)
{
    int i;

    if (kind == R_COLUMN && agg != AGG_COUNT && !type_numeric(column(x, t, c)->type) &&
        !((agg == AGG_MIN || agg == AGG_MAX) && type_date(column(x, t, c)->type))) {
        snprintf(x->err, sizeof x->err, "%s.%s is not a number", x->cat->tables[t].name,
                 column(x, t, c)->name);
        return -1;
    }
    for (i = 0; i < x->nm; i++)
        if (x->m[i].agg == agg && x->m[i].kind == kind && x->m[i].table == t && x->m[i].col == c &&
            x->m[i].gloss == g && x->m[i].distinct == distinct)
            return 0; /* said twice */
    if (x->nm >= MAXMEAS) {
        snprintf(x->err, sizeof x->err, "too many measures in one question");
        return -1;
    }
    if (need_table(x, t) < 0) {
        snprintf(x->err, sizeof x->err, "%s is not related to %s", x->cat->tables[t].name,
                 x->cat->tables[x->main].name);
        return -1;
    }
    x->m[x->nm++] = (measure){agg, distinct, 0, kind, t, c, g, ui};
    return 0;
}

static int add_dim(ctx *x, int kind, int t, int c, int grain)
{
    int i;

    for (i = 0; i < x->nd; i++)
        if (x->d[i].kind == kind && x->d[i].table == t && x->d[i].col == c &&
            x->d[i].grain == grain)
            return 0;
    if (x->nd >= MAXDIM) {
        snprintf(x->err, sizeof x->err, "too many groupings in one question");
        return -1;
    }
    x->d[x->nd++] = (dim){kind, t, c, grain};
    return 0;
}

/* The date or timestamp column of table t: the only one, or -1. */
static int date_column(const ctx *x, int t)
{
    const cat_table *tb = &x->cat->tables[t];
    int i, found = -1, n = 0;

    for (i = 0; i < tb->ncols; i++)
        if (type_date(tb->cols[i].type)) {
            found = i;
            n++;
        }
    return n == 1 ? found : -1;
}

/* Label shown for a row of entity table t: a name or title column, else the key. */
static int label_column(const ctx *x, int t)
{
    const cat_table *tb = &x->cat->tables[t];
    int i;

    for (i = 0; i < tb->ncols; i++)
        if (streq(tb->cols[i].name, "name") || streq(tb->cols[i].name, "title")) return i;
    for (i = 0; i < tb->ncols; i++) {
        size_t l = strlen(tb->cols[i].name);
        if (l > 5 &&
            (streq(tb->cols[i].name + l - 5, "_name") || streq(tb->cols[i].name + l - 5, "_title")))
            return i;
    }
    return -1;
}

static int key_column(const ctx *x, int t)
{
    const cat_table *tb = &x->cat->tables[t];
    int i, k = -1, n = 0;

    for (i = 0; i < tb->ncols; i++)
        if (tb->cols[i].pk) {
            k = i;
            n++;
        }
    return n == 1 ? k : -1;
}

/* Index of the next/previous unit of kind U_REF adjacent to unit i (no other unit between). */
static int next_ref(const ctx *x, int i)
{
    return i + 1 < x->nu && x->u[i + 1].kind == U_REF ? i + 1 : -1;
}

static int prev_ref(const ctx *x, int i)
{
    return i > 0 && x->u[i - 1].kind == U_REF ? i - 1 : -1;
}

static int col_filter(ctx *x, int t, int c, const char *op, const char *v)
{
    if (x->where.len && buf_adds(&x->where, " AND ") < 0) return -1;
    return add_col(x, &x->where, t, c) < 0 || buf_printf(&x->where, " %s %s", op, v) < 0 ? -1 : 0;
}

static int time_filter(ctx *x, const unit *u, int t, int c)
{
    if (need_table(x, t) < 0) return -1;
    if (u->lo[0] && col_filter(x, t, c, ">=", u->lo) < 0) return -1;
    if (u->hi[0] && col_filter(x, t, c, "<", u->hi) < 0) return -1;
    return 0;
}

static int cmp_sql(const unit *u, buf *b)
{
    static const char *const op[] = {"", ">", ">=", "<", "<=", "="};

    if (u->cmp == CMP_BETWEEN) return buf_printf(b, " BETWEEN %s AND %s", u->a, u->b);
    return buf_printf(b, " %s %s", op[u->cmp], u->a);
}

/* Joins every table that a glossary SQL fragment names as "table.column"; -1 with x->err
 * when one is not reachable from the main table. */
static int need_sql_tables(ctx *x, const char *sql)
{
    const char *p = sql;
    char name[128];
    char quote = 0;

    while (*p) {
        size_t n;
        if (quote) { /* skip string literals */
            if (*p == quote) quote = 0;
            p++;
            continue;
        }
        if (*p == '\'') {
            quote = *p++;
            continue;
        }
        if (!(isalpha((unsigned char)*p) || *p == '_') ||
            (p > sql && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '.'))) {
            p++;
            continue;
        }
        for (n = 0; isalnum((unsigned char)p[n]) || p[n] == '_'; n++)
            ;
        if (p[n] == '.' && n < sizeof name) {
            int t;
            memcpy(name, p, n);
            name[n] = '\0';
            t = catalog_find_table(x->cat, name);
            if (t < 0 || need_table(x, t) < 0) {
                snprintf(x->err, sizeof x->err, "the glossary condition \"%s\" needs %s, which %s",
                         sql, name, t < 0 ? "does not exist" : "I cannot join here");
                return -1;
            }
        }
        p += n;
    }
    return 0;
}

/* A value right after (or before) a table it belongs to through that table: "events in
 * Pune" is the venue's city even when the main table's customers also have cities. Sets the
 * pick of unit i when a table ref is adjacent and the strongest reading is a value; 0 or -1. */
static int anchor_value(ctx *x, int i)
{
    unit *u = &x->u[i];
    int side, k, anchor = -1, best = -1, besth = -1, tie = -1;
    char ph[128];

    if (!ref_is_filter(x, u) || !has_kind(x, u, M_VALUE) || has_kind(x, u, M_GLOSS)) return 0;
    for (side = -1; side <= 1 && anchor < 0; side += 2) {
        unit *v;
        if (i + side < 0 || i + side >= x->nu || x->u[i + side].kind != U_REF) continue;
        v = &x->u[i + side];
        if (v->pick >= 0 && (v->c[v->pick].kind == R_TABLE || v->c[v->pick].kind == R_GLOSS) &&
            (v->role == ROLE_MENTION || v->role == ROLE_COUNTED || v->role == ROLE_QUAL))
            anchor = cand_table(x, &v->c[v->pick]);
    }
    if (anchor < 0 || anchor == x->main) return 0;
    for (k = 0; k < u->nc; k++) {
        int h;
        if (u->c[k].kind != R_VALUE || !reachable(x, u->c[k].table)) continue;
        h = hops(x->cat, anchor, u->c[k].table, MAXDEPTH);
        if (h < 0) continue;
        if (best < 0 || h < besth) {
            best = k;
            besth = h;
            tie = -1;
        } else if (h == besth &&
                   (u->c[k].table != u->c[best].table || u->c[k].col != u->c[best].col)) {
            tie = k;
        }
    }
    if (best < 0) return 0;
    if (tie >= 0) {
        char a[160], b[160];
        phrase(x, u, ph, sizeof ph);
        cand_name(x, &u->c[best], a, sizeof a);
        cand_name(x, &u->c[tie], b, sizeof b);
        snprintf(x->err, sizeof x->err, "\"%s\" could mean %s or %s", ph, a, b);
        return -1;
    }
    u->pick = best;
    return 0;
}

/* Unit r names the table whose rows are counted: it must be the main table. */
static int count_rows(ctx *x, int r)
{
    int t;

    if (pick(x, &x->u[r], M_TABLE) < 0) return -1;
    t = cand_table(x, picked(&x->u[r]));
    if (t != x->main) {
        snprintf(x->err, sizeof x->err, "counting %s, not %s", x->cat->tables[t].name,
                 x->cat->tables[x->main].name);
        return -1;
    }
    x->u[r].role = ROLE_COUNTED;
    return add_measure(x, AGG_COUNT, 0, R_TABLE, x->main, -1, -1, r);
}

/* Assigns roles to the units for main table x->main; 0 or -1 with x->err. */
static int interpret(ctx *x)
{
    int i, j, k, r, rankdim = -1, super_unit = -1, listing;
    char ph[128];
    char vbuf[4096];
    buf vals = {vbuf, 0, sizeof vbuf, sizeof vbuf - 1};

    x->nm = x->nd = x->nproj = 0;
    x->rank = 0;
    x->limit = 0;
    x->order_t = x->order_c = -1;
    x->having_unit = -1;
    x->distinct_proj = 0;
    buf_reset(&x->where);
    x->err[0] = '\0';
    walk_fks(x, x->main);
    for (i = 0; i < x->nu; i++) {
        x->u[i].role = ROLE_NONE;
        x->u[i].pick = -1;
        x->u[i].bound = 0;
        x->u[i].neg = 0;
    }

    /* negation applies to the filter right after it */
    for (i = 0; i < x->nu; i++)
        if (x->u[i].kind == U_NEG && (r = next_ref(x, i)) >= 0 &&
            has_kind(x, &x->u[r], M_FILTER | M_COLUMN)) {
            x->u[r].neg = 1;
            x->u[i].bound = 1;
        }

    /* measures: an aggregate word and the phrase it applies to */
    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        int agg, super, distinct = 0, s = i;
        if (a->kind != U_AGG || a->bound) continue;
        agg = a->agg;
        super = a->super;
        j = i + 1;
        if (super && j < x->nu && x->u[j].kind == U_AGG && !x->u[j].super) { /* "highest average" */
            agg = x->u[j].agg;
            x->u[j].bound = 1;
            j++;
        }
        if (j < x->nu && x->u[j].kind == U_DISTINCT) {
            distinct = 1;
            x->u[j].bound = 1;
            j++;
        }
        /* skip adjectives that are filters: "how many refunded sales", "non-members" */
        while (j < x->nu &&
               ((x->u[j].kind == U_NEG && j + 1 < x->nu && x->u[j + 1].kind == U_REF) ||
                ref_is_filter(x, &x->u[j])))
            j++;
        if (j >= x->nu || x->u[j].kind != U_REF) {
            /* "how many members": count the table the filter belongs to */
            for (k = j - 1; k > s; k--)
                if (x->u[k].kind == U_REF && has_kind(x, &x->u[k], M_GLOSS | M_COLUMN)) break;
            if (agg == AGG_COUNT && k > s &&
                (pick(x, &x->u[k], M_GLOSS) >= 0 || pick(x, &x->u[k], M_COLUMN) >= 0)) {
                int t = cand_table(x, picked(&x->u[k]));
                x->u[k].pick = -1;
                if (t != x->main) {
                    snprintf(x->err, sizeof x->err, "counting %s, not %s", x->cat->tables[t].name,
                             x->cat->tables[x->main].name);
                    return -1;
                }
                a->bound = 1;
                if (add_measure(x, AGG_COUNT, 0, R_TABLE, t, -1, -1, i) < 0) return -1;
                continue;
            }
            phrase(x, a, ph, sizeof ph);
            snprintf(x->err, sizeof x->err, "\"%s\" is not followed by something to measure", ph);
            return -1;
        }
        r = j;
        /* "ticket price": a table word then its column */
        if (has_kind(x, &x->u[r], M_TABLE) && !has_kind(x, &x->u[r], M_COLUMN | M_DERIVED) &&
            (k = next_ref(x, r)) >= 0 && has_kind(x, &x->u[k], M_COLUMN | M_DERIVED) &&
            agg != AGG_COUNT) {
            if (pick(x, &x->u[r], M_TABLE) < 0) return -1;
            x->u[r].role = ROLE_QUAL;
            r = k;
        }
        a->bound = 1;
        if (super) super_unit = i;
        if (agg == AGG_COUNT && !distinct && has_kind(x, &x->u[r], M_TABLE)) {
            if (count_rows(x, r) < 0) return -1;
            continue;
        }
        if (super && agg != AGG_COUNT && has_kind(x, &x->u[r], M_TABLE) &&
            !has_kind(x, &x->u[r], M_COLUMN | M_DERIVED)) {
            /* "the most tickets": rows of that table */
            if (count_rows(x, r) < 0) return -1;
            x->rank_desc = a->agg == AGG_MAX;
            continue;
        }
        {
            /* "seating capacity": two words of one column's comment name it well enough */
            unsigned mm = M_COLUMN | M_DERIVED | (x->u[r].end - x->u[r].pos > 1 ? M_COMMENT : 0u);
            if (agg == AGG_SUM || agg == AGG_AVG || super) mm |= M_NUMERIC;
            k = pick(x, &x->u[r], mm);
        }
        if (k < 0) return -1;
        x->u[r].role = ROLE_MEASURE;
        {
            const cand *c = picked(&x->u[r]);
            int magg = agg;
            if (c->kind == R_DERIVED && agg == AGG_SUM) magg = x->gi[c->gloss].agg;
            if (add_measure(x, magg, distinct, c->kind == R_COMMENT ? R_COLUMN : c->kind, c->table,
                            c->col, c->gloss, i) < 0)
                return -1;
            x->m[x->nm - 1].super = super;
            if (super) x->rank_desc = a->agg == AGG_MAX;
            /* "the highest-rated restaurant": a superlative of one row, not of a total */
            if (super && (k = next_ref(x, r)) >= 0 && has_kind(x, &x->u[k], M_TABLE) &&
                !has_kind(x, &x->u[k], M_COLUMN | M_FILTER)) {
                int save = x->u[k].pick;
                if (pick(x, &x->u[k], M_TABLE) >= 0 && cand_table(x, picked(&x->u[k])) == c->table)
                    x->m[x->nm - 1].super = 2;
                x->u[k].pick = save;
                x->err[0] = '\0';
            }
        }
    }

    /* ranking: "top 5 X [by Y]", "N most recent X" */
    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        if (a->kind != U_TOP && a->kind != U_RECENT) continue;
        a->bound = 1;
        x->limit = a->n;
        r = i + 1;
        while (r < x->nu && x->u[r].kind == U_REF && x->u[r].role == ROLE_NONE &&
               !has_kind(x, &x->u[r], M_TABLE | M_COLUMN | M_DERIVED) &&
               has_kind(x, &x->u[r], M_FILTER))
            r++; /* "top 5 Concert events" */
        if (r >= x->nu || x->u[r].kind != U_REF) {
            phrase(x, a, ph, sizeof ph);
            snprintf(x->err, sizeof x->err, "\"%s\" is not followed by what to rank", ph);
            return -1;
        }
        if (a->kind == U_RECENT) {
            int t, c;
            if (pick(x, &x->u[r], M_TABLE) < 0) return -1;
            t = cand_table(x, picked(&x->u[r]));
            if (t != x->main || (c = date_column(x, t)) < 0) {
                snprintf(x->err, sizeof x->err, "%s has no single date column to sort by",
                         x->cat->tables[t].name);
                return -1;
            }
            x->u[r].role = ROLE_MENTION;
            x->order_t = t;
            x->order_c = c;
            x->order_desc = a->desc;
            if (!x->limit) x->limit = x->u[r].plural ? 10 : 1;
            continue;
        }
        rankdim = r;
        x->rank = 1;
        x->rank_desc = a->desc;
        if (!x->limit) x->limit = x->u[r].plural ? 10 : 1;
        /* "by Y" right after is the ranking key, not a grouping */
        if (r + 1 < x->nu && x->u[r + 1].kind == U_BY && (k = next_ref(x, r + 1)) >= 0 &&
            x->u[k].role == ROLE_NONE) {
            x->u[r + 1].bound = 1;
            if (has_kind(x, &x->u[k], M_COLUMN | M_DERIVED)) {
                const cand *c;
                if (pick(x, &x->u[k], M_COLUMN | M_DERIVED) < 0) return -1;
                c = picked(&x->u[k]);
                x->u[k].role = ROLE_MEASURE;
                if (add_measure(x, c->kind == R_DERIVED ? x->gi[c->gloss].agg : AGG_SUM, 0, c->kind,
                                c->table, c->col, c->gloss, k) < 0)
                    return -1;
            } else if (has_kind(x, &x->u[k], M_TABLE) && count_rows(x, k) < 0) {
                return -1;
            }
        } else if (r + 1 < x->nu && x->u[r + 1].kind == U_BY && r + 2 < x->nu &&
                   x->u[r + 2].kind == U_AGG) {
            x->u[r + 1].bound = 1; /* "by number of tickets": the measure loop took it */
        }
    }

    /* "which city has the most customers": the thing before a superlative is ranked */
    if (!x->rank && super_unit >= 0 && x->nd == 0) {
        for (r = super_unit - 1; r >= 0; r--)
            if (x->u[r].kind == U_REF && x->u[r].role == ROLE_NONE &&
                has_kind(x, &x->u[r], M_TABLE | M_COLUMN) && !has_kind(x, &x->u[r], M_FILTER))
                break;
        for (k = super_unit - 1; r < 0 && k >= 0; k--)
            if (x->u[k].kind == U_GRAIN) { /* "which month had the highest revenue" */
                x->rank = 1;
                x->limit = 1;
            }
        if (r >= 0) {
            rankdim = r;
            x->rank = 1;
            for (k = r - 1; k >= 0 && x->u[k].kind != U_LIMIT; k--)
                ;
            x->limit = k >= 0 ? x->u[k].n : (x->u[r].plural ? 10 : 1);
            if (k >= 0) x->u[k].bound = 1;
        }
    }
    if (rankdim >= 0) {
        unit *d = &x->u[rankdim];
        const cand *c;
        if (pick(x, d, M_TABLE | M_COLUMN) < 0) return -1;
        c = picked(d);
        d->role = ROLE_RANKDIM;
        if (c->kind == R_TABLE || c->kind == R_GLOSS) {
            int t = cand_table(x, c);
            if (t == x->main) {
                /* ranking rows of the main table by one of its columns: no grouping */
                for (k = 0; k < x->nm; k++)
                    if (x->m[k].kind == R_COLUMN && x->m[k].table == x->main) break;
                if (k < x->nm && x->nm == 1) {
                    x->order_t = x->main;
                    x->order_c = x->m[k].col;
                    x->order_desc = x->rank_desc;
                    x->nm = 0;
                    x->rank = 0;
                } else if (x->nm == 0) {
                    snprintf(x->err, sizeof x->err, "I do not know what to rank %s by",
                             x->cat->tables[t].name);
                    return -1;
                } else {
                    snprintf(x->err, sizeof x->err, "ranking %s by a total of its own rows",
                             x->cat->tables[t].name);
                    return -1;
                }
            } else if (add_dim(x, R_TABLE, t, -1, 0) < 0 || need_table(x, t) < 0) {
                return -1;
            }
        } else {
            if (add_dim(x, R_COLUMN, c->table, c->col, 0) < 0 || need_table(x, c->table) < 0)
                return -1;
        }
        if (x->rank && x->nm == 0) {
            if (add_measure(x, AGG_COUNT, 0, R_TABLE, x->main, -1, -1, rankdim) < 0) return -1;
        }
    }
    /* "the city with the highest revenue": a superlative over groups ranks totals */
    for (k = 0; x->rank && k < x->nm; k++)
        if (x->m[k].super == 1 && (x->m[k].agg == AGG_MAX || x->m[k].agg == AGG_MIN))
            x->m[k].agg = x->m[k].kind == R_DERIVED ? x->gi[x->m[k].gloss].agg : AGG_SUM;

    /* dimensions: "by X", "per X", "for each X", "X breakdown", "monthly" */
    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        if (a->kind == U_GRAIN) {
            a->bound = 1;
            if (add_dim(x, U_GRAIN, -1, -1, a->grain) < 0) return -1;
            continue;
        }
        if (a->kind == U_BYPREV) {
            if ((r = prev_ref(x, i)) < 0 || x->u[r].role != ROLE_NONE) {
                snprintf(x->err, sizeof x->err, "\"breakdown\" of what?");
                return -1;
            }
            a->bound = 1;
            j = r;
            k = r + 1; /* one ref */
        } else if (a->kind == U_BY && !a->bound) {
            if (i + 1 < x->nu && x->u[i + 1].kind == U_GRAIN) {
                a->bound = 1;
                continue;
            }
            j = i + 1;
            for (k = j; k < x->nu && x->u[k].kind == U_REF && x->u[k].role == ROLE_NONE &&
                        has_kind(x, &x->u[k], M_TABLE | M_COLUMN) && !ref_is_filter(x, &x->u[k]);
                 k++)
                ;
            if (k == j) {
                /* "by members": a filter, not a grouping */
                if (j < x->nu && x->u[j].kind == U_REF && has_kind(x, &x->u[j], M_FILTER)) {
                    a->bound = 1;
                    continue;
                }
                snprintf(x->err, sizeof x->err, "\"by\" is not followed by a column");
                return -1;
            }
            a->bound = 1;
        } else {
            continue;
        }
        for (r = j; r < k; r++) {
            unit *d = &x->u[r];
            const cand *c;
            if (pick(x, d, M_TABLE | M_COLUMN) < 0) return -1;
            c = picked(d);
            d->role = ROLE_DIM;
            if (c->kind == R_COLUMN) {
                if (add_dim(x, R_COLUMN, c->table, c->col, 0) < 0 || need_table(x, c->table) < 0)
                    return -1;
            } else if (cand_table(x, c) != x->main) {
                if (add_dim(x, R_TABLE, cand_table(x, c), -1, 0) < 0 ||
                    need_table(x, cand_table(x, c)) < 0)
                    return -1;
            } else if (x->nm == 0 && x->nd == 0 && a->kind == U_BY) {
                d->role = ROLE_MENTION; /* "per customer" of customers: per row */
            }
        }
    }

    /* a glossary measure named without an aggregate word is still that aggregate:
     * "ticket revenue since March 2024" */
    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        int best = -1;
        if (a->kind != U_REF || a->role != ROLE_NONE) continue;
        for (k = 0; k < a->nc; k++)
            if (best < 0 || a->c[k].prio > a->c[best].prio) best = k;
        if (best < 0 || a->c[best].kind != R_DERIVED || (i > 0 && x->u[i - 1].kind == U_CMP) ||
            (i + 1 < x->nu && x->u[i + 1].kind == U_CMP))
            continue;
        if (pick(x, a, M_DERIVED) < 0) {
            a->pick = -1;
            x->err[0] = '\0';
            continue;
        }
        a->role = ROLE_MEASURE;
        if (add_measure(x, x->gi[picked(a)->gloss].agg, 0, R_DERIVED, picked(a)->table, -1,
                        picked(a)->gloss, i) < 0)
            return -1;
    }

    /* a column named next to one of its values only says where the value is: "failed
     * payment", "status refunded" */
    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        int side;
        if (a->kind != U_REF || a->role != ROLE_NONE || ref_is_filter(x, a) ||
            !has_kind(x, a, M_COLUMN))
            continue;
        for (side = -1; side <= 1; side += 2) {
            unit *v;
            int m, n2 = 0, hit = 0;
            if (i + side < 0 || i + side >= x->nu || x->u[i + side].kind != U_REF) continue;
            v = &x->u[i + side];
            for (k = 0; k < v->nc; k++)
                for (m = 0; m < a->nc; m++)
                    if (v->c[k].kind == R_VALUE && a->c[m].kind == R_COLUMN &&
                        v->c[k].table == a->c[m].table && v->c[k].col == a->c[m].col)
                        hit = 1;
            if (!hit) continue;
            for (k = 0; k < v->nc; k++) {
                int keep = 0;
                for (m = 0; m < a->nc; m++)
                    if (v->c[k].kind == R_VALUE && a->c[m].kind == R_COLUMN &&
                        v->c[k].table == a->c[m].table && v->c[k].col == a->c[m].col)
                        keep = 1;
                if (keep) v->c[n2++] = v->c[k];
            }
            v->nc = n2;
            a->role = ROLE_QUAL;
            break;
        }
    }

    /* "cities with more than 100 customers": X, a comparison, then counted rows */
    for (i = 1; i + 1 < x->nu; i++) {
        unit *a = &x->u[i], *l = &x->u[i - 1], *rr = &x->u[i + 1];
        const cand *c;
        if (a->kind != U_CMP || l->kind != U_REF || rr->kind != U_REF ||
            !(l->role == ROLE_NONE || l->role == ROLE_DIM) || rr->role != ROLE_NONE ||
            !has_kind(x, rr, M_TABLE) || has_kind(x, rr, M_COLUMN) || ref_is_filter(x, l))
            continue;
        if (pick(x, rr, M_TABLE) < 0 || cand_table(x, picked(rr)) != x->main) {
            rr->pick = -1;
            continue;
        }
        if (l->role == ROLE_NONE) {
            if (pick(x, l, M_TABLE | M_COLUMN) < 0) return -1;
            c = picked(l);
            l->role = ROLE_DIM;
            if (c->kind == R_COLUMN
                    ? add_dim(x, R_COLUMN, c->table, c->col, 0) < 0 || need_table(x, c->table) < 0
                    : cand_table(x, c) == x->main ||
                          add_dim(x, R_TABLE, cand_table(x, c), -1, 0) < 0 ||
                          need_table(x, cand_table(x, c)) < 0) {
                if (!x->err[0]) snprintf(x->err, sizeof x->err, "cannot group by that");
                return -1;
            }
        }
        rr->role = ROLE_COUNTED;
        a->bound = 1;
        x->having_unit = i;
        if (add_measure(x, AGG_COUNT, 0, R_TABLE, x->main, -1, -1, i + 1) < 0) return -1;
    }

    /* a grouping with nothing measured: the total of the one amount named ("revenue by
     * category"), else the rows ("customers by city") */
    if (x->nd > 0 && x->nm == 0) {
        for (i = 0; i < x->nu; i++)
            if (x->u[i].kind == U_REF && x->u[i].role == ROLE_NONE &&
                has_kind(x, &x->u[i], M_DERIVED | M_COLUMN) && !has_kind(x, &x->u[i], M_FILTER) &&
                !(i + 1 < x->nu && x->u[i + 1].kind == U_CMP) &&
                !(i > 0 && x->u[i - 1].kind == U_CMP))
                break;
        if (i < x->nu) {
            const cand *c;
            if (pick(x, &x->u[i], M_COLUMN | M_DERIVED | M_NUMERIC) < 0) return -1;
            c = picked(&x->u[i]);
            x->u[i].role = ROLE_MEASURE;
            if (add_measure(x, c->kind == R_DERIVED ? x->gi[c->gloss].agg : AGG_SUM, 0, c->kind,
                            c->table, c->col, c->gloss, i) < 0)
                return -1;
        } else if (add_measure(x, AGG_COUNT, 0, R_TABLE, x->main, -1, -1, -1) < 0) {
            return -1;
        }
    }

    /* qualifiers: a table word right before a column ("customer city") was folded into the
     * phrase by the lexicon; "city of customers" is folded here */
    for (i = 0; i + 1 < x->nu; i++) {
        unit *a = &x->u[i], *b = &x->u[i + 1];
        if (a->kind != U_REF || b->kind != U_REF || b->role != ROLE_NONE ||
            !has_kind(x, b, M_TABLE) || has_kind(x, b, M_COLUMN | M_FILTER) || a->pick < 0)
            continue;
        if (pick(x, b, M_TABLE) < 0) return -1;
        if (cand_table(x, picked(b)) == a->c[a->pick].table)
            b->role = ROLE_QUAL;
        else
            b->pick = -1;
    }

    /* comparisons: "price over 100", "more than 1000 loyalty points" */
    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        const cand *c;
        if (a->kind != U_CMP || a->bound) continue;
        r = prev_ref(x, i);
        if (r >= 0 && x->u[r].role == ROLE_MEASURE) {
            x->having_unit = i; /* "total revenue over 1000" per group */
            a->bound = 1;
            continue;
        }
        if (r < 0 || !(x->u[r].role == ROLE_NONE || x->u[r].role == ROLE_PROJ) ||
            !has_kind(x, &x->u[r], M_COLUMN | comment_ok(&x->u[r])) ||
            pick(x, &x->u[r], M_COLUMN | comment_ok(&x->u[r]) | M_NUMERIC) < 0) {
            if (r >= 0 && x->u[r].role == ROLE_NONE) x->u[r].pick = -1;
            r = next_ref(x, i);
        }
        if (r >= 0 && x->u[r].role == ROLE_COUNTED && x->nd > 0) {
            x->having_unit = i;
            a->bound = 1;
            continue;
        }
        if (r < 0 || x->u[r].role != ROLE_NONE ||
            !has_kind(x, &x->u[r], M_COLUMN | comment_ok(&x->u[r]))) {
            phrase(x, a, ph, sizeof ph);
            snprintf(x->err, sizeof x->err, "\"%s\" does not follow a numeric column", ph);
            return -1;
        }
        if (pick(x, &x->u[r], M_COLUMN | comment_ok(&x->u[r]) | M_NUMERIC) < 0) return -1;
        c = picked(&x->u[r]);
        if (!type_numeric(column(x, c->table, c->col)->type)) {
            snprintf(x->err, sizeof x->err, "%s.%s is not a number", x->cat->tables[c->table].name,
                     column(x, c->table, c->col)->name);
            return -1;
        }
        x->u[r].role = ROLE_CMPCOL;
        a->bound = 1;
        if (need_table(x, c->table) < 0) return -1;
        if (x->where.len && buf_adds(&x->where, " AND ") < 0) return -1;
        if (add_col(x, &x->where, c->table, c->col) < 0 || cmp_sql(a, &x->where) < 0) return -1;
    }

    /* time: on the date column of the table or date column named right before it */
    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        int t = x->main, c = -1;
        if (a->kind != U_TIME) continue;
        r = prev_ref(x, i);
        if (r >= 0 && (x->u[r].role == ROLE_NONE || x->u[r].role == ROLE_MENTION) &&
            has_kind(x, &x->u[r], M_COLUMN | comment_ok(&x->u[r]))) {
            int save = x->u[r].pick;
            if (pick(x, &x->u[r], M_COLUMN | comment_ok(&x->u[r])) >= 0 &&
                type_date(column(x, picked(&x->u[r])->table, picked(&x->u[r])->col)->type)) {
                t = picked(&x->u[r])->table;
                c = picked(&x->u[r])->col;
                x->u[r].role = ROLE_TIMECOL;
            } else {
                x->u[r].pick = save;
            }
        }
        if (c < 0 && r >= 0 && x->u[r].role != ROLE_DIM && x->u[r].role != ROLE_RANKDIM &&
            has_kind(x, &x->u[r], M_TABLE) && !has_kind(x, &x->u[r], M_COLUMN)) {
            int save = x->u[r].pick;
            if (pick(x, &x->u[r], M_TABLE) >= 0) t = cand_table(x, picked(&x->u[r]));
            if (x->u[r].role == ROLE_NONE)
                x->u[r].role = ROLE_MENTION;
            else
                x->u[r].pick = save >= 0 ? save : x->u[r].pick;
        }
        if (c < 0 && (c = date_column(x, t)) < 0) {
            snprintf(x->err, sizeof x->err, "%s has no single date column for the time range",
                     x->cat->tables[t].name);
            return -1;
        }
        a->bound = 1;
        if (time_filter(x, a, t, c) < 0) {
            snprintf(x->err, sizeof x->err, "%s is not related to %s", x->cat->tables[t].name,
                     x->cat->tables[x->main].name);
            return -1;
        }
    }

    /* quoted values: 'events named "Golden Gala 17"', 'email "a@b.c"' */
    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        const char *v;
        int t = x->main, c = -1;
        if (a->kind != U_LIT) continue;
        v = x->lits[x->t[a->end - 1].lit - 1];
        r = prev_ref(x, i);
        if (a->super) {
            if (r >= 0 && (x->u[r].role == ROLE_NONE || x->u[r].role == ROLE_MENTION) &&
                has_kind(x, &x->u[r], M_TABLE) && !has_kind(x, &x->u[r], M_COLUMN)) {
                if (pick(x, &x->u[r], M_TABLE) < 0) return -1;
                t = cand_table(x, picked(&x->u[r]));
                x->u[r].role = ROLE_MENTION;
            }
            c = label_column(x, t);
        } else if (r >= 0 && x->u[r].role == ROLE_NONE && has_kind(x, &x->u[r], M_COLUMN)) {
            if (pick(x, &x->u[r], M_COLUMN) < 0) return -1;
            t = picked(&x->u[r])->table;
            c = picked(&x->u[r])->col;
            x->u[r].role = ROLE_QUAL;
        }
        if (c < 0 || type_numeric(column(x, t, c)->type) || type_bool(column(x, t, c)->type)) {
            snprintf(x->err, sizeof x->err, "I do not know which column \"%s\" is in", v);
            return -1;
        }
        a->bound = 1;
        if (need_table(x, t) < 0) return -1;
        if (x->where.len && buf_adds(&x->where, " AND ") < 0) return -1;
        if (add_col(x, &x->where, t, c) < 0 || buf_adds(&x->where, " = ") < 0 ||
            add_literal(&x->where, v) < 0)
            return -1;
    }

    /* the rest: filters, mentions, listed columns */
    listing = x->nm == 0 && x->nd == 0;
    for (i = 0; i < x->nu; i++) {
        unit *a = &x->u[i];
        const cand *c;
        if (a->kind != U_REF || a->role != ROLE_NONE) continue;
        if (anchor_value(x, i) < 0 ||
            (a->pick < 0 && pick(x, a, M_ANY & ~M_DERIVED & ~M_COMMENT) < 0))
            return -1;
        c = picked(a);
        if (c->kind == R_VALUE) {
            const cat_column *col = column(x, c->table, c->col);
            /* several values of one column are alternatives: "in Pune or Mumbai" */
            buf *w = &x->where;
            int first = 1, nvals = 0;
            a->role = ROLE_FILTER;
            if (need_table(x, c->table) < 0) return -1;
            if (w->len && buf_adds(w, " AND ") < 0) return -1;
            if (add_col(x, w, c->table, c->col) < 0) return -1;
            vals.len = 0;
            for (j = i; j < x->nu; j++) {
                unit *b = &x->u[j];
                const cand *bc;
                if (b->kind != U_REF || (j > i && (b->role != ROLE_NONE || b->neg != a->neg)))
                    continue;
                if (j > i) {
                    int m;
                    /* a glossary term on the same span would win elsewhere: keep it */
                    if (has_kind(x, b, M_GLOSS) || !ref_is_filter(x, b)) continue;
                    for (m = 0; m < b->nc; m++)
                        if (b->c[m].kind == R_VALUE && b->c[m].table == c->table &&
                            b->c[m].col == c->col)
                            break;
                    if (m == b->nc) continue;
                    b->pick = m;
                    b->role = ROLE_FILTER;
                }
                bc = picked(b);
                if ((!first && buf_adds(&vals, ", ") < 0) ||
                    add_literal(&vals, col->values[bc->val]) < 0)
                    return -1;
                nvals++;
                first = 0;
            }
            if (nvals == 1
                    ? buf_printf(w, " %s %s", a->neg ? "<>" : "=", buf_cstr(&vals)) < 0
                    : buf_printf(w, " %s (%s)", a->neg ? "NOT IN" : "IN", buf_cstr(&vals)) < 0)
                return -1;
        } else if (c->kind == R_GLOSS && x->gi[c->gloss].kind == GK_FILTER) {
            a->role = ROLE_FILTER;
            if (need_sql_tables(x, x->g->e[c->gloss].filter) < 0) return -1;
            if (x->where.len && buf_adds(&x->where, " AND ") < 0) return -1;
            if (buf_printf(&x->where, "%s(%s)", a->neg ? "NOT " : "", x->g->e[c->gloss].filter) < 0)
                return -1;
        } else if (c->kind == R_TABLE || c->kind == R_GLOSS) {
            a->role = ROLE_MENTION;
            if (a->neg) {
                snprintf(x->err, sizeof x->err, "I cannot negate a table");
                return -1;
            }
        } else if (c->kind == R_COLUMN && type_bool(column(x, c->table, c->col)->type)) {
            a->role = ROLE_FILTER;
            if (need_table(x, c->table) < 0 ||
                col_filter(x, c->table, c->col, "=", a->neg ? "FALSE" : "TRUE") < 0)
                return -1;
        } else if (c->kind == R_COLUMN && listing && !a->neg) {
            if (x->nproj >= MAXPROJ) {
                snprintf(x->err, sizeof x->err, "too many columns");
                return -1;
            }
            a->role = ROLE_PROJ;
            if (need_table(x, c->table) < 0) return -1;
            x->proj[x->nproj][0] = c->table;
            x->proj[x->nproj][1] = c->col;
            x->nproj++;
        } else {
            phrase(x, a, ph, sizeof ph);
            snprintf(x->err, sizeof x->err, "I do not know what to do with \"%s\" here", ph);
            return -1;
        }
    }
    for (i = 0; i < x->nu; i++) {
        const unit *a = &x->u[i];
        if (a->kind != U_REF && !a->bound) {
            phrase(x, a, ph, sizeof ph);
            snprintf(x->err, sizeof x->err, "I do not know what \"%s\" applies to here", ph);
            return -1;
        }
    }
    /* "the cities in Texas and their population": rows of a named table show its name */
    for (i = 0; listing && x->nproj > 0 && x->nproj < MAXPROJ && i < x->nu; i++) {
        const unit *a = &x->u[i];
        int l = label_column(x, x->main);
        if (a->kind != U_REF || a->role != ROLE_MENTION || l < 0 || !picked(a) ||
            cand_table(x, picked(a)) != x->main)
            continue;
        for (k = 0; k < x->nproj; k++)
            if (x->proj[k][0] == x->main && x->proj[k][1] == l) break;
        if (k == x->nproj) {
            memmove(x->proj + 1, x->proj, (size_t)x->nproj * sizeof x->proj[0]);
            x->proj[0][0] = x->main;
            x->proj[0][1] = l;
            x->nproj++;
        }
        break;
    }
    for (i = 0; i < x->nu; i++)
        if (x->u[i].kind == U_DISTINCT && x->nproj > 0) x->distinct_proj = 1;
    if (x->nproj == 1 && column(x, x->proj[0][0], x->proj[0][1])->nvalues > 0)
        x->distinct_proj = 1; /* "list the event categories" */
    return 0;
}

/* ---- SQL writer ---- */

static int add_measure_sql(const ctx *x, buf *b, const measure *m)
{
    static const char *const fn[] = {"", "count", "sum", "avg", "min", "max"};

    if (m->kind == R_TABLE) return buf_adds(b, "count(*)");
    if (buf_printf(b, "%s(%s", fn[m->agg],
                   m->agg == AGG_COUNT && m->distinct == 1 ? "DISTINCT " : "") < 0)
        return -1;
    if (m->kind == R_DERIVED) {
        if (buf_adds(b, x->gi[m->gloss].expr) < 0) return -1;
    } else if (add_col(x, b, m->table, m->col) < 0) {
        return -1;
    }
    return buf_addc(b, ')');
}

static int add_measure_alias(ctx *x, buf *b, const measure *m)
{
    static const char *const pre[] = {"", "count", "total", "average", "min", "max"};
    char name[160];
    text_words *tw;

    if (m->kind == R_TABLE) return buf_adds(b, " AS count");
    if (m->kind == R_DERIVED) {
        tw = &x->w[0];
        text_split(x->g->e[m->gloss].term, 0, tw);
        snprintf(name, sizeof name, "%s_%s", pre[m->agg], tw->n ? tw->w[tw->n - 1] : "value");
    } else {
        snprintf(name, sizeof name, "%s_%s",
                 m->agg == AGG_COUNT ? (m->distinct ? "distinct" : "count") : pre[m->agg],
                 column(x, m->table, m->col)->name);
    }
    return buf_adds(b, " AS ") < 0 || add_ident(b, name) < 0 ? -1 : 0;
}

static int add_dim_sql(const ctx *x, buf *b, const dim *d, int alias)
{
    if (d->kind == U_GRAIN) {
        int c = date_column(x, x->main);
        if (d->grain == GR_YEAR) {
            if (buf_adds(b, "extract(year FROM ") < 0 || add_col(x, b, x->main, c) < 0 ||
                buf_adds(b, ")::int") < 0)
                return -1;
            return alias ? buf_adds(b, " AS year") : 0;
        }
        if (buf_printf(b, "date_trunc('%s', ", grain_name(d->grain)) < 0 ||
            add_col(x, b, x->main, c) < 0 || buf_adds(b, ")::date") < 0)
            return -1;
        return alias ? buf_printf(b, " AS %s", grain_name(d->grain)) : 0;
    }
    if (d->kind == R_COLUMN) {
        if (add_col(x, b, d->table, d->col) < 0) return -1;
        if (alias && d->table != x->main) {
            char name[200];
            snprintf(name, sizeof name, "%s_%s", x->cat->tables[d->table].name,
                     column(x, d->table, d->col)->name);
            if (strncmp(column(x, d->table, d->col)->name, "name", 4) == 0 ||
                streq(column(x, d->table, d->col)->name, "city"))
                return buf_adds(b, " AS ") < 0 || add_ident(b, name) < 0 ? -1 : 0;
        }
        return 0;
    }
    return 0;
}

static int write_sql(ctx *x, buf *out)
{
    const catalog *cat = x->cat;
    buf s = BUF_INIT(1 << 20);
    int i, j, first = 1, dd, grouped = x->nm > 0;

    if (buf_adds(&s, x->distinct_proj ? "SELECT DISTINCT " : "SELECT ") < 0) goto oom;
    /* select list */
    for (i = 0; i < x->nd; i++) {
        const dim *d = &x->d[i];
        if (d->kind == R_TABLE) {
            int k = key_column(x, d->table), l = label_column(x, d->table);
            if (k < 0 && l < 0) {
                snprintf(x->err, sizeof x->err, "%s has no key or name to group by",
                         cat->tables[d->table].name);
                goto fail;
            }
            if (k >= 0) {
                if ((!first && buf_adds(&s, ", ") < 0) || add_col(x, &s, d->table, k) < 0) goto oom;
                first = 0;
            }
            if (l >= 0) {
                char name[200];
                snprintf(name, sizeof name, "%s_%s", cat->tables[d->table].name,
                         column(x, d->table, l)->name);
                if ((!first && buf_adds(&s, ", ") < 0) || add_col(x, &s, d->table, l) < 0 ||
                    buf_adds(&s, " AS ") < 0 || add_ident(&s, name) < 0)
                    goto oom;
                first = 0;
            }
            continue;
        }
        if (d->kind == U_GRAIN && date_column(x, x->main) < 0) {
            snprintf(x->err, sizeof x->err, "%s has no single date column to group by %s",
                     cat->tables[x->main].name, grain_name(d->grain));
            goto fail;
        }
        if ((!first && buf_adds(&s, ", ") < 0) || add_dim_sql(x, &s, d, 1) < 0) goto oom;
        first = 0;
    }
    for (i = 0; i < x->nm; i++) {
        if ((!first && buf_adds(&s, ", ") < 0) || add_measure_sql(x, &s, &x->m[i]) < 0 ||
            add_measure_alias(x, &s, &x->m[i]) < 0)
            goto oom;
        first = 0;
    }
    if (!grouped && x->nd == 0) {
        if (x->nproj) {
            for (i = 0; i < x->nproj; i++)
                if ((i && buf_adds(&s, ", ") < 0) ||
                    add_col(x, &s, x->proj[i][0], x->proj[i][1]) < 0)
                    goto oom;
        } else if (add_ident(&s, cat->tables[x->main].name) < 0 || buf_adds(&s, ".*") < 0) {
            goto oom;
        }
    } else if (x->nproj) {
        snprintf(x->err, sizeof x->err, "I cannot list columns and aggregate at once");
        goto fail;
    }
    /* from and joins, nearest first */
    if (buf_adds(&s, " FROM ") < 0 || add_table(x, &s, x->main) < 0) goto oom;
    for (dd = 1; dd <= MAXDEPTH; dd++)
        for (i = 0; i < cat->ntables; i++) {
            const cat_fk *f;
            if (!x->need[i] || x->dist[i] != dd) continue;
            f = &cat->fks[x->via[i]];
            if (buf_adds(&s, " JOIN ") < 0 || add_table(x, &s, i) < 0 || buf_adds(&s, " ON ") < 0 ||
                add_col(x, &s, f->ref_table, f->ref_column) < 0 || buf_adds(&s, " = ") < 0 ||
                add_col(x, &s, f->table, f->column) < 0)
                goto oom;
        }
    if (x->where.len && (buf_adds(&s, " WHERE ") < 0 || buf_adds(&s, buf_cstr(&x->where)) < 0))
        goto oom;
    if (x->nd && x->nm) {
        if (buf_adds(&s, " GROUP BY ") < 0) goto oom;
        for (i = 0, first = 1; i < x->nd; i++) {
            const dim *d = &x->d[i];
            if (d->kind == R_TABLE) {
                int k = key_column(x, d->table), l = label_column(x, d->table);
                if (k >= 0) {
                    if ((!first && buf_adds(&s, ", ") < 0) || add_col(x, &s, d->table, k) < 0)
                        goto oom;
                    first = 0;
                }
                if (l >= 0) {
                    if ((!first && buf_adds(&s, ", ") < 0) || add_col(x, &s, d->table, l) < 0)
                        goto oom;
                    first = 0;
                }
                continue;
            }
            if ((!first && buf_adds(&s, ", ") < 0) || add_dim_sql(x, &s, d, 0) < 0) goto oom;
            first = 0;
        }
    } else if (x->nd && !x->nm) {
        snprintf(x->err, sizeof x->err, "a grouping needs something to measure");
        goto fail;
    }
    if (x->having_unit >= 0) {
        if (!x->nd || !x->nm) {
            snprintf(x->err, sizeof x->err, "a comparison on a total needs a grouping");
            goto fail;
        }
        if (buf_adds(&s, " HAVING ") < 0 || add_measure_sql(x, &s, &x->m[0]) < 0 ||
            cmp_sql(&x->u[x->having_unit], &s) < 0)
            goto oom;
    }
    /* order and limit */
    if (x->rank && x->nm) {
        if (buf_adds(&s, " ORDER BY ") < 0 || add_measure_sql(x, &s, &x->m[0]) < 0 ||
            buf_adds(&s, x->rank_desc ? " DESC" : " ASC") < 0)
            goto oom;
        for (i = 0; i < x->nd; i++) {
            const dim *d = &x->d[i];
            j = d->kind == R_TABLE ? key_column(x, d->table) : -1;
            if (d->kind == R_TABLE && j < 0) j = label_column(x, d->table);
            if (buf_adds(&s, ", ") < 0) goto oom;
            if ((d->kind == R_TABLE ? add_col(x, &s, d->table, j) : add_dim_sql(x, &s, d, 0)) < 0)
                goto oom;
        }
    } else if (x->order_c >= 0) {
        int k = key_column(x, x->order_t);
        if (buf_adds(&s, " ORDER BY ") < 0 || add_col(x, &s, x->order_t, x->order_c) < 0 ||
            buf_adds(&s, x->order_desc ? " DESC" : " ASC") < 0)
            goto oom;
        if (k >= 0 && k != x->order_c &&
            (buf_adds(&s, ", ") < 0 || add_col(x, &s, x->order_t, k) < 0))
            goto oom;
    } else if (x->nd && x->nm) {
        if (buf_adds(&s, " ORDER BY ") < 0) goto oom;
        for (i = 0; i < x->nd; i++) {
            const dim *d = &x->d[i];
            j = d->kind == R_TABLE ? label_column(x, d->table) : -1;
            if (d->kind == R_TABLE && j < 0) j = key_column(x, d->table);
            if ((i && buf_adds(&s, ", ") < 0) ||
                (d->kind == R_TABLE ? add_col(x, &s, d->table, j) : add_dim_sql(x, &s, d, 0)) < 0)
                goto oom;
        }
    }
    if (x->limit > 0 && buf_printf(&s, " LIMIT %ld", x->limit) < 0) goto oom;
    if (buf_add(out, s.p, s.len) < 0) goto oom;
    buf_free(&s);
    return 0;
oom:
    snprintf(x->err, sizeof x->err, "the SQL grew too large");
fail:
    buf_free(&s);
    return -1;
}

/* ---- main-table choice ---- */

/* Adds table t to the tries; key says which phrase reading proposed it, so that two tables
 * proposed by equally strong readings of one phrase can be told apart from a fallback. */
static void add_try(int *tries, int *keys, int *n, int max, int t, int key)
{
    int i;

    if (t < 0) return;
    for (i = 0; i < *n; i++)
        if (tries[i] == t) return;
    if (*n < max) {
        keys[*n] = key;
        tries[(*n)++] = t;
    }
}

/* Tables worth trying as the main one, most likely first: what is measured, what is
 * counted, what is named first, then anything a phrase names. */
static int main_candidates(const ctx *x, int *tries, int *keys, int max)
{
    int n = 0, i, j, p;

    for (i = 0; i < x->nu; i++) {
        const unit *a = &x->u[i];
        if (a->kind != U_AGG) continue;
        for (j = i + 1; j < x->nu && j <= i + 3; j++) {
            const unit *r = &x->u[j];
            if (r->kind != U_REF) continue;
            for (p = P_GLOSS; p > 0; p--) {
                int k;
                for (k = 0; k < r->nc; k++)
                    if (r->c[k].prio == p &&
                        (r->c[k].kind == R_COLUMN || r->c[k].kind == R_DERIVED))
                        add_try(tries, keys, &n, max, r->c[k].table, 100000 + j * 100 + p);
            }
            for (p = 0; p < r->nc; p++)
                if (r->c[p].kind == R_TABLE)
                    add_try(tries, keys, &n, max, r->c[p].table, 100000 + j * 100 + r->c[p].prio);
            if (has_kind(x, r, M_TABLE | M_COLUMN | M_DERIVED)) break;
        }
    }
    for (p = P_GLOSS; p > 0; p--)
        for (i = 0; i < x->nu; i++) {
            const unit *r = &x->u[i];
            int k;
            if (r->kind != U_REF) continue;
            for (k = 0; k < r->nc; k++)
                if (r->c[k].prio == p &&
                    (r->c[k].kind == R_TABLE ||
                     (r->c[k].kind == R_GLOSS && x->gi[r->c[k].gloss].table >= 0)))
                    add_try(tries, keys, &n, max, cand_table(x, &r->c[k]), 200000 + i * 100 + p);
        }
    for (p = P_GLOSS; p > 0; p--)
        for (i = 0; i < x->nu; i++) {
            const unit *r = &x->u[i];
            int k;
            if (r->kind != U_REF) continue;
            for (k = 0; k < r->nc; k++)
                if (r->c[k].prio == p && r->c[k].kind != R_GLOSS)
                    add_try(tries, keys, &n, max, r->c[k].table, 300000 + i * 100 + p);
        }
    return n;
}

/* ---- declines ---- */

static int plan_core(const catalog *cat, const glossary *g, const char *question, buf *sql,
                     char *why, size_t whylen, int nested);

/* Column or table name as words: "payment_status" -> "payment status"; plural adds an s. */
static void words_of(const char *name, int plural, char *dst, size_t len)
{
    size_t n;
    char *p;

    str_copy(dst, len, name);
    for (p = dst; *p; p++)
        if (*p == '_') *p = ' ';
    n = strlen(dst);
    if (!plural || n == 0 || dst[n - 1] == 's' || n + 3 >= len) return;
    if (dst[n - 1] == 'y' && n > 1 && !strchr("aeiou", dst[n - 2]))
        str_copy(dst + n - 1, len - n + 1, "ies");
    else
        str_copy(dst + n, len - n, "s");
}

/* One or two questions about table t (or the largest table) that the planner answers:
 * candidates are planned for real, and only those that plan are offered. */
static void examples(const ctx *x, int t, char *dst, size_t len)
{
    const cat_table *tb;
    char tname[128], num[128], cat[128], ex[4][400];
    int i, n = 0, shown = 0, inum = -1, icat = -1;
    buf scratch = BUF_INIT(1 << 16);

    dst[0] = '\0';
    if (t < 0) {
        double best = -2;
        for (i = 0; i < x->cat->ntables; i++)
            if (x->cat->tables[i].rows > best) {
                best = x->cat->tables[i].rows;
                t = i;
            }
    }
    if (t < 0) {
        snprintf(dst, len, "none: there are no tables I can see");
        return;
    }
    tb = &x->cat->tables[t];
    words_of(tb->name, 1, tname, sizeof tname);
    for (i = 0; i < tb->ncols; i++) {
        const cat_column *c = &tb->cols[i];
        if (inum < 0 && type_numeric(c->type) && !c->pk && !is_fk_column(x->cat, t, i) &&
            !strstr(c->name, "id"))
            inum = i;
        if (icat < 0 && c->nvalues > 1) icat = i;
    }
    if (inum >= 0) words_of(tb->cols[inum].name, 0, num, sizeof num);
    if (icat >= 0) words_of(tb->cols[icat].name, 0, cat, sizeof cat);
    snprintf(ex[n++], sizeof ex[0], "How many %s are there?", tname);
    if (inum >= 0 && icat >= 0)
        snprintf(ex[n++], sizeof ex[0], "Average %s of %s by %s", num, tname, cat);
    if (icat >= 0) snprintf(ex[n++], sizeof ex[0], "Number of %s by %s", tname, cat);
    if (inum >= 0) snprintf(ex[n++], sizeof ex[0], "Total %s of %s", num, tname);
    for (i = 0; i < n && shown < 2; i++) {
        char w[8];
        size_t l = strlen(dst);
        buf_reset(&scratch);
        if (plan_core(x->cat, x->g, ex[i], &scratch, w, sizeof w, 1) != 0) continue;
        snprintf(dst + l, len - l, "%s\"%s\"", shown ? " or " : "", ex[i]);
        shown++;
    }
    buf_free(&scratch);
    if (!shown) snprintf(dst, len, "none about %s yet", tb->name);
}

static int first_table(const ctx *x)
{
    int i, k;

    for (i = 0; i < x->nu; i++)
        for (k = 0; x->u[i].kind == U_REF && k < x->u[i].nc; k++)
            if (x->u[i].c[k].kind != R_GLOSS || x->gi[x->u[i].c[k].gloss].table >= 0)
                return x->u[i].c[k].kind == R_GLOSS ? x->gi[x->u[i].c[k].gloss].table
                                                    : x->u[i].c[k].table;
    return -1;
}

static int decline(const ctx *x, const char *what, int table, char *why, size_t whylen, int nested)
{
    char ex[900];

    if (nested) { /* planning an example: no examples of examples */
        snprintf(why, whylen, "%s", what);
        return -1;
    }
    examples(x, table, ex, sizeof ex);
    snprintf(why, whylen, "%s. I can answer questions like %s.", what, ex);
    return -1;
}

int planner_plan(const catalog *cat, const glossary *g, const char *question, buf *sql, char *why,
                 size_t whylen)
{
    return plan_core(cat, g, question, sql, why, whylen, 0);
}

static int plan_core(const catalog *cat, const glossary *g, const char *question, buf *sql,
                     char *why, size_t whylen, int nested)
{
    ctx *x = calloc(1, sizeof *x);
    int tries[16], keys[16], ntries, i, j, rc = -1, size;
    char msg[600];
    char first_err[400] = "";

    if (!x) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    x->cat = cat;
    x->g = g;
    x->where = (buf)BUF_INIT(1 << 16);
    x->pool = (buf)BUF_INIT(64u << 20);
    size = cat->ntables > 0 ? cat->ntables : 1;
    x->dist = calloc((size_t)size * 4, sizeof(int));
    x->gi = calloc(g && g->n ? (size_t)g->n : 1, sizeof *x->gi);
    if (!x->dist || !x->gi) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    x->via = x->dist + size;
    x->amb = x->dist + 2 * size;
    x->need = x->dist + 3 * size;
    if (tokenize(x, question) < 0) {
        rc = decline(x, "The question is too long or has too many quoted parts for me", -1, why,
                     whylen, nested);
        goto out;
    }
    if (build_lexicon(x) < 0 || scan(x) < 0) {
        snprintf(why, whylen, "out of memory or too many parts in the question");
        goto out;
    }
    if (x->unknown[0]) {
        snprintf(msg, sizeof msg,
                 "I could not interpret %s: no table, column, value or glossary term matches",
                 x->unknown);
        rc = decline(x, msg, first_table(x), why, whylen, nested);
        goto out;
    }
    ntries = main_candidates(x, tries, keys, 16);
    if (ntries == 0) {
        rc = decline(x, "The question names no table, column or value I know", -1, why, whylen,
                     nested);
        goto out;
    }
    for (i = 0; i < ntries; i++) {
        x->main = tries[i];
        if (interpret(x) == 0) {
            size_t before = sql->len;
            if (write_sql(x, sql) == 0) {
                /* never guess: an equally strong reading around another table that also
                 * works makes the question ambiguous */
                for (j = i + 1; j < ntries; j++) {
                    buf other = BUF_INIT(1 << 20);
                    int same = 1;
                    if (keys[j] != keys[i]) continue;
                    x->main = tries[j];
                    if (interpret(x) == 0 && write_sql(x, &other) == 0)
                        same = strcmp(buf_cstr(&other), sql->p + before) == 0;
                    buf_free(&other);
                    if (!same) {
                        sql->len = before;
                        sql->p[before] = '\0';
                        snprintf(msg, sizeof msg,
                                 "The question fits both %s and %s; name the one you mean",
                                 cat->tables[tries[i]].name, cat->tables[tries[j]].name);
                        rc = decline(x, msg, tries[i], why, whylen, nested);
                        goto out;
                    }
                }
                rc = 0;
                goto out;
            }
            sql->len = before;
            if (sql->p) sql->p[before] = '\0';
        }
        if (!first_err[0]) str_copy(first_err, sizeof first_err, x->err);
    }
    snprintf(msg, sizeof msg, "I could not put the question together: %s", first_err);
    rc = decline(x, msg, tries[0], why, whylen, nested);
out:
    buf_free(&x->where);
    buf_free(&x->pool);
    free(x->lx);
    free(x->gi);
    free(x->dist);
    free(x);
    return rc;
}
