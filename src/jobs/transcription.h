/* transcription.h - the transcription job: prepare, decode chunks, assemble.
 *
 *   prepare:   input file --media decode--> <work>/audio.pcm
 *                         --chunk plan-----> spans (the runtime commits
 *                                            them to the job store)
 *   decode:    each chunk --asr engine-----> words (absolute times)
 *   assemble:  chunk results in order -----> transcript --> writers
 *
 * The steps are separate because the job runtime runs them separately: a
 * prepare in a worker process, chunks on any worker in any order. Because a
 * chunk's words depend only on its audio (engine.h), assembling the results
 * in plan order gives the same transcript however they were produced.
 */
#ifndef HARK_JOBS_TRANSCRIPTION_H
#define HARK_JOBS_TRANSCRIPTION_H

#include "asr/engine.h"
#include "media/chunk_plan.h"
#include "media/decode.h"
#include "output/transcript.h"
#include "util/err.h"

#define TRANSCRIPTION_PCM_NAME "audio.pcm"

/* The result of prepare, kept in the work directory. */
typedef struct prepared_audio {
    pcm_file pcm;
    chunk_plan plan;
    media_info info;
} prepared_audio;

/* Decode input into <work_dir>/audio.pcm, open it and plan its chunks.
 * The plan lives in memory only: its owner keeps it (the job store, with
 * the prepare's commit), so no second copy on disk can disagree. On error
 * nothing is left open and err names the input. */
int transcription_prepare(const char *input, const char *work_dir,
                          const media_decode_opts *decode_opts, const chunk_plan_opts *plan_opts,
                          prepared_audio *out, hark_err *err);

void prepared_audio_release(prepared_audio *p);

/* Total seconds of audio in the plan's chunks (what the recognizer will hear). */
double chunk_plan_speech_seconds(const chunk_plan *plan);

/* Append chunk `index`'s words to t. */
int transcription_add_chunk(transcript *t, int index, const asr_result *r);

#endif
