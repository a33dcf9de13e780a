/* pocketsphinx_live.c - live decoding with PocketSphinx (engine.h, "live
 * decoding").
 *
 * A live chunk goes through the same steps as a file chunk
 * (pocketsphinx.c): a fresh front end of its own, the primer, live CMN set
 * to one mean, a new stream. Only the mean differs. A file chunk is
 * normalised with its own mean, which needs all of it; a live chunk's
 * words are wanted while it is spoken, so it takes an estimate:
 *   - the previous chunk's mean (the same speaker, microphone and room a
 *     few seconds earlier: close to this chunk's own);
 *   - for a session's first chunk, the mean of its own first 0.25 s: the
 *     chunk's cepstra are held back until WARM_FRAMES are in (or the
 *     chunk ends), never decoded with PocketSphinx's fixed prior
 *     (-cmninit), which is far off; then the chunk is refined: decoded
 *     again from its start with the mean of more of it (0.5, 1, then 2 s:
 *     REFINES). A push-to-talk dictation is mostly one chunk, the first:
 *     refining brings its estimate close to the chunk's own mean while the
 *     speaker talks. On the LibriVox clips, one second's mean alone scored
 *     31.0% WER, refined to 2 s 23.9%, and the file path 28.2% (71 words:
 *     a few words either way).
 * A refine runs on a second decoder in a thread of its own
 * (pocketsphinx_refine.c) while the live decoder goes on with the old
 * estimate, and is taken over only once the chunk has gone on long enough
 * for it to have caught up (the `adopt` column). Done in the session's
 * thread, as at first, the 2 s refine of a 3 s dictation was still
 * catching up when the speaker let go, and the words came 0.6-2 s late. A
 * chunk that ends before a refine's adopt point keeps the live decoder's
 * words (the estimate before it): which of the two a chunk gets depends
 * only on its length.
 * The estimate is fixed for the chunk (PocketSphinx moves it itself after
 * 8 s of an utterance, the same in both modes). A chunk's words are thus a
 * function of its samples and of the previous chunk's, never of how the
 * samples were split into feeds: the front end and the search are frame
 * synchronous, and the cepstra are kept whole.
 */
#include "asr/pocketsphinx_impl.h"

#include <sphinxbase/ckd_alloc.h>

#include <stdlib.h>
#include <string.h>

#define WARM_FRAMES 25          /* a first chunk's first estimate: its first 0.25 s */
#define MAX_FRAMES (100 * 3600) /* an hour: far past any chunk the chunker closes */

/* A first chunk's refines: at `restart` frames, its decode starts again
 * with the mean of those frames; at `adopt` frames it is taken over (see
 * the top). The second decoder needs adopt frames decoded in adopt -
 * restart frames of time: at most 0.4-0.5 s of CPU per second of audio,
 * twice what PocketSphinx takes on these machines. */
static const struct {
    int restart, adopt;
} REFINES[] = {{50, 100}, {100, 200}, {200, 350}};
#define N_REFINES ((int)(sizeof REFINES / sizeof REFINES[0]))

static void live_close_chunk(ps_engine *e)
{
    ps_live *l = &e->live;
    if (l->fe) {
        fe_free(l->fe);
        l->fe = NULL;
    }
    l->open = l->started = l->refining = false;
    l->refine_next = -1;
    l->n = l->fed = 0;
    l->samples = 0;
    memset(l->sum, 0, sizeof l->sum);
}

void ps_live_abort(asr_engine *base)
{
    ps_engine *e = (ps_engine *)base;
    if (!e->live.open)
        return;
    if (e->live.refining)
        ps_refine_drop(e);
    if (e->live.started)
        ps_end_utt(e->ps);
    live_close_chunk(e);
}

void ps_live_reset(asr_engine *base)
{
    ps_engine *e = (ps_engine *)base;
    ps_live_abort(base);
    e->live.have_prev = false;
}

void ps_live_release(ps_engine *e)
{
    ps_live_abort(&e->base);
    ps_refine_release(e); /* before the rows it reads go */
    free(e->live.flat);
    free(e->live.rows);
    free(e->live.prev_mean);
    free(e->live.mean);
}

/* Room for `more` frames after the n computed. */
static int live_reserve(ps_engine *e, int more, hark_err *err)
{
    ps_live *l = &e->live;
    if (l->n + more <= l->cap)
        return 0;
    if (l->n + more > MAX_FRAMES)
        return err_set(err, HARK_EENGINE, "a live chunk longer than an hour was not closed");
    int cap = l->cap ? l->cap : 1024;
    while (cap < l->n + more)
        cap *= 2;
    ps_refine_lock(e); /* the refiner reads the rows */
    int rc = 0;
    mfcc_t *flat = realloc(l->flat, (size_t)cap * (size_t)e->ceplen * sizeof *flat);
    if (flat)
        l->flat = flat;
    mfcc_t **rows = flat ? realloc(l->rows, (size_t)cap * sizeof *rows) : NULL;
    if (rows) {
        l->rows = rows;
        for (int i = 0; i < cap; i++)
            rows[i] = flat + (size_t)i * (size_t)e->ceplen;
        l->cap = cap;
    } else {
        /* l->flat may have moved while the rows still point into the old
         * block: point them at the new one for what is computed. */
        if (flat)
            for (int i = 0; i < l->cap; i++)
                l->rows[i] = flat + (size_t)i * (size_t)e->ceplen;
        rc = err_set(err, HARK_ENOMEM, "out of memory in a live chunk");
    }
    ps_refine_unlock(e);
    return rc;
}

/* Add frames [from, from + k) to the chunk's sum: PocketSphinx subtracts
 * the mean from the cepstra it is given, in place, so the chunk's own mean
 * is summed before they are fed. */
static void live_sum(ps_engine *e, int from, int k)
{
    ps_live *l = &e->live;
    for (int f = from; f < from + k; f++)
        for (int c = 0; c < e->ceplen; c++)
            l->sum[c] += l->rows[f][c];
}

/* The mean of what was summed (the prior with nothing). */
static void live_mean_of_sum(ps_engine *e, mfcc_t *out)
{
    ps_live *l = &e->live;
    if (l->n == 0) {
        ps_cepstra_mean(e, NULL, 0, out);
        return;
    }
    for (int c = 0; c < e->ceplen; c++)
        out[c] = (mfcc_t)(l->sum[c] / l->n);
}

/* Samples through the open chunk's front end into its cepstra. */
static int live_cepstra(ps_engine *e, const int16_t *x, size_t n, hark_err *err)
{
    ps_live *l = &e->live;
    int16 const *ptr = x;
    size_t left = n;
    while (left > 0) {
        int rc = live_reserve(e, (int)(left / 160) + 2, err);
        if (rc)
            return rc;
        int32 nfr = l->cap - l->n;
        if (fe_process_frames(l->fe, &ptr, &left, l->rows + l->n, &nfr, NULL) < 0)
            return err_set(err, HARK_EENGINE, "the pocketsphinx front end failed");
        live_sum(e, l->n, nfr);
        l->n += nfr;
        if (nfr == 0 && left > 0 && l->n < l->cap)
            break; /* buffered inside the front end: fewer than a frame's worth */
    }
    return 0;
}

/* Give the decoder the frames it has not seen, in calls of exactly
 * FEED_FRAMES (100 ms) as the file path does, the rest only at the end
 * (all): PocketSphinx's results depend on how frames are grouped into
 * calls, so the grouping must not follow how the audio arrived. It is
 * given copies: it normalises what it is given in place, and the chunk's
 * cepstra are kept as computed for a restart with a better mean. */
static int live_search(ps_engine *e, bool all, hark_err *err)
{
    ps_live *l = &e->live;
    mfcc_t copy[FEED_FRAMES][32], *rows[FEED_FRAMES];
    while (l->fed < l->n && (all || l->n - l->fed >= FEED_FRAMES)) {
        int k = l->n - l->fed < FEED_FRAMES ? l->n - l->fed : FEED_FRAMES;
        for (int i = 0; i < k; i++) {
            memcpy(copy[i], l->rows[l->fed + i], (size_t)e->ceplen * sizeof **copy);
            rows[i] = copy[i];
        }
        if (ps_process_cep(e->ps, rows, k, FALSE, FALSE) < 0)
            return err_set(err, HARK_EENGINE, "pocketsphinx failed at %.2f s",
                           pcm_seconds(l->start) + (double)l->fed / e->frate);
        l->fed += k;
        /* Decoding again from the start after a better estimate is seconds
         * of work in one feed: heartbeats and yields must go on meanwhile. */
        int stop = l->checkin ? l->checkin(l->checkin_ctx, (double)l->fed / e->frate) : 0;
        if (stop)
            return stop;
    }
    return 0;
}

/* Choose the estimate and start the utterance (see the top). */
static int live_start(ps_engine *e, hark_err *err)
{
    ps_live *l = &e->live;
    l->refine_next = -1;
    if (l->have_prev) {
        memcpy(l->mean, l->prev_mean, (size_t)e->ceplen * sizeof *l->mean);
    } else {
        ps_cepstra_mean(e, l->rows, l->n < WARM_FRAMES ? l->n : WARM_FRAMES, l->mean);
        l->refine_next = 0;
    }
    if (ps_start_chunk(e, l->mean) != 0)
        return err_set(err, HARK_EENGINE, "pocketsphinx refused to start an utterance");
    l->started = true;
    return 0;
}

/* A session's first chunk: start the refines whose time has come, take
 * over the one whose chunk is now long enough (see the top). At the chunk's
 * end (ending) none starts: it could not be taken over. */
static int live_refine(ps_engine *e, bool ending, hark_err *err)
{
    ps_live *l = &e->live;
    while (l->started) {
        if (l->refining && l->n >= l->adopt_at) {
            int fed = 0;
            l->refining = false;
            int rc = ps_refine_adopt(e, &fed, err);
            if (rc)
                return rc;
            l->fed = fed; /* the session feeds it the rest, from there */
            continue;
        }
        if (!ending && !l->refining && l->refine_next >= 0 &&
            l->n >= REFINES[l->refine_next].restart) {
            int k = l->refine_next;
            ps_cepstra_mean(e, l->rows, REFINES[k].restart, l->mean);
            int rc = ps_refine_start(e, l->mean, err);
            if (rc)
                return rc;
            l->refining = true;
            l->adopt_at = REFINES[k].adopt;
            l->refine_next = k + 1 < N_REFINES ? k + 1 : -1;
            continue;
        }
        break;
    }
    if (l->refining && ending) {
        ps_refine_drop(e); /* too short for it: the live decoder's words stand */
        l->refining = false;
    } else if (l->refining) {
        ps_refine_more(e);
    }
    return 0;
}

int ps_live_seed(asr_engine *base, const int16_t *x, size_t n, hark_err *err)
{
    ps_engine *e = (ps_engine *)base;
    ps_live_abort(base);
    ps_live *l = &e->live;
    l->fe = fe_init_auto_r(e->config);
    if (!l->fe)
        return err_set(err, HARK_EENGINE, "cannot start the pocketsphinx front end");
    fe_start_utt(l->fe);
    int rc = live_cepstra(e, x, n, err);
    if (rc == 0 && (rc = live_reserve(e, 1, err)) == 0) {
        int32 nfr = 0;
        fe_end_utt(l->fe, l->rows[l->n], &nfr);
        live_sum(e, l->n, nfr);
        l->n += nfr;
        live_mean_of_sum(e, l->prev_mean);
        l->have_prev = l->n > 0;
    }
    live_close_chunk(e);
    return rc;
}

int ps_live_begin(asr_engine *base, int64_t start, asr_checkin_fn checkin, void *ctx, hark_err *err)
{
    ps_engine *e = (ps_engine *)base;
    ps_live_abort(base);
    ps_live *l = &e->live;
    l->fe = fe_init_auto_r(e->config);
    if (!l->fe)
        return err_set(err, HARK_EENGINE, "cannot start the pocketsphinx front end");
    fe_start_utt(l->fe);
    l->open = true;
    l->start = start;
    l->checkin = checkin;
    l->checkin_ctx = ctx;
    if (l->have_prev)
        return live_start(e, err);
    /* A first chunk: it will be refined (see the top). */
    int rc = ps_refine_prepare(e, err);
    if (rc)
        ps_live_abort(base);
    return rc;
}

int ps_live_feed(asr_engine *base, const int16_t *x, size_t n, hark_err *err)
{
    ps_engine *e = (ps_engine *)base;
    ps_live *l = &e->live;
    if (!l->open)
        return err_set(err, HARK_EINVAL, "no live chunk is open");
    int rc = live_cepstra(e, x, n, err);
    l->samples += (int64_t)n;
    if (rc == 0 && !l->started && l->n >= WARM_FRAMES)
        rc = live_start(e, err);
    if (rc == 0)
        rc = live_refine(e, false, err);
    if (rc == 0 && l->started)
        rc = live_search(e, false, err);
    if (rc)
        ps_live_abort(base);
    return rc;
}

int ps_live_partial(asr_engine *base, asr_result *res, hark_err *err)
{
    ps_engine *e = (ps_engine *)base;
    ps_live *l = &e->live;
    if (!l->open)
        return err_set(err, HARK_EINVAL, "no live chunk is open");
    if (!l->started || l->fed == 0)
        return 0;
    double offset = pcm_seconds(l->start);
    if (ps_collect_words(e, offset, offset + pcm_seconds(l->samples), false, res))
        return err_set(err, HARK_ENOMEM, "out of memory");
    return 0;
}

int ps_live_end(asr_engine *base, asr_result *res, hark_err *err)
{
    ps_engine *e = (ps_engine *)base;
    ps_live *l = &e->live;
    if (!l->open)
        return err_set(err, HARK_EINVAL, "no live chunk is open");
    int rc = live_reserve(e, 1, err);
    if (rc == 0) {
        int32 nfr = 0;
        fe_end_utt(l->fe, l->rows[l->n], &nfr);
        live_sum(e, l->n, nfr);
        l->n += nfr;
    }
    if (rc == 0 && !l->started)
        rc = live_start(e, err);
    if (rc == 0)
        rc = live_refine(e, true, err);
    if (rc == 0)
        rc = live_search(e, true, err);
    if (rc) {
        ps_live_abort(base);
        return rc;
    }
    double offset = pcm_seconds(l->start);
    if (ps_end_utt(e->ps) < 0) {
        live_close_chunk(e);
        return err_set(err, HARK_EENGINE, "pocketsphinx failed to finish the chunk at %.2f s",
                       offset);
    }
    l->started = false; /* the utterance is over: nothing for abort to end */
    rc = ps_collect_words(e, offset, offset + pcm_seconds(l->samples), true, res);
    /* The next chunk's estimate. */
    live_mean_of_sum(e, l->prev_mean);
    l->have_prev = l->n > 0;
    res->audio_s = pcm_seconds(l->samples);
    live_close_chunk(e);
    if (rc)
        return err_set(err, HARK_ENOMEM, "out of memory");
    return 0;
}
