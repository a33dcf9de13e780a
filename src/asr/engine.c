/* engine.c - the engine seam: pick a backend by name, delegate to its ops. */
#include "asr/engine.h"

#include "asr/engine_impl.h"

#include <stdlib.h>
#include <string.h>

static const asr_engine_ops *const backends[] = {
    &asr_pocketsphinx_ops,
};

void asr_config_default(asr_config *c)
{
    memset(c, 0, sizeof *c);
    c->engine = "pocketsphinx";
    const char *env = getenv("HARK_MODEL_DIR");
    c->model_dir = env && *env ? env : HARK_MODEL_DIR;
}

static const asr_engine_ops *backend_of(const asr_config *c, hark_err *err)
{
    const char *name = c->engine ? c->engine : "pocketsphinx";
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    err_set(err, HARK_EINVAL, "unknown recognizer '%s' (available: pocketsphinx)", name);
    return NULL;
}

int asr_engine_check(const asr_config *c, hark_err *err)
{
    const asr_engine_ops *ops = backend_of(c, err);
    return ops ? ops->check(c, err) : HARK_EINVAL;
}

int asr_engine_open(const asr_config *c, asr_engine **out, hark_err *err)
{
    *out = NULL;
    const asr_engine_ops *ops = backend_of(c, err);
    return ops ? ops->open(c, out, err) : HARK_EINVAL;
}

int asr_engine_decode(asr_engine *e, const pcm_file *pcm, int64_t start, int64_t end,
                      asr_checkin_fn checkin, void *ctx, asr_result *res, hark_err *err)
{
    memset(res, 0, sizeof *res);
    if (start < 0 || end < start || end > pcm->n_samples)
        return err_set(err, HARK_EINVAL, "chunk [%lld, %lld) is outside the audio (%lld samples)",
                       (long long)start, (long long)end, (long long)pcm->n_samples);
    return e->ops->decode(e, pcm, start, end, checkin, ctx, res, err);
}

void asr_engine_live_reset(asr_engine *e)
{
    e->ops->live_reset(e);
}

int asr_engine_live_seed(asr_engine *e, const int16_t *x, size_t n, hark_err *err)
{
    return e->ops->live_seed(e, x, n, err);
}

int asr_engine_live_begin(asr_engine *e, int64_t start, hark_err *err)
{
    if (start < 0)
        return err_set(err, HARK_EINVAL, "a live chunk cannot start at sample %lld",
                       (long long)start);
    return e->ops->live_begin(e, start, err);
}

int asr_engine_live_feed(asr_engine *e, const int16_t *x, size_t n, hark_err *err)
{
    return n ? e->ops->live_feed(e, x, n, err) : 0;
}

int asr_engine_live_partial(asr_engine *e, asr_result *res, hark_err *err)
{
    memset(res, 0, sizeof *res);
    return e->ops->live_partial(e, res, err);
}

int asr_engine_live_end(asr_engine *e, asr_result *res, hark_err *err)
{
    memset(res, 0, sizeof *res);
    return e->ops->live_end(e, res, err);
}

void asr_engine_live_abort(asr_engine *e)
{
    e->ops->live_abort(e);
}

const char *asr_engine_name(const asr_engine *e)
{
    return e->ops->describe(e);
}

void asr_result_release(asr_result *r)
{
    for (size_t i = 0; i < r->n_words; i++)
        free(r->words[i].text);
    free(r->words);
    memset(r, 0, sizeof *r);
}

void asr_engine_close(asr_engine *e)
{
    if (e)
        e->ops->close(e);
}

int asr_result_add_word(asr_result *res, const char *text, size_t text_len, double start_s,
                        double end_s, float confidence)
{
    if (res->n_words == res->cap_words) {
        size_t cap = res->cap_words ? res->cap_words * 2 : 16;
        asr_word *w = realloc(res->words, cap * sizeof *w);
        if (!w)
            return HARK_ENOMEM;
        res->words = w;
        res->cap_words = cap;
    }
    char *copy = malloc(text_len + 1);
    if (!copy)
        return HARK_ENOMEM;
    memcpy(copy, text, text_len);
    copy[text_len] = '\0';
    res->words[res->n_words++] = (asr_word){copy, start_s, end_s, confidence};
    return 0;
}
