/* engine.h - the speech recognizer seam.
 *
 * An engine is opened once per process (loading a model is slow), then
 * decodes chunks one at a time. Contract every engine keeps:
 *
 *  - Reset state: before each chunk the decoder returns to exactly the state
 *    it had after open (adaptive state such as live CMN included), so a
 *    chunk's words depend only on its samples and the configuration. This
 *    is DESIGN.md invariant 3: chunks may be decoded in any order, on any
 *    worker, any number of times, with byte-identical results.
 *  - Check-ins: audio is fed in blocks of at most ASR_BLOCK_SAMPLES (100 ms).
 *    Between blocks the engine calls the check-in callback; a nonzero return
 *    abandons the chunk (partial results are dropped) and decode returns that
 *    value. This is where preemption, deadlines and cancel take effect.
 *  - Times are absolute in the recording (seconds from sample 0 of the PCM
 *    file), and every word has a confidence in [0, 1].
 *
 * One engine is used by one thread at a time.
 */
#ifndef HARK_ASR_ENGINE_H
#define HARK_ASR_ENGINE_H

#include "media/pcm.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define ASR_BLOCK_SAMPLES (PCM_RATE / 10) /* 100 ms */

typedef struct asr_config {
    const char *engine;    /* "pocketsphinx" (the default when NULL) */
    const char *model_dir; /* directory holding en-us/, en-us.lm.bin, cmudict-en-us.dict */
    const char *hmm;       /* acoustic model dir; NULL: <model_dir>/en-us */
    const char *lm;        /* language model; NULL: <model_dir>/en-us.lm.bin */
    const char *dict;      /* dictionary; NULL: <model_dir>/cmudict-en-us.dict */
} asr_config;

typedef struct asr_word {
    char *text;       /* the word, as the dictionary spells it (no alternates "(2)") */
    double start_s;   /* absolute start time */
    double end_s;     /* absolute end time */
    float confidence; /* posterior probability in [0, 1] */
} asr_word;

typedef struct asr_result {
    asr_word *words;
    size_t n_words;
    size_t cap_words; /* allocated entries in words */
    double audio_s;   /* seconds of audio decoded */
    double decode_s;  /* seconds of wall time the decode took */
} asr_result;

/* Called between blocks with the seconds of this chunk fed so far.
 * Nonzero stops the decode; decode returns that value. */
typedef int (*asr_checkin_fn)(void *ctx, double fed_s);

typedef struct asr_engine asr_engine;

/* Defaults: pocketsphinx with HARK_MODEL_DIR or $HARK_MODEL_DIR. */
void asr_config_default(asr_config *c);

/* Whether the engine is known and its model files exist, without loading
 * them (milliseconds, where a load takes most of a second): a command
 * calls it before it starts workers, so a missing model is one clear error
 * at once instead of a worker that fails to start again and again.
 * Returns 0, or HARK_EINVAL with err set (the message open would give). */
int asr_engine_check(const asr_config *c, hark_err *err);

/* Load the model. Returns 0 with *out set, or HARK_EENGINE/HARK_EINVAL with err set. */
int asr_engine_open(const asr_config *c, asr_engine **out, hark_err *err);

/* Decode samples [start, end) of pcm from the reset state. On success
 * returns 0 with *res filled (release it with asr_result_release). If
 * checkin returned nonzero, returns that value and *res is empty. Other
 * failures return a negative code with err set. */
int asr_engine_decode(asr_engine *e, const pcm_file *pcm, int64_t start, int64_t end,
                      asr_checkin_fn checkin, void *ctx, asr_result *res, hark_err *err);

/* ---- live decoding: audio decoded while it arrives ----------------------
 *
 * A live session (a dictation) decodes one chunk at a time as its samples
 * come: live_begin opens a chunk at an absolute sample position, live_feed
 * hands it samples in order (any number at a time), live_partial says what
 * the recognizer hears so far, live_end closes the chunk and gives its
 * words. Times are absolute, as for decode.
 *
 * What differs from decode: a chunk's cepstral mean (CMN) cannot be known
 * before the chunk ends, so a live chunk is normalised with an estimate:
 * the mean of the previous chunk of the session, or, for a session's first
 * chunk, the mean of its first part, refined as more of it comes (a
 * backend may decode it again meanwhile; the PocketSphinx one does so in a
 * thread of its own). A live chunk's words therefore depend on its
 * samples and on the previous chunk's samples, and on nothing else: not on
 * how the samples were split into feeds, nor on how fast they came. live_reset
 * starts a new session (no previous chunk); live_seed makes samples the
 * "previous chunk" without decoding them (a session resumed after a crash
 * seeds with the last committed chunk and goes on exactly as before).
 *
 * Between live_begin and live_end the engine is busy with the live chunk:
 * decode must not be called (live_abort drops the chunk). */

/* A new session: no previous chunk. Drops an open chunk. */
void asr_engine_live_reset(asr_engine *e);

/* Make samples x[0..n) the previous chunk (their mean becomes the
 * estimate for the next chunk). 0, HARK_ENOMEM, HARK_EENGINE. */
int asr_engine_live_seed(asr_engine *e, const int16_t *x, size_t n, hark_err *err);

/* Open a chunk whose first sample is at absolute position start. The
 * engine calls checkin (may be NULL) with ctx between 100 ms groups of
 * the work a feed or an end does (a feed may decode seconds again when the
 * estimate improves); nonzero stops it and is returned. */
int asr_engine_live_begin(asr_engine *e, int64_t start, asr_checkin_fn checkin, void *ctx,
                          hark_err *err);

/* The chunk's next n samples. 0, a check-in's stop (the chunk is then
 * dropped), or HARK_EENGINE/HARK_ENOMEM (dropped too). */
int asr_engine_live_feed(asr_engine *e, const int16_t *x, size_t n, hark_err *err);

/* The words heard so far in the open chunk (its current best path, which
 * may still change), into *res (release it). */
int asr_engine_live_partial(asr_engine *e, asr_result *res, hark_err *err);

/* Close the chunk: its final words into *res (release it). The chunk
 * becomes the previous chunk of the session. */
int asr_engine_live_end(asr_engine *e, asr_result *res, hark_err *err);

/* Drop the open chunk, if any (the session's previous chunk stays). */
void asr_engine_live_abort(asr_engine *e);

/* The engine's name and model identity, for output metadata ("pocketsphinx en-us"). */
const char *asr_engine_name(const asr_engine *e);

/* Append a word to res (text_len bytes of text, copied). Returns 0 or
 * HARK_ENOMEM (res unchanged). Backends and decoders of stored results use it. */
int asr_result_add_word(asr_result *res, const char *text, size_t text_len, double start_s,
                        double end_s, float confidence);

void asr_result_release(asr_result *r);
void asr_engine_close(asr_engine *e);

#endif
