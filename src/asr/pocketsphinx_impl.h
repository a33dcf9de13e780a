/* pocketsphinx_impl.h - what the PocketSphinx backend's files share: the
 * engine struct and the steps of a chunk decode (pocketsphinx.c says why
 * each step is there). Only asr/pocketsphinx*.c include this. */
#ifndef HARK_ASR_POCKETSPHINX_IMPL_H
#define HARK_ASR_POCKETSPHINX_IMPL_H

#include "asr/engine_impl.h"

#include <pocketsphinx.h>
#include <sphinxbase/fe.h>

#include <stdbool.h>

/* Length of the primer utterance (see prime()). 0.15 s was measured to be
 * enough to make the decoder's carried-over state identical whatever came
 * before; twice that for margin. */
#define PRIMER_SAMPLES (PCM_RATE * 3 / 10)
#define FEED_FRAMES 10 /* frames per ps_process_cep call (100 ms), live or not */
#define PRIMER_FRAMES_MAX (PRIMER_SAMPLES / 160 + 8) /* room for its cepstra */

typedef struct ps_refiner ps_refiner;

/* A live chunk's cepstra, kept whole: its mean is the next chunk's CMN
 * estimate, and a session's first chunk is decoded again from its start
 * with the mean of more of it (pocketsphinx_live.c). */
typedef struct ps_live {
    bool open;              /* a chunk is open */
    bool started;           /* its utterance started (its CMN estimate chosen) */
    bool have_prev;         /* the session has a previous chunk: prev_mean is set */
    mfcc_t *prev_mean;      /* the previous chunk's mean cepstrum */
    mfcc_t *mean;           /* the open chunk's estimate */
    fe_t *fe;               /* the open chunk's front end */
    mfcc_t *flat;           /* its cepstra, frame after frame */
    mfcc_t **rows;          /* row pointers into flat */
    int n, cap;             /* frames computed, room */
    int fed;                /* frames given to the decoder */
    int refine_next;        /* a first chunk's next refine (index in REFINES; -1: none) */
    bool refining;          /* the refiner is decoding it again (pocketsphinx_refine.c) */
    int adopt_at;           /* then: taken over once this many frames are in */
    double sum[32];         /* the sum of its cepstra as computed (ceplen <= 32) */
    int64_t start;          /* absolute first sample */
    int64_t samples;        /* samples fed */
    asr_checkin_fn checkin; /* between groups of work, with checkin_ctx */
    void *checkin_ctx;
} ps_live;

typedef struct ps_engine {
    asr_engine base;
    ps_decoder_t *ps;
    cmd_ln_t *config;
    int frate;        /* feature frames per second (100) */
    int ceplen;       /* cepstral vector length (13) */
    mfcc_t *cep_mean; /* scratch: the chunk's mean cepstrum */
    mfcc_t **primer;  /* cepstra of the primer utterance (see prime()) */
    int primer_n;
    ps_live live;
    ps_refiner *refiner;                  /* a second decoder in a thread, made on first need */
    char hmm[4096], lm[4096], dict[4096]; /* the model's files (ps_new_decoder) */
    char describe[128];
} ps_engine;

/* The mean of cep[0..n) into mean (ceplen values); PocketSphinx's prior
 * (-cmninit 40,3,-1) for n = 0. */
void ps_cepstra_mean(ps_engine *e, mfcc_t **cep, int n, mfcc_t *mean);

/* Decode the primer, set live CMN to mean, start a new stream and an
 * utterance: the state every chunk starts from. 0 or HARK_EENGINE.
 * ps_start_chunk_on does it on another decoder of the same model (made by
 * ps_new_decoder); it only reads e, so two threads may call it at once. */
int ps_start_chunk(ps_engine *e, mfcc_t *mean);
int ps_start_chunk_on(ps_engine *e, ps_decoder_t *ps, mfcc_t *mean);

/* A new decoder of e's model (the paths in e), with its own configuration
 * in *config (free it with cmd_ln_free_r after ps_free); NULL if the model
 * cannot be loaded. Reads only e's paths: callable from any thread. */
ps_decoder_t *ps_new_decoder(ps_engine *e, cmd_ln_t **config);

/* The current best path's words (fillers dropped), times offset by offset
 * seconds and capped at end_s; with final, their posteriors (only after
 * ps_end_utt), else confidence 0. 0 or HARK_ENOMEM (res released). */
int ps_collect_words(ps_engine *e, double offset, double end_s, bool final, asr_result *res);

/* The live half of the backend (pocketsphinx_live.c). */
void ps_live_reset(asr_engine *e);
int ps_live_seed(asr_engine *e, const int16_t *x, size_t n, hark_err *err);
int ps_live_begin(asr_engine *e, int64_t start, asr_checkin_fn checkin, void *ctx, hark_err *err);
int ps_live_feed(asr_engine *e, const int16_t *x, size_t n, hark_err *err);
int ps_live_partial(asr_engine *e, asr_result *res, hark_err *err);
int ps_live_end(asr_engine *e, asr_result *res, hark_err *err);
void ps_live_abort(asr_engine *e);
/* The refiner (pocketsphinx_refine.c): a second decoder, in a thread of
 * its own, decoding the open live chunk again from its start with a better
 * mean while the live decoder goes on. Only the session's thread calls
 * these.
 *   ps_refine_prepare: start its thread, which loads the second decoder
 *     (a session calls it when it begins, to have it loaded in time).
 *   ps_refine_start: begin with mean (frames [0, live.n) are in); waits for
 *     a refine dropped earlier to stop. 0, HARK_ENOMEM or HARK_EENGINE.
 *   ps_refine_more: more frames are in (live.n grew).
 *   ps_refine_adopt: stop it (after the group it is decoding) and swap
 *     decoders: e->ps becomes the refined one, *fed the frames it was
 *     given; the session goes on from there. HARK_EENGINE if it failed.
 *   ps_refine_drop: stop it without waiting; its work is thrown away.
 *   ps_refine_lock/unlock: around moving live.rows (it reads them).
 *   ps_refine_release: stop the thread and free the decoder (at close). */
int ps_refine_prepare(ps_engine *e, hark_err *err);
int ps_refine_start(ps_engine *e, const mfcc_t *mean, hark_err *err);
void ps_refine_more(ps_engine *e);
int ps_refine_adopt(ps_engine *e, int *fed, hark_err *err);
void ps_refine_drop(ps_engine *e);
void ps_refine_lock(ps_engine *e);
void ps_refine_unlock(ps_engine *e);
void ps_refine_release(ps_engine *e);

/* Free what the live half holds (at close). */
void ps_live_release(ps_engine *e);

#endif
