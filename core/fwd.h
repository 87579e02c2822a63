/* fwd -- what a front end or proxy says about a request, as pure functions over strings: the
 * path prefix it leaves on (the base_path key, X-Forwarded-Prefix) and the client and scheme
 * behind it (X-Forwarded-For, X-Forwarded-Proto), made safe for a log line.
 *
 * Nothing here allocates: results point into the inputs, to a literal, or into the caller's
 * buffer. Stripping a prefix only ever maps /p/x to /x, a path any client may ask for
 * directly, so the header needs no trust. */
#ifndef T2_FWD_H
#define T2_FWD_H

#include <stddef.h>

/* The path to route: path without base_path ("/prod", normalised by conf) when it starts
 * with it as whole segments, else without fwd_prefix (X-Forwarded-Prefix, may be NULL; used
 * only when it is a plain path of at most 256 bytes, trailing '/' ignored), else path.
 * "/prod" alone becomes "/". */
const char *fwd_strip(const char *path, const char *base_path, const char *fwd_prefix);
/* Copies src into dst[len] for a log line: at most len - 1 bytes of [A-Za-z0-9.:,_[]-] and
 * spaces, anything else as '?'; "-" when src is NULL or empty. */
void fwd_log_value(char *dst, size_t len, const char *src);

#endif
