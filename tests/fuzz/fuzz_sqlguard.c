/* fuzz_sqlguard -- libFuzzer target for guard_check(): any bytes, as a C string, under the
 * default policy (public schema, allowlist on, no catalogs, the configured limits). It must
 * never crash, leak or read out of bounds, and must always explain a refusal. */
#include "sqlguard.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char s_public[] = "public";
static char *schemas[] = {s_public};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    guard_policy p = {schemas, 1, 1, 0, 65536, 32, 24};
    guard_result r;
    char *sql = malloc(size + 1);

    if (!sql) return 0;
    memcpy(sql, data, size);
    sql[size] = '\0';
    if (guard_check(sql, &p, &r) != 0 && r.why[0] == '\0') abort();
    if (r.nrels < 0 || r.nrels > GUARD_MAX_RELS) abort();
    free(sql);
    return 0;
}
