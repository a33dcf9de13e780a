/* chunk_plan.h - where to cut a recording into chunks for the recognizer.
 *
 * The plan is a deterministic function of the PCM samples and the options:
 * the same file always gives the same chunks, which is what lets a job be
 * resumed, split over workers, or re-planned after a crash and still produce
 * byte-identical output.
 *
 * How: an energy VAD over 10 ms frames with an adaptive noise floor finds
 * speech regions; regions are grouped into chunks of about min_s..target_s
 * seconds, cut in the pauses between them; a chunk never exceeds max_s (a
 * region with no pause is cut at its quietest point); leading and trailing
 * silence, and long pauses between chunks, are skipped. Chunks never
 * overlap and are in time order.
 *
 * Memory is O(number of speech regions), not O(length): the planner streams
 * the PCM file and re-reads only the stretch it needs to find a quiet cut.
 */
#ifndef HARK_MEDIA_CHUNK_PLAN_H
#define HARK_MEDIA_CHUNK_PLAN_H

#include "media/pcm.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct chunk {
    int64_t start; /* first sample */
    int64_t end;   /* one past the last sample */
} chunk;

typedef struct chunk_plan {
    chunk *chunks;
    size_t n;
    int64_t total_samples; /* length of the PCM the plan was made from */
} chunk_plan;

typedef struct chunk_plan_opts {
    double min_s;     /* try to make chunks at least this long (5) */
    double target_s;  /* prefer to cut before a chunk grows past this (10) */
    double max_s;     /* never exceed this; cut at the quietest point (30) */
    double max_gap_s; /* a pause longer than this always ends a chunk and is skipped (1.5) */
    double pad_s;     /* silence kept around speech at chunk edges (0.25) */
    /* Plan nothing: an empty plan of the file's length, without reading it
     * (a kind that cuts the recording its own way: kind.h adjust_plan). */
    bool none;
} chunk_plan_opts;

void chunk_plan_opts_default(chunk_plan_opts *o);

/* Plan the chunks of pcm. o NULL means the defaults. Returns 0 with *out
 * filled (out->n may be 0: no speech at all), HARK_EINVAL for options that
 * make no sense (need 0 < min <= target <= max and target >= 2 pad + 1 s),
 * HARK_EIO if the file cannot be read, or HARK_ENOMEM. */
int chunk_plan_build(const pcm_file *pcm, const chunk_plan_opts *o, chunk_plan *out, hark_err *err);

void chunk_plan_release(chunk_plan *p);

/* The planner's measure of one frame (n <= 160 samples): its mean-removed
 * power as a 0.5 dB bin over [-100, 0) dBFS, 0 for digital silence. The
 * live chunker (live_chunker.h) judges frames by the same measure. */
int chunk_plan_frame_bin(const int16_t *x, int n);

#endif
