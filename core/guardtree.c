/* guardtree -- libpg_query's JSON parse tree as a flat token array; see guardtree.h. A
 * general JSON library spent two thirds of the guard's time building objects that are read
 * once, hence this small reader of pg_query's own (trusted, well-formed) output. */
#include "guardtree.h"

#include "mem.h"

#include <stdlib.h>
#include <string.h>

static int tok_add(gtree *g, int type, const char *s)
{
    if ((g->nt == g->capt && g->capt > (1 << 28)) ||
        mem_grow(&g->t, &g->capt, g->nt, sizeof *g->t) < 0)
        return -1;
    g->t[g->nt].type = type;
    g->t[g->nt].size = 0;
    g->t[g->nt].next = g->nt + 1;
    g->t[g->nt].s = s;
    return g->nt++;
}

static int hexval(char h)
{
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
}

/* Unescapes the JSON string starting after its opening quote, in place, and NUL-terminates
 * it. Returns the position after the closing quote, NULL if the string is malformed. */
static char *jstring(char *p)
{
    char *dst = p, *src = p;
    int i, h;
    unsigned cp;

    while (*src != '"') {
        if (*src == '\0') return NULL;
        if (*src != '\\') {
            *dst++ = *src++;
            continue;
        }
        src++;
        switch (*src) {
        case '"':
        case '\\':
        case '/':
            *dst++ = *src;
            break;
        case 'b':
            *dst++ = '\b';
            break;
        case 'f':
            *dst++ = '\f';
            break;
        case 'n':
            *dst++ = '\n';
            break;
        case 'r':
            *dst++ = '\r';
            break;
        case 't':
            *dst++ = '\t';
            break;
        case 'u':
            /* \uXXXX is at least as long as its UTF-8 form (at most 3 bytes). */
            for (cp = 0, i = 1; i <= 4; i++) {
                h = hexval(src[i]);
                if (h < 0) return NULL;
                cp = cp * 16 + (unsigned)h;
            }
            src += 4;
            if (cp < 0x80) {
                *dst++ = (char)cp;
            } else if (cp < 0x800) {
                *dst++ = (char)(0xc0 | (cp >> 6));
                *dst++ = (char)(0x80 | (cp & 0x3f));
            } else {
                *dst++ = (char)(0xe0 | (cp >> 12));
                *dst++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *dst++ = (char)(0x80 | (cp & 0x3f));
            }
            break;
        default:
            return NULL;
        }
        src++;
    }
    *dst = '\0';
    return src + 1;
}

enum { X_VALUE, X_KEY_OR_END, X_VALUE_OR_END, X_KEY, X_COLON, X_AFTER };

int gtree_read(gtree *g, char *p)
{
    int stack[GUARD_TREE_DEPTH];
    int sp = 0, x = X_VALUE, idx, top;
    char ch;

    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        ch = *p;
        if (ch == '\0') break;
        top = sp ? stack[sp - 1] : -1;
        switch (ch) {
        case '{':
        case '[':
            if (x != X_VALUE && x != X_VALUE_OR_END) return -1;
            if (sp == 0 && g->nt > 0) return -1; /* a second root */
            if (sp == GUARD_TREE_DEPTH) return -2;
            idx = tok_add(g, ch == '{' ? J_OBJ : J_ARR, p);
            if (idx < 0) return -1;
            if (top >= 0 && g->t[top].type == J_ARR) g->t[top].size++;
            stack[sp++] = idx;
            x = ch == '{' ? X_KEY_OR_END : X_VALUE_OR_END;
            p++;
            break;
        case '}':
        case ']':
            if (top < 0 || g->t[top].type != (ch == '}' ? J_OBJ : J_ARR)) return -1;
            if (x != X_AFTER && x != (ch == '}' ? X_KEY_OR_END : X_VALUE_OR_END)) return -1;
            g->t[top].next = g->nt;
            sp--;
            x = X_AFTER;
            p++;
            break;
        case ',':
            if (top < 0 || x != X_AFTER) return -1;
            x = g->t[top].type == J_OBJ ? X_KEY : X_VALUE;
            p++;
            break;
        case ':':
            if (x != X_COLON) return -1;
            x = X_VALUE;
            p++;
            break;
        case '"':
            if (x == X_KEY || x == X_KEY_OR_END) {
                g->t[top].size++;
                x = X_COLON;
            } else if (x == X_VALUE || x == X_VALUE_OR_END) {
                if (sp == 0 && g->nt > 0) return -1;
                if (top >= 0 && g->t[top].type == J_ARR) g->t[top].size++;
                x = X_AFTER;
            } else {
                return -1;
            }
            if (tok_add(g, J_STR, p + 1) < 0) return -1;
            p = jstring(p + 1);
            if (!p) return -1;
            break;
        default:
            if ((x != X_VALUE && x != X_VALUE_OR_END) || (sp == 0 && g->nt > 0)) return -1;
            if (!((ch >= '0' && ch <= '9') || ch == '-' || ch == 't' || ch == 'f' || ch == 'n'))
                return -1;
            if (tok_add(g, J_PRIM, p) < 0) return -1;
            if (top >= 0 && g->t[top].type == J_ARR) g->t[top].size++;
            while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
                   *p != '\t' && *p != '\r')
                p++;
            x = X_AFTER;
            break;
        }
    }
    return (sp == 0 && g->nt > 0 && x == X_AFTER) ? 0 : -1;
}

int gtree_field(const gtree *g, int o, const char *key)
{
    int i, k;

    if (o < 0 || g->t[o].type != J_OBJ) return -1;
    for (i = o + 1, k = 0; k < g->t[o].size; k++, i = g->t[i + 1].next)
        if (strcmp(g->t[i].s, key) == 0) return i + 1;
    return -1;
}

const char *gtree_str(const gtree *g, int o, const char *key)
{
    int v = gtree_field(g, o, key);

    return v >= 0 && g->t[v].type == J_STR ? g->t[v].s : NULL;
}

const char *gtree_node(const gtree *g, int n, int *body)
{
    if (n < 0 || g->t[n].type != J_OBJ || g->t[n].size != 1) return NULL;
    *body = n + 2;
    return g->t[n + 1].s;
}

int gtree_elem(const gtree *g, int a, int i)
{
    int e, k;

    if (a < 0 || g->t[a].type != J_ARR || i >= g->t[a].size) return -1;
    for (e = a + 1, k = 0; k < i; k++)
        e = g->t[e].next;
    return e;
}

int gtree_name(const gtree *g, int list, const char **schema, const char **name, int *nparts)
{
    const char *t, *v;
    int i, e, n, body = -1;

    *schema = *name = NULL;
    *nparts = 0;
    if (list < 0 || g->t[list].type != J_ARR) return -1;
    n = g->t[list].size;
    if (n == 0 || n > 4) return -1;
    for (i = 0, e = list + 1; i < n; i++, e = g->t[e].next) {
        t = gtree_node(g, e, &body);
        v = t && strcmp(t, "String") == 0 ? gtree_str(g, body, "sval") : NULL;
        if (!v) return -1;
        if (i + 2 == n) *schema = v;
        if (i + 1 == n) *name = v;
    }
    *nparts = n;
    return 0;
}

void gtree_free(gtree *g)
{
    free(g->t);
    g->t = NULL;
    g->nt = g->capt = 0;
}
