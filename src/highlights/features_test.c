#include "highlights/features.h"

#include "util/test.h"

#include <stdint.h>

/* A deterministic test signal: narration-like noise bursts, a tone, a loud
 * bright noise burst, digital silence and near-silence, so every feature and
 * the loudness floor get exercised. */
static uint32_t rng = 12345;
static double noise(void)
{
    rng = rng * 1664525u + 1013904223u;
    return ((double)(rng >> 8) / (double)(1u << 24)) * 2.0 - 1.0;
}

static void write_signal(const char *path, double seconds)
{
    pcm_writer w;
    hark_err err = {0};
    ASSERT_EQ(pcm_writer_open(&w, path, &err), 0);
    int64_t n = (int64_t)(seconds * PCM_RATE);
    int16_t buf[PCM_RATE];
    double lp = 0;
    for (int64_t at = 0; at < n;) {
        size_t m = 0;
        for (; m < PCM_RATE && at < n; m++, at++) {
            double t = (double)at / PCM_RATE, v;
            int sec = (int)t;
            if (sec % 23 == 7) {
                v = 0; /* digital silence */
            } else if (sec % 17 == 3) {
                v = 0.0005 * noise(); /* near silence */
            } else if (sec % 13 == 5) {
                v = 0.6 * noise(); /* loud bright burst */
            } else if (sec % 11 == 2) {
                v = 0.3 * sin(2 * M_PI * 440 * t);
            } else {
                lp = 0.9 * lp + 0.1 * noise();
                double env = 0.5 + 0.5 * sin(2 * M_PI * 3.7 * t);
                v = 0.4 * lp * env;
            }
            buf[m] = (int16_t)(v * 32767);
        }
        ASSERT_EQ(pcm_writer_write(&w, buf, m, &err), 0);
    }
    ASSERT_EQ(pcm_writer_finish(&w, &err), 0);
}

static char *dump(const hl_features *f)
{
    json_t *j = hl_features_to_json(f);
    ASSERT(j);
    hl_features back;
    hark_err err = {0};
    ASSERT_EQ(hl_features_from_json(j, &back, &err), 0);
    json_decref(j);
    j = hl_features_to_json(&back);
    ASSERT(j);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    hl_features_release(&back);
    return s;
}

/* One span or many: the same frames, wherever the cuts are (before, at and
 * after libebur128's 3 s ring, at odd frame counts). */
static void test_split_identical(void)
{
    write_signal("a.pcm", 75.35);
    pcm_file pcm;
    hark_err err = {0};
    ASSERT_EQ(pcm_open("a.pcm", &pcm, &err), 0);
    hl_features whole;
    ASSERT_EQ(hl_features_compute(&pcm, 0, pcm.n_samples, NULL, NULL, &whole, &err), 0);
    ASSERT_EQ(whole.n, (size_t)((pcm.n_samples + HL_HOP_SAMPLES - 1) / HL_HOP_SAMPLES));
    char *want = dump(&whole);

    static const int64_t cuts[][4] = {
        {1600, 48000, 49600, 0},
        {3200, 96000 + 1600 * 7, 0, 0},
        {48000 * 5 + 1600 * 13, 48000 * 10 - 1600, 48000 * 20 + 1600, 0},
        {1600 * 333, 0, 0, 0},
        {16000, 64000, 81600, 1600 * 500},
        {6400 * 7, 6400 * 7 + 1600, 6400 * 17 + 3200, 6400 * 100 + 4800},
    };
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        hl_features all = {0};
        int64_t from = 0;
        for (size_t k = 0; k <= 4; k++) {
            int64_t to = k < 4 && cuts[c][k] ? cuts[c][k] : pcm.n_samples;
            hl_features part;
            ASSERT_EQ(hl_features_compute(&pcm, from, to, NULL, NULL, &part, &err), 0);
            ASSERT_EQ(hl_features_append(&all, &part, &err), 0);
            hl_features_release(&part);
            from = to;
            if (to == pcm.n_samples)
                break;
        }
        char *got = dump(&all);
        if (strcmp(got, want) != 0) {
            for (size_t i = 0; i < whole.n && i < all.n; i++)
                if (whole.momentary[i] != all.momentary[i] ||
                    whole.short_term[i] != all.short_term[i] || whole.flux[i] != all.flux[i] ||
                    whole.flatness[i] != all.flatness[i])
                    fprintf(stderr,
                            "cut set %zu: frame %zu differs (%.9g %.9g / %.9g %.9g / %.9g %.9g / "
                            "%.9g %.9g)\n",
                            c, i, whole.momentary[i], all.momentary[i], whole.short_term[i],
                            all.short_term[i], whole.flux[i], all.flux[i], whole.flatness[i],
                            all.flatness[i]);
        }
        ASSERT_STREQ(got, want);
        free(got);
        hl_features_release(&all);
    }
    free(want);
    hl_features_release(&whole);
    pcm_close(&pcm);
}

/* The features say what the signal is: silence is at the floor, the loud
 * noise burst is loud, bright and flat, the tone is peaky. */
static void test_values(void)
{
    write_signal("a.pcm", 40);
    pcm_file pcm;
    hark_err err = {0};
    ASSERT_EQ(pcm_open("a.pcm", &pcm, &err), 0);
    hl_features f;
    ASSERT_EQ(hl_features_compute(&pcm, 0, pcm.n_samples, NULL, NULL, &f, &err), 0);
    ASSERT_EQ(f.n, 400);
    /* second 7 is digital silence: by its end the 400 ms window is empty */
    ASSERT_EQ(f.momentary[79], HL_FLOOR_LUFS);
    ASSERT_EQ(f.centroid[79], 0);
    /* second 5: white noise at 0.6 */
    ASSERT(f.momentary[59] > -15);
    ASSERT(f.flatness[59] > 0.3);
    ASSERT(f.centroid[59] > 3000);
    /* second 2: a 440 Hz tone */
    ASSERT(f.flatness[25] < 0.01);
    ASSERT_NEAR(f.centroid[25], 440, 150);
    /* noise starting at second 5 is a change: flux high */
    ASSERT(f.flux[50] > 0.2);
    ASSERT(f.flux[55] < f.flux[50]);
    for (size_t i = 0; i < f.n; i++) {
        ASSERT(isfinite(f.momentary[i]) && f.momentary[i] >= HL_FLOOR_LUFS);
        ASSERT(isfinite(f.short_term[i]) && f.short_term[i] >= HL_FLOOR_LUFS);
        ASSERT(f.flux[i] >= 0 && f.flux[i] <= 1.0001f);
        ASSERT(f.flatness[i] > 0 && f.flatness[i] <= 1);
    }
    hl_features_release(&f);
    pcm_close(&pcm);
}

static int calls;
static double last_done;
static int stop_after(void *ctx, double done_s)
{
    ASSERT(done_s >= last_done);
    ASSERT_LE(done_s - last_done, 0.1 + 1e-9);
    last_done = done_s;
    return ++calls >= *(int *)ctx ? HARK_ECANCELED : 0;
}

/* Check-ins come every 100 ms of audio; a non-zero answer stops at once. */
static void test_checkin_cancel(void)
{
    write_signal("a.pcm", 10);
    pcm_file pcm;
    hark_err err = {0};
    ASSERT_EQ(pcm_open("a.pcm", &pcm, &err), 0);
    hl_features f;
    int limit = 1000000;
    ASSERT_EQ(hl_features_compute(&pcm, 16000, pcm.n_samples, stop_after, &limit, &f, &err), 0);
    ASSERT(calls >= 90);
    ASSERT_NEAR(last_done, 9.0, 1e-9);
    hl_features_release(&f);
    calls = 0;
    last_done = 0;
    limit = 5;
    ASSERT_EQ(hl_features_compute(&pcm, 0, pcm.n_samples, stop_after, &limit, &f, &err),
              HARK_ECANCELED);
    ASSERT_EQ(calls, 5);
    ASSERT_EQ(f.n, 0);
    ASSERT(f.momentary == NULL);
    /* bad spans */
    ASSERT_EQ(hl_features_compute(&pcm, -5, 100, NULL, NULL, &f, &err), HARK_EINVAL);
    ASSERT_EQ(hl_features_compute(&pcm, 200, 100, NULL, NULL, &f, &err), HARK_EINVAL);
    /* an end past the recording is clamped; an empty span is empty */
    ASSERT_EQ(hl_features_compute(&pcm, 0, pcm.n_samples * 2, NULL, NULL, &f, &err), 0);
    ASSERT_EQ(f.n, 100);
    hl_features_release(&f);
    ASSERT_EQ(hl_features_compute(&pcm, 3200, 3200, NULL, NULL, &f, &err), 0);
    ASSERT_EQ(f.n, 0);
    hl_features_release(&f);
    /* a start off the 100 ms grid: frames from there, the last one short */
    ASSERT_EQ(hl_features_compute(&pcm, 1234, 1234 + 1600 * 3 + 5, NULL, NULL, &f, &err), 0);
    ASSERT_EQ(f.n, 4);
    ASSERT_EQ(f.start, 1234);
    ASSERT(f.momentary[3] > HL_FLOOR_LUFS);
    hl_features_release(&f);
    pcm_close(&pcm);
}

/* Appending: only the track that starts where dst ends. */
static void test_append(void)
{
    float v[3] = {1, 2, 3};
    hl_features a = {.start = 0, .n = 3, v, v, v, v, v};
    hl_features dst = {0};
    hark_err err = {0};
    ASSERT_EQ(hl_features_append(&dst, &a, &err), 0);
    ASSERT_EQ(dst.n, 3);
    a.start = 3 * HL_HOP_SAMPLES + 1;
    ASSERT_EQ(hl_features_append(&dst, &a, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "starts at sample 4801, not 4800"));
    a.start = 2 * HL_HOP_SAMPLES;
    ASSERT_EQ(hl_features_append(&dst, &a, &err), HARK_EINVAL);
    a.start = 3 * HL_HOP_SAMPLES;
    ASSERT_EQ(hl_features_append(&dst, &a, &err), 0);
    ASSERT_EQ(dst.n, 6);
    ASSERT_EQ(dst.flux[5], 3);
    hl_features_release(&dst);
}

static void expect_bad(const char *text, const char *what)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    ASSERT(j);
    hl_features f;
    hark_err err = {0};
    ASSERT_EQ(hl_features_from_json(j, &f, &err), HARK_EINVAL);
    if (!strstr(err.msg, what))
        TEST_FAIL_("'%s' gave '%s', wanted '%s'", text, err.msg, what);
    ASSERT_EQ(f.n, 0);
    json_decref(j);
}

#define ARR1 "\"momentary\":[1],\"short_term\":[1],\"centroid\":[1],\"flux\":[1]"

/* Hostile documents: wrong types, sizes, ranges, and a huge n. */
static void test_from_json_hostile(void)
{
    expect_bad("[]", "not a JSON object");
    expect_bad("{\"hop\":160,\"start\":0,\"n\":0}", "\"hop\"");
    expect_bad("{\"hop\":1600,\"start\":-1,\"n\":0}", "\"start\"");
    expect_bad("{\"hop\":1600,\"start\":0.5,\"n\":0}", "\"start\"");
    char over[128]; /* one frame over the cap */
    snprintf(over, sizeof over, "{\"hop\":1600,\"start\":0,\"n\":%zu}", HL_MAX_FRAMES + 1);
    expect_bad(over, "\"n\"");
    expect_bad("{\"hop\":1600,\"start\":0,\"n\":1," ARR1 "}", "\"flatness\"");
    expect_bad("{\"hop\":1600,\"start\":0,\"n\":2," ARR1 ",\"flatness\":[1]}", "\"momentary\"");
    expect_bad("{\"hop\":1600,\"start\":0,\"n\":1," ARR1 ",\"flatness\":[1]}",
               "\"flatness\"[0] is not an integer in [-15000, 0]");
    expect_bad("{\"hop\":1600,\"start\":0,\"n\":1," ARR1 ",\"flatness\":[-1.5]}",
               "\"flatness\"[0]");
    expect_bad("{\"hop\":1600,\"start\":0,\"n\":1,\"momentary\":[-9999],\"short_term\":[1],"
               "\"centroid\":[1],\"flux\":[1],\"flatness\":[0]}",
               "\"momentary\"[0]");
    expect_bad("{\"hop\":1600,\"start\":0,\"n\":1,\"momentary\":[\"x\"],\"short_term\":[1],"
               "\"centroid\":[1],\"flux\":[1],\"flatness\":[0]}",
               "\"momentary\"[0]");
    /* a good one */
    json_t *j = json_loads("{\"hop\":1600,\"start\":3200,\"n\":1,\"momentary\":[-231],"
                           "\"short_term\":[-700],\"centroid\":[1234],\"flux\":[56],"
                           "\"flatness\":[-1000]}",
                           0, NULL);
    hl_features f;
    hark_err err = {0};
    ASSERT_EQ(hl_features_from_json(j, &f, &err), 0);
    ASSERT_EQ(f.start, 3200);
    ASSERT_NEAR(f.momentary[0], -23.1, 1e-5);
    ASSERT_NEAR(f.flatness[0], 0.1, 1e-7);
    ASSERT_NEAR(f.flux[0], 0.056, 1e-7);
    json_t *again = hl_features_to_json(&f);
    ASSERT(json_equal(j, again));
    json_decref(again);
    json_decref(j);
    hl_features_release(&f);
}

int main(void)
{
    RUN(test_split_identical);
    RUN(test_values);
    RUN(test_checkin_cancel);
    RUN(test_append);
    RUN(test_from_json_hostile);
    TEST_DONE();
}
