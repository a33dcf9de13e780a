/* A live session decoded in-process from the LibriVox clips: the same
 * audio read in any pieces gives the same chunks, words and stable text;
 * the stable texts add up to the final text; partials come at least once a
 * second of speech; a session resumed after its first chunks goes on as
 * the uninterrupted one did. */
#include "jobs/live_session.h"

#include "jobs/chunk_result.h"

#include "util/buf.h"
#include "util/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct feed {
    int16_t *x;
    int64_t n, pos;
    size_t piece; /* samples per read (varied by the tests) */
    unsigned seed;
} feed;

typedef struct record {
    buf chunks; /* "idx start end: words\n" per chunk */
    buf deltas; /* every delta, concatenated */
    buf text;   /* the final words, space separated */
    int64_t last_partial_at;
    int64_t max_gap; /* longest stretch of audio without a partial, inside a chunk */
    int n_partials;
    int n_chunks;
    int64_t chunk_end[64];
    int64_t chunk_start[64];
    bool words[64];
} record;

typedef struct ctx {
    feed *f;
    record *r;
} ctx;

static int64_t rd(void *c_, int16_t *out, size_t max, hark_err *err)
{
    (void)err;
    feed *f = ((ctx *)c_)->f;
    size_t want = f->piece;
    if (f->seed) { /* random piece sizes */
        f->seed = f->seed * 1103515245u + 12345u;
        want = 1 + (f->seed >> 16) % 1600;
    }
    if (want > max)
        want = max;
    if (f->pos + (int64_t)want > f->n)
        want = (size_t)(f->n - f->pos);
    memcpy(out, f->x + f->pos, want * sizeof *out);
    f->pos += (int64_t)want;
    return (int64_t)want;
}

static int on_chunk(void *c_, int idx, int64_t start, int64_t end, const asr_result *w,
                    const char *delta, double decode_s, hark_err *err)
{
    (void)decode_s;
    (void)err;
    record *r = ((ctx *)c_)->r;
    ASSERT(r->n_chunks < 64);
    /* What the daemon would commit: a well-formed result (times in order). */
    json_t *j = chunk_result_to_json(w);
    asr_result back;
    hark_err e2 = {0};
    if (chunk_result_from_json(j, &back, &e2))
        TEST_FAIL_("chunk %d: %s", idx, e2.msg);
    asr_result_release(&back);
    json_decref(j);
    buf_printf(&r->chunks, "%d %lld %lld:", idx, (long long)start, (long long)end);
    for (size_t i = 0; i < w->n_words; i++) {
        buf_printf(&r->chunks, " %s@%.2f-%.2f", w->words[i].text, w->words[i].start_s,
                   w->words[i].end_s);
        buf_printf(&r->text, "%s%s", r->text.len ? " " : "", w->words[i].text);
    }
    buf_puts(&r->chunks, "\n");
    buf_puts(&r->deltas, delta);
    r->chunk_start[r->n_chunks] = start;
    r->words[r->n_chunks] = w->n_words > 0;
    r->chunk_end[r->n_chunks++] = end;
    r->last_partial_at = -1;
    return 0;
}

static int on_partial(void *c_, int idx, int64_t start, int64_t at, const asr_result *w,
                      size_t n_stable, const char *delta, hark_err *err)
{
    (void)idx;
    (void)err;
    record *r = ((ctx *)c_)->r;
    ASSERT(n_stable <= w->n_words);
    int64_t from = r->last_partial_at >= 0 ? r->last_partial_at : start;
    if (at - from > r->max_gap)
        r->max_gap = at - from;
    r->last_partial_at = at;
    r->n_partials++;
    buf_puts(&r->deltas, delta);
    return 0;
}

static asr_engine *engine(void)
{
    asr_config c;
    asr_config_default(&c);
    asr_engine *e = NULL;
    hark_err err = {0};
    if (asr_engine_open(&c, &e, &err))
        TEST_FAIL_("%s", err.msg);
    return e;
}

/* The five clips with pauses between them, as raw samples. */
static int16_t *recording(int64_t *n)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "set -e; d='%s'; sox -n -r 16000 -c 1 -b 16 gap.wav trim 0 0.8;"
             "l=''; for f in \"$d\"/*.wav; do l=\"$l $f gap.wav\"; done;"
             "sox $l -t raw -e signed -b 16 -c 1 -r 16000 rec.raw",
             test_data_dir());
    ASSERT_EQ(system(cmd), 0);
    return test_read_samples("rec.raw", n);
}

static void run(asr_engine *e, feed *f, const live_session_opts *o, record *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->chunks, 1 << 20);
    buf_init(&r->deltas, 1 << 20);
    buf_init(&r->text, 1 << 20);
    r->last_partial_at = -1;
    ctx c = {f, r};
    live_session_io io = {.read = rd, .chunk = on_chunk, .partial = on_partial, .ctx = &c};
    hark_err err = {0};
    int64_t total = 0;
    int rc = live_session_run(e, o, &io, &total, &err);
    if (rc)
        TEST_FAIL_("live session: %s", err.msg);
    ASSERT_EQ(total, f->n);
}

static void release(record *r)
{
    buf_release(&r->chunks);
    buf_release(&r->deltas);
    buf_release(&r->text);
}

static void test_pieces_resume_and_stable_text(void)
{
    int64_t n;
    int16_t *x = recording(&n);
    asr_engine *e = engine();
    live_session_opts o = {0};
    feed f = {.x = x, .n = n, .piece = 1600};
    record a, b, c;
    run(e, &f, &o, &a);
    if (getenv("LIVE_PRINT"))
        fprintf(stderr, "%s%s\n", a.chunks.data, a.text.data);
    /* Several chunks, words in them, text that is the stable text. */
    ASSERT(a.n_chunks >= 3);
    ASSERT(a.text.len > 100);
    ASSERT_STREQ(a.deltas.data, a.text.data);
    /* Partials at least once a second of a chunk's audio. */
    ASSERT(a.n_partials > 10);
    ASSERT_LE(a.max_gap, 16000);

    /* Other pieces: 37 samples, then random sizes. */
    f = (feed){.x = x, .n = n, .piece = 37};
    run(e, &f, &o, &b);
    ASSERT_STREQ(b.chunks.data, a.chunks.data);
    ASSERT_STREQ(b.deltas.data, a.deltas.data);
    release(&b);
    f = (feed){.x = x, .n = n, .piece = 1600, .seed = 7};
    run(e, &f, &o, &b);
    ASSERT_STREQ(b.chunks.data, a.chunks.data);
    release(&b);

    /* Resumed after the first two chunks: the rest as before. */
    o.first_idx = 2;
    o.resume_end = a.chunk_end[1];
    o.seed_start = a.chunk_start[1];
    o.words_before = a.words[0] || a.words[1];
    f = (feed){.x = x, .n = n, .piece = 1600};
    run(e, &f, &o, &c);
    const char *rest = a.chunks.data;
    for (int i = 0; i < 2; i++)
        rest = strchr(rest, '\n') + 1;
    ASSERT_STREQ(c.chunks.data, rest);
    release(&c);
    release(&a);
    asr_engine_close(e);
    free(x);
}

int main(void)
{
    RUN(test_pieces_resume_and_stable_text);
    TEST_DONE();
}
