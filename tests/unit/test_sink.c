/* test_sink -- bounded output buffering: flush thresholds, hold mode, pass-through of large
 * chunks, failure of the peer, and the flushed counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "sink.h"

/* The peer: records every write; fails from call number fail_at on (0 = never). */
typedef struct peer {
    buf out;
    int calls, fail_at;
    size_t sizes[64];
} peer;

static int peer_write(void *ctx, const char *p, size_t n)
{
    peer *w = ctx;

    w->calls++;
    if (w->fail_at && w->calls >= w->fail_at) return -1;
    if (w->calls <= 64) w->sizes[w->calls - 1] = n;
    return buf_add(&w->out, p, n);
}

/* Each test's peer and sink, freed by teardown. */
typedef struct fx {
    peer w;
    sink s;
} fx;

static int setup(void **state)
{
    static fx f;

    memset(&f, 0, sizeof f);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    sink_free(&f->s);
    buf_free(&f->w.out);
    return 0;
}

/* The fixture's sink over a peer failing from call fail_at on (0: never). */
static sink *open_sink(void **state, int fail_at, size_t flush_at, size_t max, int hold)
{
    fx *f = *state;

    f->w.fail_at = fail_at;
    sink_init(&f->s, peer_write, &f->w, flush_at, max, hold);
    return &f->s;
}

static void test_flush_threshold(void **state)
{
    peer *w = &((fx *)*state)->w;
    sink *s;

    s = open_sink(state, 0, 10, 100, 0);
    assert_int_equal(sink_adds(s, "12345"), 0);
    assert_int_equal(w->calls, 0); /* below flush_at: kept */
    assert_int_equal(sink_adds(s, "6789"), 0);
    assert_int_equal(w->calls, 0);
    assert_int_equal(s->b.len, 9);
    assert_int_equal(sink_adds(s, "0"), 0); /* reaches flush_at: handed on */
    assert_int_equal(w->calls, 1);
    assert_int_equal(w->sizes[0], 10);
    assert_int_equal(s->b.len, 0);
    assert_int_equal(s->flushed, 10);
    assert_int_equal(sink_adds(s, "abc"), 0);
    assert_int_equal(sink_flush(s), 0); /* explicit flush hands on the rest */
    assert_int_equal(w->calls, 2);
    assert_int_equal(sink_flush(s), 0); /* nothing buffered: no empty write */
    assert_int_equal(w->calls, 2);
    assert_int_equal(s->flushed, 13);
    assert_string_equal(buf_cstr(&w->out), "1234567890abc");
    assert_int_equal(s->failed, 0);
}

static void test_overflow_flushes_first(void **state)
{
    peer *w = &((fx *)*state)->w;
    sink *s;

    s = open_sink(state, 0, 100, 16, 0); /* max below flush_at */
    assert_int_equal(sink_adds(s, "0123456789"), 0);
    assert_int_equal(w->calls, 0);
    assert_int_equal(sink_adds(s, "abcdefghij"), 0); /* 20 > 16: flush, then buffer */
    assert_int_equal(w->calls, 1);
    assert_int_equal(w->sizes[0], 10);
    assert_int_equal(s->b.len, 10);
    assert_int_equal(sink_flush(s), 0);
    assert_string_equal(buf_cstr(&w->out), "0123456789abcdefghij");
    assert_int_equal(s->flushed, 20);
}

static void test_large_chunk_passes_through(void **state)
{
    peer *w = &((fx *)*state)->w;
    sink *s;
    char big[100];

    memset(big, 'Z', sizeof big);
    s = open_sink(state, 0, 8, 16, 0);
    assert_int_equal(sink_adds(s, "abc"), 0);
    assert_int_equal(sink_add(s, big, sizeof big), 0);
    assert_int_equal(w->calls, 2); /* the buffered "abc" first, then the chunk itself */
    assert_int_equal(w->sizes[0], 3);
    assert_int_equal(w->sizes[1], 100);
    assert_int_equal(s->b.len, 0);
    assert_true(s->b.cap <= 17); /* never buffered */
    assert_int_equal(s->flushed, 103);
    assert_memory_equal(w->out.p, "abc", 3);
    assert_memory_equal(w->out.p + 3, big, sizeof big);
}

static void test_hold(void **state)
{
    peer *w = &((fx *)*state)->w;
    sink *s;
    char big[40];
    int i;

    memset(big, 'h', sizeof big);
    s = open_sink(state, 0, 4, 100, 1);
    for (i = 0; i < 2; i++)
        assert_int_equal(sink_add(s, big, sizeof big), 0); /* past flush_at: still held */
    assert_int_equal(buf_adds(&s->b, "xy"), 0);
    assert_int_equal(sink_mark(s), 0);
    assert_int_equal(w->calls, 0);
    assert_int_equal(s->b.len, 82);
    assert_int_equal(sink_add(s, big, 19), -1); /* 101 > max: refused, not failed */
    assert_int_equal(s->b.len, 82);
    assert_int_equal(s->failed, 0);
    assert_int_equal(w->calls, 0);
    assert_int_equal(sink_adds(s, "0123456789abcdefgh"), 0); /* exactly max */
    assert_int_equal(sink_flush(s), 0);
    assert_int_equal(w->calls, 1); /* all of it in one write */
    assert_int_equal(w->sizes[0], 100);
    assert_int_equal(s->flushed, 100);
}

static void test_mark(void **state)
{
    peer *w = &((fx *)*state)->w;
    sink *s;

    s = open_sink(state, 0, 6, 64, 0);
    assert_int_equal(buf_adds(&s->b, "[1,2]"), 0); /* a row written straight into the buffer */
    assert_int_equal(sink_mark(s), 0);
    assert_int_equal(w->calls, 0);
    assert_int_equal(buf_adds(&s->b, ",[3]"), 0);
    assert_int_equal(sink_mark(s), 0);
    assert_int_equal(w->calls, 1);
    assert_string_equal(buf_cstr(&w->out), "[1,2],[3]");
    assert_int_equal(s->flushed, 9);
}

static void test_failed_peer(void **state)
{
    static const struct {
        size_t flush_at, max;
        int hold;
        const char *first; /* what triggers the first (failing) write */
    } cases[] = {
        {4, 64, 0, "0123"},         /* threshold flush */
        {64, 8, 0, "0123456789ab"}, /* pass-through of a chunk larger than max */
        {64, 64, 1, "0123"},        /* the final flush of held output */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        peer w = {BUF_INIT(0), 0, 1, {0}};
        sink s;
        sink_init(&s, peer_write, &w, cases[i].flush_at, cases[i].max, cases[i].hold);
        if (cases[i].hold) {
            assert_int_equal(sink_adds(&s, cases[i].first), 0);
            assert_int_equal(sink_flush(&s), -1);
        } else {
            assert_int_equal(sink_adds(&s, cases[i].first), -1);
        }
        assert_int_equal(s.failed, 1);
        assert_int_equal(s.b.len, 0); /* dropped: the peer is gone */
        assert_int_equal(s.flushed, 0);
        assert_int_equal(w.calls, 1);
        /* everything later fails without bothering the peer again */
        assert_int_equal(sink_adds(&s, "x"), -1);
        assert_int_equal(sink_flush(&s), -1);
        assert_int_equal(buf_adds(&s.b, "row"), 0);
        assert_int_equal(sink_mark(&s), -1);
        assert_int_equal(w.calls, 1);
        sink_free(&s);
        buf_free(&w.out);
    }
}

static void test_fail_later(void **state)
{
    peer *w = &((fx *)*state)->w;
    sink *s;

    s = open_sink(state, 3, 4, 64, 0);
    assert_int_equal(sink_adds(s, "aaaa"), 0);
    assert_int_equal(sink_adds(s, "bbbb"), 0);
    assert_int_equal(s->flushed, 8);
    assert_int_equal(sink_adds(s, "cccc"), -1); /* the third write fails */
    assert_int_equal(s->failed, 1);
    assert_int_equal(s->flushed, 8); /* counts only what the peer took */
    assert_string_equal(buf_cstr(&w->out), "aaaabbbb");
}

T2_UNIT_MAIN(NULL, NULL, cmocka_unit_test_setup_teardown(test_flush_threshold, setup, teardown),
             cmocka_unit_test_setup_teardown(test_overflow_flushes_first, setup, teardown),
             cmocka_unit_test_setup_teardown(test_large_chunk_passes_through, setup, teardown),
             cmocka_unit_test_setup_teardown(test_hold, setup, teardown),
             cmocka_unit_test_setup_teardown(test_mark, setup, teardown),
             cmocka_unit_test(test_failed_peer),
             cmocka_unit_test_setup_teardown(test_fail_later, setup, teardown))
