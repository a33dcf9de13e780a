/* artifacts_http.h - a job's artifacts over HTTP (docs/api.md "Artifacts"):
 *
 *   GET /v1/jobs/{id}/artifacts          the list: name, bytes, type,
 *                                        duration, url
 *   GET|HEAD /v1/jobs/{id}/artifacts/{name}
 *                                        the file, whole or one byte range
 *
 * What is listed is what the store recorded (jobs/artifacts.h): a task
 * commits an artifact's record only after its file is whole, so a file in
 * the job's directory without a record (a clip whose export died, or any
 * other file) is never served: a name is looked up in the job's records
 * first, in the caller's scope (another token's job is a 404), and only
 * then opened, beneath the artifact root without following links
 * (util/beneath.h). The file is sent from its descriptor
 * (MHD_create_response_from_fd_at_offset64): it is never read whole.
 *
 * An artifact never changes once listed, so it is cacheable for long
 * (private: it is the caller's) with a strong ETag from its size, inode and
 * mtime; a browser's <audio>/<video> element seeks with Range requests
 * (server/range.h): one range is 206, anything else the whole file.
 */
#ifndef HARK_SERVER_ARTIFACTS_HTTP_H
#define HARK_SERVER_ARTIFACTS_HTTP_H

#include "server/server_impl.h"

/* GET /v1/jobs/{id}/artifacts: {"object": "list", "data": [{"name",
 * "bytes", "type", "duration", "url"}]}, in task order (empty for a job
 * without any). 404 for a job the caller cannot see. */
enum MHD_Result handle_artifacts(server *s, struct MHD_Connection *c, const caller *who,
                                 const char *id);

/* GET|HEAD /v1/jobs/{id}/artifacts/{name}. name is NULL when the path's
 * segment is not a valid artifact name (artifact_name_ok): 404, as for a
 * name the job has not recorded. 200 whole or 206 one range, 304 for a
 * matching If-None-Match, 416 for a range past the end, 500 when the
 * recorded file is missing or has another size than recorded. */
enum MHD_Result handle_artifact(server *s, struct MHD_Connection *c, const caller *who,
                                const char *id, const char *name);

#endif
