/* pocketsphinx.c - the PocketSphinx 5prealpha backend (Debian 12's package).
 *
 * Determinism (engine.h contract). PocketSphinx keeps adaptive state across
 * utterances and offers no call to reset it, so every chunk is decoded the
 * same way from one known state:
 *  1. the chunk's cepstra are computed with a fresh front end (which has
 *     adaptive noise statistics of its own); the decoder is fed cepstra,
 *     never raw audio, so its own front end never runs;
 *  2. a fixed primer utterance (precomputed cepstra of quiet noise) is
 *     decoded and thrown away: it overwrites the state 5prealpha carries
 *     from the last frames of one utterance into the next (the top-N
 *     Gaussian history among it) with the same values every time;
 *  3. live cepstral mean normalisation is set to the mean of this chunk's
 *     own cepstra (as if the decoder had already heard this speaker: as
 *     accurate as the CLI's carried-over mean, and dependent on nothing
 *     else);
 *  4. a new stream starts, so frame 0 is the chunk's first sample.
 * The front end's VAD (-remove_silence) is off: hark cuts at silences
 * itself, and the VAD would shift word times inside a chunk.
 *
 * One decoder per process/thread: ps_decoder_t is not thread-safe.
 */
#include "asr/pocketsphinx_impl.h"

#include "util/clock.h"
#include "util/log.h"

#include <sphinxbase/cmn.h>
#include <sphinxbase/err.h>
#include <sphinxbase/feat.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int make_primer(ps_engine *e);

typedef struct model_paths {
    char hmm[4096], lm[4096], dict[4096];
} model_paths;

/* The model's three parts: given ones as they are, the rest in model_dir.
 * 0, or HARK_EINVAL naming the first that is missing. */
static int model_paths_of(const asr_config *c, model_paths *m, hark_err *err)
{
    snprintf(m->hmm, sizeof m->hmm, "%s", c->hmm ? c->hmm : "");
    snprintf(m->lm, sizeof m->lm, "%s", c->lm ? c->lm : "");
    snprintf(m->dict, sizeof m->dict, "%s", c->dict ? c->dict : "");
    if (!c->hmm)
        snprintf(m->hmm, sizeof m->hmm, "%s/en-us", c->model_dir);
    if (!c->lm)
        snprintf(m->lm, sizeof m->lm, "%s/en-us.lm.bin", c->model_dir);
    if (!c->dict)
        snprintf(m->dict, sizeof m->dict, "%s/cmudict-en-us.dict", c->model_dir);
    const char *need[] = {m->hmm, m->lm, m->dict};
    for (int i = 0; i < 3; i++)
        if (!path_exists(need[i]))
            return err_set(err, HARK_EINVAL,
                           "cannot load the speech model: '%s' is missing (install Debian's "
                           "pocketsphinx-en-us, or set HARK_MODEL_DIR)",
                           need[i]);
    return 0;
}

static int ps_check(const asr_config *c, hark_err *err)
{
    model_paths m;
    return model_paths_of(c, &m, err);
}

ps_decoder_t *ps_new_decoder(ps_engine *e, cmd_ln_t **config_out)
{
    /* -fwdflat no: the flat-lexicon second pass costs 10-20% of the decode
     * and, on hark's short chunks, does not lower the word error rate
     * (LibriVox clips: 28.4% without it, 28.6% with it; see BENCHMARKS.md).
     * The lattice best path still runs. Without that pass the decoder keeps
     * a 12-frame ring of features that 5prealpha's ps_process_cep()
     * overruns; prime() switches it to whole-utterance buffers. */
    cmd_ln_t *config =
        cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", e->hmm, "-lm", e->lm, "-dict", e->dict,
                    "-remove_silence", "no", "-remove_noise", "no", "-fwdflat", "no", NULL);
    if (!config)
        return NULL;
    ps_decoder_t *ps = ps_init(config);
    if (!ps) {
        cmd_ln_free_r(config);
        return NULL;
    }
    *config_out = config;
    return ps;
}

static int ps_open(const asr_config *c, asr_engine **out, hark_err *err)
{
    model_paths m;
    int rc = model_paths_of(c, &m, err);
    if (rc)
        return rc;
    const char *hmm = m.hmm, *lm = m.lm, *dict = m.dict;

    /* PocketSphinx logs chatty INFO lines to stderr; keep them unless debugging. */
    if (log_get_level() > LOG_DEBUG)
        err_set_logfp(NULL);

    ps_engine *e = calloc(1, sizeof *e);
    if (!e)
        return HARK_ENOMEM;
    snprintf(e->hmm, sizeof e->hmm, "%s", hmm);
    snprintf(e->lm, sizeof e->lm, "%s", lm);
    snprintf(e->dict, sizeof e->dict, "%s", dict);
    cmd_ln_t *config = NULL;
    ps_decoder_t *ps = ps_new_decoder(e, &config);
    if (!ps) {
        free(e);
        return err_set(err, HARK_EENGINE, "cannot load the speech model from '%s'", hmm);
    }
    e->base.ops = &asr_pocketsphinx_ops;
    e->ps = ps;
    e->config = config;
    e->frate = (int)cmd_ln_int32_r(config, "-frate");
    e->ceplen = (int)cmd_ln_int32_r(config, "-ceplen");
    e->cep_mean = calloc((size_t)e->ceplen, sizeof *e->cep_mean);
    e->live.prev_mean = calloc((size_t)e->ceplen, sizeof *e->live.prev_mean);
    e->live.mean = calloc((size_t)e->ceplen, sizeof *e->live.mean);
    if (e->frate <= 0 || e->ceplen > 32 || !e->cep_mean || !e->live.prev_mean || !e->live.mean ||
        make_primer(e) != 0) {
        asr_pocketsphinx_ops.close(&e->base);
        return err_set(err, HARK_EENGINE, "cannot configure pocketsphinx");
    }
    snprintf(e->describe, sizeof e->describe, "pocketsphinx en-us");
    *out = &e->base;
    return 0;
}

/* The chunk's cepstra, computed with a fresh front end so nothing from
 * earlier chunks leaks in (the front end has adaptive noise statistics).
 * The decoder is then fed these cepstra, never raw audio, so its own front
 * end never runs. At most max_s of audio: 100 frames a second, 13 floats
 * each, 160 KB for a 30 s chunk. */
static int chunk_cepstra(ps_engine *e, const pcm_file *pcm, int64_t start, int64_t end,
                         asr_checkin_fn checkin, void *ctx, mfcc_t ***out, int *out_n,
                         hark_err *err)
{
    int cap = (int)((end - start) / 160) + 8; /* frame shift is 160 samples at 16 kHz */
    fe_t *fe = fe_init_auto_r(e->config);
    if (!fe)
        return err_set(err, HARK_EENGINE, "cannot start the pocketsphinx front end");
    mfcc_t **cep = (mfcc_t **)ckd_calloc_2d((size_t)cap, (size_t)e->ceplen, sizeof(mfcc_t));
    int n = 0, rc = 0;
    int16_t block[ASR_BLOCK_SAMPLES];
    fe_start_utt(fe);
    for (int64_t at = start; at < end;) {
        size_t want = (size_t)(end - at < ASR_BLOCK_SAMPLES ? end - at : ASR_BLOCK_SAMPLES);
        int64_t got = pcm_read(pcm, at, block, want);
        if (got <= 0) {
            rc = err_set(err, HARK_EIO, "cannot read the audio at %.2f s", pcm_seconds(at));
            goto out;
        }
        at += got;
        int16 const *ptr = block;
        size_t nsamp = (size_t)got;
        while (nsamp > 0 && n < cap) {
            int32 nfr = cap - n;
            fe_process_frames(fe, &ptr, &nsamp, cep + n, &nfr, NULL);
            n += nfr;
            if (nfr == 0)
                break;
        }
        if (checkin && (rc = checkin(ctx, 0.0)) != 0)
            goto out;
    }
    if (n < cap) {
        int32 nfr = 0;
        fe_end_utt(fe, cep[n], &nfr);
        n += nfr;
    }
out:
    fe_free(fe);
    if (rc) {
        ckd_free_2d(cep);
        return rc;
    }
    *out = cep;
    *out_n = n;
    return 0;
}

void ps_cepstra_mean(ps_engine *e, mfcc_t **cep, int n, mfcc_t *mean)
{
    memset(mean, 0, (size_t)e->ceplen * sizeof *e->cep_mean);
    if (n == 0) {
        mean[0] = 40.0f; /* -cmninit 40,3,-1 */
        if (e->ceplen > 2) {
            mean[1] = 3.0f;
            mean[2] = -1.0f;
        }
        return;
    }
    for (int k = 0; k < e->ceplen; k++) {
        double sum = 0;
        for (int f = 0; f < n; f++)
            sum += cep[f][k];
        mean[k] = (mfcc_t)(sum / n);
    }
}

/* "word(2)" -> "word"; returns the length to keep. */
static size_t strip_alternate(const char *w)
{
    size_t n = strlen(w);
    if (n > 3 && w[n - 1] == ')') {
        const char *open = strrchr(w, '(');
        if (open && open > w)
            return (size_t)(open - w);
    }
    return n;
}

/* Fillers and sentence markers: <s>, </s>, <sil>, [NOISE], ++GARBAGE++ ... */
static int is_filler(const char *w)
{
    return w[0] == '<' || w[0] == '[' || w[0] == '+' || w[0] == '\0';
}

int ps_collect_words(ps_engine *e, double offset, double end_s, bool final, asr_result *res)
{
    logmath_t *lmath = ps_get_logmath(e->ps);
    for (ps_seg_t *seg = ps_seg_iter(e->ps); seg; seg = ps_seg_next(seg)) {
        const char *w = ps_seg_word(seg);
        if (is_filler(w))
            continue;
        int sf = 0, ef = 0;
        ps_seg_frames(seg, &sf, &ef);
        double post = 0.0;
        if (final) {
            int32 ascr, lscr, lback;
            post = logmath_exp(lmath, ps_seg_prob(seg, &ascr, &lscr, &lback));
        }
        if (!(post >= 0.0))
            post = 0.0;
        if (post > 1.0)
            post = 1.0;
        double ws = offset + (double)sf / e->frate;
        double we = offset + (double)(ef + 1) / e->frate;
        if (we > end_s)
            we = end_s;
        if (ws > we)
            ws = we;
        if (asr_result_add_word(res, w, strip_alternate(w), ws, we, (float)post)) {
            ps_seg_free(seg);
            asr_result_release(res);
            return HARK_ENOMEM;
        }
    }
    return 0;
}

/* Besides live CMN, PocketSphinx 5prealpha carries state from the last
 * frames of one utterance into the first frames of the next (its top-N
 * Gaussian history among them) and offers no call to reset it. Decoding a
 * fixed, quiet primer utterance overwrites that state with the same values
 * every time, so each chunk starts from one known state. The engine test
 * decodes chunks in several orders and demands byte-identical words. */
static void prime(ps_engine *e, ps_decoder_t *ps, mfcc_t *mean)
{
    cmn_live_set(ps_get_feat(ps)->cmn_struct, mean);
    ps_start_stream(ps);
    ps_start_utt(ps);
    /* A copy: PocketSphinx normalises the cepstra it is given in place, so
     * feeding e->primer itself left it shifted by every chunk's mean, and a
     * second decoder (pocketsphinx_refine.c) priming at the same time would
     * race on it. */
    mfcc_t flat[PRIMER_FRAMES_MAX][32], *rows[PRIMER_FRAMES_MAX];
    for (int f = 0; f < e->primer_n; f++) {
        memcpy(flat[f], e->primer[f], (size_t)e->ceplen * sizeof **flat);
        rows[f] = flat[f];
    }
    /* no_search = TRUE queues the frames for ps_end_utt() to search (so the
     * primer still overwrites the carried state) and, as a lasting side
     * effect, makes the acoustic model keep whole utterances instead of
     * its small live ring, which ps_process_cep() would overrun when the
     * second pass is off ("Frame N outside queue"). Without this, every
     * chunk decodes to nothing; the engine tests would catch that. */
    ps_process_cep(ps, rows, e->primer_n, TRUE, FALSE);
    ps_end_utt(ps);
}

int ps_start_chunk_on(ps_engine *e, ps_decoder_t *ps, mfcc_t *mean)
{
    prime(e, ps, mean);
    /* The reset that makes chunks independent: see the comment at the top. */
    cmn_live_set(ps_get_feat(ps)->cmn_struct, mean);
    /* 5prealpha counts frames from the start of the stream, not of the
     * utterance; a new stream per chunk makes frame 0 the chunk's start. */
    if (ps_start_stream(ps) < 0 || ps_start_utt(ps) < 0)
        return HARK_EENGINE;
    return 0;
}

int ps_start_chunk(ps_engine *e, mfcc_t *mean)
{
    return ps_start_chunk_on(e, e->ps, mean);
}

/* The primer's cepstra, computed once: quiet deterministic noise. */
static int make_primer(ps_engine *e)
{
    int16_t noise[PRIMER_SAMPLES];
    uint32_t x = 12345;
    for (int i = 0; i < PRIMER_SAMPLES; i++) {
        x = x * 1664525u + 1013904223u;
        noise[i] = (int16_t)((int)(x >> 16) % 64 - 32);
    }
    fe_t *fe = fe_init_auto_r(e->config);
    if (!fe)
        return -1;
    int cap = PRIMER_FRAMES_MAX;
    e->primer = (mfcc_t **)ckd_calloc_2d((size_t)cap, (size_t)e->ceplen, sizeof(mfcc_t));
    int16 const *ptr = noise;
    size_t nsamp = PRIMER_SAMPLES;
    int32 nfr = cap;
    fe_start_utt(fe);
    fe_process_frames(fe, &ptr, &nsamp, e->primer, &nfr, NULL);
    e->primer_n = nfr;
    int32 tail = 0;
    if (e->primer_n < cap)
        fe_end_utt(fe, e->primer[e->primer_n], &tail);
    e->primer_n += tail;
    fe_free(fe);
    return e->primer_n > 0 ? 0 : -1;
}

static int ps_decode(asr_engine *base, const pcm_file *pcm, int64_t start, int64_t end,
                     asr_checkin_fn checkin, void *ctx, asr_result *res, hark_err *err)
{
    ps_engine *e = (ps_engine *)base;
    ps_live_abort(base); /* the decoder is this chunk's now */
    double t0 = clock_now_s();
    mfcc_t **cep = NULL;
    int n = 0;
    int rc = chunk_cepstra(e, pcm, start, end, checkin, ctx, &cep, &n, err);
    if (rc)
        return rc;
    ps_cepstra_mean(e, cep, n, e->cep_mean);
    if (ps_start_chunk(e, e->cep_mean) != 0) {
        ckd_free_2d(cep);
        return err_set(err, HARK_EENGINE, "pocketsphinx refused to start an utterance");
    }
    int per_block = e->frate / 10; /* 100 ms of frames */
    for (int f = 0; f < n; f += per_block) {
        int k = n - f < per_block ? n - f : per_block;
        if (ps_process_cep(e->ps, cep + f, k, FALSE, FALSE) < 0) {
            ps_end_utt(e->ps);
            ckd_free_2d(cep);
            return err_set(err, HARK_EENGINE, "pocketsphinx failed at %.2f s",
                           pcm_seconds(start) + (double)f / e->frate);
        }
        if (checkin && (rc = checkin(ctx, (double)(f + k) / e->frate)) != 0) {
            ps_end_utt(e->ps);
            ckd_free_2d(cep);
            return rc;
        }
    }
    ckd_free_2d(cep);
    if (ps_end_utt(e->ps) < 0)
        return err_set(err, HARK_EENGINE, "pocketsphinx failed to finish the chunk at %.2f s",
                       pcm_seconds(start));

    if (ps_collect_words(e, pcm_seconds(start), pcm_seconds(end), true, res) != 0)
        return HARK_ENOMEM;
    res->audio_s = pcm_seconds(end - start);
    res->decode_s = clock_now_s() - t0;
    return 0;
}

static const char *ps_describe(const asr_engine *base)
{
    return ((const ps_engine *)base)->describe;
}

static void ps_close(asr_engine *base)
{
    ps_engine *e = (ps_engine *)base;
    ps_live_release(e); /* first: it may end an utterance of e->ps */
    if (e->ps)
        ps_free(e->ps);
    if (e->config)
        cmd_ln_free_r(e->config);
    free(e->cep_mean);
    if (e->primer)
        ckd_free_2d(e->primer);
    free(e);
}

const asr_engine_ops asr_pocketsphinx_ops = {
    .name = "pocketsphinx",
    .check = ps_check,
    .open = ps_open,
    .decode = ps_decode,
    .live_reset = ps_live_reset,
    .live_seed = ps_live_seed,
    .live_begin = ps_live_begin,
    .live_feed = ps_live_feed,
    .live_partial = ps_live_partial,
    .live_end = ps_live_end,
    .live_abort = ps_live_abort,
    .describe = ps_describe,
    .close = ps_close,
};
