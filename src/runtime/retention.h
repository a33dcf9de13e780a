/* retention.h - what an ended job leaves behind, and how long it stays.
 *
 *  work directory  <work_root>/<id>: the decoded audio (and a URL input's
 *                  download). Removed when the job ends (runtime.c), except
 *                  a failed job's while keep_failed: a retry continues from
 *                  its decoded audio, so the sweep of orphaned work
 *                  directories counts failed jobs as owners. Only the audio
 *                  stays (retention_trim_failed): a download goes, and the
 *                  whole directory of a job that failed before it was
 *                  prepared. It goes when the job is deleted (the sweep) or
 *                  pruned (here).
 *  uploaded input  a file directly in uploads_dir: one the server stored
 *                  (server/upload.c). Removed once its job succeeded or was
 *                  cancelled, unless keep_inputs; a failed job keeps it (a
 *                  retry whose prepare must run again decodes it) until the
 *                  job is deleted (DELETE /v1/jobs/{id}) or pruned. A
 *                  server-side path or URL a client named is never removed.
 *  artifacts       <artifact_root>/<id>: the clips a job made (jobs/
 *                  artifacts.h). Kept after the job ended, until it is
 *                  deleted (DELETE /v1/jobs/{id} removes them) or pruned
 *                  (here); a directory whose job the store no longer
 *                  knows (a crash between the delete and the removal) is
 *                  swept (retention_sweep_artifacts).
 *  the job         its row, chunk results, events, webhook deliveries:
 *                  pruned job_retention_ms after it ended, with its work
 *                  directory, its artifacts and its upload (keep_inputs or
 *                  not: no job refers to it any more). A job that has not
 *                  ended is never pruned.
 *
 * The runtime runs retention_pass on its housekeeping tick (every 2 s) and
 * at start: it owns the store on its thread and the work directories.
 */
#ifndef HARK_RUNTIME_RETENTION_H
#define HARK_RUNTIME_RETENTION_H

#include "store/store.h"
#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>

/* Jobs released and pruned per pass at most: each pass is two short
 * transactions, so the store's mutex is never held long. */
#define RETENTION_BATCH 32

typedef struct retention_opts {
    const char *work_root;     /* jobs' work directories: <work_root>/<id> */
    const char *artifact_root; /* jobs' artifacts: <artifact_root>/<id>; NULL: none */
    const char *uploads_dir;   /* where uploads are stored, resolved (realpath);
                                  NULL: no input is hark's own (hark transcribe) */
    bool keep_inputs;          /* leave uploads in place when their job ends [false] */
    bool keep_failed;          /* a failed job keeps its work directory [false] */
    int64_t job_retention_ms;  /* prune ended jobs this long after they ended; 0: never */
} retention_opts;

typedef struct retention_stats {
    int released; /* jobs whose upload was released this pass */
    int pruned;   /* jobs pruned this pass */
} retention_stats;

/* One pass, at most RETENTION_BATCH jobs of each kind: remove the uploads
 * of jobs that succeeded or were cancelled, then mark them released
 * (unless keep_inputs); prune the jobs that ended job_retention_ms ago or
 * earlier, then remove their uploads and work directories. The store
 * forgets a pruned job before its files go: a crash in between leaves at
 * worst an upload nobody refers to, never a job whose files vanished while
 * it could still be retried. out (may be NULL) gets the counts. Returns 0,
 * or the store's error (what was done before it stays done); a file that
 * cannot be removed is logged, not an error. */
int retention_pass(store *st, const retention_opts *o, retention_stats *out, hark_err *err);

/* What a failed job keeps of its work directory dir: if it was prepared,
 * its decoded audio only (TRANSCRIPTION_PCM_NAME; the plan is in the
 * store), every other entry is removed (a URL input's download, whole or
 * partial: a retry that must prepare again fetches it again, as the first
 * attempt did); if it was not, nothing: dir is removed. Missing is fine. */
void retention_trim_failed(const char *dir, bool prepared);

/* Remove artifact directories (<artifact_root>/<id>) of jobs the store
 * does not know (deleted or pruned, and a crash or a late export left the
 * directory), looking at most RETENTION_BATCH of them up per call: cursor
 * (STORE_ID_SIZE bytes, "" at first) holds the last id looked at, and goes
 * back to "" once every directory was seen, so a root with many jobs costs
 * each call a directory scan and a few store lookups, not one per job. A
 * store error other than "no such job" keeps the directory. out (may be
 * NULL) gets the number removed. artifact_root NULL: nothing. */
void retention_sweep_artifacts(store *st, const char *artifact_root, char *cursor, int *out);

#endif
