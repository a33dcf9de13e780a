#include "highlights/chapters.h"

#include "util/test.h"

#include <stdint.h>

static uint32_t rng = 7;
static uint32_t next(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}
static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * (double)next() / (double)(1u << 24);
}

static const char *const topics[3][6] = {
    {"elinor", "marianne", "norland", "cottage", "sister", "mother"},
    {"ship", "ocean", "captain", "sailor", "storm", "harbour"},
    {"garden", "flowers", "roses", "tulips", "soil", "spring"},
};
static const char *const filler[] = {"the", "and", "was", "of", "she", "to", "in", "a"};

/* Words at 2.5 per second; topic k from topic_at[k] seconds on. */
static void topical_transcript(transcript *t, double dur, const double *bounds, int n_topics)
{
    ASSERT_EQ(transcript_init(t, "x", dur), 0);
    for (double s = 0.2; s + 0.4 < dur; s += 0.4) {
        int k = 0;
        while (k + 1 < n_topics && s >= bounds[k + 1])
            k++;
        const char *w = next() % 2 ? topics[k % 3][next() % 6] : filler[next() % 8];
        ASSERT_EQ(transcript_add_word(t, w, s, s + 0.3, 0.9f, 0), 0);
    }
    ASSERT_EQ(transcript_finish(t), 0);
}

/* Three topics of five minutes: boundaries at the topic changes, titles
 * from each topic's own words. */
static void test_texttiling(void)
{
    transcript t;
    double bounds[3] = {0, 300, 600};
    topical_transcript(&t, 900, bounds, 3);
    hl_chapter *c;
    size_t n;
    hark_err err = {0};
    ASSERT_EQ(hl_chapters_find(NULL, &t, 900, NULL, 0, &c, &n, &err), 0);
    ASSERT_EQ(n, 3);
    ASSERT(hl_chapters_valid(c, n, 900));
    for (size_t k = 0; k < n; k++)
        printf("  %g %s\n", c[k].start, c[k].title);
    ASSERT_NEAR(c[1].start, 300, 15);
    ASSERT_NEAR(c[2].start, 600, 15);
    for (size_t k = 0; k < n; k++) {
        char first[32];
        snprintf(first, sizeof first, "%s", topics[k][0]);
        bool own = false;
        for (int w = 0; w < 6; w++) {
            char cap[32];
            snprintf(cap, sizeof cap, "%s", topics[k][w]);
            cap[0] = (char)(cap[0] - 'a' + 'A');
            own |= strstr(c[k].title, cap) != NULL;
        }
        if (!own)
            TEST_FAIL_("chapter %zu title '%s' has none of its topic's words", k, c[k].title);
        ASSERT(strstr(c[k].title, " and "));
    }
    hl_chapters_free(c, n);
    transcript_release(&t);
}

static hl_features random_features(double dur)
{
    hl_features f = {0};
    f.n = (size_t)ceil(dur * 10);
    f.momentary = malloc((f.n + 1) * sizeof(float));
    f.short_term = malloc((f.n + 1) * sizeof(float));
    f.centroid = malloc((f.n + 1) * sizeof(float));
    f.flux = malloc((f.n + 1) * sizeof(float));
    f.flatness = malloc((f.n + 1) * sizeof(float));
    float level = -23;
    for (size_t i = 0; i < f.n; i++) {
        if (next() % 3000 == 0)
            level = (float)uniform(-40, -10);
        bool pause = next() % 500 < 3 || (i / 100) % 37 == 5;
        f.momentary[i] = pause ? -70.0f : level + (float)uniform(-3, 3);
        f.short_term[i] = level;
        f.centroid[i] = 1000;
        f.flux[i] = 0.3f;
        f.flatness[i] = 0.05f;
    }
    return f;
}

/* YouTube's rules hold for any input: durations around the edges and long
 * ones, with or without a transcript, features, dead air. */
static void test_rules_property(void)
{
    static const double edges[] = {0,  0.5,  9.9, 10, 29.9, 29.999, 30, 30.001, 30.9,
                                   31, 39.9, 40,  45, 59.9, 60,     61, 119.5,  1000.3};
    for (int iter = 0; iter < (UNDER_ASAN ? 150 : 400); iter++) {
        double dur = iter < (int)(sizeof edges / sizeof edges[0]) ? edges[iter]
                     : next() % 4 == 0                            ? uniform(30, 90)
                                                                  : uniform(0, 4 * 3600);
        transcript t;
        bool with_t = next() % 2;
        if (with_t) {
            double bounds[4] = {0, uniform(0, dur), uniform(0, dur), uniform(0, dur)};
            if (dur > 2000) {
                /* keep the property test quick: a sparse transcript */
                ASSERT_EQ(transcript_init(&t, "x", dur), 0);
                for (double s = 0; s + 1 < dur; s += uniform(0.3, 8))
                    ASSERT_EQ(transcript_add_word(&t, topics[next() % 3][next() % 6], s, s + 0.3,
                                                  0.5f, 0),
                              0);
                ASSERT_EQ(transcript_finish(&t), 0);
            } else {
                topical_transcript(&t, dur, bounds, 1 + (int)(next() % 4));
            }
        }
        bool with_f = next() % 2;
        hl_features f = {0};
        if (with_f)
            f = random_features(dur);
        hl_span dead[3];
        size_t nd = next() % 4;
        for (size_t k = 0; k < nd; k++) {
            double a = uniform(0, dur);
            dead[k].start = a;
            dead[k].end = fmin(dur, a + uniform(20, 600));
        }
        hl_chapter *c;
        size_t n;
        hark_err err = {0};
        ASSERT_EQ(
            hl_chapters_find(with_f ? &f : NULL, with_t ? &t : NULL, dur, dead, nd, &c, &n, &err),
            0);
        if (!hl_chapters_valid(c, n, dur)) {
            for (size_t k = 0; k < n; k++)
                fprintf(stderr, "  %g %s\n", c[k].start, c[k].title);
            TEST_FAIL_("iteration %d: duration %.3f: %zu chapters break the rules", iter, dur, n);
        }
        ASSERT(n <= HL_CHAPTERS_MAX);
        if (dur < 30)
            ASSERT_EQ(n, 1);
        for (size_t k = 0; k < n; k++) {
            ASSERT(c[k].start == floor(c[k].start));
            ASSERT(!strchr(c[k].title, '\n'));
            if (!with_t)
                ASSERT(strncmp(c[k].title, "Part ", 5) == 0);
        }
        /* deterministic */
        hl_chapter *c2;
        size_t n2;
        ASSERT_EQ(
            hl_chapters_find(with_f ? &f : NULL, with_t ? &t : NULL, dur, dead, nd, &c2, &n2, &err),
            0);
        ASSERT_EQ(n2, n);
        for (size_t k = 0; k < n; k++) {
            ASSERT(c2[k].start == c[k].start);
            ASSERT_STREQ(c2[k].title, c[k].title);
        }
        hl_chapters_free(c2, n2);
        hl_chapters_free(c, n);
        if (with_t)
            transcript_release(&t);
        if (with_f)
            hl_features_release(&f);
    }
}

/* The validator itself. */
static void test_valid(void)
{
    hl_chapter c[3] = {{0, "A"}, {10, "B"}, {20, "C"}};
    ASSERT(hl_chapters_valid(c, 3, 30));
    ASSERT(!hl_chapters_valid(c, 3, 29.9));
    ASSERT(!hl_chapters_valid(c, 2, 40));
    c[1].start = 9.5;
    ASSERT(!hl_chapters_valid(c, 3, 40));
    c[1].start = 10;
    c[0].start = 1;
    ASSERT(!hl_chapters_valid(c, 3, 40));
    c[0].start = 0;
    c[2].title = "";
    ASSERT(!hl_chapters_valid(c, 3, 40));
    ASSERT(hl_chapters_valid(c, 1, 12));
    ASSERT(!hl_chapters_valid(c, 0, 12));
}

int main(void)
{
    RUN(test_texttiling);
    RUN(test_rules_property);
    RUN(test_valid);
    TEST_DONE();
}
