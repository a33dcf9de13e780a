#include "highlights/features.h"

#include <ebur128.h>
#include <libavutil/mem.h>
#include <libavutil/tx.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The spectrum of a frame: its 1600 samples under a Hann window, zero-padded
 * to 2048 (7.8 Hz bins). Only the frame's own samples, so the spectrum does
 * not depend on where a span starts; flux needs the previous frame's, which
 * a span computes from the audio before it. */
#define FFT_LEN 2048
#define N_BINS (FFT_LEN / 2 + 1)

/* Loudness: libebur128 K-weights the audio (its filter is the standard's),
 * and gives the energy of each 100 ms frame (ebur128_loudness_window over
 * the frame). Momentary and short-term loudness are the mean energy of the
 * last 4 and 30 frames, as EBU R 128 defines them (400 ms and 3 s windows
 * moved in 100 ms steps), summed here in a fixed order. Asking libebur128
 * for its 3 s short-term loudness every 100 ms would sum 48000 samples per
 * frame: 70% of the time of the whole pass.
 *
 * libebur128 keeps the filtered audio in a ring (400 ms in momentary mode)
 * and sums a window from the ring's write position, so the rounding of a
 * frame's energy depends on how many samples the meter has seen modulo the
 * ring. Priming always starts at a multiple of the ring, at least 2 s
 * before the first frame whose energy is needed (the K-weighting filter's
 * slowest pole forgets its start by e^-480 in 2 s), so every span sees the
 * meter exactly as one run from the recording's start would. */
#define RING_SAMPLES ((int64_t)PCM_RATE * 400 / 1000)
#define SETTLE_SAMPLES ((int64_t)2 * PCM_RATE)
#define M_FRAMES 4
#define ST_FRAMES 30

typedef struct spectrum_state {
    AVTXContext *tx;
    av_tx_fn fn;
    float *in;           /* FFT_LEN */
    AVComplexFloat *out; /* N_BINS */
    float window[HL_HOP_SAMPLES];
    float prev[N_BINS]; /* previous frame's L1-normalised magnitudes */
    float mag[N_BINS];
} spectrum_state;

static int spectrum_init(spectrum_state *s)
{
    memset(s, 0, sizeof *s);
    float scale = 1.0f;
    if (av_tx_init(&s->tx, &s->fn, AV_TX_FLOAT_RDFT, 0, FFT_LEN, &scale, 0) < 0)
        return HARK_ENOMEM;
    s->in = av_malloc(sizeof(float) * (FFT_LEN + 2));
    s->out = av_malloc(sizeof(AVComplexFloat) * (N_BINS + 1));
    if (!s->in || !s->out)
        return HARK_ENOMEM;
    for (int i = 0; i < HL_HOP_SAMPLES; i++)
        s->window[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * (i + 0.5) / HL_HOP_SAMPLES));
    return 0;
}

static void spectrum_release(spectrum_state *s)
{
    av_tx_uninit(&s->tx);
    av_freep(&s->in);
    av_freep(&s->out);
}

/* One frame of n samples (n <= HL_HOP_SAMPLES; a short last frame is
 * zero-padded). Fills the frame's features and makes it the previous one. */
static void spectrum_frame(spectrum_state *s, const int16_t *x, size_t n, float *centroid,
                           float *flux, float *flatness)
{
    for (size_t i = 0; i < FFT_LEN; i++)
        s->in[i] = i < n ? s->window[i] * (float)x[i] * (1.0f / 32768.0f) : 0.0f;
    s->fn(s->tx, s->out, s->in, sizeof(float));
    /* FFmpeg 5.1's RDFT writes the Nyquist bin's real part only (its
     * imaginary part is zero by definition): say so, or it is garbage. */
    s->out[N_BINS - 1].im = 0;

    /* Bin 0 (DC) is left out of every measure: a recording's offset is not
     * its sound. */
    double sum_mag = 0, sum_fmag = 0, sum_pow = 0, sum_logpow = 0;
    const double bin_hz = (double)PCM_RATE / FFT_LEN;
    for (int k = 1; k < N_BINS; k++) {
        double re = s->out[k].re, im = s->out[k].im;
        double p = re * re + im * im;
        double m = sqrt(p);
        s->mag[k] = (float)m;
        sum_mag += m;
        sum_fmag += m * k * bin_hz;
        sum_pow += p;
        sum_logpow += log(p + 1e-12);
    }
    s->mag[0] = 0;
    const int nb = N_BINS - 1;
    double c = 0, fl = 1.0, fx = 0;
    if (sum_mag > 1e-9) {
        c = sum_fmag / sum_mag;
        double am = sum_pow / nb + 1e-12;
        fl = exp(sum_logpow / nb) / am;
        for (int k = 1; k < N_BINS; k++) {
            float v = (float)(s->mag[k] / sum_mag);
            float d = v - s->prev[k];
            if (d > 0)
                fx += d;
            s->prev[k] = v;
        }
    } else {
        /* Digital silence: no brightness, no change into it, and flat. */
        memset(s->prev, 0, sizeof s->prev);
    }
    if (fl > 1.0)
        fl = 1.0;
    if (fl < 1e-15)
        fl = 1e-15;
    *centroid = (float)c;
    *flux = (float)fx;
    *flatness = (float)fl;
}

/* The energy (mean square, K-weighted) of the last 100 ms fed to meter. */
static double frame_energy(ebur128_state *meter)
{
    double l = -HUGE_VAL;
    if (ebur128_loudness_window(meter, 1000 * HL_HOP_SAMPLES / PCM_RATE, &l) != EBUR128_SUCCESS ||
        !isfinite(l))
        return 0;
    return pow(10.0, (l + 0.691) / 10.0);
}

/* Loudness of the mean of the last n of the energies in ring e (ST_FRAMES
 * long, newest at index last), oldest first. */
static float window_loudness(const double *e, size_t last, size_t n)
{
    double sum = 0;
    for (size_t k = n; k-- > 0;)
        sum += e[(last + ST_FRAMES - k) % ST_FRAMES];
    double mean = sum / (double)n;
    if (!(mean > 0))
        return HL_FLOOR_LUFS;
    double l = 10.0 * log10(mean) - 0.691;
    if (!isfinite(l) || l < HL_FLOOR_LUFS)
        return HL_FLOOR_LUFS;
    return (float)l;
}

static int alloc_tracks(hl_features *f, size_t n)
{
    size_t bytes = (n ? n : 1) * sizeof(float);
    f->momentary = malloc(bytes);
    f->short_term = malloc(bytes);
    f->centroid = malloc(bytes);
    f->flux = malloc(bytes);
    f->flatness = malloc(bytes);
    if (!f->momentary || !f->short_term || !f->centroid || !f->flux || !f->flatness) {
        hl_features_release(f);
        return HARK_ENOMEM;
    }
    f->n = n;
    return 0;
}

void hl_features_release(hl_features *f)
{
    free(f->momentary);
    free(f->short_term);
    free(f->centroid);
    free(f->flux);
    free(f->flatness);
    f->momentary = f->short_term = f->centroid = f->flux = f->flatness = NULL;
    f->n = 0;
}

/* Read n samples at `at` (which may be negative: zeros before the recording);
 * short reads past the end are zero-filled. */
static int read_block(const pcm_file *pcm, int64_t at, int16_t *dst, size_t n)
{
    size_t off = 0;
    if (at < 0) {
        size_t z = (size_t)(-at) < n ? (size_t)(-at) : n;
        memset(dst, 0, z * sizeof *dst);
        off = z;
        at = 0;
    }
    while (off < n) {
        int64_t got = pcm_read(pcm, at, dst + off, n - off);
        if (got < 0)
            return (int)got;
        if (got == 0) {
            memset(dst + off, 0, (n - off) * sizeof *dst);
            break;
        }
        off += (size_t)got;
        at += got;
    }
    return 0;
}

/* Read m samples at `at` into block and add them to the loudness meter. */
static int feed_meter(ebur128_state *meter, const pcm_file *pcm, int64_t at, int16_t *block,
                      size_t m, hark_err *err)
{
    if (read_block(pcm, at, block, m) != 0)
        return err_set(err, HARK_EIO, "cannot read the recording's audio at sample %lld",
                       (long long)at);
    if (ebur128_add_frames_short(meter, block, m) != EBUR128_SUCCESS)
        return err_set(err, HARK_ENOMEM, "cannot measure loudness: libebur128 failed");
    return 0;
}

int hl_features_compute(const pcm_file *pcm, int64_t start, int64_t end,
                        int (*checkin)(void *ctx, double done_s), void *ctx, hl_features *out,
                        hark_err *err)
{
    memset(out, 0, sizeof *out);
    if (end > pcm->n_samples)
        end = pcm->n_samples;
    if (start < 0 || start > end)
        return err_set(err, HARK_EINVAL,
                       "cannot measure samples %lld to %lld: outside the recording (%lld samples)",
                       (long long)start, (long long)end, (long long)pcm->n_samples);
    size_t n = (size_t)((end - start + HL_HOP_SAMPLES - 1) / HL_HOP_SAMPLES);
    if (n > HL_MAX_FRAMES)
        return err_set(err, HARK_EINVAL, "cannot measure %zu frames: more than 10 hours", n);

    int rc = 0;
    ebur128_state *meter = NULL;
    spectrum_state sp;
    int16_t block[HL_HOP_SAMPLES];
    if (spectrum_init(&sp) != 0) {
        rc = err_set(err, HARK_ENOMEM, "cannot measure audio: out of memory");
        goto out;
    }
    meter = ebur128_init(1, PCM_RATE, EBUR128_MODE_M);
    if (!meter || alloc_tracks(out, n) != 0) {
        rc = err_set(err, HARK_ENOMEM, "cannot measure audio: out of memory");
        goto out;
    }
    out->start = start;

    /* Prime: the meter from a ring-aligned point, settling the filter until
     * the first of the ST_FRAMES frames before start, whose energies go into
     * the ring e (frames before the recording were never fed: their zeros
     * stay); then the previous spectrum from the frame just before start. */
    double e[ST_FRAMES] = {0};
    size_t last = ST_FRAMES - 1; /* e[last] is the newest frame's energy */
    int64_t need = start - (int64_t)ST_FRAMES * HL_HOP_SAMPLES;
    int64_t prime = need - SETTLE_SAMPLES;
    prime = prime > 0 ? prime / RING_SAMPLES * RING_SAMPLES : 0;
    for (int64_t at = prime; at < start;) {
        int64_t next = at < need ? need : at + HL_HOP_SAMPLES;
        if (at < need && next - at > HL_HOP_SAMPLES)
            next = at + HL_HOP_SAMPLES;
        if (next > start)
            next = start;
        size_t m = (size_t)(next - at);
        if ((rc = feed_meter(meter, pcm, at, block, m, err)) != 0)
            goto out;
        if (at >= need) {
            last = (last + 1) % ST_FRAMES;
            e[last] = frame_energy(meter);
        }
        at = next;
    }
    if (start > 0) {
        float c, fx, fl;
        if (read_block(pcm, start - HL_HOP_SAMPLES, block, HL_HOP_SAMPLES) != 0) {
            rc = err_set(err, HARK_EIO, "cannot read the recording's audio at sample %lld",
                         (long long)(start - HL_HOP_SAMPLES));
            goto out;
        }
        spectrum_frame(&sp, block, HL_HOP_SAMPLES, &c, &fx, &fl);
    }

    for (size_t i = 0; i < n; i++) {
        int64_t at = start + (int64_t)i * HL_HOP_SAMPLES;
        size_t m = (size_t)(end - at < HL_HOP_SAMPLES ? end - at : HL_HOP_SAMPLES);
        if (checkin) {
            int c = checkin(ctx, (double)(at - start) / PCM_RATE);
            if (c != 0) {
                rc = err_set(err, c, "measuring the audio was interrupted");
                goto out;
            }
        }
        if ((rc = feed_meter(meter, pcm, at, block, m, err)) != 0)
            goto out;
        last = (last + 1) % ST_FRAMES;
        e[last] = frame_energy(meter);
        out->momentary[i] = window_loudness(e, last, M_FRAMES);
        out->short_term[i] = window_loudness(e, last, ST_FRAMES);
        spectrum_frame(&sp, block, m, &out->centroid[i], &out->flux[i], &out->flatness[i]);
    }
    if (checkin) {
        int c = checkin(ctx, (double)(end - start) / PCM_RATE);
        if (c != 0)
            rc = err_set(err, c, "measuring the audio was interrupted");
    }

out:
    if (meter)
        ebur128_destroy(&meter);
    spectrum_release(&sp);
    if (rc != 0)
        hl_features_release(out);
    return rc;
}

/* --- JSON ---------------------------------------------------------------- */

typedef enum { Q_LOUD, Q_HZ, Q_FLUX, Q_FLAT } quant;

static const struct track_def {
    const char *name;
    size_t offset;
    quant q;
    long long lo, hi; /* allowed integer range in the JSON form */
} tracks[] = {
    {"momentary", offsetof(hl_features, momentary), Q_LOUD, -700, 300},
    {"short_term", offsetof(hl_features, short_term), Q_LOUD, -700, 300},
    {"centroid", offsetof(hl_features, centroid), Q_HZ, 0, PCM_RATE / 2},
    {"flux", offsetof(hl_features, flux), Q_FLUX, 0, 1000},
    {"flatness", offsetof(hl_features, flatness), Q_FLAT, -15000, 0},
};
#define N_TRACKS (sizeof tracks / sizeof tracks[0])

static float **track_of(const hl_features *f, size_t t)
{
    return (float **)((char *)f + tracks[t].offset);
}

static long long quantise(float v, quant q)
{
    switch (q) {
    case Q_LOUD:
        return llround((double)v * 10.0);
    case Q_HZ:
        return llround((double)v);
    case Q_FLUX:
        return llround((double)v * 1000.0);
    case Q_FLAT:
        return llround(10.0 * log10((double)v > 1e-15 ? (double)v : 1e-15) * 100.0);
    }
    return 0;
}

static float dequantise(long long v, quant q)
{
    switch (q) {
    case Q_LOUD:
        return (float)((double)v / 10.0);
    case Q_HZ:
        return (float)v;
    case Q_FLUX:
        return (float)((double)v / 1000.0);
    case Q_FLAT:
        return (float)pow(10.0, (double)v / 1000.0);
    }
    return 0;
}

json_t *hl_features_to_json(const hl_features *f)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (json_object_set_new(o, "hop", json_integer(HL_HOP_SAMPLES)) != 0 ||
        json_object_set_new(o, "start", json_integer((json_int_t)f->start)) != 0 ||
        json_object_set_new(o, "n", json_integer((json_int_t)f->n)) != 0)
        goto fail;
    for (size_t t = 0; t < N_TRACKS; t++) {
        json_t *a = json_array();
        if (!a || json_object_set_new(o, tracks[t].name, a) != 0)
            goto fail;
        const float *v = *track_of(f, t);
        for (size_t i = 0; i < f->n; i++) {
            long long q = quantise(v[i], tracks[t].q);
            if (q < tracks[t].lo)
                q = tracks[t].lo;
            if (q > tracks[t].hi)
                q = tracks[t].hi;
            if (json_array_append_new(a, json_integer((json_int_t)q)) != 0)
                goto fail;
        }
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

int hl_features_from_json(const json_t *j, hl_features *out, hark_err *err)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(j))
        return err_set(err, HARK_EINVAL, "bad features: not a JSON object");
    json_t *hop = json_object_get(j, "hop"), *start = json_object_get(j, "start"),
           *n = json_object_get(j, "n");
    if (!json_is_integer(hop) || json_integer_value(hop) != HL_HOP_SAMPLES)
        return err_set(err, HARK_EINVAL, "bad features: \"hop\" is not %d", HL_HOP_SAMPLES);
    if (!json_is_integer(start) || json_integer_value(start) < 0 ||
        json_integer_value(start) > (json_int_t)HL_MAX_FRAMES * HL_HOP_SAMPLES * 10)
        return err_set(err, HARK_EINVAL, "bad features: \"start\" is not a sample offset");
    if (!json_is_integer(n) || json_integer_value(n) < 0 ||
        (size_t)json_integer_value(n) > HL_MAX_FRAMES)
        return err_set(err, HARK_EINVAL, "bad features: \"n\" is not a frame count up to %zu",
                       HL_MAX_FRAMES);
    size_t nf = (size_t)json_integer_value(n);
    for (size_t t = 0; t < N_TRACKS; t++) {
        json_t *a = json_object_get(j, tracks[t].name);
        if (!json_is_array(a) || json_array_size(a) != nf)
            return err_set(err, HARK_EINVAL, "bad features: \"%s\" is not an array of %zu values",
                           tracks[t].name, nf);
    }
    if (alloc_tracks(out, nf) != 0)
        return err_set(err, HARK_ENOMEM, "cannot read features: out of memory");
    out->start = (int64_t)json_integer_value(start);
    for (size_t t = 0; t < N_TRACKS; t++) {
        json_t *a = json_object_get(j, tracks[t].name);
        float *v = *track_of(out, t);
        for (size_t i = 0; i < nf; i++) {
            json_t *x = json_array_get(a, i);
            if (!json_is_integer(x) || json_integer_value(x) < tracks[t].lo ||
                json_integer_value(x) > tracks[t].hi) {
                hl_features_release(out);
                return err_set(err, HARK_EINVAL,
                               "bad features: \"%s\"[%zu] is not an integer in [%lld, %lld]",
                               tracks[t].name, i, tracks[t].lo, tracks[t].hi);
            }
            v[i] = dequantise((long long)json_integer_value(x), tracks[t].q);
        }
    }
    return 0;
}

int hl_features_append(hl_features *dst, const hl_features *src, hark_err *err)
{
    if (src->n == 0)
        return 0;
    if (dst->n > 0 && src->start != dst->start + (int64_t)dst->n * HL_HOP_SAMPLES)
        return err_set(err, HARK_EINVAL,
                       "cannot join features: the next track starts at sample %lld, not %lld",
                       (long long)src->start,
                       (long long)(dst->start + (int64_t)dst->n * HL_HOP_SAMPLES));
    size_t total = dst->n + src->n;
    if (total > HL_MAX_FRAMES)
        return err_set(err, HARK_EINVAL, "cannot join features: more than 10 hours");
    float *grown[N_TRACKS] = {0};
    for (size_t t = 0; t < N_TRACKS; t++) {
        grown[t] = malloc(total * sizeof(float));
        if (!grown[t]) {
            for (size_t u = 0; u < t; u++)
                free(grown[u]);
            return err_set(err, HARK_ENOMEM, "cannot join features: out of memory");
        }
    }
    for (size_t t = 0; t < N_TRACKS; t++) {
        float **d = track_of(dst, t);
        if (dst->n)
            memcpy(grown[t], *d, dst->n * sizeof(float));
        memcpy(grown[t] + dst->n, *track_of(src, t), src->n * sizeof(float));
        free(*d);
        *d = grown[t];
    }
    if (dst->n == 0)
        dst->start = src->start;
    dst->n = total;
    return 0;
}
