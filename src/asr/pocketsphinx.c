/* pocketsphinx.c - the PocketSphinx 5prealpha backend (Debian 12's package).
 *
 * Determinism (engine.h contract). PocketSphinx keeps adaptive state across
 * utterances; the one that changes results is live cepstral mean
 * normalisation (CMN): its running mean carries from one utterance into the
 * next, so a chunk's words would depend on the chunks decoded before it.
 * Before every chunk we therefore set the CMN state explicitly, to a value
 * computed from this chunk's own audio: a first, cheap pass turns the chunk
 * into MFCC frames with a fresh front end and takes their mean. That makes
 * each chunk start from the state "as if the decoder had already heard this
 * speaker", which is as accurate as the CLI's carried-over mean and depends
 * on nothing else. Other carried state is overwritten by a primer (see
 * prime()). The front end's VAD (-remove_silence) is off: hark cuts at
 * silences itself, and the VAD would shift word times inside a chunk.
 *
 * One decoder per process/thread: ps_decoder_t is not thread-safe.
 */
#include "asr/engine_impl.h"

#include "util/clock.h"
#include "util/log.h"

#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/err.h>
#include <sphinxbase/fe.h>
#include <sphinxbase/feat.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Length of the primer utterance (see prime()). 0.15 s was measured to be
 * enough to make the decoder's carried-over state identical whatever came
 * before; twice that for margin. */
#define PRIMER_SAMPLES (PCM_RATE * 3 / 10)

typedef struct ps_engine {
    asr_engine base;
    ps_decoder_t *ps;
    cmd_ln_t *config;
    int frate;        /* feature frames per second (100) */
    int ceplen;       /* cepstral vector length (13) */
    mfcc_t *cep_mean; /* scratch: the chunk's mean cepstrum */
    char describe[128];
} ps_engine;

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int ps_open(const asr_config *c, asr_engine **out, hark_err *err)
{
    char hmm[4096], lm[4096], dict[4096];
    snprintf(hmm, sizeof hmm, "%s", c->hmm ? c->hmm : "");
    snprintf(lm, sizeof lm, "%s", c->lm ? c->lm : "");
    snprintf(dict, sizeof dict, "%s", c->dict ? c->dict : "");
    if (!c->hmm)
        snprintf(hmm, sizeof hmm, "%s/en-us", c->model_dir);
    if (!c->lm)
        snprintf(lm, sizeof lm, "%s/en-us.lm.bin", c->model_dir);
    if (!c->dict)
        snprintf(dict, sizeof dict, "%s/cmudict-en-us.dict", c->model_dir);
    const char *need[] = {hmm, lm, dict};
    for (int i = 0; i < 3; i++)
        if (!path_exists(need[i]))
            return err_set(err, HARK_EINVAL,
                           "cannot load the speech model: '%s' is missing (install Debian's "
                           "pocketsphinx-en-us, or set HARK_MODEL_DIR)",
                           need[i]);

    /* PocketSphinx logs chatty INFO lines to stderr; keep them unless debugging. */
    if (log_get_level() > LOG_DEBUG)
        err_set_logfp(NULL);

    cmd_ln_t *config = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-lm", lm, "-dict", dict,
                                   "-remove_silence", "no", "-remove_noise", "no", NULL);
    if (!config)
        return err_set(err, HARK_EENGINE, "cannot configure pocketsphinx");
    ps_decoder_t *ps = ps_init(config);
    if (!ps) {
        cmd_ln_free_r(config);
        return err_set(err, HARK_EENGINE, "cannot load the speech model from '%s'", hmm);
    }
    ps_engine *e = calloc(1, sizeof *e);
    if (!e) {
        ps_free(ps);
        cmd_ln_free_r(config);
        return HARK_ENOMEM;
    }
    e->base.ops = &asr_pocketsphinx_ops;
    e->ps = ps;
    e->config = config;
    e->frate = (int)cmd_ln_int32_r(config, "-frate");
    e->ceplen = (int)cmd_ln_int32_r(config, "-ceplen");
    e->cep_mean = calloc((size_t)e->ceplen, sizeof *e->cep_mean);
    if (e->frate <= 0 || !e->cep_mean) {
        asr_pocketsphinx_ops.close(&e->base);
        return err_set(err, HARK_EENGINE, "cannot configure pocketsphinx");
    }
    snprintf(e->describe, sizeof e->describe, "pocketsphinx en-us");
    *out = &e->base;
    return 0;
}

/* Mean cepstrum of samples [start, end), computed with a fresh front end so
 * nothing from earlier chunks leaks in. Falls back to -cmninit's values when
 * the chunk is too short to give a frame. */
static int chunk_cep_mean(ps_engine *e, const pcm_file *pcm, int64_t start, int64_t end,
                          asr_checkin_fn checkin, void *ctx, hark_err *err)
{
    fe_t *fe = fe_init_auto_r(e->config);
    if (!fe)
        return err_set(err, HARK_EENGINE, "cannot start the pocketsphinx front end");
    int rc = 0;
    double *sum = calloc((size_t)e->ceplen, sizeof *sum);
    mfcc_t **cep = (mfcc_t **)ckd_calloc_2d(64, (size_t)e->ceplen, sizeof(mfcc_t));
    long nframes_total = 0;
    int16_t block[ASR_BLOCK_SAMPLES];
    if (!sum || !cep) {
        rc = HARK_ENOMEM;
        goto out;
    }
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
        while (nsamp > 0) {
            int32 nfr = 64;
            fe_process_frames(fe, &ptr, &nsamp, cep, &nfr, NULL);
            for (int32 f = 0; f < nfr; f++)
                for (int k = 0; k < e->ceplen; k++)
                    sum[k] += cep[f][k];
            nframes_total += nfr;
            if (nfr == 0)
                break;
        }
        if (checkin) {
            int stop = checkin(ctx, 0.0);
            if (stop) {
                rc = stop;
                goto out;
            }
        }
    }
    int32 nfr = 0;
    fe_end_utt(fe, cep[0], &nfr);
    for (int32 f = 0; f < nfr; f++)
        for (int k = 0; k < e->ceplen; k++)
            sum[k] += cep[0][k];
    nframes_total += nfr;
    if (nframes_total > 0) {
        for (int k = 0; k < e->ceplen; k++)
            e->cep_mean[k] = (mfcc_t)(sum[k] / (double)nframes_total);
    } else {
        memset(e->cep_mean, 0, (size_t)e->ceplen * sizeof *e->cep_mean);
        e->cep_mean[0] = 40.0f; /* -cmninit 40,3,-1 */
        if (e->ceplen > 1)
            e->cep_mean[1] = 3.0f;
        if (e->ceplen > 2)
            e->cep_mean[2] = -1.0f;
    }
out:
    if (cep)
        ckd_free_2d(cep);
    free(sum);
    fe_free(fe);
    return rc;
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

/* Besides live CMN, PocketSphinx 5prealpha carries state from the last
 * frames of one utterance into the first frames of the next (its top-N
 * Gaussian history among them) and offers no call to reset it. Decoding a
 * fixed, quiet primer utterance overwrites that state with the same values
 * every time, so each chunk starts from one known state. The engine test
 * decodes chunks in several orders and demands byte-identical words. */
static void prime(ps_engine *e)
{
    int16_t noise[PRIMER_SAMPLES];
    uint32_t x = 12345;
    for (int i = 0; i < PRIMER_SAMPLES; i++) {
        x = x * 1664525u + 1013904223u;
        noise[i] = (int16_t)((int)(x >> 16) % 64 - 32);
    }
    cmn_live_set(ps_get_feat(e->ps)->cmn_struct, e->cep_mean);
    ps_start_stream(e->ps);
    ps_start_utt(e->ps);
    ps_process_raw(e->ps, noise, PRIMER_SAMPLES, FALSE, FALSE);
    ps_end_utt(e->ps);
}

static int ps_decode(asr_engine *base, const pcm_file *pcm, int64_t start, int64_t end,
                     asr_checkin_fn checkin, void *ctx, asr_result *res, hark_err *err)
{
    ps_engine *e = (ps_engine *)base;
    double t0 = clock_now_s();
    int rc = chunk_cep_mean(e, pcm, start, end, checkin, ctx, err);
    if (rc)
        return rc;
    prime(e);
    /* The reset that makes chunks independent: see the comment at the top. */
    cmn_live_set(ps_get_feat(e->ps)->cmn_struct, e->cep_mean);
    /* 5prealpha counts frames from the start of the stream, not of the
     * utterance; a new stream per chunk makes frame 0 the chunk's start. */
    if (ps_start_stream(e->ps) < 0)
        return err_set(err, HARK_EENGINE, "pocketsphinx refused to start a stream");
    if (ps_start_utt(e->ps) < 0)
        return err_set(err, HARK_EENGINE, "pocketsphinx refused to start an utterance");
    int16_t block[ASR_BLOCK_SAMPLES];
    for (int64_t at = start; at < end;) {
        size_t want = (size_t)(end - at < ASR_BLOCK_SAMPLES ? end - at : ASR_BLOCK_SAMPLES);
        int64_t got = pcm_read(pcm, at, block, want);
        if (got <= 0) {
            ps_end_utt(e->ps);
            return err_set(err, HARK_EIO, "cannot read the audio at %.2f s", pcm_seconds(at));
        }
        if (ps_process_raw(e->ps, block, (size_t)got, FALSE, FALSE) < 0) {
            ps_end_utt(e->ps);
            return err_set(err, HARK_EENGINE, "pocketsphinx failed at %.2f s", pcm_seconds(at));
        }
        at += got;
        if (checkin) {
            int stop = checkin(ctx, pcm_seconds(at - start));
            if (stop) {
                ps_end_utt(e->ps);
                return stop;
            }
        }
    }
    if (ps_end_utt(e->ps) < 0)
        return err_set(err, HARK_EENGINE, "pocketsphinx failed to finish the chunk at %.2f s",
                       pcm_seconds(start));

    logmath_t *lmath = ps_get_logmath(e->ps);
    double offset = pcm_seconds(start);
    for (ps_seg_t *seg = ps_seg_iter(e->ps); seg; seg = ps_seg_next(seg)) {
        const char *w = ps_seg_word(seg);
        if (is_filler(w))
            continue;
        int sf = 0, ef = 0;
        ps_seg_frames(seg, &sf, &ef);
        int32 ascr, lscr, lback;
        double post = logmath_exp(lmath, ps_seg_prob(seg, &ascr, &lscr, &lback));
        if (!(post >= 0.0))
            post = 0.0;
        if (post > 1.0)
            post = 1.0;
        double ws = offset + (double)sf / e->frate;
        double we = offset + (double)(ef + 1) / e->frate;
        if (we > pcm_seconds(end))
            we = pcm_seconds(end);
        if (asr_result_add_word(res, w, strip_alternate(w), ws, we, (float)post)) {
            ps_seg_free(seg);
            asr_result_release(res);
            return HARK_ENOMEM;
        }
    }
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
    if (e->ps)
        ps_free(e->ps);
    if (e->config)
        cmd_ln_free_r(e->config);
    free(e->cep_mean);
    free(e);
}

const asr_engine_ops asr_pocketsphinx_ops = {
    .name = "pocketsphinx",
    .open = ps_open,
    .decode = ps_decode,
    .describe = ps_describe,
    .close = ps_close,
};
