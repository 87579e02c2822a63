/* s3xml -- S3's XML replies read with libxml2, and the CompleteMultipartUpload body; see
 * s3xml.h. Knows nothing of HTTP. */
#include "s3xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t s3xml_once = PTHREAD_ONCE_INIT;

static void s3xml_global_init(void)
{
    xmlInitParser();
}

/* The parsed document (the caller frees it with xmlFreeDoc), or NULL: not XML, empty or
 * over S3_XML_MAX. Never fetches anything (XML_PARSE_NONET). */
static xmlDocPtr s3_xml_read(const char *xml, size_t len)
{
    pthread_once(&s3xml_once, s3xml_global_init);
    if (!xml || len == 0 || len > S3_XML_MAX) return NULL;
    return xmlReadMemory(xml, (int)len, "s3.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

/* First element named name (local name, any namespace) in document order under n. */
static xmlNodePtr s3_xml_find(xmlNodePtr n, const char *name)
{
    for (; n; n = n->next) {
        xmlNodePtr hit;
        if (n->type != XML_ELEMENT_NODE) continue;
        if (strcmp((const char *)n->name, name) == 0) return n;
        if ((hit = s3_xml_find(n->children, name)) != NULL) return hit;
    }
    return NULL;
}

static void s3_xml_text(xmlNodePtr n, char *dst, size_t len)
{
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;

    snprintf(dst, len, "%s", t ? (const char *)t : "");
    xmlFree(t);
}

int s3_xml_upload_id(const char *xml, size_t len, char **out)
{
    xmlDocPtr d = s3_xml_read(xml, len);
    xmlNodePtr n;
    xmlChar *t = NULL;
    int rc = -1;

    *out = NULL;
    if (!d) return -1;
    if ((n = s3_xml_find(xmlDocGetRootElement(d), "UploadId")) && (t = xmlNodeGetContent(n)) &&
        *t && (*out = strdup((const char *)t)))
        rc = 0;
    xmlFree(t);
    xmlFreeDoc(d);
    return rc;
}

int s3_xml_error(const char *xml, size_t len, char *code, size_t codelen, char *msg, size_t msglen)
{
    xmlDocPtr d;
    xmlNodePtr root;
    int rc = 0;

    if (codelen) code[0] = '\0';
    if (msglen) msg[0] = '\0';
    if (!(d = s3_xml_read(xml, len))) return -1;
    root = xmlDocGetRootElement(d);
    if (root && strcmp((const char *)root->name, "Error") == 0) {
        s3_xml_text(s3_xml_find(root->children, "Code"), code, codelen);
        s3_xml_text(s3_xml_find(root->children, "Message"), msg, msglen);
        rc = 1;
    }
    xmlFreeDoc(d);
    return rc;
}

static int xml_escape(buf *out, const char *s)
{
    for (; *s; s++) {
        const char *e = *s == '&'    ? "&amp;"
                        : *s == '<'  ? "&lt;"
                        : *s == '>'  ? "&gt;"
                        : *s == '"'  ? "&quot;"
                        : *s == '\'' ? "&apos;"
                                     : NULL;
        if (e ? buf_adds(out, e) < 0 : buf_addc(out, *s) < 0) return -1;
    }
    return 0;
}

int s3_xml_complete_body(buf *out, const s3_part *parts, int n)
{
    int i;

    if (buf_adds(out, "<CompleteMultipartUpload "
                      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">") < 0)
        return -1;
    for (i = 0; i < n; i++)
        if (buf_printf(out, "<Part><PartNumber>%d</PartNumber><ETag>", parts[i].number) < 0 ||
            xml_escape(out, parts[i].etag) < 0 || buf_adds(out, "</ETag></Part>") < 0)
            return -1;
    return buf_adds(out, "</CompleteMultipartUpload>");
}
