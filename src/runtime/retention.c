/* retention.c - see retention.h. */
#include "runtime/retention.h"

#include "jobs/artifacts.h"
#include "jobs/transcription.h"
#include "util/fs.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Remove job j's input if it is an upload hark stored; anything else (a
 * path or URL a client named) is not ours to remove. */
static void remove_upload(const retention_opts *o, const store_job *j)
{
    if (!o->uploads_dir || !fs_is_entry_of(o->uploads_dir, j->input))
        return;
    if (unlink(j->input) != 0 && errno != ENOENT)
        log_warn("job %s: cannot remove its upload '%s': %s", j->id, j->input, strerror(errno));
}

static int release_inputs(store *st, const retention_opts *o, int *n, hark_err *err)
{
    store_job_list l;
    const char *ids[RETENTION_BATCH];
    int rc = store_list_unreleased(st, RETENTION_BATCH, &l, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < l.n; i++) {
        remove_upload(o, &l.jobs[i]);
        ids[i] = l.jobs[i].id;
    }
    rc = store_mark_released(st, ids, l.n, err);
    if (rc == 0)
        *n = (int)l.n;
    store_job_list_release(&l);
    return rc;
}

static int prune_jobs(store *st, const retention_opts *o, int *n, hark_err *err)
{
    store_job_list l;
    int rc = store_prune(st, o->job_retention_ms, RETENTION_BATCH, &l, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < l.n; i++) {
        const store_job *j = &l.jobs[i];
        remove_upload(o, j);
        char dir[4096];
        if (snprintf(dir, sizeof dir, "%s/%s", o->work_root, j->id) < (int)sizeof dir)
            fs_rmtree(dir);
        artifacts_remove(o->artifact_root, j->id);
        log_event(LOG_INFO, "job.pruned", {"job", j->id}, {"state", store_state_name(j->state)});
    }
    *n = (int)l.n;
    store_job_list_release(&l);
    return 0;
}

int retention_pass(store *st, const retention_opts *o, retention_stats *out, hark_err *err)
{
    retention_stats s = {0};
    int rc = 0;
    if (o->uploads_dir && !o->keep_inputs)
        rc = release_inputs(st, o, &s.released, err);
    if (rc == 0 && o->job_retention_ms > 0)
        rc = prune_jobs(st, o, &s.pruned, err);
    if (out)
        *out = s;
    return rc;
}

void retention_trim_failed(const char *dir, bool prepared)
{
    if (!prepared) {
        fs_rmtree(dir);
        return;
    }
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char path[4096];
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, TRANSCRIPTION_PCM_NAME) == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            fs_rmtree(path);
    }
    closedir(d);
}

/* Whether name could be a job id (a directory of another kind is left). */
static bool id_like(const char *name)
{
    size_t n = strlen(name);
    return n == STORE_ID_SIZE - 1 && name[0] == 'j' &&
           strspn(name + 1, "0123456789abcdef") == n - 1;
}

void retention_sweep_artifacts(store *st, const char *artifact_root, char *cursor, int *out)
{
    if (out)
        *out = 0;
    if (!artifact_root)
        return;
    DIR *d = opendir(artifact_root);
    if (!d)
        return;
    /* The RETENTION_BATCH smallest ids after the cursor, in order. */
    char batch[RETENTION_BATCH][STORE_ID_SIZE];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!id_like(e->d_name) || strcmp(e->d_name, cursor) <= 0)
            continue;
        if (n == RETENTION_BATCH && strcmp(e->d_name, batch[n - 1]) >= 0)
            continue;
        int at = n < RETENTION_BATCH ? n++ : n - 1;
        while (at > 0 && strcmp(batch[at - 1], e->d_name) > 0) {
            memcpy(batch[at], batch[at - 1], STORE_ID_SIZE);
            at--;
        }
        memcpy(batch[at], e->d_name, STORE_ID_SIZE);
    }
    closedir(d);
    int removed = 0;
    for (int i = 0; i < n; i++) {
        store_job job;
        int rc = store_get_job(st, STORE_SCOPE_ALL, batch[i], &job, NULL);
        if (rc == 0)
            store_job_release(&job);
        if (rc != HARK_ENOENT)
            continue;
        log_info("removing artifacts of job %s, which no longer exists", batch[i]);
        artifacts_remove(artifact_root, batch[i]);
        removed++;
    }
    if (n < RETENTION_BATCH)
        cursor[0] = '\0'; /* every directory seen: start again */
    else
        memcpy(cursor, batch[n - 1], STORE_ID_SIZE);
    if (out)
        *out = removed;
}
