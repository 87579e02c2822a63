/* coerce -- pydantic v1's int, bool and str coercions of request fields; see coerce.h. */
#include "coerce.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>

/* Code points of the digit zero of every script whose digits Python's int() reads (Unicode
 * category Nd: each is followed by the nine other digits). */
static const unsigned nd_zero[] = {
    0x30,    0x660,   0x6F0,   0x7C0,   0x966,   0x9E6,   0xA66,   0xAE6,   0xB66,   0xBE6,
    0xC66,   0xCE6,   0xD66,   0xDE6,   0xE50,   0xED0,   0xF20,   0x1040,  0x1090,  0x17E0,
    0x1810,  0x1946,  0x19D0,  0x1A80,  0x1A90,  0x1B50,  0x1BB0,  0x1C40,  0x1C50,  0xA620,
    0xA8D0,  0xA900,  0xA9D0,  0xA9F0,  0xAA50,  0xABF0,  0xFF10,  0x104A0, 0x10D30, 0x11066,
    0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0,
    0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2,
    0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
};

/* Python's str.isspace() beyond ASCII. */
static const unsigned py_space[] = {0x1C,   0x1D,   0x1E,   0x1F,   0x85,   0xA0,   0x1680, 0x2000,
                                    0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008,
                                    0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};

/* Decodes one UTF-8 code point (the body is valid UTF-8: body.c) and advances *s. */
static unsigned utf8_next(const unsigned char **s)
{
    const unsigned char *p = *s;
    unsigned c = *p++;
    int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;

    c &= extra == 3 ? 0x07 : extra == 2 ? 0x0F : extra == 1 ? 0x1F : 0x7F;
    while (extra-- > 0 && (*p & 0xC0) == 0x80)
        c = (c << 6) | (*p++ & 0x3F);
    *s = p;
    return c;
}

/* What int() sees in code point c: ' ' for whitespace, '0'-'9' for a digit, c itself for
 * other ASCII, 'x' (never valid) otherwise. */
static char int_class(unsigned c)
{
    size_t i;

    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return ' ';
    if (c < 0x80 && !(c >= 0x1C && c <= 0x1F)) return (char)c;
    for (i = 0; i < sizeof py_space / sizeof py_space[0]; i++)
        if (c == py_space[i]) return ' ';
    for (i = 0; i < sizeof nd_zero / sizeof nd_zero[0]; i++)
        if (c >= nd_zero[i] && c <= nd_zero[i] + 9) return (char)('0' + (c - nd_zero[i]));
    return 'x';
}

/* Python's int(s) for a str: 0, -1 (ValueError), -2 (beyond long long). */
static int py_int_str(const char *str, long long *out)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t chars = 0;
    char c;
    int neg = 0, digits = 0, over = 0, state = 0; /* 0 lead space, 1 number, 2 trail space */
    unsigned long long v = 0, lim = (unsigned long long)LLONG_MAX + 1;
    char prev = ' ';

    while (*s) {
        c = int_class(utf8_next(&s));
        if (++chars > 4300) return -1; /* pydantic's max_str_int */
        if (c == ' ') {
            if (state == 1) {
                if (prev == '_') return -1;
                state = 2;
            }
        } else if (state == 2) {
            return -1;
        } else if (state == 0 && (c == '+' || c == '-')) {
            neg = c == '-';
            state = 1;
            c = 's';
        } else if (c >= '0' && c <= '9') {
            state = 1;
            digits++;
            if (v > (lim - (unsigned)(c - '0')) / 10)
                over = 1;
            else
                v = v * 10 + (unsigned)(c - '0');
        } else if (c == '_' && prev >= '0' && prev <= '9') {
            /* single underscores between digits */
        } else {
            return -1;
        }
        prev = c;
    }
    if (!digits || prev == '_' || prev == 's') return -1;
    if (over || (!neg && v > (unsigned long long)LLONG_MAX)) return -2;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 0;
}

int coerce_int(json_object *v, long long *out)
{
    double d;

    if (!v) return -1; /* null: "none is not an allowed value" */
    switch (json_object_get_type(v)) {
    case json_type_int:
        /* json-c saturates what int64 cannot hold; either end is outside every range */
        *out = json_object_get_int64(v);
        return *out == INT64_MAX || *out == INT64_MIN ? -2 : 0;
    case json_type_boolean:
        *out = json_object_get_boolean(v) ? 1 : 0;
        return 0;
    case json_type_double:
        d = json_object_get_double(v);
        if (!isfinite(d)) return -1;
        d = trunc(d);
        if (d >= 9.2e18 || d <= -9.2e18) return -2;
        *out = (long long)d;
        return 0;
    case json_type_string:
        return py_int_str(json_object_get_string(v), out);
    default:
        return -1;
    }
}

int coerce_bool(json_object *v, int *out)
{
    static const char *const yes[] = {"1", "on", "t", "true", "y", "yes"};
    static const char *const no[] = {"0", "off", "f", "false", "n", "no"};
    const char *str;
    double d;
    size_t i;

    if (!v) return -1;
    switch (json_object_get_type(v)) {
    case json_type_boolean:
        *out = json_object_get_boolean(v) ? 1 : 0;
        return 0;
    case json_type_int:
    case json_type_double: /* 1 == 1.0 in Python's sets */
        d = json_object_get_double(v);
        if (d != 0 && d != 1) return -1;
        *out = d == 1;
        return 0;
    case json_type_string: /* lowered, never trimmed; only ASCII letters lower into these */
        str = json_object_get_string(v);
        for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
            if (strcasecmp(str, yes[i]) == 0) return *out = 1, 0;
            if (strcasecmp(str, no[i]) == 0) return *out = 0, 0;
        }
        return -1;
    default:
        return -1;
    }
}

/* Python's repr() of a finite double: the shortest digits that read back as d, in fixed
 * notation when the decimal exponent is in [-4, 16), else as d.ddde+XX. */
static int py_float_repr(double d, char *dst, size_t n)
{
    char tmp[40], dig[24];
    int p, exp, nd = 0, i, w;
    const char *c;
    size_t o = 0;

    for (p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
        if (strtod(tmp, NULL) == d) break;
    }
    for (c = tmp; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9') dig[nd++] = *c;
    exp = (int)strtol(c + 1, NULL, 10);
    while (nd > 1 && dig[nd - 1] == '0') /* %.*e may pad */
        nd--;
    dig[nd] = '\0';
    if (n < 40) return -1;
    if (signbit(d)) dst[o++] = '-';
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            o += (size_t)snprintf(dst + o, n - o, "0.");
            for (i = 0; i < -exp - 1; i++)
                dst[o++] = '0';
            o += (size_t)snprintf(dst + o, n - o, "%s", dig);
        } else {
            for (i = 0; i <= exp; i++)
                dst[o++] = i < nd ? dig[i] : '0';
            dst[o++] = '.';
            if (nd > exp + 1)
                o += (size_t)snprintf(dst + o, n - o, "%s", dig + exp + 1);
            else
                dst[o++] = '0';
        }
        dst[o] = '\0';
        return 0;
    }
    dst[o++] = dig[0];
    if (nd > 1) {
        dst[o++] = '.';
        o += (size_t)snprintf(dst + o, n - o, "%s", dig + 1);
    }
    w = snprintf(dst + o, n - o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return w < 0 || (size_t)w >= n - o ? -1 : 0;
}

int coerce_str(json_object *v, char *dst, size_t n)
{
    double d;
    int w;

    if (!v) return -1;
    switch (json_object_get_type(v)) {
    case json_type_string:
        return 0;
    case json_type_boolean: /* bool is an int in Python: str(True) */
        w = snprintf(dst, n, "%s", json_object_get_boolean(v) ? "True" : "False");
        break;
    case json_type_int:
        w = snprintf(dst, n, "%lld", (long long)json_object_get_int64(v));
        break;
    case json_type_double:
        d = json_object_get_double(v);
        if (!isfinite(d)) return -1;
        return py_float_repr(d, dst, n) < 0 ? -1 : 1;
    default:
        return -1;
    }
    return w < 0 || (size_t)w >= n ? -1 : 1;
}
