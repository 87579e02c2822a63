/* fuzz_conf -- libFuzzer target for the config file parser (conf_load_buffer): any bytes
 * as conf/t2sql.conf. It must never crash or leak; a failure names its line, a success
 * gives a configuration whose every value is within its bounds and that prints. */
#include "conf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    conf c;
    FILE *f;

    if (conf_load_buffer((const char *)data, size, &c, err, sizeof err) < 0) {
        if (!err[0]) abort();
        return 0;
    }
    if (c.workers < 1 || c.workers > 256 || c.db_port < 1 || c.db_port > 65535 ||
        c.default_page_size > c.max_page_size || !c.db_name || !c.llm_base_url ||
        (c.guard_enabled != 0 && c.guard_enabled != 1))
        abort();
    if ((f = fopen("/dev/null", "w")) != NULL) {
        conf_print(&c, f);
        fclose(f);
    }
    conf_free(&c);
    return 0;
}
