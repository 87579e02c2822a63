/* buf -- growable byte buffers with a hard maximum; see buf.h for ownership. */
#include "buf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(buf *b, size_t extra)
{
    size_t need, ncap;
    char *np;

    if (extra > SIZE_MAX - b->len - 1) return -1;
    need = b->len + extra;
    if (b->max && need > b->max) return -1;
    if (need + 1 <= b->cap) return 0;
    ncap = b->cap ? b->cap : 256;
    while (ncap < need + 1)
        ncap = ncap > SIZE_MAX / 2 ? need + 1 : ncap * 2;
    if (b->max && ncap > b->max + 1) ncap = b->max + 1;
    np = realloc(b->p, ncap);
    if (!np) return -1;
    b->p = np;
    b->cap = ncap;
    return 0;
}

int buf_add(buf *b, const void *data, size_t n)
{
    if (buf_reserve(b, n) < 0) return -1;
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int buf_adds(buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

int buf_addc(buf *b, char c)
{
    return buf_add(b, &c, 1);
}

int buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    char small[256];

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n < sizeof small) return buf_add(b, small, (size_t)n);
    if (buf_reserve(b, (size_t)n) < 0) return -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len, i;
    uint32_t cp;

    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n) return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* Writes into esc the JSON form of a byte that cannot stand as itself (a quote, a backslash,
 * a control character, a byte of invalid UTF-8); returns its length. */
static size_t json_escape(unsigned char c, char esc[8])
{
    static const char hex[] = "0123456789abcdef";
    const char *two = c == '"'    ? "\\\""
                      : c == '\\' ? "\\\\"
                      : c == '\n' ? "\\n"
                      : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t"
                                  : NULL;

    if (two) {
        memcpy(esc, two, 2);
        return 2;
    }
    if (c < 0x20) {
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        return 6;
    }
    memcpy(esc, "\xEF\xBF\xBD", 3); /* invalid UTF-8 byte: U+FFFD */
    return 3;
}

size_t json_str_put(char *dst, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0, o = 1, l;
    char esc[8];

    if (dst) dst[0] = '"';
    while (i < n) {
        unsigned char c = u[i];

        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++, run++;
            continue;
        }
        if (c >= 0x80 && (l = utf8_len(u + i, n - i)) > 0) {
            i += l, run += l;
            continue;
        }
        if (dst && run) memcpy(dst + o, u + i - run, run);
        o += run;
        run = 0;
        l = json_escape(c, esc);
        if (dst) memcpy(dst + o, esc, l);
        o += l;
        i++;
    }
    if (dst && run) memcpy(dst + o, u + i - run, run);
    o += run;
    if (dst) dst[o] = '"';
    return o + 1;
}

int buf_add_json_str(buf *b, const char *s, size_t n)
{
    /* room for the worst case (every byte escaped) saves a counting pass; a long string is
     * counted, so that the buffer never grows far past what it holds */
    if ((n > 4096 || buf_reserve(b, 6 * n + 2) < 0) && buf_reserve(b, json_str_put(NULL, s, n)) < 0)
        return -1;
    b->len += json_str_put(b->p + b->len, s, n);
    b->p[b->len] = '\0';
    return 0;
}

int buf_add_json_cstr(buf *b, const char *s)
{
    return buf_add_json_str(b, s, strlen(s));
}

void buf_reset(buf *b)
{
    b->len = 0;
    if (b->p) b->p[0] = '\0';
}

void buf_free(buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

const char *buf_cstr(const buf *b)
{
    return b->p ? b->p : "";
}

char *buf_steal(buf *b)
{
    char *p = b->p;

    if (!p) p = calloc(1, 1);
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

int str_copy(char *dst, size_t dstlen, const char *src)
{
    size_t n = strlen(src);

    if (dstlen == 0) return -1;
    if (n >= dstlen) {
        memcpy(dst, src, dstlen - 1);
        dst[dstlen - 1] = '\0';
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

char *str_trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int str_to_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (!s || !*s) return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}
