/* sink -- a bounded output buffer in front of a write callback (the FastCGI stream, a test
 * buffer). Output accumulates up to flush_at bytes and is then handed on, so memory stays
 * flat however much is written. With hold set nothing is handed on until sink_flush(), for
 * responses that need a Content-Length.
 *
 * The sink owns b; sink_free() releases it. After a failed write the sink drops everything
 * and sets failed: the peer is gone. */
#ifndef T2_SINK_H
#define T2_SINK_H

#include "buf.h"

typedef struct sink {
    int (*write)(void *ctx, const char *p, size_t n); /* 0 ok, -1 peer gone */
    void *ctx;
    buf b;
    size_t flush_at;
    size_t flushed; /* bytes handed to write() so far */
    int hold;       /* keep everything until sink_flush() */
    int failed;
    long rows;   /* rows written by the producer (exec_page counts them), for the logs */
    int peer_fd; /* the peer's socket, watched for a hang-up while the producer waits
                  * (exec_page waiting on PostgreSQL); -1 (sink_init's default) = none */
} sink;

void sink_init(sink *s, int (*write)(void *, const char *, size_t), void *ctx, size_t flush_at,
               size_t max, int hold);
/* Append; flushes when the buffer passes flush_at (unless hold). -1 if the peer is gone or
 * the buffer limit was hit (held output past max). */
int sink_add(sink *s, const char *p, size_t n);
int sink_adds(sink *s, const char *str);
/* Hands everything buffered on now. */
int sink_flush(sink *s);
void sink_free(sink *s);
/* After writing a unit (a row) straight into s->b: flushes if past flush_at. */
int sink_mark(sink *s);

#endif
