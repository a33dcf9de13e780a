/* live.h - live dictation over HTTP (docs/api.md, "Live dictation"):
 *
 *   POST /v1/live                 a live job: its input is an empty file in
 *                                 uploads/ that stays open for appends
 *   POST /v1/live/{id}/audio      the body appended to that file, synced,
 *                                 and its new length recorded in the store
 *                                 (store_input_append); the runtime tells the
 *                                 job's session. A chunked body is synced
 *                                 and recorded every LIVE_SYNC_BYTES as it
 *                                 streams, so it is decoded as it arrives.
 *   POST /v1/live/{id}/end        the input closed; the answer waits (parked)
 *                                 for the job to end and is its result
 *
 * The server never decodes: it checks a body's first bytes against the
 * job's format (media/live_input.h live_format_check_head) and writes bytes.
 */
#ifndef HARK_SERVER_LIVE_H
#define HARK_SERVER_LIVE_H

#include "server/server_impl.h"

#define LIVE_SYNC_BYTES 3200 /* 100 ms of s16le: how often a streaming body is acknowledged */

/* POST /v1/live with its JSON body (json may be empty: every default). */
enum MHD_Result handle_live_create(server *s, struct MHD_Connection *c, const caller *who,
                                   const buf *json);

typedef struct live_append live_append;

/* The first call of POST /v1/live/{id}/audio: the job must be the
 * caller's, live and still taking audio; its input is opened for appending
 * and locked (one append at a time). 0 with *out set, or the error in *e. */
int live_append_begin(server *s, const caller *who, const char *id, live_append **out,
                      api_error *e);

/* n more bytes of the body. 0, or the request's error in *e (the rest of
 * the body is then read and dropped; what this request had appended is
 * taken back unless it was acknowledged). */
int live_append_feed(server *s, live_append *a, const char *data, size_t n, api_error *e);

/* The body is in: sync, record, answer. */
enum MHD_Result handle_live_audio(server *s, struct MHD_Connection *c, live_append *a);

/* Close and free (NULL is fine). */
void live_append_free(live_append *a);

/* POST /v1/live/{id}/end: close the input, wait for the job, answer with
 * its result (?format=, json by default) or why it has none. */
enum MHD_Result handle_live_end(server *s, struct MHD_Connection *c, const caller *who,
                                const char *id, request_cont *cont);

#endif
