/* live_chunker.h - where to cut audio into chunks while it arrives: the
 * chunk planner's rule (chunk_plan.h) made online.
 *
 * The file planner sees the whole recording: its noise floor looks 10 s
 * ahead and it groups speech regions knowing how long the next one is. A
 * live dictation is cut as it is spoken, so this version decides from the
 * past alone, frame by frame (10 ms):
 *   - a frame is speech when it is 10 dB over the noise floor (the 10th
 *     percentile of the last 20 s, causal) and over -65 dBFS; runs closer
 *     than 0.3 s merge, runs shorter than 0.1 s are clicks;
 *   - a chunk opens at the first run of speech (with pad_s of lead-in) and
 *     closes: at a pause of 0.3 s once it holds min_s of speech; at a pause
 *     of 0.1 s once it holds target_s; at a pause longer than max_gap_s
 *     whatever its length (the silence after it is skipped); or, with no
 *     pause at all, at max_s, at the quietest 10 ms of the last 0.15 s;
 *   - a cut is never behind what the recognizer was already given: the
 *     chunker holds back LIVE_CHUNKER_LAG_S of audio (safe) while it waits
 *     to see whether a pause is long enough.
 * Like the planner, the result is a pure function of the samples (and the
 * end): the same audio, pushed in any pieces, gives the same cuts, so a
 * dictation resumed after a crash replays its audio through a new chunker
 * and finds the chunks it had committed.
 */
#ifndef HARK_MEDIA_LIVE_CHUNKER_H
#define HARK_MEDIA_LIVE_CHUNKER_H

#include "media/chunk_plan.h"

#include <stdbool.h>
#include <stdint.h>

#define LIVE_CHUNKER_LAG_S 0.15 /* how far the safe point trails the audio in speech */

enum live_cut_kind { LIVE_CUT_OPEN = 1, LIVE_CUT_CLOSE = 2 };

typedef struct live_cut {
    enum live_cut_kind kind;
    int64_t at; /* absolute sample: a chunk's first sample, or one past its last */
} live_cut;

#define LIVE_CHUNKER_QUEUE 64
#define LIVE_CHUNKER_FLOOR_WIN 2000 /* frames in the noise floor's window (20 s) */
#define LIVE_CHUNKER_LAG_F 15       /* LIVE_CHUNKER_LAG_S in frames */

typedef struct live_chunker {
    /* options in frames */
    int64_t min_f, tgt_f, max_f, gap_f, pad_f;
    /* frames */
    int16_t part[160];
    int part_n;
    int64_t t; /* frames seen */
    unsigned char floor_ring[LIVE_CHUNKER_FLOOR_WIN];
    int64_t hist[200];
    unsigned char lag_ring[LIVE_CHUNKER_LAG_F]; /* bins of the last frames */
    /* speech runs */
    int64_t run_s, run_e; /* the current run, -1 = none */
    /* chunk */
    bool in_chunk;
    int64_t chunk_s;    /* first speech frame of the open chunk (or its forced start) */
    int64_t speech_e;   /* one past the last speech frame in the open chunk */
    int64_t last_close; /* frame of the last close (a new chunk opens at or after it) */
    int64_t safe_f;     /* frames below this are decided */
    bool finished;
    live_cut q[LIVE_CHUNKER_QUEUE];
    int q_head, q_n;
} live_chunker;

/* Start with o's min_s, target_s, max_s, max_gap_s and pad_s (NULL: the
 * planner's defaults). */
void live_chunker_init(live_chunker *c, const chunk_plan_opts *o);

/* The next n samples. Push at most 1600 (100 ms) between drains of
 * live_chunker_next: each frame may queue two cuts. */
void live_chunker_push(live_chunker *c, const int16_t *x, size_t n);

/* The audio ended after total samples: close the open chunk. */
void live_chunker_finish(live_chunker *c, int64_t total);

/* The next decision, in order: true with *out set, false when none. */
bool live_chunker_next(live_chunker *c, live_cut *out);

/* Samples before this are decided: an open chunk may be given them. */
int64_t live_chunker_safe(const live_chunker *c);

/* Whether a chunk is open (after the cuts taken so far were applied). */
bool live_chunker_in_chunk(const live_chunker *c);

#endif
