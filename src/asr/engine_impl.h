/* engine_impl.h - what a recognizer backend provides (curl's vtls pattern).
 * Only asr/ includes this; everyone else uses engine.h. */
#ifndef HARK_ASR_ENGINE_IMPL_H
#define HARK_ASR_ENGINE_IMPL_H

#include "asr/engine.h"

typedef struct asr_engine_ops {
    const char *name;
    /* The model's files are there (no loading): what open would say of a
     * missing one. */
    int (*check)(const asr_config *c, hark_err *err);
    int (*open)(const asr_config *c, asr_engine **out, hark_err *err);
    /* [start, end) is already validated against the PCM file. */
    int (*decode)(asr_engine *e, const pcm_file *pcm, int64_t start, int64_t end,
                  asr_checkin_fn checkin, void *ctx, asr_result *res, hark_err *err);
    /* Live decoding (engine.h); the wrappers check the order of calls. */
    void (*live_reset)(asr_engine *e);
    int (*live_seed)(asr_engine *e, const int16_t *x, size_t n, hark_err *err);
    int (*live_begin)(asr_engine *e, int64_t start, hark_err *err);
    int (*live_feed)(asr_engine *e, const int16_t *x, size_t n, hark_err *err);
    int (*live_partial)(asr_engine *e, asr_result *res, hark_err *err);
    int (*live_end)(asr_engine *e, asr_result *res, hark_err *err);
    void (*live_abort)(asr_engine *e);
    const char *(*describe)(const asr_engine *e);
    void (*close)(asr_engine *e);
} asr_engine_ops;

/* Every backend's engine struct begins with this. */
struct asr_engine {
    const asr_engine_ops *ops;
};

extern const asr_engine_ops asr_pocketsphinx_ops;

#endif
