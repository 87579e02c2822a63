/* fuzz_s3xml -- libFuzzer target for S3's XML replies (s3_xml_upload_id, s3_xml_error) and
 * for the CompleteMultipartUpload body we write (s3_xml_complete_body): whatever ETags S3
 * sends back (printable UTF-8) must still make a well-formed document. */
#include "s3xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int quiet_init(void)
{
    xmlSetGenericErrorFunc(NULL, NULL);
    return 1;
}

/* Splits data on NUL into at most 4 ETags and checks the body they make. */
static void check_complete(const uint8_t *data, size_t size)
{
    s3_part parts[4];
    buf b = BUF_INIT(0);
    xmlDocPtr d;
    size_t pos = 0;
    int n = 0;

    while (pos < size && n < 4) {
        size_t l = strnlen((const char *)data + pos, size - pos);
        if (l >= S3_ETAG_MAX) l = S3_ETAG_MAX - 1;
        parts[n].number = n + 1;
        memcpy(parts[n].etag, data + pos, l);
        parts[n].etag[l] = '\0';
        n++;
        pos += l + 1;
    }
    if (s3_xml_complete_body(&b, parts, n) == 0 && b.len) {
        /* control characters other than tab/LF/CR cannot appear in XML 1.0 at all */
        int clean = 1, i;
        const char *c;
        for (i = 0; i < n; i++)
            for (c = parts[i].etag; *c; c++)
                if ((unsigned char)*c < 0x20 && *c != '\t' && *c != '\n' && *c != '\r') clean = 0;
        d = xmlReadMemory(b.p, (int)b.len, "c.xml", NULL,
                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!d && clean) {
            /* invalid UTF-8 in an ETag is the only other way to break the document */
            for (c = b.p; *c; c++)
                if ((unsigned char)*c >= 0x80) clean = 0;
            if (clean) abort();
        }
        xmlFreeDoc(d);
    }
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    char code[64], msg[256], *id = NULL;
    int rc;

    if (!inited) inited = quiet_init();
    if (s3_xml_upload_id((const char *)data, size, &id) == 0) {
        if (!id || !*id) abort();
        free(id);
    } else if (id) {
        abort();
    }
    rc = s3_xml_error((const char *)data, size, code, sizeof code, msg, sizeof msg);
    if (rc < -1 || rc > 1 || strlen(code) >= sizeof code || strlen(msg) >= sizeof msg) abort();
    check_complete(data, size);
    return 0;
}
