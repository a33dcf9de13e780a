/* sse.h - GET /v1/jobs/{id}/events and GET /v1/events: events as server-sent events.
 *
 * The stream replays the job's stored events after a given id, then follows
 * new ones: it waits on the notify counter the store bumps on every commit
 * (never polling the database on a timer), and sends a ": keepalive" comment
 * after keepalive_ms without events, which also finds clients that went
 * away. It ends once a final event (succeeded, failed, cancelled) has been
 * sent and no stored event is left (a per-job stream), when the server stops, or when the
 * notify is closed. Between events the connection is parked (park.h), so
 * a stream holds no thread.
 */
#ifndef HARK_SERVER_SSE_H
#define HARK_SERVER_SSE_H

#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/notify.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>

#define SSE_BATCH 64                              /* events read from the store at once */
#define SSE_FRAME_MAX (2 * STORE_MAX_TEXT + 4096) /* one formatted event */

typedef struct park park;

typedef struct sse_source {
    store *st;
    store_scope scope; /* whose jobs the stream may read; the owner is copied */
    notify *changes;
    atomic_bool *stopping; /* outlives the stream (server_stop joins the threads) */
    int keepalive_ms;
    park *park;                  /* where the stream waits between events */
    struct MHD_Connection *conn; /* the stream's connection */
    int fd;                      /* its socket, to see the client leave */
} sse_source;

/* A response (content from a callback, size unknown) that streams job_id's
 * events with id > after_id. job_final: the job was already in a final
 * state, so the stream ends once the stored events are sent. The caller
 * adds the headers and queues it. NULL on allocation failure.
 *
 * job_id NULL (GET /v1/events): the events of every job of src->scope, in
 * the store's order (store_list_events_since), read SSE_BATCH at a time as
 * the client takes them, so a client far behind costs one batch of memory
 * and the socket's buffers; the stream has no final event and ends only
 * with the server, the notify or the client. Jobs deleted under it simply
 * have no more events. */
struct MHD_Response *sse_response(const sse_source *src, const char *job_id, int64_t after_id,
                                  bool job_final);

/* True for the event types after which a job's stream ends. */
bool sse_is_final(const char *type);

/* Append e as one frame to dst:
 *     id: <id>\nevent: <type>\ndata: <the stored fields plus job and time>\n\n
 * HARK_ENOMEM when dst's cap is hit. Stored data that is not a JSON object
 * is sent as {} with job and time (and logged). */
int sse_format_event(const store_event *e, buf *dst, hark_err *err);

#endif
