/* rank.c - highlights, dead air and chapters of a whole recording.
 *
 * Method, measured on synthetic stream VODs (LibriVox narration, faint
 * brown or white noise, a minute of silence, six excited espeak-ng phrases
 * over band-passed pink-noise bursts 0-7 dB above the narration; eight
 * variants of 10-25 minutes: other positions, phrases, burst bands from
 * 400 Hz to 3 kHz, the whole recording 20 dB down or 8 dB up, a +-8..10 dB
 * step in the narration's level half way). Without a transcript, all six
 * moments ranked 1-6 in every variant, dead air found to within 0.3 s,
 * no clip in it. Frames are the 100 ms frames of features.h; "loud" and
 * "quiet" are always relative to the recording's own level, so a quiet
 * podcast and a loud stream both get highlights.
 *
 * 1. Reference level: the median short-term loudness of the frames above
 *    the -70 LUFS floor.
 * 2. Dead air: a frame is silent when its momentary loudness is below BOTH
 *    the reference - 15 LU AND -45 LUFS (a quiet podcast talking at -50 LUFS
 *    is not silent; a loud stream's -30 LUFS lull is not either). Runs of
 *    silent frames of at least dead_air_min_s (20 s; blips of up to 1 s
 *    inside a run are forgiven) are dead air: listed, never a highlight,
 *    no clip overlaps one by more than a second.
 * 3. Baseline: the rolling median of short-term loudness over +-30 s,
 *    leaving out silent frames (speech pauses and dead air would drag it
 *    down); the reference where a window has none.
 * 4. Per-frame evidence, times centred (short-term looks 1.5 s ahead,
 *    momentary 0.2 s):
 *      rise   = 0.6 (short-term - baseline) + 0.4 (1 s power mean of
 *               momentary - baseline), LU                     weight 1.0/LU
 *      crowd  = during frames no quieter than baseline - 3 LU: the 1 s mean
 *               of how much flatter the spectrum is than the recording's
 *               median (dB / 10, capped at 1.5) plus half its brightness
 *               (log2 of centroid over the median, capped 0..1)  weight 3.0
 *      (flux was measured too: steady crowd noise has LOWER flux than
 *      speech (0.33 against 0.48 per frame), so it does not mark a moment;
 *      it stays in the features for later use, weight 0)
 *    Measured: the moments' crowd term saturates (2.0), narration's
 *    loudest stretches reach 0.6-0.85; a moment's summed score is 6-16,
 *    narration's best stretches 3-6.5.
 *      keyword = per hit of a phrase, weight x (0.5 + 0.5 x the words'
 *               mean confidence), from 0.5 s before the phrase to 1 s
 *               after                                           weight 4.0
 *      fast   = words per second in a 4 s window above both 3.5 w/s and
 *               1.5x the recording's median rate, per word/s    weight 1.0
 *               (PocketSphinx on LibriVox narration: 2.5-3.8 w/s in 4 s
 *               windows, median about 2.7; 1.3x flagged ordinary reading)
 *    The sum, averaged over 2 s, is the score curve.
 * 5. Candidates: greedy peaks of the curve (highest first), at least 4 s
 *    apart, score >= 2.0, outside dead air; at most 4 x top_n.
 * 6. Clips: peak - pre_s .. peak + post_s, each end moved to the nearest
 *    pause (a frame 10 LU under the baseline) within 1.5 s while keeping the
 *    peak at least 1 s inside, clamped to the recording, trimmed off dead
 *    air. Overlapping clips merge (the union, at most 2 x (pre + post) long,
 *    never across dead air) keeping the best peak; then the top_n best that
 *    do not overlap, ranked by score (ties: earlier peak first), listed in
 *    time order.
 * 7. Reasons, from the clip: "loudness +X LU over baseline" (the largest
 *    rise within 2 s of the peak, when >= 2 LU), "crowd noise" (crowd >= 1.2
 *    there: above anything narration reached), "keyword \"...\"" (each phrase hit in the clip),
 * "fast speech (X words/s)".
 */
#include "highlights/rank.h"

#include "util/buf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FPS 10 /* frames per second */
#define SILENT_BELOW_REF 15.0
#define SILENT_ABS (-45.0)
#define DEAD_BLIP_FRAMES 10
#define BASE_HALF_FRAMES 300
#define PAUSE_BELOW_BASE 10.0
#define SNAP_S 1.5
#define PEAK_MARGIN_S 1.0
#define MIN_SCORE 2.0
#define PEAK_GAP_S 4.0
#define W_RISE 1.0
#define W_CROWD 3.0
#define W_KEYWORD 4.0
#define W_FAST 1.0
#define CROWD_REASON 1.2
#define RISE_REASON 2.0
#define MAX_REASONS 8

void hl_opts_default(hl_opts *o)
{
    memset(o, 0, sizeof *o);
    o->top_n = 10;
    o->pre_s = 8;
    o->post_s = 5;
    o->dead_air_min_s = 20;
    o->default_keywords = true;
}

/* --- small helpers ------------------------------------------------------- */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Median of the values of v[0..n) for which keep is NULL or keep[i]; fallback
 * when none. */
static float median_of(const float *v, const unsigned char *keep, size_t n, float fallback)
{
    float *tmp = malloc((n ? n : 1) * sizeof *tmp);
    size_t m = 0;
    if (!tmp)
        return fallback;
    for (size_t i = 0; i < n; i++)
        if (!keep || keep[i])
            tmp[m++] = v[i];
    float r = fallback;
    if (m) {
        qsort(tmp, m, sizeof *tmp, cmp_float);
        r = tmp[m / 2];
    }
    free(tmp);
    return r;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* --- the working state --------------------------------------------------- */

typedef struct kw_hit {
    size_t phrase; /* index into the combined keyword list */
    double start, end;
} kw_hit;

typedef struct ranker {
    const hl_features *f;
    const transcript *t;
    const hl_opts *o;
    size_t n; /* frames used (within duration) */
    double duration;
    float ref;
    unsigned char *silent, *dead;
    float *base, *rise, *crowd, *rate, *score, *curve;
    const hl_keyword **kw; /* combined list: defaults then the user's */
    size_t n_kw;
    kw_hit *hits;
    size_t n_hits;
    float fast_threshold;
} ranker;

static void ranker_release(ranker *r)
{
    free(r->silent);
    free(r->dead);
    free(r->base);
    free(r->rise);
    free(r->crowd);
    free(r->rate);
    free(r->score);
    free(r->curve);
    free(r->kw);
    free(r->hits);
}

static float centred(const float *v, size_t n, size_t i, size_t ahead)
{
    size_t j = i + ahead < n ? i + ahead : n - 1;
    return v[j];
}

/* 2. dead air: runs of silent frames, forgiving short blips. */
static int find_dead_air(ranker *r, hl_result *out)
{
    const hl_features *f = r->f;
    size_t n = r->n, min_frames = (size_t)(r->o->dead_air_min_s * FPS + 0.5);
    for (size_t i = 0; i < n; i++)
        r->silent[i] = f->momentary[i] < r->ref - SILENT_BELOW_REF && f->momentary[i] < SILENT_ABS;
    size_t cap = 0;
    for (size_t i = 0; i < n;) {
        if (!r->silent[i]) {
            i++;
            continue;
        }
        size_t j = i, last = i; /* last silent frame of the run */
        while (j < n) {
            if (r->silent[j]) {
                last = j;
                j++;
            } else if (j - last <= DEAD_BLIP_FRAMES) {
                j++;
            } else {
                break;
            }
        }
        size_t len = last + 1 - i;
        if (len >= min_frames && min_frames > 0) {
            if (out->n_dead == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                hl_span *g = realloc(out->dead_air, ncap * sizeof *g);
                if (!g)
                    return HARK_ENOMEM;
                out->dead_air = g;
                cap = ncap;
            }
            /* momentary at a frame's end looks 400 ms back: the silence
             * began about 0.3 s before the first silent frame ends. */
            double s = hl_frame_time(f, i) - 0.3, e = hl_frame_time(f, last + 1);
            out->dead_air[out->n_dead].start = s < 0 ? 0 : s;
            out->dead_air[out->n_dead].end = e > r->duration ? r->duration : e;
            out->n_dead++;
            for (size_t k = i; k <= last; k++)
                r->dead[k] = 1;
        }
        i = last + 1;
    }
    return 0;
}

/* 3. rolling median of short-term loudness over non-silent frames, with a
 * histogram of 0.1 LU bins (a window holds 601 frames: sorting each would
 * cost 50x more). */
#define HB_LO (-70.0)
#define HB_N 901 /* -70 .. +20 LUFS */
static int hbin(float v)
{
    int b = (int)lround((v - HB_LO) * 10.0);
    return b < 0 ? 0 : b >= HB_N ? HB_N - 1 : b;
}

static void rolling_baseline(ranker *r)
{
    const hl_features *f = r->f;
    size_t n = r->n;
    int hist[HB_N];
    memset(hist, 0, sizeof hist);
    size_t count = 0;
    size_t hi = 0; /* frames [lo, hi) are in the window */
    for (size_t i = 0; i < n; i++) {
        size_t want_hi = i + BASE_HALF_FRAMES + 1 < n ? i + BASE_HALF_FRAMES + 1 : n;
        for (; hi < want_hi; hi++) {
            if (!r->silent[hi] && f->short_term[hi] > HL_FLOOR_LUFS) {
                hist[hbin(f->short_term[hi])]++;
                count++;
            }
        }
        if (i > BASE_HALF_FRAMES) {
            size_t out = i - BASE_HALF_FRAMES - 1;
            if (!r->silent[out] && f->short_term[out] > HL_FLOOR_LUFS) {
                hist[hbin(f->short_term[out])]--;
                count--;
            }
        }
        if (count == 0) {
            r->base[i] = r->ref;
            continue;
        }
        size_t need = (count + 1) / 2, acc = 0;
        int b = 0;
        for (; b < HB_N; b++) {
            acc += (size_t)hist[b];
            if (acc >= need)
                break;
        }
        r->base[i] = (float)(HB_LO + b / 10.0);
    }
}

/* 4. audio evidence: rise over baseline and crowd noise. */
static int audio_evidence(ranker *r)
{
    const hl_features *f = r->f;
    size_t n = r->n;
    float *logflat = malloc(n * sizeof *logflat), *mom = malloc(n * sizeof *mom);
    unsigned char *active = malloc(n);
    if (!logflat || !mom || !active) {
        free(logflat);
        free(mom);
        free(active);
        return HARK_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        logflat[i] = (float)(10.0 * log10(f->flatness[i] > 1e-15f ? f->flatness[i] : 1e-15f));
        /* 1 s power mean of the centred momentary loudness */
        double e = 0;
        int k = 0;
        for (long j = (long)i - 5; j < (long)i + 5; j++) {
            if (j < 0 || (size_t)j >= n)
                continue;
            e += pow(10.0, centred(f->momentary, n, (size_t)j, 2) / 10.0);
            k++;
        }
        mom[i] = (float)(10.0 * log10(e / k));
        active[i] = !r->silent[i] && f->momentary[i] > r->base[i] - 6;
    }
    float ref_flat = median_of(logflat, active, n, -25.0f);
    float ref_cent = median_of(f->centroid, active, n, 1000.0f);
    if (ref_cent < 100)
        ref_cent = 100;
    for (size_t i = 0; i < n; i++) {
        double st = centred(f->short_term, n, i, 15) - r->base[i];
        double mo = mom[i] - r->base[i];
        r->rise[i] = (float)(0.6 * st + 0.4 * mo);
        double fl = 0, br = 0;
        int k = 0;
        for (long j = (long)i - 5; j < (long)i + 5; j++) {
            if (j < 0 || (size_t)j >= n)
                continue;
            k++;
            if (r->dead[j] || centred(f->momentary, n, (size_t)j, 2) < r->base[i] - 3)
                continue;
            fl += clampd((logflat[j] - ref_flat) / 10.0, 0, 1.5);
            br += clampd(log2((f->centroid[j] > 1 ? f->centroid[j] : 1) / ref_cent), 0, 1);
        }
        r->crowd[i] = (float)((fl + 0.5 * br) / k);
    }
    free(logflat);
    free(mom);
    free(active);
    return 0;
}

/* --- transcript evidence ------------------------------------------------- */

/* Normalised words of the transcript, one string each ("" for punctuation). */
static char **normalised_words(const transcript *t)
{
    char **w = calloc(t->n_words ? t->n_words : 1, sizeof *w);
    if (!w)
        return NULL;
    for (size_t i = 0; i < t->n_words; i++) {
        char tmp[128];
        if (hl_normalise(t->words[i].text ? t->words[i].text : "", tmp, sizeof tmp) == 0)
            tmp[0] = '\0';
        w[i] = strdup(tmp);
        if (!w[i]) {
            for (size_t k = 0; k < i; k++)
                free(w[k]);
            free(w);
            return NULL;
        }
    }
    return w;
}

static void free_words(char **w, size_t n)
{
    if (!w)
        return;
    for (size_t i = 0; i < n; i++)
        free(w[i]);
    free(w);
}

/* Does the phrase match the words from i on (skipping words that normalised
 * to nothing)? Sets *last to the last word used. */
static bool phrase_at(char **w, size_t nw, size_t i, const char *phrase, size_t *last)
{
    const char *p = phrase;
    size_t j = i;
    while (*p) {
        while (j < nw && w[j][0] == '\0')
            j++;
        if (j >= nw)
            return false;
        /* a transcript word may itself hold several words ("let's go") */
        size_t len = strlen(w[j]);
        if (strncmp(p, w[j], len) != 0 || (p[len] != '\0' && p[len] != ' '))
            return false;
        p += len;
        if (*p == ' ')
            p++;
        *last = j;
        j++;
    }
    return true;
}

static int add_hit(ranker *r, size_t *cap, size_t phrase, double s, double e)
{
    if (r->n_hits == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        kw_hit *g = realloc(r->hits, ncap * sizeof *g);
        if (!g)
            return HARK_ENOMEM;
        r->hits = g;
        *cap = ncap;
    }
    r->hits[r->n_hits++] = (kw_hit){phrase, s, e};
    return 0;
}

static void add_span(float *v, size_t n, double s, double e, float amount)
{
    long a = (long)floor(s * FPS), b = (long)ceil(e * FPS);
    for (long i = a < 0 ? 0 : a; i < b && (size_t)i < n; i++)
        v[i] += amount;
}

static int transcript_evidence(ranker *r)
{
    const transcript *t = r->t;
    size_t n = r->n;
    if (!t || t->n_words == 0)
        return 0;
    char **w = normalised_words(t);
    if (!w)
        return HARK_ENOMEM;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < t->n_words && rc == 0; i++) {
        if (w[i][0] == '\0')
            continue;
        for (size_t k = 0; k < r->n_kw; k++) {
            size_t last = i;
            if (!phrase_at(w, t->n_words, i, r->kw[k]->phrase, &last))
                continue;
            double conf = 0;
            for (size_t j = i; j <= last; j++)
                conf += t->words[j].confidence;
            conf /= (double)(last - i + 1);
            double s = t->words[i].start, e = t->words[last].end;
            add_span(r->score, n, s - 0.5, e + 1.0,
                     (float)(W_KEYWORD * r->kw[k]->weight * (0.5 + 0.5 * clampd(conf, 0, 1))));
            rc = add_hit(r, &cap, k, s, e);
            if (rc)
                break;
        }
    }
    free_words(w, t->n_words);
    if (rc)
        return rc;

    /* Words per second in a 4 s window around each frame: count word
     * midpoints with two moving indices. */
    size_t lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        double c = (i + 0.5) / FPS;
        while (hi < t->n_words && (t->words[hi].start + t->words[hi].end) / 2 < c + 2)
            hi++;
        while (lo < hi && (t->words[lo].start + t->words[lo].end) / 2 < c - 2)
            lo++;
        r->rate[i] = (float)(hi - lo) / 4.0f;
    }
    unsigned char *speaking = calloc(n ? n : 1, 1);
    if (!speaking)
        return HARK_ENOMEM;
    for (size_t i = 0; i < n; i++)
        speaking[i] = r->rate[i] > 0;
    float med = median_of(r->rate, speaking, n, 2.5f);
    free(speaking);
    r->fast_threshold = (float)(1.5 * med > 3.5 ? 1.5 * med : 3.5);
    for (size_t i = 0; i < n; i++)
        if (r->rate[i] > r->fast_threshold)
            r->score[i] += (float)(W_FAST * (r->rate[i] - r->fast_threshold));
    return 0;
}

/* --- candidates and clips ------------------------------------------------ */

typedef struct cand {
    double start, end, peak, score;
} cand;

static int cmp_cand_score(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->peak > y->peak) - (x->peak < y->peak);
}

static int cmp_cand_start(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->start != y->start)
        return (x->start > y->start) - (x->start < y->start);
    return (x->peak > y->peak) - (x->peak < y->peak);
}

typedef struct frame_order {
    float score;
    size_t i;
} frame_order;

static int cmp_frame(const void *a, const void *b)
{
    const frame_order *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static bool is_pause(const ranker *r, size_t i)
{
    return r->silent[i] || centred(r->f->momentary, r->n, i, 2) < r->base[i] - PAUSE_BELOW_BASE;
}

/* Move t to the nearest pause frame within SNAP_S that keeps [lo, hi]. */
static double snap(const ranker *r, double t, double lo, double hi)
{
    double best = t, best_d = 1e9;
    long a = (long)floor((t - SNAP_S) * FPS), b = (long)ceil((t + SNAP_S) * FPS);
    for (long i = a; i <= b; i++) {
        if (i < 0 || (size_t)i >= r->n)
            continue;
        double ti = (double)i / FPS;
        if (ti < lo || ti > hi || !is_pause(r, (size_t)i))
            continue;
        double d = fabs(ti - t);
        if (d < best_d - 1e-9) {
            best_d = d;
            best = ti;
        }
    }
    return best;
}

static double dead_overlap(const hl_result *out, double s, double e)
{
    double o = 0;
    for (size_t k = 0; k < out->n_dead; k++) {
        double a = s > out->dead_air[k].start ? s : out->dead_air[k].start;
        double b = e < out->dead_air[k].end ? e : out->dead_air[k].end;
        if (b > a)
            o += b - a;
    }
    return o;
}

static void trim_dead(const hl_result *out, cand *c)
{
    for (size_t k = 0; k < out->n_dead; k++) {
        const hl_span *d = &out->dead_air[k];
        if (c->end <= d->start || c->start >= d->end)
            continue;
        if (c->peak <= d->start)
            c->end = c->end < d->start + 0.5 ? c->end : d->start + 0.5;
        else if (c->peak >= d->end)
            c->start = c->start > d->end - 0.5 ? c->start : d->end - 0.5;
    }
}

static int find_candidates(ranker *r, hl_result *out, cand **cands, size_t *n_cands)
{
    size_t n = r->n;
    /* the curve: 2 s moving average of the score */
    double acc = 0;
    for (size_t i = 0; i < n + 10; i++) {
        if (i < n)
            acc += r->score[i];
        if (i >= 20)
            acc -= r->score[i - 20];
        if (i >= 10 && i - 10 < n)
            r->curve[i - 10] = (float)(acc / 20.0);
    }
    frame_order *ord = malloc((n ? n : 1) * sizeof *ord);
    size_t max_c = (size_t)r->o->top_n * 4;
    cand *c = calloc(max_c, sizeof *c);
    if (!ord || !c) {
        free(ord);
        free(c);
        return HARK_ENOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!r->dead[i] && r->curve[i] >= MIN_SCORE)
            ord[m++] = (frame_order){r->curve[i], i};
    qsort(ord, m, sizeof *ord, cmp_frame);
    size_t nc = 0;
    for (size_t k = 0; k < m && nc < max_c; k++) {
        double peak = (ord[k].i + 0.5) / FPS;
        bool near = false;
        for (size_t j = 0; j < nc && !near; j++)
            near = fabs(c[j].peak - peak) < PEAK_GAP_S;
        if (near)
            continue;
        cand x = {peak - r->o->pre_s, peak + r->o->post_s, peak, ord[k].score};
        x.start = snap(r, x.start, -1e9, peak - PEAK_MARGIN_S);
        x.end = snap(r, x.end, peak + PEAK_MARGIN_S, 1e9);
        x.start = clampd(x.start, 0, r->duration);
        x.end = clampd(x.end, 0, r->duration);
        trim_dead(out, &x);
        if (x.end - x.start < 1.0)
            continue;
        c[nc++] = x;
    }
    free(ord);
    *cands = c;
    *n_cands = nc;
    return 0;
}

/* Merge overlapping candidates (time order), within a length cap and never
 * across dead air. */
static size_t merge_candidates(const ranker *r, const hl_result *out, cand *c, size_t n)
{
    if (n == 0)
        return 0;
    qsort(c, n, sizeof *c, cmp_cand_start);
    double cap = 2 * (r->o->pre_s + r->o->post_s);
    size_t w = 0;
    for (size_t i = 1; i < n; i++) {
        cand *a = &c[w], *b = &c[i];
        double s = a->start, e = b->end > a->end ? b->end : a->end;
        if (b->start < a->end && e - s <= cap && dead_overlap(out, s, e) <= 1.0) {
            if (b->score > a->score) {
                a->peak = b->peak;
                a->score = b->score;
            }
            a->end = e;
        } else {
            c[++w] = *b;
        }
    }
    return w + 1;
}

/* --- reasons and text ---------------------------------------------------- */

static int push_reason(hl_highlight *h, const char *s)
{
    if (h->n_reasons >= MAX_REASONS)
        return 0;
    for (size_t i = 0; i < h->n_reasons; i++)
        if (strcmp(h->reasons[i], s) == 0)
            return 0;
    char *d = strdup(s);
    if (!d)
        return HARK_ENOMEM;
    h->reasons[h->n_reasons++] = d;
    return 0;
}

static int explain(const ranker *r, hl_highlight *h)
{
    h->reasons = calloc(MAX_REASONS, sizeof *h->reasons);
    if (!h->reasons)
        return HARK_ENOMEM;
    char tmp[160];
    long a = (long)floor((h->peak - 2) * FPS), b = (long)ceil((h->peak + 2) * FPS);
    double rise = -1e9, crowd = 0;
    for (long i = a < 0 ? 0 : a; i <= b && (size_t)i < r->n; i++) {
        if (r->rise[i] > rise)
            rise = r->rise[i];
        if (r->crowd[i] > crowd)
            crowd = r->crowd[i];
    }
    if (rise >= RISE_REASON) {
        snprintf(tmp, sizeof tmp, "loudness +%.1f LU over baseline", rise);
        if (push_reason(h, tmp))
            return HARK_ENOMEM;
    }
    if (crowd >= CROWD_REASON && push_reason(h, "crowd noise"))
        return HARK_ENOMEM;
    for (size_t k = 0; k < r->n_hits; k++) {
        const kw_hit *x = &r->hits[k];
        if (x->end <= h->start || x->start >= h->end)
            continue;
        snprintf(tmp, sizeof tmp, "keyword \"%s\"", r->kw[x->phrase]->phrase);
        if (push_reason(h, tmp))
            return HARK_ENOMEM;
    }
    if (r->t && r->t->n_words) {
        double best = 0;
        long s = (long)floor(h->start * FPS), e = (long)ceil(h->end * FPS);
        for (long i = s < 0 ? 0 : s; i < e && (size_t)i < r->n; i++)
            if (r->rate[i] > best)
                best = r->rate[i];
        if (best > r->fast_threshold) {
            snprintf(tmp, sizeof tmp, "fast speech (%.1f words/s)", best);
            if (push_reason(h, tmp))
                return HARK_ENOMEM;
        }
    }
    if (h->n_reasons == 0) {
        /* weak evidence only: say which kind */
        if (rise > 0.05)
            snprintf(tmp, sizeof tmp, "loudness +%.1f LU over baseline", rise);
        else
            snprintf(tmp, sizeof tmp, "%s", crowd > 0.3 ? "noise-like sound" : "activity");
        if (push_reason(h, tmp))
            return HARK_ENOMEM;
    }
    return 0;
}

static char *clip_text(const transcript *t, double s, double e)
{
    buf b;
    buf_init(&b, 64 * 1024);
    if (t) {
        for (size_t i = 0; i < t->n_words; i++) {
            double mid = (t->words[i].start + t->words[i].end) / 2;
            if (mid < s || mid > e || !t->words[i].text || !t->words[i].text[0])
                continue;
            if ((b.len && buf_puts(&b, " ") != 0) || buf_puts(&b, t->words[i].text) != 0)
                break; /* capped: the text so far */
        }
    }
    char *r = buf_steal(&b);
    buf_release(&b);
    return r;
}

/* --- the entry point ----------------------------------------------------- */

void hl_result_release(hl_result *r)
{
    free(r->source);
    for (size_t i = 0; i < r->n; i++) {
        for (size_t k = 0; k < r->h[i].n_reasons; k++)
            free(r->h[i].reasons[k]);
        free(r->h[i].reasons);
        free(r->h[i].text);
    }
    free(r->h);
    free(r->dead_air);
    hl_chapters_free(r->chapters, r->n_chapters);
    memset(r, 0, sizeof *r);
}

static int validate(const hl_features *f, double duration, const hl_opts *o, hark_err *err)
{
    if (!isfinite(duration) || duration < 0 || duration > 10 * 3600.0 + 1)
        return err_set(err, HARK_EINVAL, "cannot rank highlights: bad duration %g", duration);
    if (o->top_n < 1 || o->top_n > 100)
        return err_set(err, HARK_EINVAL, "cannot rank highlights: --top must be 1 to 100");
    if (!isfinite(o->pre_s) || o->pre_s < 0 || o->pre_s > 600 || !isfinite(o->post_s) ||
        o->post_s < 0 || o->post_s > 600 || o->pre_s + o->post_s < 1)
        return err_set(err, HARK_EINVAL,
                       "cannot rank highlights: --pre and --post must be 0 to 600 s, "
                       "together at least 1 s");
    if (!isfinite(o->dead_air_min_s) || o->dead_air_min_s < 1 || o->dead_air_min_s > 3600)
        return err_set(err, HARK_EINVAL,
                       "cannot rank highlights: dead air minimum must be 1 "
                       "to 3600 s");
    if (f && f->n && f->start != 0)
        return err_set(err, HARK_EINVAL,
                       "cannot rank highlights: features start at sample %lld, "
                       "not 0",
                       (long long)f->start);
    return 0;
}

int hl_find(const hl_features *f, const transcript *t, const char *source, double duration,
            const hl_opts *o, hl_result *out, hark_err *err)
{
    hl_opts defaults;
    memset(out, 0, sizeof *out);
    if (!o) {
        hl_opts_default(&defaults);
        o = &defaults;
    }
    int rc = validate(f, duration, o, err);
    if (rc)
        return rc;
    static const hl_features none = {0};
    if (!f)
        f = &none;

    ranker r = {.f = f, .t = t, .o = o, .duration = duration};
    cand *c = NULL;
    size_t nc = 0;
    out->source = strdup(source ? source : "");
    out->duration = duration;
    r.n = f->n;
    if ((double)r.n > ceil(duration * FPS))
        r.n = (size_t)ceil(duration * FPS);
    size_t n = r.n, m = n ? n : 1;
    r.silent = calloc(m, 1);
    r.dead = calloc(m, 1);
    r.base = calloc(m, sizeof(float));
    r.rise = calloc(m, sizeof(float));
    r.crowd = calloc(m, sizeof(float));
    r.rate = calloc(m, sizeof(float));
    r.score = calloc(m, sizeof(float));
    r.curve = calloc(m, sizeof(float));
    size_t n_def = 0;
    const hl_keyword *def = hl_default_keywords(&n_def);
    if (!o->default_keywords)
        n_def = 0;
    r.kw = calloc(n_def + o->n_keywords + 1, sizeof *r.kw);
    if (!out->source || !r.silent || !r.dead || !r.base || !r.rise || !r.crowd || !r.rate ||
        !r.score || !r.curve || !r.kw)
        goto oom;
    for (size_t k = 0; k < n_def; k++)
        r.kw[r.n_kw++] = &def[k];
    for (size_t k = 0; k < o->n_keywords; k++)
        if (o->keywords[k].phrase && o->keywords[k].phrase[0])
            r.kw[r.n_kw++] = &o->keywords[k];

    unsigned char *above = calloc(m, 1);
    if (!above)
        goto oom;
    for (size_t i = 0; i < n; i++)
        above[i] = f->short_term[i] > HL_FLOOR_LUFS;
    r.ref = n ? median_of(f->short_term, above, n, HL_FLOOR_LUFS) : HL_FLOOR_LUFS;
    free(above);

    if (find_dead_air(&r, out) != 0)
        goto oom;
    if (n) {
        rolling_baseline(&r);
        if (audio_evidence(&r) != 0)
            goto oom;
        for (size_t i = 0; i < n; i++)
            r.score[i] = (float)(W_RISE * (r.rise[i] > 0 ? r.rise[i] : 0) + W_CROWD * r.crowd[i]);
    }
    if (transcript_evidence(&r) != 0)
        goto oom;
    for (size_t i = 0; i < n; i++)
        if (r.dead[i])
            r.score[i] = 0;
    if (n && find_candidates(&r, out, &c, &nc) != 0)
        goto oom;
    nc = merge_candidates(&r, out, c, nc);
    if (nc)
        qsort(c, nc, sizeof *c, cmp_cand_score);
    size_t chosen = 0;
    for (size_t i = 0; i < nc && chosen < (size_t)o->top_n; i++) {
        bool overlaps = false;
        for (size_t j = 0; j < chosen && !overlaps; j++)
            overlaps = c[i].start < c[j].end && c[j].start < c[i].end;
        if (!overlaps)
            c[chosen++] = c[i];
    }
    out->h = calloc(chosen ? chosen : 1, sizeof *out->h);
    if (!out->h)
        goto oom;
    for (size_t i = 0; i < chosen; i++) {
        hl_highlight *h = &out->h[out->n++];
        h->rank = (int)i + 1;
        h->start = c[i].start;
        h->end = c[i].end;
        h->peak = c[i].peak;
        h->score = c[i].score;
        h->text = clip_text(t, h->start, h->end);
        if (!h->text || explain(&r, h) != 0)
            goto oom;
    }
    /* time order (ranks stay with their highlights) */
    for (size_t i = 1; i < out->n; i++) {
        hl_highlight x = out->h[i];
        size_t j = i;
        while (j > 0 && out->h[j - 1].start > x.start) {
            out->h[j] = out->h[j - 1];
            j--;
        }
        out->h[j] = x;
    }
    rc = hl_chapters_find(n ? f : NULL, t, duration, out->dead_air, out->n_dead, &out->chapters,
                          &out->n_chapters, err);
    if (rc)
        goto fail;
    free(c);
    ranker_release(&r);
    return 0;
oom:
    rc = err_set(err, HARK_ENOMEM, "cannot rank highlights: out of memory");
fail:
    free(c);
    ranker_release(&r);
    hl_result_release(out);
    return rc;
}
