/* features.h - per-frame audio features of a span of a recording's PCM.
 *
 * The highlights job kind measures each chunk of a recording in a worker
 * (this file), stores the tracks, and ranks the whole recording once every
 * chunk is in (rank.h). A track holds one value per 100 ms frame:
 *
 *   momentary   EBU R 128 momentary loudness (400 ms window) at the frame's
 *               end, LUFS; -70 for silence (never -inf)
 *   short_term  EBU R 128 short-term loudness (3 s window), LUFS, same floor
 *   centroid    spectral centroid of the frame, Hz (brightness: shouting and
 *               cheering are brighter than narration)
 *   flux        spectral flux: the sum of the positive differences between
 *               this frame's and the previous frame's L1-normalised magnitude
 *               spectra, in [0, 1] (onsets, changes)
 *   flatness    spectral flatness: geometric over arithmetic mean of the
 *               power spectrum, in (0, 1] (noise-likeness: crowd noise,
 *               applause and cheering are flat, voiced speech is peaky)
 *
 * Frame i of a track covers samples [start + i*HL_HOP_SAMPLES, +HL_HOP_SAMPLES)
 * (the last frame of a recording may be shorter). A track does not depend on
 * where its span starts: the loudness meter and the previous spectrum are
 * primed with the audio before the span, so a recording measured as one span
 * or cut into spans at any frame-aligned boundary gives the same frames
 * (bit-identical, tested through the JSON form).
 */
#ifndef HARK_HIGHLIGHTS_FEATURES_H
#define HARK_HIGHLIGHTS_FEATURES_H

#include "media/pcm.h"
#include "util/err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define HL_HOP_SAMPLES 1600 /* 100 ms at PCM_RATE */
#define HL_FLOOR_LUFS (-70.0f)
/* The most frames a track may hold: 13 hours (a cap for untrusted JSON, above
 * the longest input hark takes, 12 h). */
#define HL_MAX_FRAMES ((size_t)13 * 3600 * 10)

typedef struct hl_features {
    int64_t start; /* sample offset of frame 0 */
    size_t n;      /* frames */
    float *momentary, *short_term, *centroid, *flux, *flatness;
} hl_features;

/* Measure the frames of samples [start, end) of pcm into out (which this
 * initialises; release it with hl_features_release whatever the result).
 * end is clamped to the recording's length; start must be >= 0 and <= end.
 * checkin (may be NULL) is called at least every 100 ms of audio with the
 * seconds of this span done so far; a non-zero return stops at once and is
 * returned (HARK_ECANCELED by convention), out then holds nothing.
 * Returns 0, HARK_EINVAL, HARK_EIO or HARK_ENOMEM with err set. */
int hl_features_compute(const pcm_file *pcm, int64_t start, int64_t end,
                        int (*checkin)(void *ctx, double done_s), void *ctx, hl_features *out,
                        hark_err *err);

/* The track as compact JSON, every value an integer:
 *   {"hop":1600,"start":S,"n":N,"momentary":[..],"short_term":[..],
 *    "centroid":[..],"flux":[..],"flatness":[..]}
 * loudness in tenths of LU, centroid in Hz, flux in thousandths, flatness in
 * hundredths of a dB (10*log10). Values are quantised, so from_json(to_json(f))
 * renders again to the same JSON. Returns NULL when out of memory. */
json_t *hl_features_to_json(const hl_features *f);

/* Parse a track written by hl_features_to_json (untrusted: from another
 * process or disk): every field checked for type, range and length, at most
 * HL_MAX_FRAMES frames. out is initialised; on error it holds nothing.
 * Returns 0 or HARK_EINVAL / HARK_ENOMEM with err set. */
int hl_features_from_json(const json_t *j, hl_features *out, hark_err *err);

/* Append src's frames to dst; src must start exactly where dst ends (an empty
 * dst, n == 0, takes src's start). Gaps and overlaps are HARK_EINVAL; dst is
 * unchanged on error. */
int hl_features_append(hl_features *dst, const hl_features *src, hark_err *err);

/* Free the arrays; f is empty (n == 0) afterwards. */
void hl_features_release(hl_features *f);

/* The time in seconds where frame i starts. */
static inline double hl_frame_time(const hl_features *f, size_t i)
{
    return ((double)f->start + (double)i * HL_HOP_SAMPLES) / PCM_RATE;
}

#endif
