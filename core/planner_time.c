/* planner_time -- time phrases of a question: absolute points (a year, a month of a year, a
 * day, a quarter), relative periods ("last 30 days", "this month", "today") and the ranges
 * built from them ("since", "before", "between ... and ..."), as SQL date bounds; and the
 * names of the period grains ("monthly" is the scanner's, "month" is here).
 *
 * Owns nothing; it adds U_TIME units to x->u. Which date column a range applies to is the
 * interpretation's (planner_filter.c); the SQL around the bounds is the writer's. */
#include "planner_int.h"

#include <stdio.h>

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

/* DATE 'y-m-d' into dst; a day past the month's end is the first of the next month. */
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

int pl_period_of(const char *st)
{
    if (streq(st, "day")) return GR_DAY;
    if (streq(st, "week")) return GR_WEEK;
    if (streq(st, "month")) return GR_MONTH;
    if (streq(st, "quarter")) return GR_QUARTER;
    if (streq(st, "year")) return GR_YEAR;
    return 0;
}

const char *pl_grain_name(int g)
{
    static const char *const n[] = {"", "day", "week", "month", "quarter", "year"};
    return n[g];
}

/* Relative periods: "last 30 days", "past 3 months", "last month", "this year", "today".
 * Returns the tokens used (0 if none) with the range in tmp->lo / tmp->hi. */
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
        (p = pl_period_of(x->t[i + 2].st)) > 0) {
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
        (p = pl_period_of(x->t[i + 1].raw)) > 0) {
        g = pl_grain_name(p);
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

int pl_scan_time(ctx *x, int i)
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
    {
        /* a preposition and one point: where the point's own bounds go (lo2, hi2: dropped) */
        const struct {
            const char *const *words;
            char *lo, *hi;
        } at[] = {{since, tmp.lo, hi2},
                  {after, lo2, tmp.lo},
                  {before, tmp.hi, hi2},
                  {until, lo2, tmp.hi},
                  {in, tmp.lo, tmp.hi}};
        size_t j;
        for (j = 0; j < sizeof at / sizeof at[0]; j++)
            if (tok_in(x, i, at[j].words) &&
                (k = parse_point(x, i + 1, at[j].lo, at[j].hi, sizeof hi2)) > 0) {
                k += 1;
                goto done;
            }
    }
    if ((k = parse_point(x, i, tmp.lo, tmp.hi, sizeof tmp.hi)) > 0) goto done;
    return 0;
done:
    if (!(u = pl_new_unit(x, U_TIME, s, s + k))) return -1;
    memcpy(u->lo, tmp.lo, sizeof u->lo);
    memcpy(u->hi, tmp.hi, sizeof u->hi);
    return k;
}
