/* fwd -- path prefixes and forwarded-client values; see fwd.h. */
#include "fwd.h"

#include <ctype.h>
#include <string.h>

#define FWD_PREFIX_MAX 256

/* path without prefix[0..n) if it starts with it as whole segments, else NULL. */
static const char *fwd_cut(const char *path, const char *prefix, size_t n)
{
    if (n == 0 || strncmp(path, prefix, n) != 0) return NULL;
    if (path[n] == '\0') return "/";
    return path[n] == '/' ? path + n : NULL;
}

/* The length of a usable X-Forwarded-Prefix without trailing '/', or 0. */
static size_t fwd_prefix_len(const char *p)
{
    size_t n;

    if (!p || p[0] != '/') return 0;
    for (n = 0; p[n]; n++)
        if (n >= FWD_PREFIX_MAX || !(isalnum((unsigned char)p[n]) || strchr("/._~-", p[n])))
            return 0;
    while (n > 0 && p[n - 1] == '/')
        n--;
    return strstr(p, "//") || strstr(p, "/.") ? 0 : n;
}

const char *fwd_strip(const char *path, const char *base_path, const char *fwd_prefix)
{
    const char *t;

    if (base_path && (t = fwd_cut(path, base_path, strlen(base_path)))) return t;
    if ((t = fwd_cut(path, fwd_prefix, fwd_prefix_len(fwd_prefix)))) return t;
    return path;
}

void fwd_log_value(char *dst, size_t len, const char *src)
{
    size_t i = 0;

    if (len == 0) return;
    if (!src || !*src) src = "-";
    for (; *src && i + 1 < len; src++)
        dst[i++] = isalnum((unsigned char)*src) || strchr(".:,_[]- ", *src) ? *src : '?';
    dst[i] = '\0';
}
