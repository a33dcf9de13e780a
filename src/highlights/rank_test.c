#include "highlights/rank.h"

#include "util/test.h"

#include <stdint.h>

/* --- a synthetic stream: LibriVox narration, noise, dead air, moments ---- */

static int16_t *load_wav(const char *name, size_t *n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", test_data_dir(), name);
    FILE *fp = fopen(path, "rb");
    ASSERT(fp);
    static unsigned char raw[1 << 20];
    size_t len = fread(raw, 1, sizeof raw, fp);
    fclose(fp);
    /* find the "data" chunk of the 16 kHz mono s16 WAV */
    size_t at = 12;
    while (at + 8 <= len && memcmp(raw + at, "data", 4) != 0) {
        uint32_t sz =
            raw[at + 4] | raw[at + 5] << 8 | raw[at + 6] << 16 | (uint32_t)raw[at + 7] << 24;
        at += 8 + sz;
    }
    ASSERT(at + 8 <= len);
    *n = (len - at - 8) / 2;
    int16_t *s = malloc(*n * sizeof *s);
    memcpy(s, raw + at + 8, *n * sizeof *s);
    return s;
}

static uint32_t rng = 1;
static double noise(void)
{
    rng = rng * 1664525u + 1013904223u;
    return ((double)(rng >> 8) / (double)(1u << 24)) * 2.0 - 1.0;
}

typedef struct stream {
    double seconds;
    double dead_at, dead_len;
    double moments[4];
    int n_moments;
    double gain;      /* overall level */
    double moment_db; /* burst level over the narration's RMS */
} stream;

/* Write the stream as a.pcm. */
static void make_stream(const stream *st)
{
    static const char *clips[] = {"sense_and_sensibility_01_austen_64kb-0870.wav",
                                  "sense_and_sensibility_01_austen_64kb-0880.wav",
                                  "sense_and_sensibility_01_austen_64kb-0890.wav",
                                  "sense_and_sensibility_01_austen_64kb-0920.wav",
                                  "sense_and_sensibility_01_austen_64kb-0930.wav"};
    int16_t *c[5];
    size_t cn[5];
    for (int i = 0; i < 5; i++)
        c[i] = load_wav(clips[i], &cn[i]);
    size_t n = (size_t)(st->seconds * PCM_RATE);
    double *x = calloc(n, sizeof *x);
    size_t pos = 0;
    int k = 0;
    while (pos < n) {
        double t = (double)pos / PCM_RATE;
        if (t >= st->dead_at && t < st->dead_at + st->dead_len) {
            pos = (size_t)((st->dead_at + st->dead_len) * PCM_RATE);
            continue;
        }
        for (size_t i = 0; i < cn[k % 5] && pos + i < n; i++) {
            double ti = (double)(pos + i) / PCM_RATE;
            if (ti >= st->dead_at && ti < st->dead_at + st->dead_len)
                break;
            x[pos + i] = c[k % 5][i];
        }
        pos += cn[k % 5] + (size_t)(PCM_RATE * (0.3 + 0.2 * (k % 4)));
        k++;
    }
    double e = 0;
    for (size_t i = 0; i < (size_t)(20 * PCM_RATE); i++)
        e += x[i] * x[i];
    double rms = sqrt(e / (20 * PCM_RATE));
    /* moments: 4 s of band-limited noise with an 8 Hz tremolo over a dipped narration */
    for (int m = 0; m < st->n_moments; m++) {
        size_t s0 = (size_t)(st->moments[m] * PCM_RATE), len = 4 * PCM_RATE;
        static double burst[4 * PCM_RATE];
        double lp = 0, hp = 0, prev = 0, be = 0;
        for (size_t i = 0; i < len; i++) {
            double w = noise();
            lp += 0.35 * (w - lp);
            hp = 0.9 * (hp + lp - prev);
            prev = lp;
            double env = (0.75 + 0.25 * sin(2 * M_PI * 8 * i / PCM_RATE)) *
                         (i < 4800 ? i / 4800.0 : 1) * (i > len - 8000 ? (len - i) / 8000.0 : 1);
            burst[i] = hp * env;
            be += burst[i] * burst[i];
        }
        double amp = rms * pow(10, st->moment_db / 20) / sqrt(be / len);
        for (size_t i = 0; i < len && s0 + i < n; i++)
            x[s0 + i] = 0.6 * x[s0 + i] + amp * burst[i];
    }
    pcm_writer w;
    hark_err err = {0};
    ASSERT_EQ(pcm_writer_open(&w, "a.pcm", &err), 0);
    int16_t out[4096];
    for (size_t i = 0; i < n;) {
        size_t m = 0;
        for (; m < 4096 && i < n; m++, i++) {
            double v = (x[i] + 30 * noise()) * st->gain;
            out[m] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
        }
        ASSERT_EQ(pcm_writer_write(&w, out, m, &err), 0);
    }
    ASSERT_EQ(pcm_writer_finish(&w, &err), 0);
    free(x);
    for (int i = 0; i < 5; i++)
        free(c[i]);
}

static void dump_result(const hl_result *r)
{
    for (size_t i = 0; i < r->n; i++) {
        fprintf(stderr, "#%d %.1f-%.1f peak %.1f score %.2f:", r->h[i].rank, r->h[i].start,
                r->h[i].end, r->h[i].peak, r->h[i].score);
        for (size_t k = 0; k < r->h[i].n_reasons; k++)
            fprintf(stderr, " [%s]", r->h[i].reasons[k]);
        fprintf(stderr, "\n");
    }
}

static void check_result(const hl_result *r, const stream *st)
{
    ASSERT(r->n > 0 && r->n <= 10);
    /* time order, ranks a permutation, bounds sane, no overlaps */
    int seen[11] = {0};
    for (size_t i = 0; i < r->n; i++) {
        const hl_highlight *h = &r->h[i];
        ASSERT(h->rank >= 1 && h->rank <= (int)r->n && !seen[h->rank]);
        seen[h->rank] = 1;
        ASSERT(h->start >= 0 && h->end <= r->duration);
        ASSERT(h->start < h->peak && h->peak < h->end);
        ASSERT(h->n_reasons >= 1);
        ASSERT(h->text && h->text[0] == '\0');
        if (i > 0)
            ASSERT_LE(r->h[i - 1].end, h->start);
        for (size_t d = 0; d < r->n_dead; d++) {
            double a = fmax(h->start, r->dead_air[d].start), b = fmin(h->end, r->dead_air[d].end);
            ASSERT_LE(b - a, 1.0);
        }
    }
    for (int m = 0; m < st->n_moments; m++) {
        bool covered = false;
        for (size_t i = 0; i < r->n; i++)
            covered |= r->h[i].start - 3 <= st->moments[m] && st->moments[m] <= r->h[i].end + 3;
        if (!covered)
            dump_result(r);
        if (!covered)
            TEST_FAIL_("moment at %.1f s not covered", st->moments[m]);
    }
    /* the moments are the best three, and say why */
    for (size_t i = 0; i < r->n; i++) {
        if (r->h[i].rank > st->n_moments)
            continue;
        bool crowd = false, loud = false;
        for (size_t k = 0; k < r->h[i].n_reasons; k++) {
            crowd |= strcmp(r->h[i].reasons[k], "crowd noise") == 0;
            loud |= strncmp(r->h[i].reasons[k], "loudness +", 10) == 0;
        }
        ASSERT(crowd);
        ASSERT(loud || st->moment_db < 2);
    }
    ASSERT_EQ(r->n_dead, 1);
    ASSERT_NEAR(r->dead_air[0].start, st->dead_at, 1.0);
    ASSERT_NEAR(r->dead_air[0].end, st->dead_at + st->dead_len, 1.0);
    ASSERT(hl_chapters_valid(r->chapters, r->n_chapters, r->duration));
}

static void run_stream(const stream *st, hl_result *r)
{
    make_stream(st);
    pcm_file pcm;
    hark_err err = {0};
    ASSERT_EQ(pcm_open("a.pcm", &pcm, &err), 0);
    hl_features f;
    ASSERT_EQ(hl_features_compute(&pcm, 0, pcm.n_samples, NULL, NULL, &f, &err), 0);
    ASSERT_EQ(hl_find(&f, NULL, "stream.mkv", pcm_seconds(pcm.n_samples), NULL, r, &err), 0);
    hl_features_release(&f);
    pcm_close(&pcm);
}

/* Three planted moments in 3 minutes of narration with 30 s of dead air:
 * all three found, ranked first, nothing in the dead air. */
static void test_stream(void)
{
    stream st = {180, 100, 30, {25, 70, 150}, 3, 1.0, 3};
    hl_result r;
    run_stream(&st, &r);
    check_result(&r, &st);
    ASSERT_STREQ(r.source, "stream.mkv");
    hl_result_release(&r);
}

/* The same at -20 dB and with the moments elsewhere, only 1 dB up: the
 * baseline is the recording's own. */
static void test_stream_quiet(void)
{
    stream st = {180, 40, 25, {15, 100, 160}, 3, 0.1, 1};
    hl_result r;
    run_stream(&st, &r);
    check_result(&r, &st);
    hl_result_release(&r);
}

/* --- transcript evidence ------------------------------------------------- */

static hl_features flat_features(double seconds)
{
    hl_features f = {0};
    f.n = (size_t)(seconds * 10);
    f.momentary = malloc(f.n * sizeof(float));
    f.short_term = malloc(f.n * sizeof(float));
    f.centroid = malloc(f.n * sizeof(float));
    f.flux = malloc(f.n * sizeof(float));
    f.flatness = malloc(f.n * sizeof(float));
    for (size_t i = 0; i < f.n; i++) {
        f.momentary[i] = -23.0f + (float)(i % 7) * 0.3f;
        f.short_term[i] = -23.0f;
        f.centroid[i] = 1000;
        f.flux[i] = 0.4f;
        f.flatness[i] = 0.02f;
    }
    return f;
}

static void add_words(transcript *t, const char *const *w, size_t n, double start, double rate)
{
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(transcript_add_word(t, w[i], start + i / rate, start + (i + 0.8) / rate, 0.9f, 0),
                  0);
}

static bool has_reason(const hl_highlight *h, const char *r)
{
    for (size_t k = 0; k < h->n_reasons; k++)
        if (strcmp(h->reasons[k], r) == 0)
            return true;
    return false;
}

/* Keywords (across words, any case, punctuation ignored), a user phrase with
 * its weight, fast speech; text is the clip's words. */
static void test_transcript(void)
{
    hl_features f = flat_features(120);
    transcript t;
    ASSERT_EQ(transcript_init(&t, "talk.mp3", 120), 0);
    static const char *const calm[] = {"the", "weather", "was", "fine", "and", "dry"};
    for (int s = 0; s < 120; s += 10) {
        if (s == 30) {
            static const char *const ex[] = {"and", "then", "LET'S", "go!", "he", "said"};
            add_words(&t, ex, 6, s, 2);
        } else if (s == 60) {
            static const char *const ex[] = {"that", "is", "a", "golden", "goose", "indeed"};
            add_words(&t, ex, 6, s, 2);
        } else if (s == 90) {
            static const char *const fast[] = {
                "one",      "two",      "three",     "four",      "five",        "six",
                "seven",    "eight",    "nine",      "ten",       "eleven",      "twelve",
                "thirteen", "fourteen", "fifteen",   "sixteen",   "seventeen",   "eighteen",
                "nineteen", "twenty",   "twentyone", "twentytwo", "twentythree", "twentyfour"};
            add_words(&t, fast, 24, s, 6);
        } else {
            add_words(&t, calm, 6, s, 2);
        }
    }
    ASSERT_EQ(transcript_finish(&t), 0);
    hl_keyword *kw;
    size_t nkw;
    hark_err err = {0};
    ASSERT_EQ(hl_keywords_parse("# mine\ngolden goose\t2\n", "kw.txt", &kw, &nkw, &err), 0);
    hl_opts o;
    hl_opts_default(&o);
    o.keywords = kw;
    o.n_keywords = nkw;
    o.top_n = 3;
    hl_result r;
    ASSERT_EQ(hl_find(&f, &t, "talk.mp3", 120, &o, &r, &err), 0);
    ASSERT_EQ(r.n, 3);
    int found = 0;
    for (size_t i = 0; i < r.n; i++) {
        const hl_highlight *h = &r.h[i];
        if (h->peak > 29 && h->peak < 35) {
            ASSERT(has_reason(h, "keyword \"let's go\""));
            ASSERT(strstr(h->text, "LET'S go! he said"));
            found |= 1;
        } else if (h->peak > 59 && h->peak < 65) {
            ASSERT(has_reason(h, "keyword \"golden goose\""));
            ASSERT_EQ(h->rank, 1); /* weight 2 beats 1.5 */
            found |= 2;
        } else if (h->peak > 89 && h->peak < 95) {
            ASSERT(strstr(h->reasons[0], "fast speech (6.0 words/s)"));
            found |= 4;
        }
    }
    ASSERT_EQ(found, 7);
    hl_result_release(&r);

    /* without the defaults, "let's go" is not a keyword */
    o.default_keywords = false;
    ASSERT_EQ(hl_find(&f, &t, "talk.mp3", 120, &o, &r, &err), 0);
    for (size_t i = 0; i < r.n; i++)
        ASSERT(!has_reason(&r.h[i], "keyword \"let's go\""));
    hl_result_release(&r);
    hl_keywords_free(kw, nkw);
    transcript_release(&t);
    hl_features_release(&f);
}

/* No features at all, bad options. */
static void test_edges(void)
{
    hl_result r;
    hark_err err = {0};
    ASSERT_EQ(hl_find(NULL, NULL, "x", 0, NULL, &r, &err), 0);
    ASSERT_EQ(r.n, 0);
    ASSERT_EQ(r.n_chapters, 1);
    hl_result_release(&r);
    hl_features f = flat_features(60);
    ASSERT_EQ(hl_find(&f, NULL, "x", 60, NULL, &r, &err), 0);
    ASSERT(hl_chapters_valid(r.chapters, r.n_chapters, 60));
    hl_result_release(&r);
    hl_opts o;
    hl_opts_default(&o);
    o.top_n = 0;
    ASSERT_EQ(hl_find(&f, NULL, "x", 60, &o, &r, &err), HARK_EINVAL);
    hl_opts_default(&o);
    o.pre_s = NAN;
    ASSERT_EQ(hl_find(&f, NULL, "x", 60, &o, &r, &err), HARK_EINVAL);
    ASSERT_EQ(hl_find(&f, NULL, "x", -1, NULL, &r, &err), HARK_EINVAL);
    f.start = 1600;
    ASSERT_EQ(hl_find(&f, NULL, "x", 60, NULL, &r, &err), HARK_EINVAL);
    hl_features_release(&f);
}

/* --- keyword files ------------------------------------------------------- */

static void expect_kw_error(const char *text, const char *want)
{
    hl_keyword *k = (hl_keyword *)1;
    size_t n = 99;
    hark_err err = {0};
    ASSERT_EQ(hl_keywords_parse(text, "kw.txt", &k, &n, &err), HARK_EINVAL);
    ASSERT(k == NULL && n == 0);
    if (!strstr(err.msg, want))
        TEST_FAIL_("'%s': got '%s', wanted '%s'", text, err.msg, want);
}

static void test_keywords_parse(void)
{
    hl_keyword *k;
    size_t n;
    hark_err err = {0};
    ASSERT_EQ(hl_keywords_parse("# comment\n\n  Let's  GO!!\t2.5\r\nwhat a save | 0.5\n"
                                "  # indented comment\nhead-shot\n",
                                "kw.txt", &k, &n, &err),
              0);
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(k[0].phrase, "let's go");
    ASSERT_NEAR(k[0].weight, 2.5, 1e-12);
    ASSERT_STREQ(k[1].phrase, "what a save");
    ASSERT_NEAR(k[1].weight, 0.5, 1e-12);
    ASSERT_STREQ(k[2].phrase, "head shot");
    ASSERT_NEAR(k[2].weight, 1.0, 1e-12);
    hl_keywords_free(k, n);
    ASSERT_EQ(hl_keywords_parse("", "kw.txt", &k, &n, &err), 0);
    ASSERT_EQ(n, 0);
    hl_keywords_free(k, n);

    expect_kw_error("ok\n!!!\n", "bad keyword in 'kw.txt' line 2: no words");
    expect_kw_error("ok\tx\n", "line 1: weight 'x' is not a number in (0, 100]");
    expect_kw_error("ok\t0\n", "line 1: weight '0'");
    expect_kw_error("ok | 101\n", "weight '101'");
    expect_kw_error("ok\tnan\n", "weight 'nan'");
    expect_kw_error("ok\t1.5x\n", "weight '1.5x'");
    expect_kw_error("a\n\nb\x01\n", "line 3: control character");
    expect_kw_error("caf\xc3\n", "line 1: not valid UTF-8");
    expect_kw_error("a b c d e f g h i\n", "more than 8 words");
    char big[300];
    memset(big, 'a', sizeof big - 2);
    big[sizeof big - 2] = '\n';
    big[sizeof big - 1] = '\0';
    expect_kw_error(big, "longer than 100 bytes");
    /* caps: phrases and bytes */
    size_t cap = 1100 * 3 + 1;
    char *many = malloc(cap);
    for (size_t i = 0; i < 1100; i++)
        memcpy(many + 3 * i, "ab\n", 3);
    many[cap - 1] = '\0';
    expect_kw_error(many, "more than 1000 phrases");
    free(many);
    char *huge = malloc(HL_KEYWORDS_FILE_MAX + 2);
    memset(huge, 'a', HL_KEYWORDS_FILE_MAX + 1);
    huge[HL_KEYWORDS_FILE_MAX + 1] = '\0';
    expect_kw_error(huge, "larger than");
    free(huge);
}

/* Random bytes never crash the parser or leak (ASan/LSan build). */
static void test_keywords_fuzz(void)
{
    static const char alphabet[] = "ab |\t\n#.5\r1e9-\x01\xc3\xa9'";
    char text[200];
    for (int iter = 0; iter < 5000; iter++) {
        size_t len = (size_t)(noise() * 0.5 + 0.5) * 0 + (rng >> 9) % (sizeof text - 1);
        for (size_t i = 0; i < len; i++) {
            noise();
            text[i] = alphabet[(rng >> 12) % (sizeof alphabet - 1)];
        }
        text[len] = '\0';
        hl_keyword *k;
        size_t n;
        hark_err err = {0};
        int rc = hl_keywords_parse(text, "f", &k, &n, &err);
        ASSERT(rc == 0 || rc == HARK_EINVAL);
        if (rc == 0) {
            for (size_t i = 0; i < n; i++)
                ASSERT(k[i].phrase[0] && k[i].weight > 0 && k[i].weight <= 100);
            hl_keywords_free(k, n);
        } else {
            ASSERT(err.msg[0]);
        }
    }
}

int main(void)
{
    RUN(test_stream);
    RUN(test_stream_quiet);
    RUN(test_transcript);
    RUN(test_edges);
    RUN(test_keywords_parse);
    RUN(test_keywords_fuzz);
    TEST_DONE();
}
