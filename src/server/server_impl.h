/* server_impl.h - what the files of the HTTP server share: the server
 * itself and the endpoint handlers that server.c routes to.
 *
 * Every handler runs on a libmicrohttpd connection thread, talks to the
 * store only (thread-safe) and queues exactly one response.
 */
#ifndef HARK_SERVER_SERVER_IMPL_H
#define HARK_SERVER_SERVER_IMPL_H

#include "server/reply.h"
#include "server/server.h"
#include "server/upload.h"
#include "util/buf.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>

#define SERVER_KEEPALIVE_MS 15000 /* SSE comment line while nothing happens */
#define RESULT_MAX (256u << 20)   /* a rendered transcript; ~100 hours of verbose_json */

struct server {
    store *st;
    notify *changes;
    void (*wake)(void *ctx);
    void *wake_ctx;
    int64_t max_upload_bytes;
    double default_timeout_s;
    int max_connections;
    bool webhooks; /* callback_url accepted (a sender and its secret are there) */
    char *uploads_dir;
    struct MHD_Daemon *daemon;
    int port;
    atomic_bool stopping; /* server_stop began: event streams end */
    atomic_int keepalive_ms;
};

/* Tell the runtime a submit or control change committed. */
void server_wake(server *s);

/* Strict decimal integer in [min, max] (no sign, no spaces): 0 or -1. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* A store failure as a response: HARK_ENOENT -> 404 naming job id,
 * HARK_EINVAL -> 409 with the store's message (an illegal transition),
 * anything else -> 500. */
enum MHD_Result reply_store_error(struct MHD_Connection *c, int rc, const hark_err *err,
                                  const char *id);

/* handlers.c: GET /healthz, GET /v1/jobs, GET /v1/jobs/{id},
 * POST /v1/jobs/{id}/{cancel,pause,resume}, GET .../result, GET .../events.
 * ids are already checked to be j + 16 hex digits. */
enum control_op { CONTROL_CANCEL, CONTROL_PAUSE, CONTROL_RESUME };
enum MHD_Result handle_health(server *s, struct MHD_Connection *c);
enum MHD_Result handle_list(server *s, struct MHD_Connection *c);
enum MHD_Result handle_get(server *s, struct MHD_Connection *c, const char *id);
enum MHD_Result handle_control(server *s, struct MHD_Connection *c, const char *id,
                               enum control_op op);
enum MHD_Result handle_result(server *s, struct MHD_Connection *c, const char *id);
enum MHD_Result handle_events(server *s, struct MHD_Connection *c, const char *id);

#endif
