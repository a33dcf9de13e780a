/* chunk_plan.c - where to cut a recording into chunks (see chunk_plan.h).
 *
 * Four steps, all in integers or in one sequential pass so the result is a
 * pure function of the samples and the options:
 *
 * 1. Frames. The PCM is streamed in blocks and cut into 10 ms frames. Each
 *    frame's power is computed exactly in integers with its mean removed
 *    (n*sum(x^2) - sum(x)^2), so a DC offset contributes nothing, and mapped
 *    to a 0.5 dB bin over [-100, 0) dBFS (digital silence is bin 0).
 *
 * 2. Noise floor and VAD. The floor at frame t is the 10th percentile of the
 *    bins in a window centred on t (FLOOR_HALF frames each side, clipped to
 *    the file), kept in a 200-bin histogram fed through a ring buffer: the
 *    memory is constant and, because the window looks ahead, the floor is
 *    already right at the first frame (no false "speech" while it adapts to
 *    a noisy start). A frame is speech if it is SPEECH_ABOVE_FLOOR dB above
 *    the floor and above an absolute SPEECH_MIN_DBFS, so stationary noise of
 *    any level, and near-silence, never count. A wide window (20 s) keeps the
 *    floor in the pauses even in dense speech; the price is that a sudden
 *    rise of the noise level looks like speech for up to ~8 s.
 *
 * 3. Regions. Runs of speech frames, with gaps shorter than HANGOVER merged
 *    (the gaps between syllables and words) and runs shorter than MIN_REGION
 *    dropped (clicks). A region longer than the span target is split at its
 *    quietest point: the minimum of the power averaged over 160 ms, searched
 *    in [start + min_s, start + target] (and leaving at least min_s after it
 *    when it can), re-reading only that stretch of the file.
 *
 * 4. Chunks. Greedy, in order: a chunk takes the next region while the gap
 *    to it is at most max_gap_s and the chunk stays within the target, or
 *    while the chunk is still shorter than min_s and stays within max. The
 *    edges get pad_s of context, clamped to the file and to the midpoint of
 *    the gap to the neighbouring chunk, so chunks never overlap and a cut
 *    between two chunks is always in a pause (or at a split's quietest point).
 *
 * Lengths are compared as spans of speech with room left for both pads, so
 * a chunk, pads included, is never longer than max_s whatever the input.
 */
#include "media/chunk_plan.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FRAME 160                                 /* samples in a 10 ms frame */
#define FRAMES_PER_S 100                          /* PCM_RATE / FRAME */
#define NBINS 200                                 /* 0.5 dB bins over [-100, 0) dBFS */
#define BINS_PER_DB 2                             /* bins per dB */
#define FLOOR_HALF 1000                           /* floor window: 10 s each side of the frame */
#define FLOOR_PERCENT 10                          /* the floor is this percentile of the window */
#define SPEECH_ABOVE_FLOOR (10 * BINS_PER_DB)     /* speech is 10 dB over the floor */
#define SPEECH_MIN_BIN ((100 - 65) * BINS_PER_DB) /* and over -65 dBFS */
#define HANGOVER 30                               /* merge speech runs less than 0.3 s apart */
#define MIN_REGION 10                             /* drop speech runs shorter than 0.1 s */
#define SMOOTH_HALF 8   /* quietest stretch: power averaged over 2 x 80 ms */
#define FINE_HALF 2     /* cut point inside it: power averaged over 2 x 20 ms */
#define READ_FRAMES 256 /* frames per streamed block (82 KB) */
#define MAX_REGIONS ((size_t)1 << 26)
#define PLAN_MAX_BYTES ((size_t)64 << 20) /* a plan file is never this big */
#define PLAN_MAX_LINE 64                  /* "<int64> <int64>" fits with room */

typedef struct region {
    int64_t s, e; /* frames, e exclusive */
} region;

typedef struct region_list {
    region *v;
    size_t n, cap;
} region_list;

void chunk_plan_opts_default(chunk_plan_opts *o)
{
    /* Measured on 100 s of the LibriVox clips: 10 s targets score 26.8%
     * WER against 31.0% with 15 s targets, at the same speed; PocketSphinx
     * does better on shorter utterances. A 0.2 s pad scored 25.4% but
     * clipped soft word ends (the LibriVox coverage test caught it). */
    o->min_s = 5;
    o->target_s = 10;
    o->max_s = 30;
    o->max_gap_s = 1.5;
    o->pad_s = 0.25;
    o->none = false;
}

static int push_region(region_list *l, int64_t s, int64_t e, hark_err *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        if (cap > MAX_REGIONS)
            return err_set(err, HARK_ENOMEM, "cannot plan chunks: too many speech regions");
        region *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return err_set(err, HARK_ENOMEM, "cannot plan chunks: out of memory");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].s = s;
    l->v[l->n].e = e;
    l->n++;
    return 0;
}

/* n * (mean-removed energy of x[0..n)) * n, exact: n*sum(x^2) - sum(x)^2.
 * For n <= 160 both terms stay below 2^45. */
static int64_t frame_power(const int16_t *x, int n)
{
    int64_t sum = 0, sumsq = 0;
    for (int i = 0; i < n; i++) {
        sum += x[i];
        sumsq += (int64_t)x[i] * x[i];
    }
    return (int64_t)n * sumsq - sum * sum;
}

static int power_bin(int64_t p, int n)
{
    if (p <= 0 || n <= 0)
        return 0;
    double ms = (double)p / ((double)n * n);
    double db = 10.0 * log10(ms / 1073741824.0); /* relative to full scale 32768^2 */
    double b = floor((db + 100.0) * BINS_PER_DB);
    if (b < 0)
        return 0;
    if (b >= NBINS)
        return NBINS - 1;
    return (int)b;
}

int chunk_plan_frame_bin(const int16_t *x, int n)
{
    return power_bin(frame_power(x, n), n);
}

static int read_error(int64_t at, hark_err *err)
{
    return err_set(err, HARK_EIO, "cannot plan chunks: cannot read PCM at sample %" PRId64, at);
}

/* Streaming frame reader: frames must be asked for in increasing order. */
typedef struct frame_reader {
    const pcm_file *pcm;
    int16_t *buf;
    int64_t at, n; /* buf holds samples [at, at + n) */
} frame_reader;

/* Power of frame f into *p and its length into *len. */
static int read_frame(frame_reader *r, int64_t f, int64_t *p, int *len, hark_err *err)
{
    int64_t s = f * FRAME, total = r->pcm->n_samples;
    int n = total - s < FRAME ? (int)(total - s) : FRAME;
    if (s < r->at || s + n > r->at + r->n) {
        int64_t got = pcm_read(r->pcm, s, r->buf, (size_t)FRAME * READ_FRAMES);
        if (got < n)
            return read_error(s, err);
        r->at = s;
        r->n = got;
    }
    *p = frame_power(r->buf + (s - r->at), n);
    *len = n;
    return 0;
}

static int flush_run(region_list *rl, int64_t s, int64_t e, hark_err *err)
{
    if (s < 0 || e - s < MIN_REGION)
        return 0;
    return push_region(rl, s, e, err);
}

/* Steps 1-3 (without the splitting): speech regions of the whole file. */
static int find_regions(const pcm_file *pcm, region_list *rl, hark_err *err)
{
    int64_t nframes = (pcm->n_samples + FRAME - 1) / FRAME;
    enum { RING = 2 * FLOOR_HALF + 1 };
    static const int64_t zero_hist[NBINS];
    unsigned char *ring = malloc(RING);
    int64_t *hist = malloc(sizeof zero_hist);
    frame_reader fr = {pcm, malloc((size_t)FRAME * READ_FRAMES * sizeof(int16_t)), 0, 0};
    int rc = 0;
    if (!ring || !hist || !fr.buf) {
        rc = err_set(err, HARK_ENOMEM, "cannot plan chunks: out of memory");
        goto out;
    }
    memcpy(hist, zero_hist, sizeof zero_hist);
    int64_t hcount = 0, next_in = 0, run_s = -1, run_e = -1;
    for (int64_t t = 0; t < nframes; t++) {
        /* Slide the window to [t - FLOOR_HALF, t + FLOOR_HALF]: drop first,
         * since the frame coming in reuses the leaving frame's ring slot. */
        if (t - FLOOR_HALF - 1 >= 0) {
            hist[ring[(t - FLOOR_HALF - 1) % RING]]--;
            hcount--;
        }
        int64_t last = t + FLOOR_HALF < nframes ? t + FLOOR_HALF : nframes - 1;
        for (; next_in <= last; next_in++) {
            int64_t p;
            int len;
            rc = read_frame(&fr, next_in, &p, &len, err);
            if (rc)
                goto out;
            int b = power_bin(p, len);
            ring[next_in % RING] = (unsigned char)b;
            hist[b]++;
            hcount++;
        }
        int64_t want = (hcount * FLOOR_PERCENT + 99) / 100, cum = 0;
        int floor_bin = 0;
        for (; floor_bin < NBINS - 1; floor_bin++) {
            cum += hist[floor_bin];
            if (cum >= want)
                break;
        }
        int b = ring[t % RING];
        if (b < floor_bin + SPEECH_ABOVE_FLOOR || b < SPEECH_MIN_BIN)
            continue;
        if (run_s >= 0 && t - run_e < HANGOVER) {
            run_e = t + 1;
        } else {
            rc = flush_run(rl, run_s, run_e, err);
            if (rc)
                goto out;
            run_s = t;
            run_e = t + 1;
        }
    }
    rc = flush_run(rl, run_s, run_e, err);
out:
    free(ring);
    free(hist);
    free(fr.buf);
    return rc;
}

/* The quietest frame boundary c in [lo, hi] (0 < lo <= hi < nframes): the
 * one whose surrounding 160 ms has the least mean power, refined below. Earlier boundaries
 * are weighted up to 1 dB worse, so among pauses of about the same depth the
 * latest wins and chunks come out nearer the target than the minimum; a real
 * pause is many dB below speech, so the bias never picks a word over it.
 * Among equally quiet boundaries in a row (a stretch of digital silence)
 * the middle one is taken. */
static int quietest_cut(const pcm_file *pcm, int64_t lo, int64_t hi, int64_t *cut, hark_err *err)
{
    int64_t nframes = (pcm->n_samples + FRAME - 1) / FRAME;
    int64_t f0 = lo - SMOOTH_HALF < 0 ? 0 : lo - SMOOTH_HALF;
    int64_t f1 = hi + SMOOTH_HALF > nframes ? nframes : hi + SMOOTH_HALF; /* exclusive */
    size_t nf = (size_t)(f1 - f0), nc = (size_t)(hi - lo + 1);
    int64_t *ms = malloc(nf * sizeof *ms);
    int64_t *sum = malloc(nc * sizeof *sum);
    int64_t *cnt = malloc(nc * sizeof *cnt);
    frame_reader fr = {pcm, malloc((size_t)FRAME * READ_FRAMES * sizeof(int16_t)), 0, 0};
    int rc = 0;
    if (!ms || !sum || !cnt || !fr.buf) {
        rc = err_set(err, HARK_ENOMEM, "cannot plan chunks: out of memory");
        goto out;
    }
    for (size_t i = 0; i < nf; i++) {
        int64_t p;
        int len;
        rc = read_frame(&fr, f0 + (int64_t)i, &p, &len, err);
        if (rc)
            goto out;
        ms[i] = p / ((int64_t)len * len); /* mean square, < 2^30 */
    }
    /* Boundary c's window: frames [c - SMOOTH_HALF, c + SMOOTH_HALF) within
     * [f0, f1); sum < 2^34 and cnt <= 16, so cross products are exact. */
    size_t best = 0;
    double best_score = 0;
    for (size_t i = 0; i < nc; i++) {
        int64_t c = lo + (int64_t)i;
        int64_t a = c - SMOOTH_HALF < f0 ? f0 : c - SMOOTH_HALF;
        int64_t b = c + SMOOTH_HALF > f1 ? f1 : c + SMOOTH_HALF;
        sum[i] = 0;
        for (int64_t f = a; f < b; f++)
            sum[i] += ms[f - f0];
        cnt[i] = b - a;
        double score =
            (double)sum[i] / (double)cnt[i] * (1.0 + 0.25 * (double)(nc - 1 - i) / (double)nc);
        if (i == 0 || score < best_score) {
            best = i;
            best_score = score;
        }
    }
    /* The 160 ms window finds the quietest stretch; within it, cut at the
     * quietest 40 ms (a pause between words, or at least a stop closure),
     * not merely at the window's centre, which can be 80 ms into a word. */
    size_t w0 = best > SMOOTH_HALF ? best - SMOOTH_HALF : 0;
    size_t w1 = best + SMOOTH_HALF < nc - 1 ? best + SMOOTH_HALF : nc - 1;
    for (size_t i = w0; i <= w1; i++) {
        int64_t c = lo + (int64_t)i;
        int64_t a = c - FINE_HALF < f0 ? f0 : c - FINE_HALF;
        int64_t b = c + FINE_HALF > f1 ? f1 : c + FINE_HALF;
        sum[i] = 0;
        for (int64_t f = a; f < b; f++)
            sum[i] += ms[f - f0];
        cnt[i] = b - a;
    }
    best = w0;
    for (size_t i = w0 + 1; i <= w1; i++)
        if (sum[i] * cnt[best] < sum[best] * cnt[i])
            best = i;
    size_t l = best, r = best;
    while (l > w0 && sum[l - 1] * cnt[best] == sum[best] * cnt[l - 1])
        l--;
    while (r < w1 && sum[r + 1] * cnt[best] == sum[best] * cnt[r + 1])
        r++;
    *cut = lo + (int64_t)(l + (r - l) / 2);
out:
    free(ms);
    free(sum);
    free(cnt);
    free(fr.buf);
    return rc;
}

static int check_opts(const chunk_plan_opts *o, hark_err *err)
{
    const double v[] = {o->min_s, o->target_s, o->max_s, o->max_gap_s, o->pad_s};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!isfinite(v[i]) || v[i] < 0 || v[i] > 86400)
            return err_set(err, HARK_EINVAL, "invalid chunk plan options: out of range");
    if (!(o->min_s > 0 && o->min_s <= o->target_s && o->target_s <= o->max_s))
        return err_set(err, HARK_EINVAL,
                       "invalid chunk plan options: need 0 < min <= target <= max");
    /* The pads come out of the target; leave at least a second of speech. */
    if (o->target_s - 2 * o->pad_s < 1)
        return err_set(err, HARK_EINVAL,
                       "invalid chunk plan options: target must exceed twice the pad by 1 s");
    return 0;
}

int chunk_plan_build(const pcm_file *pcm, const chunk_plan_opts *opts, chunk_plan *out,
                     hark_err *err)
{
    chunk_plan_opts def;
    if (!opts) {
        chunk_plan_opts_default(&def);
        opts = &def;
    }
    out->chunks = NULL;
    out->n = 0;
    out->total_samples = pcm->n_samples;
    int rc = check_opts(opts, err);
    if (rc || opts->none)
        return rc;

    /* Spans of speech in frames; the pads are added at the end, so the
     * limits leave room for both. target - 2 pad >= 1 s, so tgt_f >= 100. */
    int64_t tgt_f = (int64_t)floor((opts->target_s - 2 * opts->pad_s) * FRAMES_PER_S);
    int64_t max_f = (int64_t)floor((opts->max_s - 2 * opts->pad_s) * FRAMES_PER_S);
    int64_t min_f = (int64_t)floor(opts->min_s * FRAMES_PER_S);
    int64_t gap_f = (int64_t)floor(opts->max_gap_s * FRAMES_PER_S);
    if (min_f > tgt_f)
        min_f = tgt_f;
    if (min_f < 1)
        min_f = 1;
    int64_t pad = pcm_samples(opts->pad_s);
    int64_t max_len = (int64_t)floor(opts->max_s * PCM_RATE);

    region_list raw = {0}, reg = {0};
    chunk *ch = NULL;
    rc = find_regions(pcm, &raw, err);
    if (rc)
        goto out;

    /* Split regions longer than the target at their quietest points. Each
     * piece is at most tgt_f and (when the region allows) at least min_f. */
    for (size_t i = 0; i < raw.n; i++) {
        int64_t s = raw.v[i].s, e = raw.v[i].e;
        while (e - s > tgt_f) {
            int64_t lo = s + min_f, hi = s + tgt_f, c = lo;
            if (e - min_f >= lo && e - min_f < hi)
                hi = e - min_f;
            rc = quietest_cut(pcm, lo, hi, &c, err);
            if (rc)
                goto out;
            rc = push_region(&reg, s, c, err);
            if (rc)
                goto out;
            s = c;
        }
        rc = push_region(&reg, s, e, err);
        if (rc)
            goto out;
    }

    /* Group regions into chunk spans, in place in reg (k <= i always). */
    size_t k = 0;
    for (size_t i = 0; i < reg.n; i++) {
        region r = reg.v[i];
        if (k > 0) {
            region *c = &reg.v[k - 1];
            int64_t span = r.e - c->s;
            if (r.s - c->e <= gap_f && (span <= tgt_f || (c->e - c->s < min_f && span <= max_f))) {
                c->e = r.e;
                continue;
            }
        }
        reg.v[k++] = r;
    }

    if (k > 0) {
        ch = malloc(k * sizeof *ch);
        if (!ch) {
            rc = err_set(err, HARK_ENOMEM, "cannot plan chunks: out of memory");
            goto out;
        }
    }
    int64_t total = pcm->n_samples;
    for (size_t i = 0; i < k; i++) {
        int64_t a = reg.v[i].s * FRAME, b = reg.v[i].e * FRAME;
        if (b > total)
            b = total;
        int64_t start = a - pad, end = b + pad;
        if (start < 0)
            start = 0;
        if (end > total)
            end = total;
        /* Never reach past the middle of the pause to a neighbour; both
         * sides compute the same midpoint, so the chunks at most touch. */
        if (i > 0) {
            int64_t prev_b = reg.v[i - 1].e * FRAME < total ? reg.v[i - 1].e * FRAME : total;
            int64_t mid = (prev_b + a) / 2;
            if (start < mid)
                start = mid;
        }
        if (i + 1 < k) {
            int64_t mid = (b + reg.v[i + 1].s * FRAME) / 2;
            if (end > mid)
                end = mid;
        }
        /* Unreachable by construction (span + 2 pad <= max); kept so that
         * rounding can never break the promise. */
        if (end - start > max_len)
            end = start + max_len;
        ch[i].start = start;
        ch[i].end = end;
    }
    out->chunks = ch;
    out->n = k;
    ch = NULL;
out:
    free(ch);
    free(raw.v);
    free(reg.v);
    return rc;
}

void chunk_plan_release(chunk_plan *p)
{
    free(p->chunks);
    p->chunks = NULL;
    p->n = 0;
    p->total_samples = 0;
}
