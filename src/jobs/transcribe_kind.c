/* transcribe_kind.c - the transcription job kind (kind.h): each chunk task
 * recognizes its span of the job's PCM; completion checks that the words
 * assemble into a transcript; results render in the transcript formats. */
#include "jobs/chunk_result.h"
#include "jobs/job_result.h"
#include "jobs/kind.h"
#include "jobs/transcription.h"

const char *const transcription_formats[] = {"txt", "json",         "srt", "vtt",
                                             "tsv", "verbose_json", NULL};
const char *const transcription_mimes[] = {"text/plain; charset=utf-8",
                                           "application/json",
                                           "application/x-subrip; charset=utf-8",
                                           "text/vtt; charset=utf-8",
                                           "text/tab-separated-values; charset=utf-8",
                                           "application/json",
                                           NULL};

static int run_chunk(const kind_worker *w, const json_t *task, json_t **result, hark_err *err)
{
    return transcription_recognize(w, task, result, err);
}

static int check_result(const json_t *result, hark_err *err)
{
    asr_result r;
    int rc = chunk_result_from_json(result, &r, err);
    if (rc == 0)
        asr_result_release(&r);
    return rc;
}

/* Outputs are rendered on request, from the store: completion only checks
 * that the chunks' results assemble. */
static int complete(store *st, const store_job *job, const kind_env *env, hark_err *err)
{
    (void)env;
    transcript t;
    int rc = job_result_transcript(st, STORE_SCOPE_ALL, job->id, NULL, &t, err);
    if (rc == 0)
        transcript_release(&t);
    return rc;
}

static int render(store *st, store_scope sc, const store_job *job, const char *format, buf *out,
                  hark_err *err)
{
    out_format f;
    if (out_format_parse(format, &f))
        return err_set(err, HARK_EINVAL, "unknown format '%s'", format);
    return job_result_render(st, sc, job->id, f, out, err);
}

const job_kind job_kind_transcribe = {
    .name = "transcribe",
    .formats = transcription_formats,
    .mimes = transcription_mimes,
    .run_chunk = run_chunk,
    .check_result = check_result,
    .complete = complete,
    .render = render,
};
