/* guardfold -- constant folding for the guard's size caps; see guardfold.h. Values are
 * doubles: exactness does not matter near a cap of ten million, and overflow becomes inf,
 * which is refused like any other proven excess. */
#include "guardfold.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum { V_NONE, V_NUM, V_TIME, V_SPAN, V_TEXT, V_ARRAY, V_ROWS };

typedef struct fval {
    unsigned char kind;
    unsigned char is_date; /* V_TIME from a date: date - date is days, date + n adds days */
    unsigned char done;    /* memo entry filled */
    double x;              /* V_NUM value; V_TIME seconds since 1970; V_SPAN seconds; else size */
    const char *lit;       /* V_TEXT: the literal it is exactly, or NULL */
} fval;

#define DAY 86400.0

static const fval none = {V_NONE, 0, 0, 0, NULL};

static fval mk(int kind, double x)
{
    fval v = none;

    v.kind = (unsigned char)kind;
    v.x = x;
    return v;
}

static fval eval(gfold *f, int n, double rows, int depth);

/* ---- literals: numbers, timestamps, intervals ---- */

/* A string that is a whole number with optional blanks around it ('20000000' passed where
 * an integer is wanted). 0 and the value in *out, -1 otherwise. */
static int num_text(const char *s, double *out)
{
    char *end;

    if (!s) return -1;
    *out = strtod(s, &end);
    if (end == s) return -1;
    while (isspace((unsigned char)*end))
        end++;
    return *end == '\0' && !isnan(*out) ? 0 : -1;
}

/* 1 if s, blanks around it ignored, is the word w (any case). */
static int word_is(const char *s, const char *w)
{
    size_t n = strlen(w);

    while (isspace((unsigned char)*s))
        s++;
    if (strncasecmp(s, w, n) != 0) return 0;
    for (s += n; isspace((unsigned char)*s); s++)
        ;
    return *s == '\0';
}

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant's days_from_civil). */
static double civil_days(long y, long m, long d)
{
    long era, yoe, doy;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return (double)(era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468);
}

/* Up to max digits at *p into *out; the number of digits read. */
static int digits(const char **p, int max, long *out)
{
    int n = 0;

    for (*out = 0; n < max && isdigit((unsigned char)**p); n++, (*p)++)
        *out = *out * 10 + (**p - '0');
    return n;
}

static double now_s(gfold *f)
{
    if (f->now == 0) f->now = (double)time(NULL);
    return f->now;
}

/* A timestamp or date literal: ISO 'YYYY-MM-DD[ HH:MM[:SS[.frac]]]' (T for the blank too)
 * followed by anything (a zone: ignored), or epoch, now, today, tomorrow, yesterday and
 * [+-]infinity. 0 with seconds since 1970 in *out, -1 for any other form. */
static int parse_time(gfold *f, const char *s, double *out)
{
    const char *p = s;
    long y, mo, d, h = 0, mi = 0, sec = 0;

    if (word_is(s, "epoch")) return *out = 0, 0;
    if (word_is(s, "now")) return *out = now_s(f), 0;
    if (word_is(s, "today") || word_is(s, "tomorrow") || word_is(s, "yesterday")) {
        *out = floor(now_s(f) / DAY) * DAY + (word_is(s, "tomorrow") ? DAY : 0) -
               (word_is(s, "yesterday") ? DAY : 0);
        return 0;
    }
    if (word_is(s, "infinity") || word_is(s, "+infinity")) return *out = INFINITY, 0;
    if (word_is(s, "-infinity")) return *out = -INFINITY, 0;
    while (isspace((unsigned char)*p))
        p++;
    if (digits(&p, 6, &y) < 4 || *p++ != '-' || digits(&p, 2, &mo) < 1 || *p++ != '-' ||
        digits(&p, 2, &d) < 1 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    if ((*p == ' ' || *p == 'T' || *p == 't') && isdigit((unsigned char)p[1])) {
        p++;
        if (digits(&p, 2, &h) < 1 || *p++ != ':' || digits(&p, 2, &mi) < 1) return -1;
        if (*p == ':' && (p++, digits(&p, 2, &sec) < 1)) return -1;
    }
    *out = civil_days(y, mo, d) * DAY + (double)(h * 3600 + mi * 60 + sec);
    return 0;
}

/* Seconds in one unit of an interval ("days", "min", "ms", ...); 0 if not a unit. Months are
 * 30 days and years 365.25, as PostgreSQL compares intervals. */
static double unit_secs(const char *w, size_t n)
{
    static const struct {
        const char *w;
        double s;
    } units[] = {
        {"us", 1e-6},
        {"usec", 1e-6},
        {"microsecond", 1e-6},
        {"ms", 1e-3},
        {"msec", 1e-3},
        {"millisecond", 1e-3},
        {"s", 1},
        {"sec", 1},
        {"second", 1},
        {"m", 60},
        {"min", 60},
        {"minute", 60},
        {"h", 3600},
        {"hr", 3600},
        {"hour", 3600},
        {"d", DAY},
        {"day", DAY},
        {"w", 7 * DAY},
        {"week", 7 * DAY},
        {"mon", 30 * DAY},
        {"month", 30 * DAY},
        {"y", 365.25 * DAY},
        {"yr", 365.25 * DAY},
        {"year", 365.25 * DAY},
        {"decade", 3652.5 * DAY},
        {"century", 36525 * DAY},
        {"centuries", 36525 * DAY},
        {"millennium", 365250 * DAY},
        {"millennia", 365250 * DAY},
    };
    size_t i, k;

    for (k = 0; k < 2; k++, n--) { /* as written, then without a plural 's' */
        if (n == 0 || (k == 1 && (w[n] != 's' && w[n] != 'S'))) break;
        for (i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strlen(units[i].w) == n && strncasecmp(units[i].w, w, n) == 0) return units[i].s;
    }
    return 0;
}

/* ISO 8601 'P1Y2M3DT4H5M6S' (after the P). */
static int parse_iso_span(const char *p, double *out)
{
    int in_time = 0;
    double n, u;
    char *end;

    for (*out = 0; *p; p++) {
        if (*p == 'T' || *p == 't') {
            in_time = 1;
            continue;
        }
        n = strtod(p, &end);
        if (end == p) return -1;
        switch (toupper((unsigned char)*end)) {
        case 'Y':
            u = 365.25 * DAY;
            break;
        case 'M':
            u = in_time ? 60 : 30 * DAY;
            break;
        case 'W':
            u = 7 * DAY;
            break;
        case 'D':
            u = DAY;
            break;
        case 'H':
            u = 3600;
            break;
        case 'S':
            u = 1;
            break;
        default:
            return -1;
        }
        *out += n * u;
        p = end; /* the loop steps over the designator */
    }
    return 0;
}

/* An interval literal: '1 day', '2 hours 30 minutes', '@ 1 day ago', '01:30:00',
 * '3 days 04:05:06', ISO 'P1DT2H'; a bare number counts bare_unit seconds per unit.
 * 0 with seconds in *out, -1 for any other form. */
static int parse_span(const char *s, double bare_unit, double *out)
{
    const char *p = s;
    char *end;
    double n, total = 0, mm, ss, u;
    int neg = 0, parts = 0;
    size_t wl;

    while (isspace((unsigned char)*p) || *p == '@')
        p++;
    if (*p == 'P' || *p == 'p') return parse_iso_span(p + 1, out);
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p) break;
        if (strncasecmp(p, "ago", 3) == 0 && !isalpha((unsigned char)p[3])) {
            neg = 1, p += 3;
            continue;
        }
        n = strtod(p, &end);
        if (end == p || isnan(n)) return -1;
        p = end;
        parts++;
        if (*p == ':') { /* [-]hh:mm[:ss] */
            mm = strtod(p + 1, &end);
            ss = 0;
            if (end == p + 1) return -1;
            p = end;
            if (*p == ':') {
                ss = strtod(p + 1, &end);
                if (end == p + 1) return -1;
                p = end;
            }
            total += (signbit(n) ? -1 : 1) * (fabs(n) * 3600 + mm * 60 + ss);
            continue;
        }
        while (isspace((unsigned char)*p))
            p++;
        for (wl = 0; isalpha((unsigned char)p[wl]); wl++)
            ;
        if (wl == 0) {
            total += n * bare_unit;
            continue;
        }
        if ((u = unit_secs(p, wl)) == 0) return -1;
        total += n * u;
        p += wl;
    }
    if (parts == 0) return -1;
    *out = neg ? -total : total;
    return 0;
}

/* ---- conversions of folded values ---- */

static int as_num(const fval *v, double *out)
{
    if (v->kind == V_NUM) return *out = v->x, 0;
    return v->kind == V_TEXT && v->lit ? num_text(v->lit, out) : -1;
}

static int as_time(gfold *f, const fval *v, double *out)
{
    if (v->kind == V_TIME) return *out = v->x, 0;
    return v->kind == V_TEXT && v->lit ? parse_time(f, v->lit, out) : -1;
}

static int as_span(const fval *v, double *out)
{
    if (v->kind == V_SPAN) return *out = v->x, 0;
    return v->kind == V_TEXT && v->lit ? parse_span(v->lit, 1, out) : -1;
}

/* The least size of a value: characters of a text, units of an array or set; a scalar is
 * one; unknown is 0. */
static double size_of(const fval *v)
{
    switch (v->kind) {
    case V_TEXT:
    case V_ARRAY:
    case V_ROWS:
        return v->x;
    case V_NONE:
        return 0;
    default:
        return 1;
    }
}

static double at_least1(double x)
{
    return x < 1 ? 1 : x;
}

/* ---- nodes ---- */

/* The integer written at offset loc of the statement when it is a negative one ("-5",
 * "- 5"), else 0: libpg_query writes 0 and negative integers as {"ival": {}}. */
static double neg_int_at(const gtree *g, long loc)
{
    const char *q;

    if (loc < 0 || (size_t)loc >= g->sqllen || g->sql[loc] != '-') return 0;
    for (q = g->sql + loc + 1; isspace((unsigned char)*q); q++)
        ;
    return isdigit((unsigned char)*q) ? -strtod(q, NULL) : 0;
}

static fval eval_const(const gfold *f, int body)
{
    const gtree *g = f->g;
    fval v = none;
    int k;

    if ((k = gtree_field(g, body, "ival")) >= 0) {
        if ((k = gtree_field(g, k, "ival")) >= 0 && g->t[k].type == J_PRIM)
            return mk(V_NUM, strtod(g->t[k].s, NULL));
        k = gtree_field(g, body, "location");
        return mk(V_NUM, k >= 0 && g->t[k].type == J_PRIM
                             ? neg_int_at(g, strtol(g->t[k].s, NULL, 10))
                             : 0);
    }
    if ((k = gtree_field(g, body, "fval")) >= 0) {
        v.lit = gtree_str(g, k, "fval");
        return v.lit ? mk(V_NUM, strtod(v.lit, NULL)) : none;
    }
    if ((k = gtree_field(g, body, "sval")) >= 0 && (v.lit = gtree_str(g, k, "sval")) != NULL) {
        v.kind = V_TEXT;
        v.x = (double)strlen(v.lit);
    }
    return v;
}

/* The seconds one unit of "interval '1' <field>" stands for, from its typmod mask
 * (PostgreSQL's INTERVAL_MASK bits: MONTH 1, YEAR 2, DAY 3, HOUR 10, MINUTE 11, SECOND 12;
 * the rightmost field counts). */
static double typmod_unit(gfold *f, int typmods)
{
    fval m;
    long mask;

    m = eval(f, gtree_elem(f->g, typmods, 0), 0, 0);
    if (m.kind != V_NUM) return 1;
    mask = (long)m.x;
    if (mask & (1L << 12)) return 1;
    if (mask & (1L << 11)) return 60;
    if (mask & (1L << 10)) return 3600;
    if (mask & (1L << 3)) return DAY;
    if (mask & (1L << 1)) return 30 * DAY;
    if (mask & (1L << 2)) return 365.25 * DAY;
    return 1;
}

static int name_in(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(name, *list) == 0) return 1;
    return 0;
}

static fval eval_cast(gfold *f, int body, double rows, int depth)
{
    static const char *const nums[] = {"int2", "int4", "int8", "numeric", "float4", "float8", NULL};
    static const char *const texts[] = {"text",  "varchar", "name",   "json",
                                        "jsonb", "xml",     "citext", NULL};
    const gtree *g = f->g;
    int tn = gtree_field(g, body, "typeName"), mods, np;
    const char *schema, *type;
    fval v = eval(f, gtree_field(g, body, "arg"), rows, depth + 1), out = none;
    double x, u = 1;

    if (gtree_name(g, gtree_field(g, tn, "names"), &schema, &type, &np) < 0) return none;
    mods = gtree_field(g, tn, "typmods");
    if (gtree_field(g, tn, "arrayBounds") >= 0) return v; /* '{10000,10000}'::int[] */
    if (name_in(type, nums)) return as_num(&v, &x) == 0 ? mk(V_NUM, x) : none;
    if (strcmp(type, "date") == 0 || strcmp(type, "timestamp") == 0 ||
        strcmp(type, "timestamptz") == 0) {
        if (as_time(f, &v, &x) < 0) return none;
        out = mk(V_TIME, type[0] == 'd' ? floor(x / DAY) * DAY : x);
        out.is_date = type[0] == 'd';
        return out;
    }
    if (strcmp(type, "interval") == 0) {
        if (v.kind == V_SPAN) return v;
        if (mods >= 0) u = typmod_unit(f, mods);
        return v.kind == V_TEXT && v.lit && parse_span(v.lit, u, &x) == 0 ? mk(V_SPAN, x) : none;
    }
    if (strcmp(type, "bpchar") == 0 && mods >= 0) { /* char(n) pads to n */
        out = eval(f, gtree_elem(g, mods, 0), rows, depth + 1);
        return out.kind == V_NUM ? mk(V_TEXT, out.x) : none;
    }
    if (strcmp(type, "bytea") == 0 && v.kind == V_TEXT) /* hex '\x..' or escapes: at least */
        return mk(V_TEXT, v.lit && v.lit[0] == '\\' && v.lit[1] == 'x' ? (v.x - 2) / 2 : v.x / 4);
    if (strcmp(type, "varchar") == 0 && mods >= 0 && v.kind == V_TEXT) { /* truncates */
        out = eval(f, gtree_elem(g, mods, 0), rows, depth + 1);
        return out.kind == V_NUM && out.x < v.x ? mk(V_TEXT, out.x) : v;
    }
    if (name_in(type, texts) || strcmp(type, "bpchar") == 0) {
        if (v.kind == V_TEXT) return v;
        return v.kind == V_NONE ? none : mk(V_TEXT, 1);
    }
    return v.kind == V_TEXT ? mk(V_TEXT, v.x) : none;
}

/* l op r for the arithmetic operators, on numbers, timestamps and intervals. */
static fval arith(gfold *f, const char *op, fval l, fval r)
{
    double a, b;
    fval out;

    if (as_num(&l, &a) == 0 && as_num(&r, &b) == 0 && (l.kind == V_NUM || r.kind == V_NUM)) {
        switch (op[0]) {
        case '+':
            return mk(V_NUM, a + b);
        case '-':
            return mk(V_NUM, a - b);
        case '*':
            return mk(V_NUM, a * b);
        case '/':
            return b != 0 ? mk(V_NUM, a / b) : none;
        case '^':
            return isnan(pow(a, b)) ? none : mk(V_NUM, pow(a, b));
        case '%':
            return b != 0 ? mk(V_NUM, fmod(a, b)) : none;
        default:
            return none;
        }
    }
    if (l.kind == V_TIME && (op[0] == '+' || op[0] == '-')) {
        if (r.kind == V_TIME) /* date - date is days, timestamp - timestamp an interval */
            return l.is_date && r.is_date ? mk(V_NUM, (l.x - r.x) / DAY) : mk(V_SPAN, l.x - r.x);
        if (l.is_date && r.kind == V_NUM)
            b = r.x * DAY;
        else if (as_span(&r, &b) < 0)
            return none;
        out = mk(V_TIME, op[0] == '+' ? l.x + b : l.x - b);
        out.is_date = l.is_date && r.kind == V_NUM;
        return out;
    }
    if (r.kind == V_TIME && op[0] == '+') return arith(f, op, r, l);
    if (l.kind == V_SPAN || r.kind == V_SPAN) {
        if ((op[0] == '+' || op[0] == '-') && as_span(&l, &a) == 0 && as_span(&r, &b) == 0)
            return mk(V_SPAN, op[0] == '+' ? a + b : a - b);
        if (op[0] == '*' && l.kind == V_SPAN && as_num(&r, &b) == 0) return mk(V_SPAN, l.x * b);
        if (op[0] == '*' && r.kind == V_SPAN && as_num(&l, &a) == 0) return mk(V_SPAN, r.x * a);
        if (op[0] == '/' && l.kind == V_SPAN && as_num(&r, &b) == 0 && b != 0)
            return mk(V_SPAN, l.x / b);
    }
    return none;
}

static fval eval_op(gfold *f, int body, double rows, int depth)
{
    const gtree *g = f->g;
    const char *kind = gtree_str(g, body, "kind"), *schema, *op;
    int np, le = gtree_field(g, body, "lexpr");
    fval l, r;

    if (!kind || strcmp(kind, "AEXPR_OP") != 0 ||
        gtree_name(g, gtree_field(g, body, "name"), &schema, &op, &np) < 0 ||
        (schema && strcmp(schema, "pg_catalog") != 0))
        return none;
    r = eval(f, gtree_field(g, body, "rexpr"), rows, depth + 1);
    l = le >= 0 ? eval(f, le, rows, depth + 1) : mk(V_NUM, 0); /* unary - and + */
    if (strcmp(op, "||") == 0)
        return mk(l.kind == V_ARRAY || r.kind == V_ARRAY ? V_ARRAY : V_TEXT,
                  size_of(&l) + size_of(&r));
    if (strlen(op) != 1 || !strchr("+-*/^%", op[0])) return none;
    if (le < 0 && r.kind == V_SPAN) l = mk(V_SPAN, 0);
    return arith(f, op, l, r);
}

/* GREATEST/LEAST of numbers; COALESCE: its first argument that is not a NULL literal. */
static fval eval_list(gfold *f, int body, int coalesce, double rows, int depth)
{
    const gtree *g = f->g;
    const char *op = gtree_str(g, body, "op");
    int a = gtree_field(g, body, "args"), e, k, cb = -1, greatest = op && strstr(op, "GREATEST");
    const char *t;
    fval v, best = none;

    if (a < 0 || g->t[a].type != J_ARR) return none;
    for (e = a + 1, k = 0; k < g->t[a].size; k++, e = g->t[e].next) {
        if (coalesce) {
            t = gtree_node(g, e, &cb);
            if (t && strcmp(t, "A_Const") == 0 && gtree_field(g, cb, "isnull") >= 0) continue;
            return eval(f, e, rows, depth + 1);
        }
        v = eval(f, e, rows, depth + 1);
        if (v.kind != V_NUM) return none;
        if (best.kind == V_NONE || (greatest ? v.x > best.x : v.x < best.x)) best = v;
    }
    return best;
}

/* (SELECT <expression>) with nothing else: the expression, at one row. */
static fval eval_sublink(gfold *f, int body, int depth)
{
    static const char *const only[] = {"targetList", "limitOption", "op", NULL};
    const gtree *g = f->g;
    const char *lt = gtree_str(g, body, "subLinkType"), *t;
    int s = -1, tl, i, k, rt = -1;

    t = gtree_node(g, gtree_field(g, body, "subselect"), &s);
    if (!lt || strcmp(lt, "EXPR_SUBLINK") != 0 || !t || strcmp(t, "SelectStmt") != 0 ||
        g->t[s].type != J_OBJ)
        return none;
    for (i = s + 1, k = 0; k < g->t[s].size; k++, i = g->t[i + 1].next)
        if (!name_in(g->t[i].s, only)) return none;
    tl = gtree_field(g, s, "targetList");
    if (tl < 0 || g->t[tl].type != J_ARR || g->t[tl].size != 1) return none;
    t = gtree_node(g, tl + 1, &rt);
    if (!t || strcmp(t, "ResTarget") != 0) return none;
    return eval(f, gtree_field(g, rt, "val"), 1, depth + 1);
}

static fval eval_value_function(gfold *f, int body)
{
    const char *op = gtree_str(f->g, body, "op");
    fval v;

    if (!op) return none;
    if (strcmp(op, "SVFOP_CURRENT_DATE") == 0) {
        v = mk(V_TIME, floor(now_s(f) / DAY) * DAY);
        v.is_date = 1;
        return v;
    }
    if (strncmp(op, "SVFOP_CURRENT_TIMESTAMP", 23) == 0 ||
        strncmp(op, "SVFOP_LOCALTIMESTAMP", 20) == 0)
        return mk(V_TIME, now_s(f));
    return none;
}

/* ---- function calls ---- */

enum {
    F_NUM,
    F_POW,
    F_MOD,
    F_NOW,
    F_MAKE_DATE,
    F_REPEAT,
    F_PAD,
    F_CONCAT,
    F_CONCAT_WS,
    F_FORMAT,
    F_ENCODE,
    F_DECODE,
    F_SAME,
    F_ARRAY_FILL,
    F_SERIES,
    F_STRING_AGG,
    F_AGG,
    F_TEXT_AGG
};

/* clang-format off */
/* Sorted (bsearch). Unquoted names reach the tree in lower case; a quoted "Repeat" is
 * another function. */
static const struct fname {
    const char *name;
    int op;
} fnames[] = {
    {"abs", F_NUM}, {"array_agg", F_AGG}, {"array_fill", F_ARRAY_FILL},
    {"array_to_string", F_SAME}, {"ceil", F_NUM}, {"ceiling", F_NUM}, {"clock_timestamp", F_NOW},
    {"concat", F_CONCAT}, {"concat_ws", F_CONCAT_WS}, {"convert_from", F_SAME},
    {"convert_to", F_SAME}, {"decode", F_DECODE}, {"encode", F_ENCODE}, {"float4", F_NUM},
    {"float8", F_NUM}, {"floor", F_NUM}, {"format", F_FORMAT}, {"generate_series", F_SERIES},
    {"initcap", F_SAME}, {"int2", F_NUM}, {"int4", F_NUM}, {"int8", F_NUM},
    {"json_agg", F_TEXT_AGG}, {"json_object_agg", F_TEXT_AGG}, {"jsonb_agg", F_TEXT_AGG},
    {"jsonb_object_agg", F_TEXT_AGG}, {"jsonb_pretty", F_SAME}, {"lower", F_SAME},
    {"lpad", F_PAD}, {"make_date", F_MAKE_DATE}, {"mod", F_MOD}, {"now", F_NOW},
    {"numeric", F_NUM}, {"pow", F_POW}, {"power", F_POW}, {"quote_ident", F_SAME},
    {"quote_literal", F_SAME}, {"quote_nullable", F_SAME}, {"repeat", F_REPEAT},
    {"reverse", F_SAME}, {"round", F_NUM}, {"rpad", F_PAD}, {"sqrt", F_NUM},
    {"statement_timestamp", F_NOW}, {"string_agg", F_STRING_AGG}, {"text", F_SAME},
    {"to_json", F_SAME}, {"to_jsonb", F_SAME}, {"transaction_timestamp", F_NOW}, {"trunc", F_NUM},
    {"upper", F_SAME},
};
/* clang-format on */

static int cmp_fname(const void *key, const void *elem)
{
    return strcmp(key, ((const struct fname *)elem)->name);
}

/* A call's arguments, folded on demand. */
typedef struct fargs {
    gfold *f;
    int list, n;
    double rows;
    int depth;
} fargs;

static fval arg(const fargs *a, int i)
{
    return i < a->n ? eval(a->f, gtree_elem(a->f->g, a->list, i), a->rows, a->depth + 1) : none;
}

static int arg_num(const fargs *a, int i, double *out)
{
    fval v = arg(a, i);

    return as_num(&v, out);
}

/* The literal text of argument i, or NULL. */
static const char *arg_lit(const fargs *a, int i)
{
    fval v = arg(a, i);

    return v.kind == V_TEXT ? v.lit : NULL;
}

/* One-argument numeric functions and function-style casts. */
static fval num_func(const char *name, double x)
{
    if (strcmp(name, "abs") == 0) return mk(V_NUM, fabs(x));
    if (strncmp(name, "ceil", 4) == 0) return mk(V_NUM, ceil(x));
    if (strcmp(name, "floor") == 0) return mk(V_NUM, floor(x));
    if (strcmp(name, "round") == 0) return mk(V_NUM, round(x));
    if (strcmp(name, "trunc") == 0) return mk(V_NUM, trunc(x));
    if (strcmp(name, "sqrt") == 0) return x >= 0 ? mk(V_NUM, sqrt(x)) : none;
    return mk(V_NUM, x); /* int2 ... numeric */
}

/* format(fmt, args...): the literal characters of fmt plus, for each %s, %I and %L, the
 * larger of its width and its argument's size. Stops counting at anything it cannot read. */
static double format_size(const fargs *a)
{
    const char *p = arg_lit(a, 0), *q;
    double total = 0, width, sz;
    long n, w;
    fval v;
    int next = 1, i;

    for (; p && *p; p++) {
        if (*p != '%' || p[1] == '%') {
            total++;
            p += *p == '%';
            continue;
        }
        q = ++p;
        i = next;
        if (digits(&q, 9, &n) > 0 && *q == '$') i = (int)n, p = q + 1;
        while (*p == '-')
            p++;
        width = 0;
        if (*p == '*') {
            p++;
            q = p;
            w = next++;
            if (digits(&q, 9, &n) > 0 && *q == '$') w = n, p = q + 1;
            if (arg_num(a, (int)w, &width) < 0) width = 0;
            if (i == w) i = next; /* the value comes after the width */
        } else if (digits(&p, 10, &w) > 0) {
            width = (double)w;
        }
        if (!*p || !strchr("sIL", *p)) break;
        v = arg(a, i);
        sz = size_of(&v);
        total += fabs(width) > sz ? fabs(width) : sz;
        next = i + 1;
    }
    return total;
}

/* Rows of generate_series(a, b[, step]) over numbers or timestamps. */
static fval series_rows(const fargs *a)
{
    fval l = arg(a, 0), r = arg(a, 1), s = arg(a, 2);
    double lo, hi, step = 1, n;

    if (as_num(&l, &lo) == 0 && as_num(&r, &hi) == 0 && (l.kind == V_NUM || r.kind == V_NUM)) {
        if (a->n > 2 && as_num(&s, &step) < 0) return none;
    } else if (as_time(a->f, &l, &lo) == 0 && as_time(a->f, &r, &hi) == 0 && a->n == 3) {
        if (as_span(&s, &step) < 0) return none;
    } else {
        return none;
    }
    if (step == 0 || isnan(step)) return none;
    n = (hi - lo) / step;
    if (isnan(n)) return none;
    return mk(V_ROWS, n < 0 ? 0 : floor(n) + 1);
}

/* The number of elements an array_fill dimensions argument asks for: the product of its
 * constant elements (ARRAY[10000, 10000], '{10000,10000}'::int[]); 0 when none is known. */
static double dims_count(const fargs *a)
{
    const gtree *g = a->f->g;
    int n = gtree_elem(g, a->list, 1), body = -1, els, e, k;
    const char *t = gtree_node(g, n, &body), *s;
    double prod = 0, x;
    char *end;
    fval v;

    while (t && strcmp(t, "TypeCast") == 0)
        t = gtree_node(g, gtree_field(g, body, "arg"), &body);
    if (t && strcmp(t, "A_ArrayExpr") == 0) {
        els = gtree_field(g, body, "elements");
        if (els < 0 || g->t[els].type != J_ARR) return 0;
        for (e = els + 1, k = 0; k < g->t[els].size; k++, e = g->t[e].next) {
            v = eval(a->f, e, a->rows, a->depth + 1);
            if (v.kind == V_NUM) prod = (prod ? prod : 1) * (v.x < 0 ? 0 : v.x);
        }
        return prod;
    }
    for (s = arg_lit(a, 1); s && *s;) {
        x = strtod(s, &end);
        if (end == s) {
            s++;
            continue;
        }
        prod = (prod ? prod : 1) * (x < 0 ? 0 : x);
        s = end;
    }
    return prod;
}

static fval text_func(int op, const fargs *a)
{
    double x = 0, n;
    const char *how;
    fval v;
    int i;

    switch (op) {
    case F_REPEAT:
        if (arg_num(a, 1, &n) < 0) return none;
        v = arg(a, 0);
        return mk(V_TEXT, n <= 0 ? 0 : n * at_least1(size_of(&v)));
    case F_PAD:
        return arg_num(a, 1, &n) == 0 ? mk(V_TEXT, n < 0 ? 0 : n) : none;
    case F_CONCAT:
    case F_CONCAT_WS:
        for (i = op == F_CONCAT_WS; i < a->n; i++) {
            v = arg(a, i);
            x += size_of(&v);
        }
        v = arg(a, 0);
        if (op == F_CONCAT_WS && a->n > 2) x += size_of(&v) * (a->n - 2);
        return mk(V_TEXT, x);
    case F_FORMAT:
        return mk(V_TEXT, format_size(a));
    case F_ENCODE:
    case F_DECODE:
        v = arg(a, 0);
        how = arg_lit(a, 1);
        x = size_of(&v);
        if (how && strcasecmp(how, "hex") == 0)
            x = op == F_ENCODE ? 2 * x : x / 2;
        else if (how && strcasecmp(how, "base64") == 0)
            x = op == F_ENCODE ? x * 4 / 3 : x * 3 / 4;
        else if (op == F_DECODE)
            x /= 4;
        return mk(V_TEXT, x);
    case F_SAME:
        v = arg(a, 0);
        return mk(V_TEXT, size_of(&v));
    default:
        return none;
    }
}

/* Aggregates over a level of known rows: string_agg is each value and separator per row,
 * the others at least one unit per row. */
static fval agg_func(int op, const fargs *a, int has_filter)
{
    fval v = arg(a, 0), w = arg(a, 1);
    double per;

    if (a->rows <= 0 || has_filter) return none;
    if (op == F_STRING_AGG) return mk(V_TEXT, a->rows * (size_of(&v) + size_of(&w)));
    per = at_least1(size_of(&v) + (a->n > 1 ? size_of(&w) : 0));
    return mk(op == F_AGG ? V_ARRAY : V_TEXT, a->rows * per);
}

static fval eval_func(gfold *f, int body, double rows, int depth)
{
    const gtree *g = f->g;
    const char *schema, *name;
    const struct fname *fn;
    fargs a;
    double x, y, z;
    fval v;
    int np;

    if (gtree_name(g, gtree_field(g, body, "funcname"), &schema, &name, &np) < 0 ||
        (schema && strcmp(schema, "pg_catalog") != 0))
        return none;
    fn = bsearch(name, fnames, sizeof fnames / sizeof fnames[0], sizeof fnames[0], cmp_fname);
    if (!fn) return none;
    a.f = f;
    a.list = gtree_field(g, body, "args");
    a.n = a.list >= 0 && g->t[a.list].type == J_ARR ? g->t[a.list].size : 0;
    a.rows = rows;
    a.depth = depth;
    switch (fn->op) {
    case F_NUM:
        return a.n >= 1 && arg_num(&a, 0, &x) == 0 ? num_func(name, x) : none;
    case F_POW:
    case F_MOD:
        if (a.n != 2 || arg_num(&a, 0, &x) < 0 || arg_num(&a, 1, &y) < 0) return none;
        v = mk(V_NUM, x);
        return arith(f, fn->op == F_POW ? "^" : "%", v, mk(V_NUM, y));
    case F_NOW:
        return mk(V_TIME, now_s(f));
    case F_MAKE_DATE:
        if (arg_num(&a, 0, &x) < 0 || arg_num(&a, 1, &y) < 0 || arg_num(&a, 2, &z) < 0) return none;
        v = mk(V_TIME, civil_days((long)x, (long)y, (long)z) * DAY);
        v.is_date = 1;
        return v;
    case F_ARRAY_FILL:
        v = arg(&a, 0);
        x = dims_count(&a);
        return x > 0 ? mk(V_ARRAY, x * at_least1(size_of(&v))) : none;
    case F_SERIES:
        return series_rows(&a);
    case F_STRING_AGG:
    case F_AGG:
    case F_TEXT_AGG:
        return agg_func(fn->op, &a, gtree_field(g, body, "agg_filter") >= 0);
    default:
        return text_func(fn->op, &a);
    }
}

/* ---- the evaluator ---- */

static fval eval_node(gfold *f, int n, double rows, int depth)
{
    const char *t;
    int body = -1;

    t = gtree_node(f->g, n, &body);
    if (!t) return none;
    switch (t[0]) {
    case 'A':
        if (strcmp(t, "A_Const") == 0) return eval_const(f, body);
        if (strcmp(t, "A_Expr") == 0) return eval_op(f, body, rows, depth);
        break;
    case 'C':
        if (strcmp(t, "CoalesceExpr") == 0) return eval_list(f, body, 1, rows, depth);
        break;
    case 'F':
        if (strcmp(t, "FuncCall") == 0) return eval_func(f, body, rows, depth);
        break;
    case 'M':
        if (strcmp(t, "MinMaxExpr") == 0) return eval_list(f, body, 0, rows, depth);
        break;
    case 'S':
        if (strcmp(t, "SubLink") == 0) return eval_sublink(f, body, depth);
        if (strcmp(t, "SQLValueFunction") == 0) return eval_value_function(f, body);
        break;
    case 'T':
        if (strcmp(t, "TypeCast") == 0) return eval_cast(f, body, rows, depth);
        break;
    default:
        break;
    }
    return none;
}

/* Node n folded, once: later calls read the memo. Deeper than the tree can be (the guard
 * refuses trees past GUARD_TREE_DEPTH) is unknown. */
static fval eval(gfold *f, int n, double rows, int depth)
{
    fval v;

    if (n < 0 || n >= f->g->nt || depth > GUARD_TREE_DEPTH) return none;
    if (!f->memo) f->memo = calloc((size_t)f->g->nt, sizeof *f->memo);
    if (f->memo && f->memo[n].done) return f->memo[n];
    v = eval_node(f, n, rows, depth);
    v.done = 1;
    if (f->memo) f->memo[n] = v;
    return v;
}

double gfold_size(gfold *f, int n, double agg_rows, const char **what)
{
    fval v = eval(f, n, agg_rows, 0);

    switch (v.kind) {
    case V_TEXT:
        *what = "characters";
        return v.x;
    case V_ARRAY:
        *what = "array elements";
        return v.x;
    case V_ROWS:
        *what = "rows";
        return v.x;
    default:
        *what = "";
        return 0;
    }
}

/* Rows of one FROM item: generate_series calls (ROWS FROM: the longest), cross joins of
 * them; 0 for anything else. */
static double item_rows(gfold *f, int n, int depth)
{
    const gtree *g = f->g;
    const char *t, *jt;
    int body = -1, fl, e, k, lb = -1;
    double most = 0, l, r;
    fval v;

    t = gtree_node(g, n, &body);
    if (!t || depth > GUARD_TREE_DEPTH) return 0;
    if (strcmp(t, "JoinExpr") == 0) {
        jt = gtree_str(g, body, "jointype");
        if (!jt || strcmp(jt, "JOIN_INNER") != 0 || gtree_field(g, body, "quals") >= 0 ||
            gtree_field(g, body, "usingClause") >= 0 || gtree_field(g, body, "isNatural") >= 0)
            return 0;
        l = item_rows(f, gtree_field(g, body, "larg"), depth + 1);
        r = item_rows(f, gtree_field(g, body, "rarg"), depth + 1);
        return l * r;
    }
    if (strcmp(t, "RangeFunction") != 0) return 0;
    fl = gtree_field(g, body, "functions");
    if (fl < 0 || g->t[fl].type != J_ARR) return 0;
    for (e = fl + 1, k = 0; k < g->t[fl].size; k++, e = g->t[e].next) {
        t = gtree_node(g, e, &lb); /* {"List": {"items": [call, column definitions]}} */
        v = t ? eval(f, gtree_elem(g, gtree_field(g, lb, "items"), 0), 0, depth + 1) : none;
        if (v.kind != V_ROWS) return 0;
        if (v.x > most) most = v.x;
    }
    return most;
}

double gfold_from_rows(gfold *f, int s)
{
    const gtree *g = f->g;
    int fc = gtree_field(g, s, "fromClause"), e, k;
    double rows = 1;

    if (fc < 0) return 1;
    if (g->t[fc].type != J_ARR) return 0;
    for (e = fc + 1, k = 0; k < g->t[fc].size && rows > 0; k++, e = g->t[e].next)
        rows *= item_rows(f, e, 0);
    return rows;
}

void gfold_free(gfold *f)
{
    free(f->memo);
    f->memo = NULL;
}
