/* body -- JSON request bodies; see body.h. */
#include "body.h"

#include <limits.h>
#include <string.h>

int body_parse(const char *p, size_t n, json_object **out, t2err *err)
{
    json_tokener *tok;
    enum json_tokener_error jerr;
    json_object *j;

    *out = NULL;
    if (n == 0)
        return err_set(err, E_BAD_JSON, "the request body is empty; a JSON object is expected");
    if (n >= (size_t)INT_MAX) return err_set(err, E_TOO_LARGE, "the request body is too large");
    tok = json_tokener_new_ex(BODY_MAX_DEPTH);
    if (!tok) return err_set(err, E_INTERNAL, "out of memory");
    /* the NUL after the body is passed too: it ends a top-level number or literal */
    j = json_tokener_parse_ex(tok, p, (int)n + 1);
    jerr = json_tokener_get_error(tok);
    if (memchr(p, '\0', n)) jerr = json_tokener_error_parse_unexpected;
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
    if (!json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        return err_field(err, "body", "the request body must be a JSON object");
    }
    *out = j;
    return 0;
}
