/* buf -- growable byte buffers with a hard maximum, and JSON string escaping.
 *
 * A buf owns its storage: buf_free() releases it, buf_steal() hands it to the caller (who
 * then frees it with free()). An append that would pass `max` fails with -1 and leaves the
 * buffer as it was, so a caller can never be pushed past its memory budget by input. */
#ifndef T2_BUF_H
#define T2_BUF_H

#include <stddef.h>

typedef struct buf {
    char *p;    /* NUL-terminated whenever p != NULL */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* hard limit on len; 0 = no limit */
} buf;

#define BUF_INIT(m)                                                                                \
    {                                                                                              \
        NULL, 0, 0, (m)                                                                            \
    }

int buf_add(buf *b, const void *data, size_t n);
int buf_adds(buf *b, const char *s);
int buf_addc(buf *b, char c);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s[0..n) as a quoted JSON string; invalid UTF-8 bytes become U+FFFD. Like every
 * append, all or nothing: on -1 the buffer is as it was. */
int buf_add_json_str(buf *b, const char *s, size_t n);
int buf_add_json_cstr(buf *b, const char *s);
/* Writes s[0..n) as buf_add_json_str() does into dst, which has room for it (6 * n + 2 bytes
 * always suffice), without a NUL; returns its length. dst NULL only counts. */
size_t json_str_put(char *dst, const char *s, size_t n);
/* Makes room for extra more bytes (and the NUL) past len: 0, or -1 past max. */
int buf_reserve(buf *b, size_t extra);
/* The flags every json-c document the service writes is serialised with: compact, and "/"
 * written as itself like buf_add_json_str() does (json-c escapes it as "\/" by default). */
#define T2_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
/* Keeps the allocation, forgets the content. */
void buf_reset(buf *b);
void buf_free(buf *b);
/* Always a valid C string ("" for an empty buffer). Owned by b. */
const char *buf_cstr(const buf *b);
/* Returns the storage (caller frees; never NULL on success) and empties b. */
char *buf_steal(buf *b);

/* Length of the UTF-8 sequence at s[0..n) (1..4; 1 for ASCII), or 0 if it is not valid
 * UTF-8 (truncated, overlong, a surrogate, past U+10FFFF). n must be at least 1. */
size_t utf8_len(const unsigned char *s, size_t n);
/* Bounded string copy: always NUL-terminates, returns -1 if truncated. */
int str_copy(char *dst, size_t dstlen, const char *src);
/* Strips leading and trailing white space in place; returns the first kept byte. */
char *str_trim(char *s);
/* Parses a whole base-10 integer; -1 on junk, overflow or out of [min,max]. */
int str_to_long(const char *s, long min, long max, long *out);

#endif
