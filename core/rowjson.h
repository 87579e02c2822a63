/* rowjson -- writes a row of PostgreSQL's text output as a JSON array, one JSON type per column
 * kind, its fields taken from a PGresult (libpq's text format) or from a row of COPY ... TO
 * STDOUT's text format (tab-separated, \N for NULL, backslash escapes), decoded exactly.
 *
 * Both sources give the same text per value (each type's output function), so a page read
 * either way is the same JSON. Owns nothing: fields point into the caller's memory, and
 * rowjson_copy_fields() decodes its line in place. */
#ifndef T2_ROWJSON_H
#define T2_ROWJSON_H

#include "buf.h"

#include <stddef.h>

/* How a column's text becomes JSON (exec.c maps type OIDs to kinds). */
enum { K_STR, K_INT, K_FLOAT, K_NUMERIC, K_BOOL, K_JSON };

/* One value's text: len bytes at v, followed by at least one readable byte (a NUL, a tab, a
 * newline); v NULL is SQL NULL. */
typedef struct rowjson_field {
    const char *v;
    size_t len;
} rowjson_field;

/* Splits the COPY text row line (len bytes, its trailing newline included or not) into nf
 * fields and decodes each in place: \N alone is NULL; \b \f \n \r \t \v are those characters,
 * \ddd an octal and \xhh a hex byte, a backslash before any other character is that
 * character (PostgreSQL's COPY FROM rules, which read what COPY TO writes). 0, or -1 when the
 * line does not hold exactly nf fields. */
int rowjson_copy_fields(char *line, size_t len, rowjson_field *f, int nf);

/* Appends [v1,...,vnf] (a comma before it when comma, a newline after it when newline), each
 * value by kinds[i]: NULL as null; an integer as is; a finite numeric or float with
 * PostgreSQL's own digits (JSON numbers carry any precision), a non-finite one (NaN,
 * Infinity) as null, or with numeric_strings every numeric value as a string; a bool as
 * true/false; json/jsonb embedded as is; anything else as a JSON string (buf_add_json_str).
 * All or nothing: 0, or -1 when it does not fit b (b unchanged). */
int rowjson_row(buf *b, const rowjson_field *f, const int *kinds, int nf, int numeric_strings,
                int comma, int newline);

#endif
