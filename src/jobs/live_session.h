/* live_session.h - one live dictation decoded as it arrives (the worker's
 * side of a live job: jobs/live_kind.c).
 *
 *   samples (read as they come) ──► media/live_chunker: where chunks open
 *                                   and close, at pauses, online
 *                                ──► asr engine live_* : 100 ms of audio at
 *                                   a time into the open chunk
 *   every 0.5 s of a chunk's audio ─► partial words: what is heard so far;
 *                                   the words that have stopped changing
 *                                   are sent once as "stable" text
 *   a chunk closes ────────────────► its final words: committed by the
 *                                   caller (the daemon, under the lease)
 *
 * Stable text (transcript.text.delta). A word of the current hypothesis
 * is stable when it is not one of the last two, ends at least a second
 * before the audio decoded so far, and it and every word before it were
 * the same (word and start) half a second earlier. Stable words are sent
 * once and never taken back: a closed chunk's final words keep the stable
 * ones (a chunk's words are its stable words, then the final hypothesis
 * from where they end), so the stable texts of a dictation, concatenated,
 * are exactly its final text.
 *
 * Determinism. Cuts are a pure function of the samples; partials are
 * taken at fixed points of each chunk's audio (every 0.5 s), so the
 * stable words and the final words are too. A session resumed after a
 * crash (resume_end: where its committed chunks end) replays the audio
 * before resume_end through the chunker only, seeds the recognizer's
 * estimate with the last committed chunk (engine.h live_seed) and goes
 * on exactly as the first run would have.
 */
#ifndef HARK_JOBS_LIVE_SESSION_H
#define HARK_JOBS_LIVE_SESSION_H

#include "asr/engine.h"
#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>

#define LIVE_PARTIAL_EVERY 8000 /* samples of a chunk between partials (0.5 s) */

typedef struct live_session_io {
    /* The next samples (16 kHz mono s16), blocking until some come: the
     * count (> 0), 0 when the audio has ended, or a negative code (a stop
     * from the check-in, or a decode error with err set), returned by run
     * as is. */
    int64_t (*read)(void *ctx, int16_t *out, size_t max, hark_err *err);
    /* Chunk idx closed over [start, end): its final words and how long its
     * recognition took. delta: the text it adds to what was sent as stable
     * (with its leading space), "" for none. Nonzero stops the session. */
    int (*chunk)(void *ctx, int idx, int64_t start, int64_t end, const asr_result *words,
                 const char *delta, double decode_s, hark_err *err);
    /* The open chunk idx (from start) as heard up to `at`: every word of
     * its hypothesis, how many of them are stable, and delta, the stable
     * text not sent before ("" for none). Nonzero stops the session. */
    int (*partial)(void *ctx, int idx, int64_t start, int64_t at, const asr_result *words,
                   size_t n_stable, const char *delta, hark_err *err);
    void *ctx;
} live_session_io;

typedef struct live_session_opts {
    int first_idx;      /* the index of the next chunk: chunks committed before */
    int64_t resume_end; /* where the committed chunks end (0: from the start) */
    int64_t seed_start; /* the last committed chunk [seed_start, resume_end) */
    bool words_before;  /* some committed chunk has words: stable text goes on with a space */
} live_session_opts;

/* Decode the session's audio to its end with engine e (one chunk open at a
 * time). Returns 0 when the audio ended and every chunk was handed to
 * io->chunk, with *total_samples (may be NULL) the audio's length; else
 * the first nonzero code of a callback, or an engine error (err set). */
int live_session_run(asr_engine *e, const live_session_opts *o, const live_session_io *io,
                     int64_t *total_samples, hark_err *err);

#endif
