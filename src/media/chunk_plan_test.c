/* chunk_plan_test.c - the chunk planner on synthetic signals and real speech.
 *
 * Set HARK_PLAN_VERBOSE=1 to print every plan.
 */
#include "media/chunk_plan.h"
#include "util/test.h"

#include <stdint.h>

#define RATE 16000

static chunk_plan_opts defaults(void)
{
    chunk_plan_opts o;
    chunk_plan_opts_default(&o);
    return o;
}

/* A signal under construction, in doubles so parts can be mixed. */
typedef struct sig {
    double *x;
    int64_t n;
} sig;

static sig sig_new(double seconds)
{
    sig s;
    s.n = (int64_t)(seconds * RATE);
    s.x = calloc((size_t)s.n + 1, sizeof *s.x);
    ASSERT(s.x);
    return s;
}

static uint64_t rng_state = 1;

static void rng_seed(uint64_t seed)
{
    rng_state = seed * 2862933555777941757ULL + 3037000493ULL;
}

/* Uniform in [0, 1): a fixed LCG so every run sees the same signals. */
static double rng_unit(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static double db_amp(double db)
{
    return 32768.0 * pow(10.0, db / 20.0);
}

/* A sine burst with 10 ms raised-cosine ramps, peak at peak_db dBFS. */
static void add_tone(sig *s, double t0, double dur, double freq, double peak_db)
{
    double a = db_amp(peak_db), ramp = 0.01 * RATE;
    int64_t i0 = (int64_t)(t0 * RATE), len = (int64_t)(dur * RATE);
    for (int64_t i = 0; i < len && i0 + i < s->n; i++) {
        double g = 1.0;
        if (i < ramp)
            g = 0.5 - 0.5 * cos(M_PI * (double)i / ramp);
        else if (len - i < ramp)
            g = 0.5 - 0.5 * cos(M_PI * (double)(len - i) / ramp);
        s->x[i0 + i] += a * g * sin(2 * M_PI * freq * (double)i / RATE);
    }
}

/* Uniform white noise at rms_db dBFS RMS. */
static void add_noise(sig *s, double t0, double dur, double rms_db)
{
    double a = db_amp(rms_db) * sqrt(3.0);
    int64_t i0 = (int64_t)(t0 * RATE), len = (int64_t)(dur * RATE);
    for (int64_t i = 0; i < len && i0 + i < s->n; i++)
        s->x[i0 + i] += a * (2 * rng_unit() - 1);
}

static void write_pcm(const char *path, const int16_t *v, int64_t n)
{
    pcm_writer w;
    hark_err err;
    ASSERT_EQ(pcm_writer_open(&w, path, &err), 0);
    ASSERT_EQ(pcm_writer_write(&w, v, (size_t)n, &err), 0);
    ASSERT_EQ(pcm_writer_finish(&w, &err), 0);
}

static int16_t *sig_samples(const sig *s)
{
    int16_t *v = malloc(((size_t)s->n + 1) * sizeof *v);
    ASSERT(v);
    for (int64_t i = 0; i < s->n; i++) {
        double y = floor(s->x[i] + 0.5);
        v[i] = (int16_t)(y > 32767 ? 32767 : y < -32768 ? -32768 : y);
    }
    return v;
}

static void check_invariants(const chunk_plan *p, const chunk_plan_opts *o)
{
    int64_t prev = 0;
    for (size_t i = 0; i < p->n; i++) {
        const chunk *c = &p->chunks[i];
        ASSERT(c->start >= prev);
        ASSERT(c->end > c->start);
        ASSERT(c->end <= p->total_samples);
        ASSERT_LE(c->end - c->start, (int64_t)(o->max_s * RATE));
        prev = c->end;
    }
}

static void print_plan(const char *what, const chunk_plan *p)
{
    if (!getenv("HARK_PLAN_VERBOSE"))
        return;
    printf("plan %s: %zu chunks over %.2f s\n", what, p->n, (double)p->total_samples / RATE);
    for (size_t i = 0; i < p->n; i++)
        printf("  %8.2f %8.2f  (%5.2f s)\n", (double)p->chunks[i].start / RATE,
               (double)p->chunks[i].end / RATE,
               (double)(p->chunks[i].end - p->chunks[i].start) / RATE);
}

/* Write v to a PCM file, plan it, check the invariants. */
static void plan_samples(const int16_t *v, int64_t n, const chunk_plan_opts *o, chunk_plan *p,
                         const char *what)
{
    hark_err err;
    pcm_file f;
    write_pcm("in.pcm", v, n);
    ASSERT_EQ(pcm_open("in.pcm", &f, &err), 0);
    int rc = chunk_plan_build(&f, o, p, &err);
    if (rc)
        TEST_FAIL_("chunk_plan_build: %s", err.msg);
    pcm_close(&f);
    ASSERT_EQ(p->total_samples, n);
    check_invariants(p, o);
    print_plan(what, p);
}

static void plan_sig(const sig *s, const chunk_plan_opts *o, chunk_plan *p, const char *what)
{
    int16_t *v = sig_samples(s);
    plan_samples(v, s->n, o, p, what);
    free(v);
}

static double secs(int64_t samples)
{
    return (double)samples / RATE;
}

/* The chunk holding [t0, t1] entirely, or -1. */
static int chunk_holding(const chunk_plan *p, double t0, double t1)
{
    for (size_t i = 0; i < p->n; i++)
        if (secs(p->chunks[i].start) <= t0 && secs(p->chunks[i].end) >= t1)
            return (int)i;
    return -1;
}

static void test_silence(void)
{
    chunk_plan_opts o = defaults();
    chunk_plan p;
    sig s = sig_new(30);
    plan_sig(&s, &o, &p, "silence");
    ASSERT_EQ(p.n, 0);
    chunk_plan_release(&p);
    /* Empty and shorter-than-a-frame files. */
    for (int64_t n = 0; n < 3; n++) {
        int16_t v[200] = {0};
        v[0] = 30000;
        plan_samples(v, n == 2 ? 159 : n, &o, &p, "tiny");
        ASSERT_EQ(p.n, 0);
        chunk_plan_release(&p);
    }
    free(s.x);
}

static void test_constant_noise(void)
{
    chunk_plan_opts o = defaults();
    chunk_plan p;
    const double levels[] = {-75, -60, -30, -10};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        rng_seed(i);
        sig s = sig_new(40);
        add_noise(&s, 0, 40, levels[i]);
        plan_sig(&s, &o, &p, "noise");
        ASSERT_EQ(p.n, 0);
        chunk_plan_release(&p);
        free(s.x);
    }
    /* A steady tone is as stationary as noise: not speech either. */
    sig s = sig_new(60);
    add_tone(&s, 0, 60, 440, -6);
    plan_sig(&s, &o, &p, "steady tone");
    ASSERT_EQ(p.n, 0);
    chunk_plan_release(&p);
    free(s.x);
}

/* Bursts far apart: one chunk each, edges pad_s outside the burst. */
static void test_bursts_apart(void)
{
    chunk_plan_opts o = defaults();
    chunk_plan p;
    sig s = sig_new(21);
    for (int k = 0; k < 5; k++)
        add_tone(&s, 1 + 4 * k, 2, 300, -20);
    plan_sig(&s, &o, &p, "bursts 2 s apart");
    ASSERT_EQ(p.n, 5);
    for (int k = 0; k < 5; k++) {
        ASSERT_NEAR(secs(p.chunks[k].start), 1 + 4 * k - o.pad_s, 0.03);
        ASSERT_NEAR(secs(p.chunks[k].end), 3 + 4 * k + o.pad_s, 0.03);
    }
    chunk_plan_release(&p);
    free(s.x);
}

/* none: the same speech, no plan, the file's length. */
static void test_none_plans_nothing(void)
{
    chunk_plan_opts o = defaults();
    o.none = true;
    chunk_plan p;
    sig s = sig_new(21);
    for (int k = 0; k < 5; k++)
        add_tone(&s, 1 + 4 * k, 2, 300, -20);
    plan_sig(&s, &o, &p, "bursts, no plan");
    ASSERT_EQ(p.n, 0);
    ASSERT_EQ(p.total_samples, s.n);
    chunk_plan_release(&p);
    free(s.x);
}

/* 1.5 s bursts with 0.5 s pauses: grouped into 5..15 s chunks cut in pauses. */
static void test_bursts_grouped(void)
{
    chunk_plan_opts o = defaults();
    chunk_plan p;
    sig s = sig_new(82);
    for (int k = 0; k < 40; k++)
        add_tone(&s, 1 + 2 * k, 1.5, 250, -20);
    plan_sig(&s, &o, &p, "bursts 0.5 s apart");
    ASSERT(p.n >= 6 && p.n <= 16);
    for (size_t i = 0; i < p.n; i++) {
        double a = secs(p.chunks[i].start), b = secs(p.chunks[i].end);
        if (i + 1 < p.n)
            ASSERT(b - a >= o.min_s);
        ASSERT_LE(b - a, o.target_s);
        /* Every edge is in a pause: (t - 1) mod 2 in [1.5, 2]. */
        double ea = fmod(a - 1 + 2, 2), eb = fmod(b - 1 + 2, 2);
        ASSERT(ea >= 1.5 || a < 1);
        ASSERT(eb >= 1.5 || eb == 0);
    }
    for (int k = 0; k < 40; k++)
        ASSERT(chunk_holding(&p, 1 + 2 * k, 2.5 + 2 * k) >= 0);
    chunk_plan_release(&p);
    free(s.x);
}

/* 60 s of "syllables" with dips too short to be pauses: one long region
 * that must be split, at dips, into chunks within min..target. */
static void test_continuous_speech_split(void)
{
    chunk_plan_opts o = defaults();
    chunk_plan p;
    sig s = sig_new(64);
    rng_seed(7);
    add_noise(&s, 0, 64, -70);
    /* Syllable k occupies [on[k], off[k]); dips of 40..120 ms between. */
    double on[400], off[400];
    int n = 0;
    for (double t = 2; t < 62 && n < 400; n++) {
        double len = 0.15 + 0.2 * rng_unit(), dip = 0.04 + 0.08 * rng_unit();
        on[n] = t;
        off[n] = t + len;
        add_tone(&s, t, len, 200, -18 + 6 * rng_unit());
        t += len + dip;
    }
    plan_sig(&s, &o, &p, "continuous syllables");
    ASSERT(p.n >= 4 && p.n <= 12);
    for (size_t i = 0; i < p.n; i++) {
        double a = secs(p.chunks[i].start), b = secs(p.chunks[i].end);
        ASSERT(b - a >= o.min_s);
        ASSERT_LE(b - a, o.target_s);
        /* No edge more than 10 ms into a syllable (the ramps are 10 ms). */
        for (int k = 0; k < n; k++) {
            ASSERT(!(a > on[k] + 0.01 && a < off[k] - 0.01));
            ASSERT(!(b > on[k] + 0.01 && b < off[k] - 0.01));
        }
    }
    chunk_plan_release(&p);
    free(s.x);
}

/* A long loud stretch between silences: whatever the VAD makes of it, no
 * chunk exceeds the target (plus nothing: pads are inside the target). */
static void test_long_tone_bounded(void)
{
    chunk_plan_opts o = defaults();
    chunk_plan p;
    sig s = sig_new(80);
    add_tone(&s, 10, 60, 440, -3);
    plan_sig(&s, &o, &p, "60 s tone in silence");
    for (size_t i = 0; i < p.n; i++)
        ASSERT_LE(secs(p.chunks[i].end - p.chunks[i].start), o.target_s);
    ASSERT(p.n >= 1);
    chunk_plan_release(&p);
    free(s.x);
    rng_seed(3);
    s = sig_new(80);
    add_noise(&s, 10, 60, -3);
    plan_sig(&s, &o, &p, "60 s loud noise in silence");
    for (size_t i = 0; i < p.n; i++)
        ASSERT_LE(secs(p.chunks[i].end - p.chunks[i].start), o.target_s);
    chunk_plan_release(&p);
    free(s.x);
}

/* Bursts of 2 s with 1 s gaps starting at 3 s; n of them. */
static sig burst_train(int n, double peak_db, double noise_db)
{
    sig s = sig_new(3 * n + 5);
    if (noise_db > -200)
        add_noise(&s, 0, 3 * n + 5, noise_db);
    for (int k = 0; k < n; k++)
        add_tone(&s, 3 + 3 * k, 2, 180 + 20 * k, peak_db);
    return s;
}

static void expect_bursts_covered(const chunk_plan *p, int n)
{
    for (int k = 0; k < n; k++)
        if (chunk_holding(p, 3 + 3 * k, 5 + 3 * k) < 0)
            TEST_FAIL_("burst %d (%d..%d s) not inside a chunk", k, 3 + 3 * k, 5 + 3 * k);
    /* Nothing planned in the leading silence or noise. */
    ASSERT(p->n > 0 && secs(p->chunks[0].start) > 2.5);
}

static void test_quiet_speech(void)
{
    chunk_plan_opts o = defaults();
    chunk_plan p;
    rng_seed(11);
    sig s = burst_train(10, -40, -85);
    plan_sig(&s, &o, &p, "bursts at -40 dBFS");
    expect_bursts_covered(&p, 10);
    chunk_plan_release(&p);
    free(s.x);
}

static void test_speech_in_noise(void)
{
    chunk_plan_opts o = defaults();
    chunk_plan p;
    rng_seed(12);
    sig s = burst_train(10, -20, -42);
    plan_sig(&s, &o, &p, "bursts in noise");
    expect_bursts_covered(&p, 10);
    ASSERT_LE(p.n, 4);
    chunk_plan_release(&p);
    free(s.x);
}

/* A DC offset changes nothing: the frame power removes the mean exactly. */
static void test_dc_offset(void)
{
    chunk_plan_opts o = defaults();
    chunk_plan p, q;
    rng_seed(13);
    sig s = burst_train(8, -20, -60);
    plan_sig(&s, &o, &p, "bursts");
    for (int64_t i = 0; i < s.n; i++)
        s.x[i] += 9000;
    plan_sig(&s, &o, &q, "bursts with DC");
    expect_bursts_covered(&q, 8);
    ASSERT_EQ(p.n, q.n);
    for (size_t i = 0; i < p.n; i++) {
        ASSERT_EQ(p.chunks[i].start, q.chunks[i].start);
        ASSERT_EQ(p.chunks[i].end, q.chunks[i].end);
    }
    chunk_plan_release(&p);
    chunk_plan_release(&q);
    free(s.x);
}

static void test_clipping(void)
{
    chunk_plan_opts o = defaults();
    chunk_plan p;
    rng_seed(14);
    sig s = burst_train(8, +12, -50); /* 4x past full scale: hard clipped */
    plan_sig(&s, &o, &p, "clipped bursts");
    expect_bursts_covered(&p, 8);
    chunk_plan_release(&p);
    free(s.x);
}

/* Random mixtures and options: the invariants hold whatever comes in. */
static void test_random_inputs(void)
{
    for (uint64_t seed = 1; seed <= 24; seed++) {
        rng_seed(seed * 101);
        chunk_plan_opts o = defaults();
        o.min_s = 0.5 + 6 * rng_unit();
        o.pad_s = 0.5 * rng_unit();
        o.target_s = o.min_s + 2 * o.pad_s + 1 + 10 * rng_unit();
        o.max_s = o.target_s + 10 * rng_unit();
        o.max_gap_s = 3 * rng_unit();
        sig s = sig_new(5 + 40 * rng_unit());
        add_noise(&s, 0, 60, -90 + 80 * rng_unit());
        int parts = (int)(rng_unit() * 30);
        for (int k = 0; k < parts; k++) {
            double t = rng_unit() * (double)s.n / RATE, len = rng_unit() * 20 * rng_unit();
            if (rng_unit() < 0.5)
                add_tone(&s, t, len, 100 + 1000 * rng_unit(), -60 + 66 * rng_unit());
            else
                add_noise(&s, t, len, -60 + 66 * rng_unit());
        }
        chunk_plan p;
        plan_sig(&s, &o, &p, "random");
        chunk_plan_release(&p);
        free(s.x);
    }
}

static void test_bad_opts(void)
{
    int16_t v[1600] = {0};
    write_pcm("in.pcm", v, 1600);
    pcm_file f;
    hark_err err;
    chunk_plan p;
    ASSERT_EQ(pcm_open("in.pcm", &f, &err), 0);
    chunk_plan_opts o = defaults();
    o.max_s = o.target_s - 1; /* below the target */
    ASSERT_EQ(chunk_plan_build(&f, &o, &p, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "invalid chunk plan options"));
    o = defaults();
    o.pad_s = NAN;
    ASSERT_EQ(chunk_plan_build(&f, &o, &p, &err), HARK_EINVAL);
    o = defaults();
    o.min_s = 0;
    ASSERT_EQ(chunk_plan_build(&f, &o, &p, &err), HARK_EINVAL);
    ASSERT_EQ(chunk_plan_build(&f, NULL, &p, &err), 0); /* NULL means defaults */
    ASSERT_EQ(p.n, 0);
    chunk_plan_release(&p);
    pcm_close(&f);
}

/* ---- real speech ---- */

static const char *const clips[] = {
    "sense_and_sensibility_01_austen_64kb-0870.wav",
    "sense_and_sensibility_01_austen_64kb-0880.wav",
    "sense_and_sensibility_01_austen_64kb-0890.wav",
    "sense_and_sensibility_01_austen_64kb-0920.wav",
    "sense_and_sensibility_01_austen_64kb-0930.wav",
};
#define NCLIPS (sizeof clips / sizeof clips[0])

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The samples of a 16 kHz mono s16 WAV file: walk the RIFF chunks to "data"
 * rather than assume a 44-byte header. */
static int16_t *read_wav(const char *name, int64_t *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", test_data_dir(), name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        TEST_FAIL_("cannot open %s", path);
    unsigned char h[12];
    ASSERT_EQ(fread(h, 1, 12, fp), 12);
    ASSERT(memcmp(h, "RIFF", 4) == 0 && memcmp(h + 8, "WAVE", 4) == 0);
    int fmt_ok = 0;
    for (;;) {
        unsigned char ch[8];
        ASSERT_EQ(fread(ch, 1, 8, fp), 8);
        uint32_t size = le32(ch + 4);
        if (memcmp(ch, "fmt ", 4) == 0) {
            unsigned char fm[16];
            ASSERT(size >= 16);
            ASSERT_EQ(fread(fm, 1, 16, fp), 16);
            ASSERT_EQ(fm[0] | fm[1] << 8, 1);    /* PCM */
            ASSERT_EQ(fm[2] | fm[3] << 8, 1);    /* mono */
            ASSERT_EQ(le32(fm + 4), RATE);       /* 16 kHz */
            ASSERT_EQ(fm[14] | fm[15] << 8, 16); /* s16 */
            fmt_ok = 1;
            ASSERT_EQ(fseek(fp, (long)(size - 16 + (size & 1)), SEEK_CUR), 0);
        } else if (memcmp(ch, "data", 4) == 0) {
            ASSERT(fmt_ok);
            *n = size / 2;
            int16_t *v = malloc((size_t)*n * sizeof *v + 1);
            ASSERT(v);
            ASSERT_EQ(fread(v, 2, (size_t)*n, fp), *n);
            fclose(fp);
            return v;
        } else {
            ASSERT_EQ(fseek(fp, (long)(size + (size & 1)), SEEK_CUR), 0);
        }
    }
}

/* All clips concatenated with gap_s of digital silence between them and 1 s
 * at both ends. */
static int16_t *librivox(double gap_s, int64_t *total)
{
    int64_t gap = (int64_t)(gap_s * RATE), n = RATE, cap = 0;
    int16_t *parts[NCLIPS];
    int64_t lens[NCLIPS];
    for (size_t i = 0; i < NCLIPS; i++) {
        parts[i] = read_wav(clips[i], &lens[i]);
        cap += lens[i] + gap;
    }
    cap += 2 * RATE;
    int16_t *v = calloc((size_t)cap, sizeof *v);
    ASSERT(v);
    for (size_t i = 0; i < NCLIPS; i++) {
        memcpy(v + n, parts[i], (size_t)lens[i] * sizeof *v);
        n += lens[i] + (i + 1 < NCLIPS ? gap : 0);
        free(parts[i]);
    }
    *total = n + RATE;
    return v;
}

/* Mean power of v[a, b) in dBFS. */
static double span_db(const int16_t *v, int64_t total, int64_t a, int64_t b)
{
    if (a < 0)
        a = 0;
    if (b > total)
        b = total;
    double e = 1e-3;
    for (int64_t i = a; i < b; i++)
        e += (double)v[i] * v[i];
    return 10 * log10(e / (double)(b - a > 0 ? b - a : 1) / 1073741824.0);
}

static void check_librivox(double gap_s, const chunk_plan_opts *opts)
{
    int64_t total;
    int16_t *v = librivox(gap_s, &total);
    chunk_plan_opts o = *opts;
    chunk_plan p;
    char what[64];
    snprintf(what, sizeof what, "librivox, %.1f s gaps", gap_s);
    plan_samples(v, total, &o, &p, what);
    ASSERT(p.n >= 2);

    /* The speech level: the loudest 100 ms of the recording. */
    double peak = -200;
    for (int64_t a = 0; a + 1600 <= total; a += 160) {
        double d = span_db(v, total, a, a + 1600);
        if (d > peak)
            peak = d;
    }
    /* Every 10 ms frame within 30 dB of it is inside some chunk. */
    for (int64_t a = 0; a + 160 <= total; a += 160) {
        if (span_db(v, total, a, a + 160) < peak - 30)
            continue;
        int in = 0;
        for (size_t i = 0; i < p.n && !in; i++)
            in = p.chunks[i].start <= a && p.chunks[i].end >= a + 160;
        if (!in)
            TEST_FAIL_("speech at %.2f s (%.1f dB) not in a chunk", secs(a),
                       span_db(v, total, a, a + 160));
    }
    for (size_t i = 0; i < p.n; i++) {
        int64_t a = p.chunks[i].start, b = p.chunks[i].end;
        ASSERT(secs(b - a) >= (o.min_s < 2 ? o.min_s : 2));
        ASSERT_LE(secs(b - a), o.max_s);
        /* Cuts are in pauses: the 40 ms around each edge is well below speech. */
        double da = span_db(v, total, a - 320, a + 320);
        double db = span_db(v, total, b - 320, b + 320);
        if (getenv("HARK_PLAN_VERBOSE"))
            printf("  edges of chunk %zu: %.1f dB, %.1f dB below peak\n", i, peak - da, peak - db);
        ASSERT(da < peak - 25);
        ASSERT(db < peak - 25);
    }

    /* Deterministic: the same input gives the same plan. */
    chunk_plan q;
    plan_samples(v, total, &o, &q, "again");
    ASSERT_EQ(p.n, q.n);
    ASSERT(memcmp(p.chunks, q.chunks, p.n * sizeof *p.chunks) == 0);
    chunk_plan_release(&q);
    chunk_plan_release(&p);
    free(v);
}

static void test_librivox_1s_gaps(void)
{
    chunk_plan_opts o = defaults();
    check_librivox(1.0, &o);
}

static void test_librivox_short_gaps(void)
{
    chunk_plan_opts o = defaults();
    check_librivox(0.2, &o);
}

/* Short limits force cuts inside sentences: they must still fall between
 * words. */
static void test_librivox_forced_splits(void)
{
    chunk_plan_opts o = defaults();
    o.min_s = 1.5;
    o.target_s = 4;
    o.max_s = 6;
    check_librivox(0.2, &o);
}

int main(void)
{
    RUN(test_silence);
    RUN(test_constant_noise);
    RUN(test_bursts_apart);
    RUN(test_none_plans_nothing);
    RUN(test_bursts_grouped);
    RUN(test_continuous_speech_split);
    RUN(test_long_tone_bounded);
    RUN(test_quiet_speech);
    RUN(test_speech_in_noise);
    RUN(test_dc_offset);
    RUN(test_clipping);
    RUN(test_random_inputs);
    RUN(test_bad_opts);
    RUN(test_librivox_1s_gaps);
    RUN(test_librivox_short_gaps);
    RUN(test_librivox_forced_splits);
    TEST_DONE();
}
