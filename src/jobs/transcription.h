/* transcription.h - the transcription job: prepare, decode chunks, assemble.
 *
 *   prepare:   input file --media decode--> <work>/audio.pcm
 *                         --chunk plan-----> spans (the runtime commits
 *                                            them to the job store)
 *   decode:    each chunk --asr engine-----> words (absolute times)
 *   assemble:  chunk results in order -----> transcript --> writers
 *
 * An input may be an http(s) URL instead of a file: prepare then downloads
 * it into the work directory first (transcription_prepare_url), in the
 * worker, under the same supervision as the decode.
 *
 * The steps are separate because the job runtime runs them separately: a
 * prepare in a worker process, chunks on any worker in any order. Because a
 * chunk's words depend only on its audio (engine.h), assembling the results
 * in plan order gives the same transcript however they were produced.
 */
#ifndef HARK_JOBS_TRANSCRIPTION_H
#define HARK_JOBS_TRANSCRIPTION_H

#include "asr/engine.h"
#include "jobs/kind.h"
#include "media/chunk_plan.h"
#include "media/decode.h"
#include "net/fetch.h"
#include "output/transcript.h"
#include "util/err.h"

#define TRANSCRIPTION_PCM_NAME "audio.pcm"
#define TRANSCRIPTION_DOWNLOAD_NAME "input.download" /* a URL input, until it is decoded */
#define TRANSCRIPTION_KEPT_NAME "input.media"        /* ... and after, when kept */

/* The transcript's result formats and their MIME types, NULL-terminated
 * (the rows of the kinds whose result is a transcript: transcribe, live). */
extern const char *const transcription_formats[];
extern const char *const transcription_mimes[];

/* The result of prepare, kept in the work directory. */
typedef struct prepared_audio {
    pcm_file pcm;
    chunk_plan plan;
    media_info info;
} prepared_audio;

/* Decode input into <work_dir>/audio.pcm, open it and plan its chunks.
 * root: the directory input must be beneath (input = root + "/" + rest, the
 * job's input_root: store.h); the file is opened beneath it following no
 * symbolic link and that descriptor is decoded (util/beneath.h), so a file
 * or directory swapped for a link since submit fails here (HARK_EINVAL,
 * "cannot read 'INPUT': a symbolic link ...") and nothing outside is read.
 * NULL: input is opened as named, links followed (hark transcribe FILE).
 * The plan lives in memory only: its owner keeps it (the job store, with
 * the prepare's commit), so no second copy on disk can disagree. On error
 * nothing is left open and err names the input. */
int transcription_prepare(const char *input, const char *root, const char *work_dir,
                          const media_decode_opts *decode_opts, const chunk_plan_opts *plan_opts,
                          prepared_audio *out, hark_err *err);

/* True if input is a URL to download (http:// or https://), not a path. */
bool transcription_input_is_url(const char *input);

/* transcription_prepare for a URL input: download url into
 * <work_dir>/input.download (mode 0600) with fetch_opts' limits and cancel
 * check, decode that, and remove it once the PCM is made and planned
 * (keep: rename it to <work_dir>/input.media instead, for tasks that read
 * the original later: clips). A
 * download that a failed or preempted attempt completed is reused, not
 * fetched again (net_fetch_to_file puts only a whole body under that name).
 * Every message names the URL as net_url_redact shows it, never the
 * download's path or the URL's credentials. Returns 0, or:
 *   HARK_EINVAL, HARK_ENOENT, HARK_ETOOLONG  the input's fault, do not retry:
 *       HTTP 4xx, a host that does not resolve (HARK_ENOENT, where the fetch
 *       says HARK_EIO), over the size cap, a refused redirect, a
 *       destination fetch_opts->dest does not allow; or the
 *       decoder's verdict on the body (also HARK_EMEDIA)
 *   HARK_EIO, HARK_ETIMEDOUT  may pass: HTTP 5xx/408/429, a refused or
 *       broken connection, too slow, past the time limit; a local write error
 *   HARK_ECANCELED  fetch_opts->cancel (or the decode's check-in) said stop;
 *       a completed download stays for the next attempt
 * On error nothing is left open; the download stays only if it completed. */
int transcription_prepare_url(const char *url, const char *work_dir, bool keep,
                              const net_fetch_opts *fetch_opts,
                              const media_decode_opts *decode_opts,
                              const chunk_plan_opts *plan_opts, prepared_audio *out, hark_err *err);

void prepared_audio_release(prepared_audio *p);

/* Total seconds of audio in the plan's chunks (what the recognizer will hear). */
double chunk_plan_speech_seconds(const chunk_plan *plan);

/* Append chunk `index`'s words to t. */
int transcription_add_chunk(transcript *t, int index, const asr_result *r);

/* A chunk task's recognition: the words of [start, end) (the task's
 * fields) of <work_dir>/audio.pcm, as chunk_result_to_json makes them, with
 * the worker's check-ins. The transcribe kind's whole chunk task; the part
 * of the highlights kind's that hears speech. */
int transcription_recognize(const kind_worker *w, const json_t *task, json_t **words,
                            hark_err *err);

#endif
