#include "jobs/transcription.h"

#include <stdio.h>
#include <string.h>

int transcription_prepare(const char *input, const char *work_dir,
                          const media_decode_opts *decode_opts, const chunk_plan_opts *plan_opts,
                          prepared_audio *out, hark_err *err)
{
    memset(out, 0, sizeof *out);
    out->pcm.fd = -1;
    char pcm_path[4096];
    if (snprintf(pcm_path, sizeof pcm_path, "%s/%s", work_dir, TRANSCRIPTION_PCM_NAME) >=
        (int)sizeof pcm_path)
        return err_set(err, HARK_EINVAL, "work directory path too long: '%s'", work_dir);

    int rc = media_decode_file(input, pcm_path, decode_opts, &out->info, err);
    if (rc)
        return rc;
    rc = pcm_open(pcm_path, &out->pcm, err);
    if (rc)
        return rc;
    rc = chunk_plan_build(&out->pcm, plan_opts, &out->plan, err);
    if (rc) {
        prepared_audio_release(out);
        return rc;
    }
    return 0;
}

void prepared_audio_release(prepared_audio *p)
{
    pcm_close(&p->pcm);
    chunk_plan_release(&p->plan);
}

double chunk_plan_speech_seconds(const chunk_plan *plan)
{
    int64_t n = 0;
    for (size_t i = 0; i < plan->n; i++)
        n += plan->chunks[i].end - plan->chunks[i].start;
    return pcm_seconds(n);
}

int transcription_add_chunk(transcript *t, int index, const asr_result *r)
{
    for (size_t i = 0; i < r->n_words; i++) {
        const asr_word *w = &r->words[i];
        int rc = transcript_add_word(t, w->text, w->start_s, w->end_s, w->confidence, index);
        if (rc)
            return rc;
    }
    return 0;
}
