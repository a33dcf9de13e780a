/* pocketsphinx_refine.c - a live chunk decoded again from its start, with a
 * better CMN mean, by a second decoder in a thread of its own
 * (pocketsphinx_impl.h, "the refiner"; pocketsphinx_live.c says when).
 *
 * Why a thread: a session's first chunk is decoded again with the mean of
 * more of it. Done in the session's thread, that is seconds of audio
 * decoded again in one go, and a dictation that ends soon after it waits
 * for all of it (a 3 s dictation restarted at 2 s waited 0.6-2 s). Here the
 * live decoder goes on with the old mean, so its partials and its end stay
 * prompt, while the second decoder catches up on the other core; the
 * session takes it over (a swap of decoders) only once the chunk is long
 * enough for it to have caught up.
 *
 * Determinism: the second decoder is fed exactly what the live one would
 * be after a restart (primer, the mean, then the chunk's cepstra from frame
 * 0 in groups of exactly FEED_FRAMES), so the words after a swap are those
 * of that restart, whoever fed which group: the thread until the swap, the
 * session after it.
 *
 * Sharing: the thread reads the chunk's rows under the mutex (the session
 * may move them when it grows the buffer: ps_refine_lock) and feeds copies;
 * everything else it touches is its own decoder, or e's model paths and
 * primer, which nothing writes after open. The session thread is the only
 * one that calls checkins.
 */
#include "asr/pocketsphinx_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum refine_cmd { R_IDLE, R_RUN, R_STOP, R_QUIT };

struct ps_refiner {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* any change below */
    enum refine_cmd cmd; /* what the session asks; the thread sets R_IDLE when stopped */
    bool busy;           /* the thread is inside a refine (from R_RUN until it acknowledges) */
    ps_decoder_t *ps;    /* the second decoder (made by the thread on its first refine) */
    bool utt_open;       /* ps has an utterance open (ended before its next start) */
    bool primed;         /* this refine's utterance has started: it can be taken over */
    mfcc_t mean[32];     /* the refine's estimate */
    int avail;           /* rows [0, avail) of the open chunk may be read */
    int fed;             /* frames the second decoder has been given */
    int failed;          /* HARK_E* if it could not be made or started, or failed */
};

static void *refine_main(void *arg)
{
    ps_engine *e = arg;
    ps_refiner *r = e->refiner;
    mfcc_t copy[FEED_FRAMES][32], *rows[FEED_FRAMES];
    /* The model first, while the session's first half second comes in: it
     * takes about a second to load. */
    cmd_ln_t *config = NULL;
    ps_decoder_t *ps = ps_new_decoder(e, &config);
    if (ps)
        cmd_ln_free_r(config); /* the decoder holds its own reference */
    pthread_mutex_lock(&r->mu);
    r->ps = ps;
    for (;;) {
        while (r->cmd != R_RUN && r->cmd != R_QUIT) {
            if (r->cmd == R_STOP) {
                r->cmd = R_IDLE;
                r->busy = false;
                pthread_cond_broadcast(&r->cv);
            }
            pthread_cond_wait(&r->cv, &r->mu);
        }
        if (r->cmd == R_QUIT)
            break;
        r->busy = true;
        mfcc_t mean[32];
        memcpy(mean, r->mean, sizeof mean);
        pthread_mutex_unlock(&r->mu);

        /* Outside the lock: loading a model takes a second, priming a few
         * milliseconds; the session goes on meanwhile. */
        int failed = r->ps ? 0 : HARK_EENGINE;
        if (!failed && r->utt_open)
            ps_end_utt(r->ps);
        r->utt_open = false;
        if (!failed && ps_start_chunk_on(e, r->ps, mean) != 0)
            failed = HARK_EENGINE;
        r->utt_open = !failed;

        pthread_mutex_lock(&r->mu);
        r->failed = failed;
        r->primed = !failed;
        pthread_cond_broadcast(&r->cv);
        while (r->cmd == R_RUN && !r->failed) {
            if (r->avail - r->fed < FEED_FRAMES) {
                pthread_cond_wait(&r->cv, &r->mu);
                continue;
            }
            for (int i = 0; i < FEED_FRAMES; i++) {
                memcpy(copy[i], e->live.rows[r->fed + i], (size_t)e->ceplen * sizeof **copy);
                rows[i] = copy[i];
            }
            pthread_mutex_unlock(&r->mu);
            int rc = ps_process_cep(r->ps, rows, FEED_FRAMES, FALSE, FALSE);
            pthread_mutex_lock(&r->mu);
            if (rc < 0)
                r->failed = HARK_EENGINE;
            else
                r->fed += FEED_FRAMES;
            pthread_cond_broadcast(&r->cv);
        }
        /* Failed: wait for the session to stop it (it reads failed then). */
        while (r->cmd == R_RUN)
            pthread_cond_wait(&r->cv, &r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int ps_refine_prepare(ps_engine *e, hark_err *err)
{
    if (e->refiner)
        return 0;
    ps_refiner *r = calloc(1, sizeof *r);
    if (!r)
        return err_set(err, HARK_ENOMEM, "out of memory");
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->cmd = R_IDLE;
    e->refiner = r;
    if (pthread_create(&r->thread, NULL, refine_main, e) != 0) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        e->refiner = NULL;
        return err_set(err, HARK_EENGINE, "cannot start the refining decoder's thread");
    }
    return 0;
}

/* With the lock held: ask a refine in progress to stop; with wait, until
 * the thread has (its current group done). */
static void refiner_stop_locked(ps_refiner *r, bool wait)
{
    if (r->cmd == R_RUN) {
        r->cmd = R_STOP;
        pthread_cond_broadcast(&r->cv);
    }
    while (wait && r->cmd != R_IDLE)
        pthread_cond_wait(&r->cv, &r->mu);
}

int ps_refine_start(ps_engine *e, const mfcc_t *mean, hark_err *err)
{
    int rc = ps_refine_prepare(e, err);
    if (rc)
        return rc;
    ps_refiner *r = e->refiner;
    pthread_mutex_lock(&r->mu);
    refiner_stop_locked(r, true); /* the last chunk's, if it was dropped */
    memcpy(r->mean, mean, (size_t)e->ceplen * sizeof *mean);
    r->avail = e->live.n;
    r->fed = 0;
    r->failed = 0;
    r->primed = false;
    r->cmd = R_RUN;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void ps_refine_more(ps_engine *e)
{
    ps_refiner *r = e->refiner;
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    if (r->cmd == R_RUN && r->avail != e->live.n) {
        r->avail = e->live.n;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

int ps_refine_adopt(ps_engine *e, int *fed, hark_err *err)
{
    ps_refiner *r = e->refiner;
    pthread_mutex_lock(&r->mu);
    /* Started, at least: there is a refined utterance to take over (the
     * model may still be loading on a worker's first dictation). */
    while (r->cmd == R_RUN && !r->primed && !r->failed)
        pthread_cond_wait(&r->cv, &r->mu);
    refiner_stop_locked(r, true);
    int failed = r->primed ? r->failed : HARK_EENGINE;
    if (!failed) {
        /* The swap: the live decoder becomes the refiner's, to be ended
         * by the thread before its next refine (ending it costs a
         * lattice search the session need not wait for). */
        ps_decoder_t *live = e->ps;
        e->ps = r->ps;
        r->ps = live;
        r->utt_open = true;
        *fed = r->fed;
    }
    pthread_mutex_unlock(&r->mu);
    if (failed)
        return err_set(err, failed, "pocketsphinx failed to decode a live chunk again");
    return 0;
}

void ps_refine_drop(ps_engine *e)
{
    ps_refiner *r = e->refiner;
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    refiner_stop_locked(r, false);
    pthread_mutex_unlock(&r->mu);
}

void ps_refine_lock(ps_engine *e)
{
    if (e->refiner)
        pthread_mutex_lock(&e->refiner->mu);
}

void ps_refine_unlock(ps_engine *e)
{
    if (e->refiner)
        pthread_mutex_unlock(&e->refiner->mu);
}

void ps_refine_release(ps_engine *e)
{
    ps_refiner *r = e->refiner;
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    refiner_stop_locked(r, true);
    r->cmd = R_QUIT;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    if (r->ps) {
        if (r->utt_open)
            ps_end_utt(r->ps);
        ps_free(r->ps);
    }
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
    e->refiner = NULL;
}
