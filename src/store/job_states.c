/* job_states.c - names of states and the legal transitions (job_states.h). */
#include "store/job_states.h"

#include <math.h>
#include <string.h>

static const char *const state_names[] = {"queued",    "running", "paused",
                                          "succeeded", "failed",  "cancelled"};
static const char *const prio_names[] = {"realtime", "high", "normal", "low"};
static const char *const chunk_state_names[] = {"pending", "leased", "done"};
static const char *const webhook_state_names[] = {"pending", "delivered", "failed"};

#define N_STATES 6
#define N_PRIOS 4

/* The index of name in names[n], -1 if it is not there (or NULL). */
static int index_of(const char *const *names, int n, const char *name)
{
    for (int i = 0; name && i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *store_state_name(int state)
{
    return state >= 0 && state < N_STATES ? state_names[state] : "?";
}

const char *store_priority_name(int prio)
{
    return prio >= 0 && prio < N_PRIOS ? prio_names[prio] : "?";
}

const char *store_chunk_state_name(int state)
{
    return state >= 0 && state < 3 ? chunk_state_names[state] : "?";
}

const char *store_webhook_state_name(int state)
{
    return state >= 0 && state < 3 ? webhook_state_names[state] : "?";
}

int store_state_of_name(const char *name)
{
    return index_of(state_names, N_STATES, name);
}

int store_chunk_state_of_name(const char *name)
{
    return index_of(chunk_state_names, 3, name);
}

int store_webhook_state_of_name(const char *name)
{
    return index_of(webhook_state_names, 3, name);
}

int store_state_parse(const char *name, int *out, hark_err *err)
{
    int i = index_of(state_names, N_STATES, name);
    if (i < 0)
        return err_set(err, HARK_EINVAL, "unknown job state '%s'", name ? name : "");
    *out = i;
    return 0;
}

int store_priority_parse(const char *name, int *out, hark_err *err)
{
    int i = index_of(prio_names, N_PRIOS, name);
    if (i < 0)
        return err_set(err, HARK_EINVAL,
                       "unknown priority '%s' (expected realtime, high, normal or low)",
                       name ? name : "");
    *out = i;
    return 0;
}

bool store_state_terminal(int state)
{
    return state == STORE_SUCCEEDED || state == STORE_FAILED || state == STORE_CANCELLED;
}

int store_ctl_check(enum store_ctl op, int state, const char *id, hark_err *err)
{
    static const char *const verbs[] = {"pause", "resume", "cancel", "fail", "finish", "delete"};
    bool ok;
    switch (op) {
    case STORE_CTL_PAUSE:
    case STORE_CTL_SUCCEED:
        ok = state == STORE_QUEUED || state == STORE_RUNNING;
        break;
    case STORE_CTL_RESUME:
        ok = state == STORE_PAUSED;
        break;
    case STORE_CTL_DELETE:
        ok = store_state_terminal(state);
        break;
    case STORE_CTL_CANCEL:
    case STORE_CTL_FAIL:
        ok = !store_state_terminal(state);
        break;
    default:
        return err_set(err, HARK_EINVAL, "bad job control %d", (int)op);
    }
    if (!ok)
        return err_set(err, HARK_EINVAL, "cannot %s job %s: it is %s", verbs[op], id,
                       store_state_name(state));
    return 0;
}

int store_finish_check(const char *id, bool prepared, int64_t done, int64_t total, hark_err *err)
{
    if (!prepared)
        return err_set(err, HARK_EINVAL, "cannot finish job %s: it is not prepared", id);
    if (done != total)
        return err_set(err, HARK_EINVAL, "cannot finish job %s: %lld of %lld chunks committed", id,
                       (long long)done, (long long)total);
    return 0;
}

int store_admit_check(int priority, int64_t active, int max_active, hark_err *err)
{
    if (max_active > 0 && active >= max_active)
        return err_set(err, HARK_EFULL, "the %s queue is full (%lld active jobs, at most %d)",
                       store_priority_name(priority), (long long)active, max_active);
    return 0;
}

int64_t store_deadline_ms(int64_t from_ms, double timeout_s)
{
    return timeout_s > 0 ? from_ms + (int64_t)llround(timeout_s * 1000.0) : 0;
}

int store_retry_check(int state, const char *id, hark_err *err)
{
    if (state != STORE_FAILED)
        return err_set(err, HARK_EINVAL, "cannot retry job %s: it is %s", id,
                       store_state_name(state));
    return 0;
}

int store_stage_check(const char *id, int state, bool prepared, int done, int n_chunks,
                      size_t n_new, hark_err *err)
{
    if (state != STORE_QUEUED && state != STORE_RUNNING)
        return err_set(err, HARK_EINVAL, "cannot add a stage to job %s: it is %s", id,
                       store_state_name(state));
    if (!prepared || done != n_chunks)
        return err_set(err, HARK_EINVAL,
                       "cannot add a stage to job %s: %d of %d chunks are committed", id, done,
                       n_chunks);
    if ((int64_t)n_chunks + (int64_t)n_new > STORE_MAX_CHUNKS)
        return err_set(err, HARK_EINVAL, "job %s would have too many tasks", id);
    return 0;
}

int store_append_check(const char *id, int state, bool open, int64_t had, int64_t bytes,
                       hark_err *err)
{
    if (store_state_terminal(state))
        return err_set(err, HARK_EINVAL, "job %s is not taking audio: it is %s", id,
                       store_state_name(state));
    if (!open)
        return err_set(err, HARK_EINVAL, "job %s is not taking audio: its audio has ended", id);
    if (bytes < had)
        return err_set(err, HARK_EINVAL, "job %s already has %lld bytes of audio, not %lld", id,
                       (long long)had, (long long)bytes);
    return 0;
}
