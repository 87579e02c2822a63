/* fuzz_body -- libFuzzer target for body_parse(): any bytes as a request body. It must
 * never crash or leak; on success the result is an object that serialises and parses
 * back; on failure nothing is returned and the error says why. */
#include "body.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = malloc(size + 1);
    json_object *j = NULL, *again = NULL;
    t2err e;

    if (!p) return 0;
    memcpy(p, data, size);
    p[size] = '\0'; /* as req_json's buffer */
    memset(&e, 0, sizeof e);
    if (body_parse(p, size, &j, &e) == 0) {
        const char *s;
        size_t n;
        if (!j || !json_object_is_type(j, json_type_object)) abort();
        s = json_object_to_json_string_length(j, JSON_C_TO_STRING_PLAIN, &n);
        if (body_parse(s, n, &again, &e) != 0) abort(); /* what we accept, we can write back */
        json_object_put(again);
        json_object_put(j);
    } else if (j || !e.detail[0] ||
               (e.code != E_BAD_JSON && e.code != E_VALIDATION && e.code != E_TOO_LARGE)) {
        abort();
    }
    free(p);
    return 0;
}
