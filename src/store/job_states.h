/* job_states.h - the job lifecycle's names and rules, shared by every store
 * backend (store_backend.h): what a state, class, chunk state or webhook
 * state is called in storage and in the API, and which transitions are
 * legal. A backend reads a job's state inside its transaction and asks
 * here before it changes anything, so every backend refuses the same
 * transitions with the same message.
 *
 *   submit ─► QUEUED ──claim──► RUNNING ──store_succeed (every chunk committed)──► SUCCEEDED
 *               ▲  ▲              │  │  │
 *               │  └─preempted────┘  │  └─attempts exhausted / store_fail / deadline──► FAILED
 *               │   (no lease left)  │
 *               │   recover          │
 *    resume ◄── PAUSED ◄──pause──────┘ (pause also from QUEUED)
 *
 *   any non-terminal ──cancel──► CANCELLED.  SUCCEEDED, FAILED, CANCELLED are
 *   terminal (ended): nothing leaves them but FAILED ──store_retry──► QUEUED,
 *   which keeps the committed chunks and gives the others fresh attempts.
 *   store_delete_job and store_prune (ended past a retention age) remove
 *   ended jobs. finished_ms is set exactly while a job is ended.
 *
 * Each arrow and the rule that guards it:
 *   QUEUED/RUNNING -> PAUSED        store_pause         store_ctl_check
 *   PAUSED -> QUEUED                store_resume        store_ctl_check
 *   non-terminal -> CANCELLED       store_cancel        store_ctl_check
 *   non-terminal -> FAILED          store_fail          store_ctl_check
 *   QUEUED/RUNNING -> SUCCEEDED     store_succeed       store_ctl_check, store_finish_check
 *   terminal -> deleted             store_delete_job    store_ctl_check
 *   FAILED -> QUEUED                store_retry         store_retry_check, store_admit_check
 *   submit -> QUEUED                store_submit        store_admit_check
 *   QUEUED/RUNNING gets a stage     store_add_stage     store_stage_check
 *   an open input grows             store_input_append  store_append_check
 * (claims, preemption, failed attempts, expiry and deadlines move jobs as
 * the lease rules in sqlite_store.c say: they need no caller's consent.)
 */
#ifndef HARK_STORE_JOB_STATES_H
#define HARK_STORE_JOB_STATES_H

#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

/* What store_pause ... store_delete_job ask of a backend's control callback. */
enum store_ctl {
    STORE_CTL_PAUSE,
    STORE_CTL_RESUME,
    STORE_CTL_CANCEL,
    STORE_CTL_FAIL,
    STORE_CTL_SUCCEED,
    STORE_CTL_DELETE,
};

/* The enum value of a stored name, -1 for NULL or an unknown name (a job
 * state, a chunk state, a webhook state). */
int store_state_of_name(const char *name);
int store_chunk_state_of_name(const char *name);
int store_webhook_state_of_name(const char *name);

/* "pending", "leased", "done"; "?" for an unknown value. */
const char *store_chunk_state_name(int state);

/* 0 if op may be applied to job id in state, else HARK_EINVAL "cannot
 * <verb> job <id>: it is <state>". */
int store_ctl_check(enum store_ctl op, int state, const char *id, hark_err *err);

/* 0 if job id (QUEUED/RUNNING) may succeed: prepared, and done == total
 * chunks committed; else HARK_EINVAL saying which is missing. */
int store_finish_check(const char *id, bool prepared, int64_t done, int64_t total, hark_err *err);

/* 0 if a job of class priority may become active (queued: store_submit,
 * store_retry) when its class has `active` queued, running or paused jobs,
 * counted in the same transaction; max_active 0 = no limit. Else
 * HARK_EFULL "the <class> queue is full (...)". */
int store_admit_check(int priority, int64_t active, int max_active, hark_err *err);

/* The deadline of a job with timeout_s (0 = none) counted from from_ms:
 * from_ms + timeout_s in ms, rounded half away from zero; 0 for none.
 * Set at submit, and again at a retry (counted from the retry). */
int64_t store_deadline_ms(int64_t from_ms, double timeout_s);

/* 0 if job id may be retried from state (FAILED only), else HARK_EINVAL. */
int store_retry_check(int state, const char *id, hark_err *err);

/* 0 if n_new tasks may be added as a stage to job id (state, prepared,
 * done of n_chunks committed): QUEUED/RUNNING, prepared, every chunk
 * committed, and at most STORE_MAX_CHUNKS tasks in all; else HARK_EINVAL
 * naming the job and why. */
int store_stage_check(const char *id, int state, bool prepared, int done, int n_chunks,
                      size_t n_new, hark_err *err);

/* 0 if job id (state, input open, had bytes so far) may take its input to
 * bytes: not ended, open, and not shorter; else HARK_EINVAL "job X is not
 * taking audio: ..." or naming the lengths. */
int store_append_check(const char *id, int state, bool open, int64_t had, int64_t bytes,
                       hark_err *err);

#endif
