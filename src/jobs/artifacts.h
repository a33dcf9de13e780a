/* artifacts.h - the files a job makes besides its results (highlight
 * clips), served at /v1/jobs/{id}/artifacts and kept until the job is
 * deleted or pruned.
 *
 * Where: <root>/<job id>/<name>, root being the daemon's artifact
 * directory (<state>/artifacts). What: the job's committed chunk results
 * that carry an "artifact" member, {"artifact": {"name", "bytes", "type",
 * "duration"}} — so an artifact is listed only once the task that wrote
 * it has committed, and its record lives and dies with the job's rows in
 * the store. The task writes the file whole (a temporary name, fsync,
 * rename) before it answers, so a listed artifact is always complete; a
 * file without a record (its task died before the commit) is never
 * listed, and is overwritten when the task runs again.
 */
#ifndef HARK_JOBS_ARTIFACTS_H
#define HARK_JOBS_ARTIFACTS_H

#include "store/store.h"
#include "util/err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ARTIFACT_NAME_MAX 128

typedef struct artifact {
    char name[ARTIFACT_NAME_MAX]; /* a plain file name: [A-Za-z0-9._-], no leading dot */
    int64_t bytes;
    char type[64]; /* MIME type */
    double duration_s;
} artifact;

typedef struct artifact_list {
    artifact *items;
    size_t n;
} artifact_list;

/* <root>/<job_id> into out (n bytes). HARK_EINVAL when it does not fit. */
int artifacts_dir(const char *root, const char *job_id, char *out, size_t n);

/* True for a name an artifact may have (and a request may ask for):
 * 1..ARTIFACT_NAME_MAX-1 bytes of [A-Za-z0-9._-], not starting with a dot.
 * Nothing else, so a name can never leave its directory. */
bool artifact_name_ok(const char *name);

/* The record a task commits for one artifact: {"artifact": {...}}. */
json_t *artifact_to_json(const artifact *a);

/* Read a chunk result's artifact record. 1 if result carries one (*out
 * filled), 0 if it carries none, HARK_EINVAL if it carries a malformed
 * one (err says what). */
int artifact_from_result(const json_t *result, artifact *out, hark_err *err);

/* The artifacts of job id (of scope sc), in task order. 0 with *out
 * filled (release it; n may be 0), HARK_ENOENT, HARK_EIO (a stored record
 * that does not parse). */
int artifacts_list(store *st, store_scope sc, const char *id, artifact_list *out, hark_err *err);

void artifact_list_release(artifact_list *l);

/* Remove the partial files (names starting with a dot: never listed or
 * served) that killed tasks left in job_id's artifact directory: the job
 * ended, no task of it runs. The artifacts themselves stay (a failed job
 * keeps its finished clips for a retry). */
void artifacts_remove_partials(const char *root, const char *job_id);

/* Remove job_id's artifact directory with everything in it (the job was
 * deleted or pruned). Missing is fine. */
void artifacts_remove(const char *root, const char *job_id);

#endif
