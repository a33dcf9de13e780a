#include "jobs/transcription.h"

#include "jobs/chunk_result.h"
#include "net/net.h"
#include "util/beneath.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Decode input, opened beneath root following no link when root is given
 * (util/beneath.h), as named otherwise. */
static int decode_input(const char *input, const char *root, const char *pcm_path,
                        const media_decode_opts *decode_opts, media_info *info, hark_err *err)
{
    if (!root)
        return media_decode_file(input, pcm_path, decode_opts, info, err);
    const char *rel = beneath_rel(root, input);
    if (!rel)
        return err_set(err, HARK_EINVAL, "cannot read '%s': not beneath its root '%s'", input,
                       root);
    int fd;
    int rc = beneath_open_file(root, rel, input, &fd, err);
    if (rc)
        return rc;
    rc = media_decode_fd(fd, input, pcm_path, decode_opts, info, err);
    close(fd);
    return rc;
}

int transcription_prepare(const char *input, const char *root, const char *work_dir,
                          const media_decode_opts *decode_opts, const chunk_plan_opts *plan_opts,
                          prepared_audio *out, hark_err *err)
{
    memset(out, 0, sizeof *out);
    out->pcm.fd = -1;
    char pcm_path[4096];
    if (snprintf(pcm_path, sizeof pcm_path, "%s/%s", work_dir, TRANSCRIPTION_PCM_NAME) >=
        (int)sizeof pcm_path)
        return err_set(err, HARK_EINVAL, "work directory path too long: '%s'", work_dir);

    int rc = decode_input(input, root, pcm_path, decode_opts, &out->info, err);
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

bool transcription_input_is_url(const char *input)
{
    return net_url_is_http(input);
}

/* Say `to` where err's message says `from` (the decoder names the file it
 * opened; the user named a URL). */
static void rename_in_message(hark_err *err, const char *from, const char *to)
{
    char *at = err ? strstr(err->msg, from) : NULL;
    if (!at)
        return;
    char msg[sizeof err->msg];
    if (snprintf(msg, sizeof msg, "%.*s%s%s", (int)(at - err->msg), err->msg, to,
                 at + strlen(from)) >= 0) /* cut to fit, like any message */
        memcpy(err->msg, msg, sizeof msg);
}

/* Remove partial downloads an attempt left when its worker was killed
 * (net_fetch_to_file names them .input.download.part.XXXXXX beside the
 * download; only one attempt holds the job's prepare lease at a time). */
static void remove_partials(const char *work_dir)
{
    static const char prefix[] = "." TRANSCRIPTION_DOWNLOAD_NAME ".part.";
    DIR *d = opendir(work_dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char path[4096];
        if (strncmp(e->d_name, prefix, sizeof prefix - 1) == 0 &&
            snprintf(path, sizeof path, "%s/%s", work_dir, e->d_name) < (int)sizeof path)
            unlink(path);
    }
    closedir(d);
}

int transcription_prepare_url(const char *url, const char *work_dir, bool keep,
                              const net_fetch_opts *fetch_opts,
                              const media_decode_opts *decode_opts,
                              const chunk_plan_opts *plan_opts, prepared_audio *out, hark_err *err)
{
    memset(out, 0, sizeof *out);
    out->pcm.fd = -1;
    char path[4096], shown[2048];
    net_url_redact(url, shown, sizeof shown);
    if (snprintf(path, sizeof path, "%s/%s", work_dir, TRANSCRIPTION_DOWNLOAD_NAME) >=
        (int)sizeof path)
        return err_set(err, HARK_EINVAL, "work directory path too long: '%s'", work_dir);
    int rc = 0;
    if (access(path, F_OK) != 0) {
        remove_partials(work_dir);
        net_fetch_result res;
        rc = net_fetch_to_file(url, path, fetch_opts, &res, err);
        /* A name that does not resolve is a mistyped or dead host far more
         * often than a resolver's hiccup: fail now rather than after every
         * retry's backoff. */
        if (rc == HARK_EIO && res.host_unresolved) {
            rc = HARK_ENOENT;
            if (err)
                err->code = rc;
        }
        if (rc)
            return rc;
    }
    /* The download is hark's own file: read beneath the work directory too,
     * never through a link. */
    rc = transcription_prepare(path, work_dir, work_dir, decode_opts, plan_opts, out, err);
    if (rc) {
        rename_in_message(err, path, shown);
        return rc;
    }
    /* The PCM holds the audio now; the download is not needed again, unless
     * the job reads the original later. (Should the unlink fail, the work
     * directory goes when the job ends.) */
    char kept[4096];
    if (keep && snprintf(kept, sizeof kept, "%s/%s", work_dir, TRANSCRIPTION_KEPT_NAME) <
                    (int)sizeof kept) {
        if (rename(path, kept) != 0) {
            int e = errno;
            prepared_audio_release(out);
            return err_set(err, HARK_EIO, "cannot keep the download of %s: %s", shown, strerror(e));
        }
        return 0;
    }
    unlink(path);
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

int transcription_recognize(const kind_worker *w, const json_t *task, json_t **words, hark_err *err)
{
    const char *work = json_string_value(json_object_get(task, "work_dir"));
    json_int_t start = json_integer_value(json_object_get(task, "start"));
    json_int_t end = json_integer_value(json_object_get(task, "end"));
    if (!work)
        return err_set(err, HARK_EINVAL, "malformed chunk task");
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", work, TRANSCRIPTION_PCM_NAME) >= (int)sizeof path)
        return err_set(err, HARK_EINVAL, "work directory path too long: '%s'", work);
    pcm_file pcm;
    int rc = pcm_open(path, &pcm, err);
    if (rc)
        return rc;
    asr_engine *engine;
    if ((rc = w->engine(w->ctx, &engine, err)) != 0) {
        pcm_close(&pcm);
        return rc;
    }
    asr_result res;
    rc = asr_engine_decode(engine, &pcm, start, end, w->checkin, w->ctx, &res, err);
    pcm_close(&pcm);
    if (rc)
        return rc;
    *words = chunk_result_to_json(&res);
    asr_result_release(&res);
    return *words ? 0 : err_set(err, HARK_ENOMEM, "out of memory");
}
