/* sink -- bounded output buffering; see sink.h. */
#include "sink.h"

#include <string.h>

void sink_init(sink *s, int (*write)(void *, const char *, size_t), void *ctx, size_t flush_at,
               size_t max, int hold)
{
    memset(s, 0, sizeof *s);
    s->write = write;
    s->ctx = ctx;
    s->flush_at = flush_at;
    s->b.max = max;
    s->hold = hold;
    s->peer_fd = -1;
}

int sink_flush(sink *s)
{
    if (s->failed) return -1;
    if (s->b.len == 0) return 0;
    if (s->write(s->ctx, s->b.p, s->b.len) < 0) {
        s->failed = 1;
        buf_reset(&s->b);
        return -1;
    }
    s->flushed += s->b.len;
    buf_reset(&s->b);
    return 0;
}

int sink_add(sink *s, const char *p, size_t n)
{
    if (s->failed) return -1;
    if (!s->hold && s->b.len + n > s->b.max && sink_flush(s) < 0) return -1;
    if (!s->hold && n > s->b.max) /* larger than the whole buffer: pass it straight on */
        return s->write(s->ctx, p, n) < 0 ? (s->failed = 1, -1) : (s->flushed += n, 0);
    if (buf_add(&s->b, p, n) < 0) return -1;
    if (!s->hold && s->b.len >= s->flush_at) return sink_flush(s);
    return 0;
}

int sink_adds(sink *s, const char *str)
{
    return sink_add(s, str, strlen(str));
}

void sink_free(sink *s)
{
    buf_free(&s->b);
}

int sink_mark(sink *s)
{
    if (s->failed) return -1;
    return !s->hold && s->b.len >= s->flush_at ? sink_flush(s) : 0;
}
