/* retention.c - see retention.h. */
#include "runtime/retention.h"

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
