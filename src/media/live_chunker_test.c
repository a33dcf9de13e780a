/* The online chunker on made-up audio: bursts of "speech" (noise well over
 * a quiet floor) with pauses of chosen lengths. Cuts fall inside pauses,
 * chunks keep the planner's bounds, long pauses are skipped, speech with
 * no pause is cut at max_s, the safe point never passes a later cut, and
 * the same samples pushed in other pieces give the same cuts. */
#include "media/live_chunker.h"

#include "util/test.h"

#include <stdlib.h>
#include <string.h>

#define RATE 16000

typedef struct audio {
    int16_t *x;
    int64_t n, cap;
    unsigned seed;
} audio;

static void add(audio *a, double secs, int amp)
{
    int64_t k = (int64_t)(secs * RATE);
    if (a->n + k > a->cap) {
        a->cap = (a->n + k) * 2;
        a->x = realloc(a->x, (size_t)a->cap * sizeof *a->x);
        ASSERT(a->x != NULL);
    }
    for (int64_t i = 0; i < k; i++) {
        a->seed = a->seed * 1103515245u + 12345u;
        int r = (int)((a->seed >> 16) % 2001) - 1000; /* -1000..1000 */
        a->x[a->n++] = (int16_t)(r * amp / 1000);
    }
}

typedef struct cuts {
    live_cut c[256];
    int n;
    int64_t max_safe_overrun; /* how far a cut fell behind the safe point (must be <= 0) */
} cuts;

static void run(const audio *a, size_t piece, cuts *out)
{
    live_chunker ch;
    live_chunker_init(&ch, NULL);
    memset(out, 0, sizeof *out);
    int64_t safe = 0;
    for (int64_t at = 0; at < a->n;) {
        size_t k = a->n - at < (int64_t)piece ? (size_t)(a->n - at) : piece;
        live_chunker_push(&ch, a->x + at, k);
        at += (int64_t)k;
        live_cut c;
        while (live_chunker_next(&ch, &c)) {
            ASSERT(out->n < 256);
            if (c.kind == LIVE_CUT_CLOSE && safe - c.at > out->max_safe_overrun)
                out->max_safe_overrun = safe - c.at;
            out->c[out->n++] = c;
        }
        ASSERT_LE(live_chunker_safe(&ch), at);
        safe = live_chunker_safe(&ch);
    }
    live_chunker_finish(&ch, a->n);
    live_cut c;
    while (live_chunker_next(&ch, &c))
        out->c[out->n++] = c;
}

static void test_cuts_in_pauses_and_bounds(void)
{
    audio a = {.seed = 1};
    add(&a, 1.0, 20); /* quiet lead-in */
    /* 3 s of speech in 0.5 s words with 0.15 s gaps, then a 0.5 s pause: x 6 */
    for (int s = 0; s < 6; s++) {
        for (int w = 0; w < 6; w++) {
            add(&a, 0.5, 8000);
            add(&a, 0.15, 20);
        }
        add(&a, 0.5, 20);
    }
    add(&a, 4.0, 20); /* a long pause: skipped */
    add(&a, 2.0, 8000);
    add(&a, 1.0, 20);
    cuts c;
    run(&a, 1600, &c);
    ASSERT(c.n >= 6);
    ASSERT_EQ(c.max_safe_overrun, 0);
    int64_t prev_end = 0;
    int chunks = 0;
    for (int i = 0; i + 1 < c.n; i += 2) {
        ASSERT_EQ(c.c[i].kind, LIVE_CUT_OPEN);
        ASSERT_EQ(c.c[i + 1].kind, LIVE_CUT_CLOSE);
        int64_t s = c.c[i].at, e = c.c[i + 1].at;
        ASSERT(s >= prev_end);
        ASSERT(e > s);
        ASSERT_LE(e - s, 30 * RATE);
        /* every cut is in quiet audio: the 10 ms at the cut are quiet */
        for (int64_t k = e - 80; k < e + 80 && k < a.n; k++)
            ASSERT_LE(abs(a.x[k]), 20);
        prev_end = e;
        chunks++;
    }
    /* The first chunk opens in the lead-in, a pad before the speech. */
    ASSERT(c.c[0].at >= (int64_t)(0.7 * RATE) && c.c[0].at <= RATE);
    /* The long pause is skipped: no chunk covers its middle. */
    int64_t mid = (int64_t)((1.0 + 6 * (6 * 0.65 + 0.5) + 2.0) * RATE);
    for (int i = 0; i + 1 < c.n; i += 2)
        ASSERT(!(c.c[i].at <= mid && c.c[i + 1].at > mid));
    /* The 3.9 s groups merge to at least min_s (5 s) of speech a chunk. */
    ASSERT(chunks >= 3 && chunks <= 6);

    /* The same cuts whatever the pieces. */
    cuts d;
    size_t pieces[] = {1, 37, 160, 1600};
    for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
        run(&a, pieces[p], &d);
        ASSERT_EQ(d.n, c.n);
        for (int i = 0; i < c.n; i++) {
            ASSERT_EQ(d.c[i].kind, c.c[i].kind);
            ASSERT_EQ(d.c[i].at, c.c[i].at);
        }
    }
    free(a.x);
}

static void test_no_pause_is_cut_at_max(void)
{
    audio a = {.seed = 2};
    add(&a, 0.5, 20);
    for (int i = 0; i < 130; i++) { /* 70 s of syllables with no pause of 0.1 s */
        add(&a, 0.5, 8000);
        add(&a, 0.04, 1000);
    }
    add(&a, 0.5, 20);
    cuts c;
    run(&a, 1600, &c);
    ASSERT_EQ(c.max_safe_overrun, 0);
    int closes = 0;
    for (int i = 0; i < c.n; i++) {
        if (c.c[i].kind != LIVE_CUT_CLOSE)
            continue;
        closes++;
        ASSERT(i > 0 && c.c[i - 1].kind == LIVE_CUT_OPEN);
        ASSERT_LE(c.c[i].at - c.c[i - 1].at, 30 * RATE);
    }
    ASSERT(closes >= 3); /* 70 s in chunks of at most 30 */
    free(a.x);
}

static void test_silence_makes_no_chunk(void)
{
    audio a = {.seed = 3};
    add(&a, 10.0, 20);
    cuts c;
    run(&a, 1600, &c);
    ASSERT_EQ(c.n, 0);
    free(a.x);
}

int main(void)
{
    RUN(test_cuts_in_pauses_and_bounds);
    RUN(test_no_pause_is_cut_at_max);
    RUN(test_silence_makes_no_chunk);
    TEST_DONE();
}
