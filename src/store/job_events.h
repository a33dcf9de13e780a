/* job_events.h - the data of the events the store logs itself (store.h,
 * "events"), the same for every backend: a client replaying a job's events
 * reads the same JSON whichever store the server runs on. Each function
 * returns a new JSON object for the backend's add-event step to serialize
 * (compact, sorted keys) and free, or NULL when out of memory, which logs
 * {} (or, for a text that is not UTF-8, refuses: see store_event_delta).
 *
 *   type               data                                      logged by
 *   queued             {priority, source, seq}                   submit
 *   started            {worker}                                  the first claim
 *   progress           {prepared: true, n_chunks, duration_s,    a prepare's commit,
 *                       chunks_done}                              a live session's end
 *   chunk_committed    {chunk, chunks_done, n_chunks, progress}  a chunk's commit
 *                      {chunk, chunks_done, n_chunks, live:true} a live chunk's
 *   preempted          {chunk} | {reason: "restart"}             a yield | recovery
 *   paused             {revoked}                                 pause
 *   resumed            {}                                        resume
 *   succeeded          {n_chunks}                                store_succeed
 *   failed             {error}                                   every failure
 *   cancelled          {}                                        cancel
 *   retried            {error, chunks_done}                      store_retry
 *   stage              {added, n_chunks, chunks_done}            store_add_stage
 *   input_ended        {reason, bytes}                           a live input's close
 *   transcript.partial (the session's own object)                store_live_partial
 *   transcript.text.delta {delta}                                live text
 */
#ifndef HARK_STORE_JOB_EVENTS_H
#define HARK_STORE_JOB_EVENTS_H

#include <jansson.h>
#include <stdint.h>

json_t *store_event_queued(int priority, const char *source, int64_t seq);
json_t *store_event_started(const char *worker);
json_t *store_event_prepared(int n_chunks, double duration_s, int chunks_done);
json_t *store_event_chunk_committed(int idx, int chunks_done, int n_chunks);
json_t *store_event_live_chunk_committed(int idx, int chunks_done, int n_chunks);
json_t *store_event_preempted(int idx);
json_t *store_event_restarted(void); /* preempted by a restart */
json_t *store_event_paused(int revoked);
json_t *store_event_succeeded(int64_t n_chunks);
json_t *store_event_failed(const char *error);
json_t *store_event_retried(const char *error, int chunks_done);
json_t *store_event_stage(int added, int n_chunks, int chunks_done);
json_t *store_event_input_ended(const char *reason, int64_t bytes);
/* NULL also when delta is not UTF-8: the caller refuses the call then. */
json_t *store_event_delta(const char *delta);

#endif
