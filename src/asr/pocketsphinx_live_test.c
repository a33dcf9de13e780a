/* Tests of the live half of the PocketSphinx engine (pocketsphinx_live.c,
 * pocketsphinx_refine.c) against the real en-us model: a session's first
 * chunk is decoded again by a second decoder in a thread, and its words
 * must not depend on whether that decoder had caught up when the chunk
 * took it over, nor on how the samples were split into feeds. */
#include "asr/engine.h"
#include "util/buf.h"
#include "util/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int16_t *clip(const char *name, int64_t *n)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "sox '%s/%s.wav' -t raw -e signed -b 16 -c 1 -r 16000 clip.raw",
             test_data_dir(), name);
    ASSERT_EQ(system(cmd), 0);
    return test_read_samples("clip.raw", n);
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

/* A session's first chunk of x[0..n), fed `piece` samples at a time with
 * `pause_us` after each: its words, times and confidences. */
static char *first_chunk(asr_engine *e, const int16_t *x, int64_t n, int64_t piece, int pause_us)
{
    hark_err err = {0};
    asr_engine_live_reset(e);
    ASSERT_EQ(asr_engine_live_begin(e, 0, NULL, NULL, &err), 0);
    for (int64_t at = 0; at < n; at += piece) {
        int64_t k = n - at < piece ? n - at : piece;
        if (asr_engine_live_feed(e, x + at, (size_t)k, &err))
            TEST_FAIL_("feed: %s", err.msg);
        if (pause_us)
            usleep((useconds_t)pause_us);
    }
    asr_result r = {0};
    if (asr_engine_live_end(e, &r, &err))
        TEST_FAIL_("end: %s", err.msg);
    buf b;
    buf_init(&b, 1 << 16);
    for (size_t i = 0; i < r.n_words; i++)
        buf_printf(&b, "%s %.2f %.2f %.4f\n", r.words[i].text, r.words[i].start_s, r.words[i].end_s,
                   r.words[i].confidence);
    asr_result_release(&r);
    return buf_steal(&b);
}

/* Lengths on either side of the refines' take-over points (1, 2 and 3.5 s
 * of audio): fed whole (the second decoder far behind when taken over, the
 * session finishing its work), in small pieces, and paced so that it has
 * caught up: the same words every time. The sanitizer pass
 * (HARK_TEST_QUICK) takes only the longest, which goes through all three
 * take-overs. */
static void test_words_do_not_depend_on_the_refiners_pace(void)
{
    int64_t n;
    int16_t *x = clip("sense_and_sensibility_01_austen_64kb-0870", &n);
    ASSERT(n > 16000 * 6);
    asr_engine *e = engine();
    const int64_t lengths[] = {16000 * 45 / 10, 16000 * 3 / 2, 16000 * 27 / 10};
    size_t n_lengths = getenv("HARK_TEST_QUICK") ? 1 : sizeof lengths / sizeof lengths[0];
    for (size_t i = 0; i < n_lengths; i++) {
        char *whole = first_chunk(e, x, lengths[i], lengths[i], 0);
        char *small = first_chunk(e, x, lengths[i], 333, 0);
        char *paced = first_chunk(e, x, lengths[i], 1600, 40000);
        if (getenv("LIVE_PRINT"))
            fprintf(stderr, "%lld samples:\n%s", (long long)lengths[i], whole);
        ASSERT(strlen(whole) > 10);
        ASSERT_STREQ(small, whole);
        ASSERT_STREQ(paced, whole);
        free(whole);
        free(small);
        free(paced);
    }
    asr_engine_close(e);
    free(x);
}

/* A chunk dropped while its refine runs, and an engine closed while one
 * runs: the next session decodes as a fresh one, nothing hangs or leaks
 * (the sanitizer run checks the latter). */
static void test_abort_and_close_during_a_refine(void)
{
    int64_t n;
    int16_t *x = clip("sense_and_sensibility_01_austen_64kb-0870", &n);
    asr_engine *e = engine();
    char *before = first_chunk(e, x, 16000 * 4, 1600, 0);
    hark_err err = {0};
    for (int round = 0; round < 3; round++) {
        asr_engine_live_reset(e);
        ASSERT_EQ(asr_engine_live_begin(e, 0, NULL, NULL, &err), 0);
        ASSERT_EQ(asr_engine_live_feed(e, x, 16000 * (2 + round) + 800, &err), 0);
        asr_engine_live_abort(e);
    }
    char *after = first_chunk(e, x, 16000 * 4, 1600, 0);
    ASSERT_STREQ(after, before);
    asr_engine_live_reset(e);
    ASSERT_EQ(asr_engine_live_begin(e, 0, NULL, NULL, &err), 0);
    ASSERT_EQ(asr_engine_live_feed(e, x, 16000 * 3, &err), 0);
    asr_engine_close(e); /* mid-chunk, mid-refine */
    free(before);
    free(after);
    free(x);
}

int main(void)
{
    RUN(test_words_do_not_depend_on_the_refiners_pace);
    RUN(test_abort_and_close_during_a_refine);
    TEST_DONE();
}
