/* kind.h - job kinds: what a job of each kind does at each step.
 *
 * Every job runs the same way (store.h, runtime.h): one prepare task (the
 * input decoded to <work>/audio.pcm and planned into chunks), then chunk
 * tasks that workers claim under leases and the daemon commits with
 * fencing tokens; when every chunk is committed the job is complete. What
 * a chunk task computes, what its stored result holds, what completion
 * does and which result formats a job offers depend on its kind, and live
 * here: one row per kind, found by the name stored in the job's `kind`.
 *
 *   transcribe  jobs/transcribe_kind.c: words per chunk; a transcript
 *   highlights  jobs/highlights_kind.c: words and audio features per
 *               chunk; ranked highlights, chapters, markers; clip export
 *   live        jobs/live_kind.c: a dictation decoded while it is spoken;
 *               its prepare is the session, which commits chunks as they
 *               close; a transcript
 *
 * A third kind is one more file and one more row in kind.c.
 *
 * Stages. A kind's complete may add a further stage of chunk tasks to the
 * job instead of finishing it (store_add_stage: highlights add one export
 * task per clip once the analysis is ranked) and return KIND_STAGED; it is
 * called again when those are committed too. Completion may run more than
 * once for the same state (a daemon that died between a commit and the
 * completion runs it again at start): it must be idempotent, deciding what
 * to do from what the store holds (the job's stage document), never from
 * memory.
 *
 * Which side runs what: check_options, prepare_task, chunk_task, task_name,
 * check_result, complete
 * and render run in the daemon (or the embedded runtime of a command);
 * adjust_plan and run_chunk run in a worker process, where FFmpeg and the
 * recognizer may crash or hang without taking the daemon with them.
 */
#ifndef HARK_JOBS_KIND_H
#define HARK_JOBS_KIND_H

#include "asr/engine.h"
#include "media/chunk_plan.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"

#include <jansson.h>
#include <stdbool.h>

/* What complete returns when it added a stage of tasks (not finished). */
#define KIND_STAGED 2

/* What a worker offers a chunk task. */
typedef struct kind_worker {
    /* The check-in between blocks (at most 100 ms of audio apart): yields,
     * cancels, heartbeats. done_s: seconds of audio done in this task.
     * Non-zero: stop now and return it. */
    int (*checkin)(void *ctx, double done_s);
    /* The recognizer, waiting for a background load (with check-ins).
     * Only tasks that recognize speech ask: an export never waits for the
     * model. 0 with *out set, or the check-in's stop or the load's error. */
    int (*engine)(void *ctx, asr_engine **out, hark_err *err);
    /* A prepare the kind runs itself (run_prepare) talks to the daemon on
     * the way: send one message (protocol.h MSG_LIVE_*; msg is stolen, the
     * task's token is added). Nonzero: the daemon is gone, stop. */
    int (*send)(void *ctx, int type, json_t *msg);
    /* How much of a growing input may be read: wait (checking in) until
     * the daemon says there is more than *bytes, or that the input ended;
     * then set *bytes and *ended. The check-in's stop code if the task
     * must stop first. */
    int (*wait_input)(void *ctx, int64_t *bytes, bool *ended);
    void *ctx;
} kind_worker;

/* What completion may touch besides the store. */
typedef struct kind_env {
    const char *work_dir;     /* the job's work directory (audio.pcm) */
    const char *artifact_dir; /* where the job's artifacts live (jobs/artifacts.h); NULL: the
                                 runtime keeps none, a kind that makes some must fail */
} kind_env;

typedef struct job_kind {
    const char *name; /* as stored and as clients name it */
    /* Result formats this kind renders (NULL-terminated; the first is the
     * default), and for each its MIME type (same order). */
    const char *const *formats;
    const char *const *mimes;

    /* Daemon: check (and complete with defaults) a submit's options, an
     * object. NULL: any object. HARK_EINVAL with err naming the field. */
    int (*check_options)(json_t *options, hark_err *err);

    /* Daemon, dispatching job's prepare task: add this kind's fields to
     * the task message msg (protocol.h: e.g. "keep_input", to keep a URL
     * input's download for later tasks that read the original). May be
     * NULL. */
    int (*prepare_task)(store *st, const store_job *job, json_t *msg, hark_err *err);

    /* Worker: run the prepare task itself instead of the shared decode and
     * plan, and set *duration_s when done. A live dictation's prepare is
     * its whole session: it decodes the input as it grows and sends each
     * chunk as it closes (jobs/live_kind.c). NULL: the shared prepare. */
    int (*run_prepare)(const kind_worker *w, const json_t *task, double *duration_s, hark_err *err);

    /* The input grows while the job runs: such jobs are made by POST
     * /v1/live, not by a submit, and the runtime tells their session how
     * much input there is (runtime.c). */
    bool live;

    /* Worker, after the prepare planned the chunks: change the plan, given
     * the prepare task (may be NULL). The plan must stay sorted and
     * non-overlapping. */
    void (*adjust_plan)(const json_t *task, chunk_plan *plan);

    /* Daemon, dispatching chunk task t of job: add this kind's fields to
     * the task message msg (which holds token, job, kind, index, work_dir,
     * input, start, end) and set *watchdog_s, the task's wall-clock budget
     * (preset to the transcription's: 30 s + 4 s per second of audio).
     * May be NULL. */
    int (*chunk_task)(store *st, const store_job *job, const store_task *t, const kind_env *env,
                      json_t *msg, double *watchdog_s, hark_err *err);

    /* Daemon: what task idx of job is, for messages ("clip
     * 03-00h05m12s"); "" (or NULL) when its chunk span says it. */
    void (*task_name)(const store_job *job, int idx, char *out, size_t n);

    /* Worker: run a chunk task (the message chunk_task built) and set
     * *result to what is committed for the chunk. Required. */
    int (*run_chunk)(const kind_worker *w, const json_t *task, json_t **result, hark_err *err);

    /* Daemon: is a chunk result from a worker well-formed (untrusted: the
     * worker may be broken)? HARK_EINVAL saying what is wrong. Required. */
    int (*check_result)(const json_t *result, hark_err *err);

    /* Daemon: every chunk of job is committed. 0: the job is done (the
     * runtime marks it succeeded); KIND_STAGED: tasks were added; a
     * negative code fails the job with err's message. Required. */
    int (*complete)(store *st, const store_job *job, const kind_env *env, hark_err *err);

    /* Render finished job (of scope sc) in format (one of formats) into
     * out. Required. */
    int (*render)(store *st, store_scope sc, const store_job *job, const char *format, buf *out,
                  hark_err *err);
} job_kind;

/* The kind named name, NULL if there is none. */
const job_kind *job_kind_find(const char *name);

/* The kind of a stored job: its kind, or transcribe for a job stored
 * before kinds existed ("" kind). NULL for a kind this build lacks. */
const job_kind *job_kind_of(const store_job *job);

/* The names of every kind, comma-separated ("transcribe, highlights"),
 * into out (n bytes; cut to fit). */
void job_kind_names(char *out, size_t n);

/* Index of format in k->formats, -1 if k has no such format. */
int job_kind_format(const job_kind *k, const char *format);

/* The formats of k, comma-separated, into out (for error messages). */
void job_kind_format_list(const job_kind *k, char *out, size_t n);

/* The rows (kind.c lists them). */
extern const job_kind job_kind_transcribe;
extern const job_kind job_kind_highlights;
extern const job_kind job_kind_live;

#endif
