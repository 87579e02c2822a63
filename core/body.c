/* body -- JSON request bodies and request text; see body.h.
 *
 * json-c 0.16 parses the structure, in JSON_TOKENER_STRICT mode (which refuses single quotes,
 * comments, trailing commas, unquoted keys, hex numbers, 012 and True). What that mode still
 * takes -- NaN, Infinity and -Infinity, "1." and "1e", 00 and -01, raw control characters in
 * strings, overlong or surrogate UTF-8, an unpaired \uD800 (made U+FFFD), \u0000, and a
 * repeated key (the last one kept) -- body_scan() refuses first, on the bytes. */
#include "body.h"

#include "buf.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define STR_(x) #x
#define STR(x)  STR_(x)

static const char NOT_UTF8[] = "the body is not valid UTF-8",
                  SURROGATE[] = "a string holds an unpaired surrogate escape";

static int hex4(const unsigned char *p, unsigned *out)
{
    int i;

    for (*out = 0, i = 0; i < 4; i++) {
        unsigned char h = p[i];
        unsigned v = h >= '0' && h <= '9'   ? (unsigned)(h - '0')
                     : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
                     : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10)
                                            : 16;
        if (v == 16) return -1;
        *out = *out * 16 + v;
    }
    return 0;
}

/* The string whose opening quote is at u[*i]; *i ends after the closing quote. */
static const char *scan_string(const unsigned char *u, size_t n, size_t *i)
{
    size_t k = *i + 1, l;
    unsigned cp, lo;

    while (k < n && u[k] != '"') {
        if (u[k] < 0x20) return "a control character must be escaped inside a string";
        if (u[k] >= 0x80) {
            if ((l = utf8_len(u + k, n - k)) == 0) return NOT_UTF8;
            k += l;
            continue;
        }
        if (u[k++] != '\\') continue;
        if (k < n && u[k] && strchr("\"\\/bfnrt", u[k])) {
            k++;
            continue;
        }
        if (k + 5 > n || u[k] != 'u' || hex4(u + k + 1, &cp) < 0)
            return "a string holds an invalid escape";
        k += 5;
        if (cp == 0)
            return "a string holds \\u0000, which no field (and no PostgreSQL text) accepts";
        if (cp >= 0xDC00 && cp <= 0xDFFF) return SURROGATE;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (k + 6 > n || u[k] != '\\' || u[k + 1] != 'u' || hex4(u + k + 2, &lo) < 0 ||
                lo < 0xDC00 || lo > 0xDFFF)
                return SURROGATE;
            k += 6;
        }
    }
    if (k >= n) return "a string is not terminated";
    *i = k + 1;
    return NULL;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* A number as RFC 8259 writes it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?. */
static const char *scan_number(const unsigned char *u, size_t n, size_t *i)
{
    size_t k = *i;

    if (u[k] == '-') k++;
    if (k >= n || !is_digit(u[k])) return "a number must start with a digit (no NaN or Infinity)";
    if (u[k] == '0' && k + 1 < n && is_digit(u[k + 1])) return "a number has a leading zero";
    while (k < n && is_digit(u[k]))
        k++;
    if (k < n && u[k] == '.') {
        if (++k >= n || !is_digit(u[k])) return "a number needs digits after its decimal point";
        while (k < n && is_digit(u[k]))
            k++;
    }
    if (k < n && (u[k] == 'e' || u[k] == 'E')) {
        if (++k < n && (u[k] == '+' || u[k] == '-')) k++;
        if (k >= n || !is_digit(u[k])) return "a number needs digits in its exponent";
        while (k < n && is_digit(u[k]))
            k++;
    }
    if (k < n && (u[k] == 'x' || u[k] == 'X' || u[k] == '.' || u[k] == '_' ||
                  (u[k] >= 'a' && u[k] <= 'z') || (u[k] >= 'A' && u[k] <= 'Z')))
        return "a number is followed by letters (hex and other forms are not JSON)";
    *i = k;
    return NULL;
}

/* Checks p[0..n) token by token: outside strings only blanks, structural characters, strict
 * numbers and true/false/null; strings as scan_string() wants them; arrays and objects
 * nested at most BODY_MAX_DEPTH deep. *members counts the object members (the colons
 * outside strings). NULL, or the reason with *at its offset; when the reason is text that is
 * not Unicode (invalid UTF-8, an unpaired surrogate escape) in the string value of a
 * top-level member, field[0..fieldlen) gets its key: a field the client sent wrongly (422),
 * not a body that is not JSON. */
static const char *body_scan(const char *p, size_t n, long *members, size_t *at, char *field,
                             size_t fieldlen)
{
    const unsigned char *u = (const unsigned char *)p;
    static const char *const words[] = {"true", "false", "null"};
    const char *why = NULL;
    size_t i = 0, w, len, key = 0, keylen = 0;
    int depth = 0, value = 0; /* value: the last token was a top-level member's colon */

    *members = 0;
    field[0] = '\0';
    while (i < n && !why) {
        *at = i;
        if (!strchr(" \t\n\r:", u[i])) value = value && u[i] == '"';
        switch (u[i]) {
        case '{':
        case '[':
            if (++depth > BODY_MAX_DEPTH)
                why = "arrays and objects nest deeper than " STR(BODY_MAX_DEPTH) " levels";
            i++;
            break;
        case '}':
        case ']':
            depth--;
            i++;
            break;
        case ' ':
        case '\t':
        case '\n':
        case '\r':
        case ',':
            i++;
            break;
        case ':':
            (*members)++, i++;
            value = depth == 1;
            break;
        case '"':
            w = i;
            why = scan_string(u, n, &i);
            if ((why == NOT_UTF8 || why == SURROGATE) && value && keylen < fieldlen)
                str_copy(field, keylen + 1, p + key);
            else if (!why && depth == 1 && !value)
                key = w + 1, keylen = i - w - 2; /* maybe a key: its colon comes next */
            value = 0;
            break;
        case '\'':
            why = "strings and keys take double quotes, not single quotes";
            break;
        case '/':
            why = "comments are not JSON";
            break;
        default:
            if (u[i] == '-' || is_digit(u[i])) {
                why = scan_number(u, n, &i);
                break;
            }
            for (w = 0; w < 3; w++) {
                len = strlen(words[w]);
                if (n - i >= len && memcmp(u + i, words[w], len) == 0 &&
                    (n - i == len || !((u[i + len] | 0x20) >= 'a' && (u[i + len] | 0x20) <= 'z')))
                    break;
            }
            if (w < 3)
                i += strlen(words[w]);
            else if ((u[i] | 0x20) >= 'a' && (u[i] | 0x20) <= 'z')
                why = "a bare word (an unquoted key, NaN, Infinity, True ...) is not JSON";
            else if (u[i] >= 0x80)
                why = u[i] == 0xEF && n - i >= 3 && u[i + 1] == 0xBB && u[i + 2] == 0xBF
                          ? "a byte order mark is only allowed at the start"
                          : "non-ASCII bytes outside a string";
            else
                why = "an unexpected character";
        }
    }
    return why;
}

/* Members in the objects of j and everything inside it. */
static long count_members(json_object *j)
{
    long n = 0;
    size_t i, len;

    if (json_object_is_type(j, json_type_object)) {
        json_object_object_foreach(j, key, val)
        {
            (void)key;
            n += 1 + count_members(val);
        }
    } else if (json_object_is_type(j, json_type_array)) {
        len = json_object_array_length(j);
        for (i = 0; i < len; i++)
            n += count_members(json_object_array_get_idx(j, i));
    }
    return n;
}

int body_parse(const char *p, size_t n, json_object **out, t2err *err)
{
    json_tokener *tok;
    enum json_tokener_error jerr;
    json_object *j;
    const char *why;
    size_t at = 0;
    long members;
    char field[64];

    *out = NULL;
    if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) /* RFC 8259 8.1: a BOM may be ignored */
        p += 3, n -= 3;
    if (n == 0)
        return err_set(err, E_BAD_JSON, "the request body is empty; a JSON object is expected");
    if (n >= (size_t)INT_MAX) return err_set(err, E_TOO_LARGE, "the request body is too large");
    if ((why = body_scan(p, n, &members, &at, field, sizeof field)) != NULL) {
        if (field[0] && body_text("field", field, strlen(field), err) == 0)
            return err_field(err, field, "%s is not valid UTF-8 (at byte %zu)", field, at);
        return err_set(err, E_BAD_JSON, "the request body is not valid JSON: %s (at byte %zu)", why,
                       at);
    }
    tok = json_tokener_new_ex(BODY_MAX_DEPTH + 2); /* the scan bounds the depth */
    if (!tok) return err_set(err, E_INTERNAL, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    /* the NUL after the body is passed too: it ends a top-level number or literal */
    j = json_tokener_parse_ex(tok, p, (int)n + 1);
    jerr = json_tokener_get_error(tok);
    if (jerr == json_tokener_success && (size_t)json_tokener_get_parse_end(tok) < n) {
        const char *rest = p + json_tokener_get_parse_end(tok);
        while (*rest && strchr(" \t\r\n", *rest))
            rest++;
        if (*rest) jerr = json_tokener_error_parse_unexpected;
    }
    json_tokener_free(tok);
    if (jerr == json_tokener_success && !j) /* the literal null */
        return err_field(err, "body", "the request body must be a JSON object");
    if (jerr != json_tokener_success) {
        json_object_put(j);
        return err_set(err, E_BAD_JSON, "the request body is not valid JSON: %s",
                       jerr == json_tokener_continue ? "unexpected end of input"
                                                     : json_tokener_error_desc(jerr));
    }
    if (count_members(j) != members) {
        json_object_put(j);
        return err_set(err, E_BAD_JSON,
                       "the request body is not valid JSON: an object repeats a key");
    }
    if (!json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        return err_field(err, "body", "the request body must be a JSON object");
    }
    *out = j;
    return 0;
}

int body_text(const char *field, const char *s, size_t n, t2err *err)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, l;

    while (i < n) {
        if ((l = utf8_len(u + i, n - i)) == 0)
            return err_field(err, field, "%s is not valid UTF-8", field);
        if ((u[i] < 0x20 && u[i] != '\t' && u[i] != '\n' && u[i] != '\r') || u[i] == 0x7F ||
            (u[i] == 0xC2 && u[i + 1] >= 0x80 && u[i + 1] <= 0x9F))
            return err_field(err, field,
                             "%s holds a control character (U+%04X at byte %zu); only tab, "
                             "line feed and carriage return are accepted",
                             field, (unsigned)(l == 1 ? u[i] : u[i + 1]), i);
        i += l;
    }
    return 0;
}

const char *body_str(json_object *o, const char *k)
{
    json_object *v;

    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}
