/* fuzz_decode.c - libFuzzer harness over media_decode_memory.
 *
 * Decodes and discards (no PCM file), with a 10-minute maximum duration and a
 * 5 s deadline so slow inputs end with HARK_ETIMEDOUT instead of a libFuzzer
 * timeout. Seed it with the corpus from tests/corpus/make-bad-inputs.sh and
 * make-conversions.sh:
 *     ./fuzz_decode -max_total_time=60 corpus/
 */
#include "media/decode.h"

#include <libavutil/log.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        av_log_set_level(AV_LOG_QUIET);
        quiet = 1;
    }
    media_decode_opts o;
    media_decode_opts_default(&o);
    o.max_duration_s = 600;
    o.timeout_s = 5;
    media_info info;
    hark_err err;
    int rc = media_decode_memory(data, size, "fuzz.bin", NULL, &o, &info, &err);
    /* Whatever happened, the result is 0 or an error with a one-line message. */
    if (rc != 0 && (err.code != rc || !strstr(err.msg, "fuzz.bin") || strchr(err.msg, '\n')))
        __builtin_trap();
    if (rc == 0 && (info.n_samples <= 0 || info.duration_s > 600 + 1))
        __builtin_trap();
    return 0;
}
