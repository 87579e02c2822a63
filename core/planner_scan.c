/* planner_scan -- question -> tokens -> units. The tokenizer cuts the question into words,
 * numbers, ISO dates and quoted strings; the scanner cuts the tokens into units: a lexicon
 * phrase (U_REF, with every reading), or a grammar word or phrase ("top 5", "by", "how
 * many", "more than 3", "monthly", "not", "distinct", a quoted value, a time range through
 * planner_time.c). Every token must end in a unit or be a filler/stop word; the others are
 * collected in x->unknown, and the planner declines naming them.
 *
 * Owns x->t, x->lits, x->u and x->unknown (inside ctx, no allocation). Knows the grammar
 * words but not what a phrase means for a main table (planner_bind.c, planner_interp.c). */
#include "planner_int.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const NUMWORDS[] = {
    "zero",    "one",       "two",      "three",    "four",   "five",     "six",      "seven",
    "eight",   "nine",      "ten",      "eleven",   "twelve", "thirteen", "fourteen", "fifteen",
    "sixteen", "seventeen", "eighteen", "nineteen", "twenty", NULL};

static int is_word_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

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

/* The quoted string opened by q[*pi] (its closing quote exists) becomes a token naming
 * x->lits[]; -1 when it is empty, too long, one too many, or there are too many tokens. */
static int tok_quoted(ctx *x, const char *q, size_t *pi)
{
    size_t i = *pi;
    const char *e = strchr(q + i + 1, q[i]);
    size_t len = (size_t)(e - (q + i + 1));
    ptok *t;

    if (len == 0 || len >= sizeof x->lits[0] || x->nlits >= 4 || !(t = new_tok(x))) return -1;
    memcpy(x->lits[x->nlits], q + i + 1, len);
    x->lits[x->nlits][len] = '\0';
    t->lit = ++x->nlits;
    str_copy(t->raw, sizeof t->raw, "\"");
    str_copy(t->st, sizeof t->st, "\"");
    *pi = (size_t)(e - q) + 1;
    return 0;
}

/* The number at q[*pi] (a digit): an ISO date "2024-03-05", or digits with thousands
 * separators and one decimal point. -1 when there are too many tokens. */
static int tok_number(ctx *x, const char *q, size_t n, size_t *pi)
{
    size_t i = *pi, s = i, j, k = 0;
    char tmp[32];
    ptok *t;

    if (!(t = new_tok(x))) return -1;
    if (n - i >= 10 && all_digits(q + i, 4) && q[i + 4] == '-' && all_digits(q + i + 5, 2) &&
        q[i + 7] == '-' && all_digits(q + i + 8, 2) &&
        (i + 10 == n || !isdigit((unsigned char)q[i + 10]))) {
        t->y =
            (q[i] - '0') * 1000 + (q[i + 1] - '0') * 100 + (q[i + 2] - '0') * 10 + (q[i + 3] - '0');
        t->m = (q[i + 5] - '0') * 10 + (q[i + 6] - '0');
        t->d = (q[i + 8] - '0') * 10 + (q[i + 9] - '0');
        memcpy(t->raw, q + i, 10);
        memcpy(t->st, q + i, 10);
        *pi = i + 10;
        return 0;
    }
    for (j = i; j < n && k + 1 < sizeof tmp; j++) {
        if (isdigit((unsigned char)q[j]))
            tmp[k++] = q[j];
        else if (q[j] == ',' && j + 3 < n + 1 && all_digits(q + j + 1, 3) &&
                 (j + 4 >= n || !isdigit((unsigned char)q[j + 4])))
            continue; /* thousands separator */
        else if (q[j] == '.' && j + 1 < n && isdigit((unsigned char)q[j + 1]) && !strchr(tmp, '.'))
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
    *pi = j > s ? j : s + 1;
    return 0;
}

/* The word at q[*pi], lower-cased and stemmed; a number word ("five") is also a number. */
static int tok_word(ctx *x, const char *q, size_t n, size_t *pi)
{
    size_t i = *pi, s = i, k;
    ptok *t;

    while (i < n && is_word_byte((unsigned char)q[i]))
        i++;
    *pi = i;
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
    return 0;
}

/* A comparison sign (">", ">=", "<", "<=", "=") as the words it reads as ("more than"). */
static int tok_symbol(ctx *x, const char *q, size_t *pi)
{
    static const struct {
        const char *sign, *w1, *w2;
    } signs[] = {{">=", "at", "least"}, {"<=", "at", "most"},  {"<>", "not", NULL},
                 {"!=", "not", NULL},   {">", "more", "than"}, {"<", "less", "than"},
                 {"=", "equals", NULL}};
    size_t k;
    ptok *t;

    for (k = 0; k < sizeof signs / sizeof signs[0]; k++)
        if (strncmp(q + *pi, signs[k].sign, strlen(signs[k].sign)) == 0) break;
    if (k == sizeof signs / sizeof signs[0]) {
        (*pi)++;
        return 0;
    }
    *pi += strlen(signs[k].sign);
    if (!(t = new_tok(x))) return -1;
    str_copy(t->raw, sizeof t->raw, signs[k].w1);
    str_copy(t->st, sizeof t->st, signs[k].w1);
    if (!signs[k].w2) return 0;
    if (!(t = new_tok(x))) return -1;
    str_copy(t->raw, sizeof t->raw, signs[k].w2);
    str_copy(t->st, sizeof t->st, signs[k].w2);
    return 0;
}

int pl_tokenize(ctx *x, const char *q)
{
    size_t i = 0, n = strlen(q);

    while (i < n) {
        unsigned char c = (unsigned char)q[i];
        int rc;

        if ((c == '"' || (c == '\'' && (i == 0 || !is_word_byte((unsigned char)q[i - 1])))) &&
            strchr(q + i + 1, (char)c))
            rc = tok_quoted(x, q, &i);
        else if (isdigit(c))
            rc = tok_number(x, q, n, &i);
        else if (is_word_byte(c))
            rc = tok_word(x, q, n, &i);
        else if (c == '<' || c == '>' || c == '=')
            rc = tok_symbol(x, q, &i);
        else {
            i++;
            continue;
        }
        if (rc < 0) return -1;
    }
    return 0;
}

unit *pl_new_unit(ctx *x, int kind, int pos, int end)
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

/* Each scan_* below looks for its phrase at token i: it adds the unit and returns the
 * tokens used, 0 when the phrase is not there, -1 when x->u is full. */

/* "top 5", "bottom", "the 5 highest", "latest", "3 most recent", "oldest 10" */
static int scan_top(ctx *x, int i)
{
    static const char *const recent[] = {"latest", "newest", "earliest", "oldest", NULL};
    static const char *const hi[] = {"highest", "largest", "biggest", "greatest", NULL};
    static const char *const lo[] = {"lowest", "smallest", NULL};
    long n;
    unit *u;
    int k = 0, desc = 1, kind, size = 0;

    if (tok_is(x, i, "top") || tok_is(x, i, "bottom")) {
        desc = tok_is(x, i, "top");
        n = tok_int(x, i + 1);
        if (!(u = pl_new_unit(x, U_TOP, i, i + (n > 0 ? 2 : 1)))) return -1;
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
        size = !tok_is(x, i + 1, "highest") && !tok_is(x, i + 1, "lowest");
        k = 2;
    } else {
        return 0;
    }
    if (n <= 0 && kind == U_RECENT && (n = tok_int(x, i + k)) > 0) k++; /* "latest 5" */
    if (!(u = pl_new_unit(x, kind, i, i + k))) return -1;
    u->desc = desc;
    u->n = n > 0 ? n : 0;
    u->amount = size;
    return k;
}

/* "more than 100", "at least 3", "between 10 and 20", "3 or more" */
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
        if (!(u = pl_new_unit(x, U_CMP, i, i + 3))) return -1;
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
                if (!(u = pl_new_unit(x, U_CMP, s, i + w + 1))) return -1;
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
            if (!(u = pl_new_unit(x, U_CMP, s, i + w + 3))) return -1;
            u->cmp = CMP_BETWEEN;
            str_copy(u->a, sizeof u->a, x->t[i + w].ntxt);
            str_copy(u->b, sizeof u->b, x->t[i + w + 2].ntxt);
            return w + 3;
        }
        if (!(u = pl_new_unit(x, U_CMP, s, i + w + 1))) return -1;
        u->cmp = ops[k].op;
        str_copy(u->a, sizeof u->a, x->t[i + w].ntxt);
        return w + 1;
    }
    return 0;
}

/* "spent the most", "paid the least": the total of the money column of what follows
 * (U_AGG with amount set) */
static int scan_spent(ctx *x, int i)
{
    static const char *const verb[] = {"spent", "spend", "spends", "paid", "pay", "pays", NULL};
    int k = 1;
    unit *u;

    if (!tok_in(x, i, verb)) return 0;
    if (tok_is(x, i + k, "the")) k++;
    if (!tok_is(x, i + k, "most") && !tok_is(x, i + k, "least")) return 0;
    if (!(u = pl_new_unit(x, U_AGG, i, i + k + 1))) return -1;
    u->agg = streq(x->t[i + k].raw, "most") ? AGG_MAX : AGG_MIN;
    u->super = 1;
    u->amount = 1;
    return k + 1;
}

/* "share of", "proportion of", "percentage of": U_AGG AGG_SHARE (amount 100: a percentage);
 * "ratio of": AGG_RATIO */
static int scan_share(ctx *x, int i)
{
    static const char *const share[] = {"share",      "proportion", "fraction", "percent",
                                        "percentage", "ratio",      NULL};
    unit *u;

    if (!tok_in(x, i, share) || !tok_is(x, i + 1, "of")) return 0;
    if (!(u = pl_new_unit(x, U_AGG, i, i + 2))) return -1;
    u->agg = streq(x->t[i].raw, "ratio") ? AGG_RATIO : AGG_SHARE;
    u->amount = x->t[i].raw[0] == 'p' && x->t[i].raw[1] == 'e' ? 100 : 0;
    return 2;
}

/* aggregate words: "how many", "total number of", "average", "highest" (a superlative) */
static int scan_agg(ctx *x, int i)
{
    static const struct {
        const char *w1, *w2, *w3;
        int agg, super;
    } aggs[] = {
        {"how", "many", NULL, AGG_COUNT, 0},     {"how", "much", NULL, AGG_SUM, 0},
        {"total", "number", "of", AGG_COUNT, 0}, {"number", "of", NULL, AGG_COUNT, 0},
        {"total", "count", "of", AGG_COUNT, 0},  {"count", "the", "number", AGG_COUNT, 0},
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
        {"fewest", NULL, NULL, AGG_MIN, 1},      {"longest", NULL, NULL, AGG_MAX, 1},
        {"shortest", NULL, NULL, AGG_MIN, 1},    {"tallest", NULL, NULL, AGG_MAX, 1},
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
        if (!(u = pl_new_unit(x, U_AGG, i, i + w))) return -1;
        u->agg = aggs[k].agg;
        u->super = aggs[k].super;
        return w;
    }
    return 0;
}

/* grouping words: "by", "per", "for each", "broken down by"; "X breakdown" (U_BYPREV) */
static int scan_by(ctx *x, int i)
{
    static const char *const two[][2] = {{"for", "each"},     {"for", "every"}, {"grouped", "by"},
                                         {"group", "by"},     {"split", "by"},  {"broken", "down"},
                                         {"breakdown", "by"}, {"in", "each"},   {"by", "each"},
                                         {"by", "every"}};
    /* "how does X vary across (different) courses", "differ by continent": per course */
    static const char *const vary[] = {"vary", "varies", "differ", "differs", NULL};
    size_t k;
    int w = 0;

    if (tok_in(x, i, vary) && (tok_is(x, i + 1, "across") || tok_is(x, i + 1, "by") ||
                               tok_is(x, i + 1, "between") || tok_is(x, i + 1, "among"))) {
        w = 2 + (tok_is(x, i + 2, "different") || tok_is(x, i + 2, "the"));
        return pl_new_unit(x, U_BY, i, i + w) ? w : -1;
    }
    for (k = 0; k < sizeof two / sizeof two[0] && !w; k++)
        if (tok_is(x, i, two[k][0]) && tok_is(x, i + 1, two[k][1])) w = 2;
    if (w == 2 && tok_is(x, i, "broken") && tok_is(x, i + 2, "by")) w = 3;
    if (!w && (tok_is(x, i, "by") || tok_is(x, i, "per") || tok_is(x, i, "each") ||
               tok_is(x, i, "every") || tok_is(x, i, "across")))
        w = 1;
    if (w) return pl_new_unit(x, U_BY, i, i + w) ? w : -1;
    if (tok_is(x, i, "breakdown") || tok_is(x, i, "breakdowns") || tok_is(x, i, "wise"))
        return pl_new_unit(x, U_BYPREV, i, i + 1) ? 1 : -1;
    return 0;
}

/* time grains: "monthly", and a period word after "by", "and" or "which" ("by month") */
static int scan_grain(ctx *x, int i)
{
    static const char *const adj[] = {"daily",  "weekly", "monthly",  "quarterly",
                                      "yearly", "annual", "annually", NULL};
    static const int adjg[] = {GR_DAY, GR_WEEK, GR_MONTH, GR_QUARTER, GR_YEAR, GR_YEAR, GR_YEAR};
    int k, g;
    unit *u;

    for (k = 0; adj[k]; k++)
        if (tok_is(x, i, adj[k])) {
            if (!(u = pl_new_unit(x, U_GRAIN, i, i + 1))) return -1;
            u->grain = adjg[k];
            return 1;
        }
    if (i < x->nt && !x->t[i].used && (g = pl_period_of(x->t[i].st)) > 0 &&
        ((x->nu > 0 && x->u[x->nu - 1].kind == U_BY && x->u[x->nu - 1].end == i) ||
         (i > 0 && streq(x->t[i - 1].raw, "and") && x->nu > 1 &&
          (x->u[x->nu - 2].kind == U_BY || x->u[x->nu - 1].kind == U_GRAIN)) ||
         (i > 0 && (streq(x->t[i - 1].raw, "which") || streq(x->t[i - 1].raw, "what"))))) {
        if (!(u = pl_new_unit(x, U_GRAIN, i, i + 1))) return -1;
        u->grain = g;
        return 1;
    }
    return 0;
}

/* Units of measure a question states its numbers in ("areas in square kilometers", "over
 * 200 mph"): read as the unit of the column, they change nothing in the SQL. */
static const char *const UNITS[] = {
    "meter", "meters", "metre",  "metres", "kilometer", "kilometers", "kilometre", "kilometres",
    "km",    "miles",  "mile",   "feet",   "foot",      "ft",         "inches",    "inch",
    "mph",   "kmh",    "kph",    "kg",     "kilograms", "kilogram",   "grams",     "pounds",
    "lbs",   "tons",   "tonnes", "liters", "litres",    "dollars",    "usd",       "euros",
    "sq",    "square", "cubic",  NULL};

/* "in [square] kilometers" (or "in people per square mile") after anything, a unit right
 * after a number ("200 mph"): used up with no unit of their own. */
static int scan_units(ctx *x, int i)
{
    static const char *const people[] = {"people", "persons", "inhabitants", "residents", NULL};
    int k = 0;

    if (tok_is(x, i, "in") && tok_in(x, i + 1, UNITS))
        k = 1;
    else if (tok_is(x, i, "in") && tok_in(x, i + 1, people) && tok_is(x, i + 2, "per") &&
             tok_in(x, i + 3, UNITS))
        k = 3; /* "density in people per square kilometer" */
    else if (!(i > 0 && x->t[i - 1].isnum && tok_in(x, i, UNITS)))
        return 0;
    while (tok_in(x, i + k, UNITS))
        k++;
    for (int j = i; j < i + k; j++)
        x->t[j].used = 1;
    return k;
}

static const char *const FILLER[] = {
    "sold", "sell", "bought", "buy", "purchased", "placed", "made", "held", "overall", "altogether",
    "ever", "only", "row", "rows", "record", "records", "entry", "entries", "where", "having",
    "who", "whose", "with", "many", "there", "order", "ordered", "through", "via", "using",
    "currently", "exist", "existing", "happened", "happen", "occurred",
    /* verbs that only relate two things the catalog already joins ("papers published in each
     * journal", "restaurants serving each type of food"), and list words */
    "published", "associated", "written", "wrote", "received", "presented", "serve", "serves",
    "serving", "served", "offer", "offers", "offered", "taken", "taught", "belong", "belongs",
    "located", "part", "flow", "flows", "flowing", NULL};

/* General English function words and request phrasing that carry no meaning for the query:
 * pronouns, auxiliaries, determiners, politeness and verbs of asking. Not a list of any
 * question set's words; a word of the catalog still wins (the lexicon sees it first). */
static const char *const FUNCTION[] = {
    "am",       "being",       "will",   "shall",     "may",           "might",      "must",
    "he",       "she",         "his",    "her",       "hers",          "him",        "us",
    "ours",     "yours",       "itself", "such",      "just",          "kindly",     "thanks",
    "thank",    "hi",          "hello",  "calculate", "compute",       "determine",  "provide",
    "identify", "retrieve",    "fetch",  "want",      "wish",          "need",       "know",
    "like",     "see",         "view",   "obtain",    "output",        "database",   "data",
    "dataset",  "information", "info",   "details",   "corresponding", "respective", "respectively",
    "along",    "together",    "well",   "also",      "both",          "results",    "result",
    "answer",   NULL};

/* "order" and "ordered" are filler only as verbs ("orders placed", "ordered by"): the
 * lexicon sees them first, so a table named orders still wins. */
static int is_filler(const ptok *t)
{
    return in_list(t->raw, FILLER) || in_list(t->raw, FUNCTION) || text_is_stop(t->st);
}

/* 1 if a reading of the one-word phrase w names its table, column or value by that very word,
 * not only through a shared stem ("located" and a table location, "offer" and
 * course_offering): only then does a relating verb of FILLER name something. */
static int names_word(const ctx *x, const cand *cs, int nc, const char *w)
{
    int k;

    for (k = 0; k < nc; k++) {
        const cand *c = &cs[k];
        if (c->kind == R_TABLE && pl_word_eq(w, x->cat->tables[c->table].name)) return 1;
        if ((c->kind == R_COLUMN || c->kind == R_COMMENT) &&
            pl_word_eq(w, column(x, c->table, c->col)->name))
            return 1;
        if (c->kind == R_VALUE && pl_word_eq(w, column(x, c->table, c->col)->values[c->val]))
            return 1;
        if (c->kind == R_GLOSS || c->kind == R_DERIVED) return 1;
    }
    return 0;
}

static void add_unknown(ctx *x, const char *w)
{
    size_t l = strlen(x->unknown);

    if (strstr(x->unknown, w)) return;
    snprintf(x->unknown + l, sizeof x->unknown - l, "%s\"%s\"", l ? ", " : "", w);
}

/* A value found in several columns, after a word that is part of some of those columns'
 * names ("from LAX" of from_airport, "to ORD" of to_airport): their readings bind stronger. */
static void prefer_by_word(ctx *x, unit *u, const char *w)
{
    text_words *cw = &x->w[2];
    int k, j, vals = 0;

    for (k = 0; k < u->nc; k++)
        vals += u->c[k].kind == R_VALUE;
    for (k = 0; vals > 1 && k < u->nc; k++) {
        if (u->c[k].kind != R_VALUE) continue;
        text_split(column(x, u->c[k].table, u->c[k].col)->name, 0, cw);
        for (j = 0; j < cw->n && !streq(cw->w[j], w); j++)
            ;
        if (j < cw->n) u->c[k].prio++;
    }
}

/* Words naming the same column through its comment are one mention: "signed up" (two
 * comment words), "seating capacity" (a column word, then a word of its comment). A comment
 * word never joins the word before it unless that word names the column. */
static void merge_comment_units(ctx *x)
{
    int i;

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
}

/* 1 if a reading of u is a table by its whole name */
static int names_table_fully(const unit *u)
{
    int k;

    for (k = 0; k < u->nc; k++)
        if (u->c[k].kind == R_TABLE && u->c[k].prio >= P_TABLE) return 1;
    return 0;
}

/* 1 if the words of unit a then unit b are the first and the last word of the name of column
 * c of table t, in that order. */
static int parts_in_order(ctx *x, const unit *a, const unit *b, int t, int c)
{
    text_words *w = &x->w[2];

    text_split(column(x, t, c)->name, 1, w);
    return w->n >= 2 && a->end - a->pos == 1 && b->end - b->pos == 1 &&
           streq(x->t[a->pos].st, w->w[0]) && streq(x->t[b->pos].st, w->w[w->n - 1]);
}

/* Two words that are the first and last parts of one column's name, next to each other or
 * with one stop word between ("declared a major" of declare_major): one mention of that
 * column, as strong as its name. */
static void merge_part_units(ctx *x)
{
    int i, j, q, m;

    for (i = 0; i + 1 < x->nu; i++) {
        unit *a = &x->u[i], *b = &x->u[i + 1];
        if (a->kind != U_REF || b->kind != U_REF || b->pos - a->end > 1 ||
            (b->pos > a->end && !text_is_stop(x->t[a->end].st)) || names_table_fully(a) ||
            names_table_fully(b))
            continue; /* "airlines with flights" is not airline_flight */
        for (j = 0, m = 0; j < a->nc; j++) {
            int keep = 0;
            if (a->c[j].kind != R_COLUMN) continue;
            for (q = 0; q < b->nc; q++)
                if (b->c[q].kind == R_COLUMN && a->c[j].table == b->c[q].table &&
                    a->c[j].col == b->c[q].col &&
                    parts_in_order(x, a, b, a->c[j].table, a->c[j].col))
                    keep = 1;
            if (keep) {
                a->c[m] = a->c[j];
                a->c[m++].prio = P_COL;
            }
        }
        if (m == 0) continue;
        a->nc = m;
        a->end = b->end;
        a->plural = b->plural;
        memmove(b, b + 1, (size_t)(x->nu - i - 2) * sizeof *b);
        x->nu--;
    }
}

/* "the region name" of a text column region: the word name after a column that is no name
 * itself belongs to it (one unit), when a reading of the column comes first. */
static void merge_name_word(ctx *x)
{
    int i, j, text = 0;

    for (i = 0; i + 1 < x->nu; i++) {
        unit *a = &x->u[i], *b = &x->u[i + 1];
        if (a->kind != U_REF || b->kind != U_REF || b->pos != a->end || b->end != b->pos + 1 ||
            !streq(x->t[b->pos].st, "name") || a->nc == 0)
            continue;
        for (j = 0, text = 0; j < a->nc; j++) {
            const cat_column *c;
            if (a->c[j].kind != R_COLUMN) break;
            c = column(x, a->c[j].table, a->c[j].col);
            if (strstr(c->name, "name") || pl_type_numeric(c->type) || pl_type_date(c->type) ||
                pl_type_bool(c->type))
                break;
            text = 1;
        }
        if (j < a->nc || !text) continue;
        a->end = b->end;
        memmove(b, b + 1, (size_t)(x->nu - i - 2) * sizeof *b);
        x->nu--;
    }
}

/* A quoted string matched by its start or by a part: 'starts with "Lake"', 'begins with the
 * letter "J"', 'contains "Science"', 'with "IEEE" in its name'. Adds a U_LIT unit with super
 * LIT_PREFIX or LIT_CONTAINS over the phrase and returns its length; 0 when there is none, -1
 * when x->u is full. */
static int scan_like(ctx *x, int i)
{
    static const char *const starts[] = {"start",  "starts",    "starting", "begin",
                                         "begins", "beginning", NULL};
    static const char *const contains[] = {"contain",  "contains",  "containing", "include",
                                           "includes", "including", NULL};
    static const char *const what[] = {"letter", "letters", "word",       "words", "string",
                                       "text",   "prefix",  "characters", NULL};
    static const char *const its[] = {"its", "their", "the", NULL};
    int j = i, kind = 0;
    unit *u;

    if (tok_in(x, i, starts) && tok_is(x, i + 1, "with")) {
        kind = LIT_PREFIX;
        j = i + 2;
    } else if (tok_in(x, i, contains)) {
        kind = LIT_CONTAINS;
        j = i + 1;
    } else if (tok_is(x, i, "with") && i + 1 < x->nt && x->t[i + 1].lit && tok_is(x, i + 2, "in") &&
               tok_in(x, i + 3, its) && i + 4 < x->nt && streq(x->t[i + 4].st, "name")) {
        if (!(u = pl_new_unit(x, U_LIT, i, i + 5))) return -1;
        u->super = LIT_CONTAINS;
        u->a[0] = (char)(i + 1); /* the quoted token */
        return 5;
    }
    if (!kind) return 0;
    if (tok_is(x, j, "the") && tok_in(x, j + 1, what)) j += 2;
    if (j >= x->nt || !x->t[j].lit) return 0;
    if (!(u = pl_new_unit(x, U_LIT, i, j + 1))) return -1;
    u->super = kind;
    u->a[0] = (char)j;
    return j + 1 - i;
}

int pl_scan(ctx *x)
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
        if ((k = scan_like(x, i)) != 0) {
            if (k < 0) return -1;
            i += k;
            continue;
        }
        L = pl_lex_match(x, i, cs, &nc);
        if (L < 2) {
            if ((k = pl_scan_ratio_to(x, i)) != 0 || (k = pl_scan_order(x, i)) != 0 ||
                (k = pl_scan_time(x, i)) != 0 || (k = scan_units(x, i)) != 0 ||
                (k = scan_top(x, i)) != 0 || (k = scan_cmp(x, i)) != 0 ||
                (k = scan_grain(x, i)) != 0 || (k = scan_by(x, i)) != 0 ||
                (k = scan_spent(x, i)) != 0 || (k = scan_share(x, i)) != 0 ||
                (k = scan_agg(x, i)) != 0) {
                if (k < 0) return -1;
                i += k;
                continue;
            }
            if (tok_in(x, i, neg)) {
                if (!pl_new_unit(x, U_NEG, i, i + 1)) return -1;
                i++;
                continue;
            }
            if (tok_in(x, i, distinct)) {
                if (!pl_new_unit(x, U_DISTINCT, i, i + 1)) return -1;
                i++;
                continue;
            }
        }
        if (L > 0) {
            /* comment words are the weakest reading: only when nothing else fits */
            if (!(nc > 0 && cs[0].kind == R_COMMENT && is_filler(&x->t[i])) &&
                !(L == 1 && in_list(x->t[i].raw, FILLER) && !names_word(x, cs, nc, x->t[i].raw))) {
                if (!(u = pl_new_unit(x, U_REF, i, i + L))) return -1;
                memcpy(u->c, cs, (size_t)nc * sizeof cs[0]);
                u->nc = nc;
                if (i > 0) prefer_by_word(x, u, x->t[i - 1].raw);
                u->plural = text_is_plural(x->t[i + L - 1].raw);
                i += L;
                continue;
            }
        }
        if (x->t[i].isnum && (k = (int)tok_int(x, i)) > 0 && i + 1 < x->nt) {
            /* "5 events with the highest capacity": a count for a ranking */
            if (!pl_new_unit(x, U_LIMIT, i, i + 1)) return -1;
            x->u[x->nu - 1].n = k;
            i++;
            continue;
        }
        if (x->t[i].lit || ((tok_is(x, i, "named") || tok_is(x, i, "called")) && i + 1 < x->nt &&
                            x->t[i + 1].lit)) {
            int named = !x->t[i].lit;
            if (!(u = pl_new_unit(x, U_LIT, i, i + 1 + named))) return -1;
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
    merge_comment_units(x);
    merge_part_units(x);
    merge_name_word(x);
    return 0;
}
