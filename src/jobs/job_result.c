/* job_result.c - see job_result.h. */
#include "jobs/job_result.h"

#include "jobs/chunk_result.h"
#include "jobs/transcription.h"

#include <stdlib.h>
#include <string.h>

static int add_chunks(store *st, store_scope sc, const store_job *job, transcript *t, hark_err *err)
{
    store_chunk_list l;
    int rc = store_list_chunks(st, sc, job->id, &l, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        asr_result r = {0};
        hark_err perr = {0};
        if (chunk_result_loads(l.chunks[i].result, &r, &perr)) {
            rc = err_set(err, HARK_EIO, "job %s: stored result of chunk %d is damaged: %s", job->id,
                         l.chunks[i].idx, perr.msg);
            break;
        }
        rc = transcription_add_chunk(t, l.chunks[i].idx, &r);
        asr_result_release(&r);
        if (rc)
            err_set(err, rc, "job %s: out of memory", job->id);
    }
    store_chunk_list_release(&l);
    return rc;
}

int job_result_transcript(store *st, store_scope sc, const char *id, const char *source,
                          transcript *t, hark_err *err)
{
    store_job job;
    int rc = store_get_job(st, sc, id, &job, err);
    if (rc)
        return rc;
    if (!job.prepared || job.chunks_done != job.n_chunks) {
        rc = err_set(err, HARK_EINVAL, "job %s is not finished (%d of %d chunks done)", id,
                     job.chunks_done, job.n_chunks);
        store_job_release(&job);
        return rc;
    }
    rc = transcript_init(t, source ? source : (job.source[0] ? job.source : job.input),
                         job.duration_s);
    if (rc == 0)
        rc = add_chunks(st, sc, &job, t, err);
    if (rc == 0 && (rc = transcript_finish(t)) != 0)
        err_set(err, rc, "job %s: out of memory", id);
    if (rc)
        transcript_release(t);
    store_job_release(&job);
    return rc;
}

int job_result_render(store *st, store_scope sc, const char *id, out_format f, buf *dst,
                      hark_err *err)
{
    transcript t;
    int rc = job_result_transcript(st, sc, id, NULL, &t, err);
    if (rc)
        return rc;
    rc = out_render(&t, f, dst, err);
    transcript_release(&t);
    return rc;
}

int job_result_chunk_text(const char *result, int idx, char **text, hark_err *err)
{
    asr_result r;
    hark_err perr = {0};
    *text = NULL;
    if (chunk_result_loads(result, &r, &perr))
        return err_set(err, HARK_EIO, "stored result of chunk %d is damaged: %s", idx, perr.msg);
    transcript t;
    int rc = transcript_init(&t, "", 0);
    if (rc == 0)
        rc = transcription_add_chunk(&t, idx, &r);
    if (rc == 0)
        rc = transcript_finish(&t);
    if (rc == 0 && !(*text = strdup(t.text ? t.text : "")))
        rc = HARK_ENOMEM;
    if (rc)
        err_set(err, rc, "chunk %d: out of memory", idx);
    transcript_release(&t);
    asr_result_release(&r);
    return rc;
}
