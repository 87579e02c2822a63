/* rowjson -- a row of PostgreSQL's text output (a PGresult's, a COPY text line's) as JSON; see
 * rowjson.h. */
#include "rowjson.h"

#include <string.h>

/* 1 if a numeric or float value's text is finite (PostgreSQL writes NaN, Infinity and
 * -Infinity as words; every finite value starts with a digit or '-' and a digit). */
static int is_finite_text(const char *s)
{
    return (*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9');
}

/* Writes n bytes of s at dst (NULL: only counts); returns n. */
static size_t put(char *dst, const char *s, size_t n)
{
    if (dst) memcpy(dst, s, n);
    return n;
}

static size_t put_value(char *d, int kind, const rowjson_field *f, int numeric_strings)
{
    if (!f->v) return put(d, "null", 4);
    switch (kind) {
    case K_INT:
    case K_JSON:
        return put(d, f->v, f->len);
    case K_NUMERIC:
        if (numeric_strings) return json_str_put(d, f->v, f->len);
        /* fall through */
    case K_FLOAT:
        return is_finite_text(f->v) ? put(d, f->v, f->len) : put(d, "null", 4);
    case K_BOOL:
        return f->v[0] == 't' ? put(d, "true", 4) : put(d, "false", 5);
    default:
        return json_str_put(d, f->v, f->len);
    }
}

#define AT(d, o) ((d) ? (d) + (o) : NULL)

/* Writes the row at d (NULL: only counts); its length. */
static size_t put_row(char *d, const rowjson_field *f, const int *kinds, int nf,
                      int numeric_strings, int comma, int newline)
{
    size_t o = 0;
    int i;

    if (comma) o += put(d, ",", 1);
    o += put(AT(d, o), "[", 1);
    for (i = 0; i < nf; i++) {
        if (i) o += put(AT(d, o), ",", 1);
        o += put_value(AT(d, o), kinds[i], &f[i], numeric_strings);
    }
    o += put(AT(d, o), "]", 1);
    if (newline) o += put(AT(d, o), "\n", 1);
    return o;
}

int rowjson_row(buf *b, const rowjson_field *f, const int *kinds, int nf, int numeric_strings,
                int comma, int newline)
{
    size_t need = 4;
    int i;

    /* room for the worst case (6 bytes out per byte in, a field's quotes, comma, "false")
     * saves a counting pass; a long row is counted, so the buffer stays near what it holds */
    for (i = 0; i < nf; i++)
        need += 6 * f[i].len + 6;
    if ((need > 65536 || buf_reserve(b, need) < 0) &&
        buf_reserve(b, put_row(NULL, f, kinds, nf, numeric_strings, comma, newline)) < 0)
        return -1;
    b->len += put_row(b->p + b->len, f, kinds, nf, numeric_strings, comma, newline);
    b->p[b->len] = '\0';
    return 0;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the escape after a backslash at s[*i] (*i past it on return) as PostgreSQL's COPY
 * text format defines it (copyfromparse.c: CopyReadAttributesText). */
static char unescape_one(const char *s, size_t n, size_t *i)
{
    char c = s[(*i)++];
    int v, d, k;

    switch (c) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'v':
        return '\v';
    case 'x':
        if (*i >= n || (v = hex_val(s[*i])) < 0) return 'x';
        (*i)++;
        if (*i < n && (d = hex_val(s[*i])) >= 0) v = v * 16 + d, (*i)++;
        return (char)v;
    default:
        if (c < '0' || c > '7') return c;
        for (v = c - '0', k = 1; k < 3 && *i < n && s[*i] >= '0' && s[*i] <= '7'; k++)
            v = v * 8 + (s[(*i)++] - '0');
        return (char)v;
    }
}

/* Decodes field s (n bytes, holding a backslash) in place; its new length. */
static size_t unescape(char *s, size_t n)
{
    size_t i = 0, o = 0;

    while (i < n) {
        if (s[i] != '\\' || i + 1 >= n)
            s[o++] = s[i++];
        else
            i++, s[o++] = unescape_one(s, n, &i);
    }
    return o;
}

int rowjson_copy_fields(char *line, size_t len, rowjson_field *f, int nf)
{
    char *p = line, *end = line + len, *st;
    int i, esc;

    if (len && end[-1] == '\n') end--;
    if (nf == 0) return p == end ? 0 : -1;
    for (i = 0; i < nf; i++, p++) {
        for (st = p, esc = 0; p < end && *p != '\t'; p++)
            esc |= *p == '\\';
        if ((p == end) != (i == nf - 1)) return -1;
        if (p - st == 2 && st[0] == '\\' && st[1] == 'N') {
            f[i].v = NULL;
            f[i].len = 0;
        } else {
            f[i].v = st;
            f[i].len = esc ? unescape(st, (size_t)(p - st)) : (size_t)(p - st);
        }
    }
    return 0;
}
