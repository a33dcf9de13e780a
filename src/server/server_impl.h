/* server_impl.h - what the files of the HTTP server share: the server
 * itself and the endpoint handlers that server.c routes to.
 *
 * Every handler runs on a libmicrohttpd connection thread, talks to the
 * store only (thread-safe) and queues exactly one response.
 */
#ifndef HARK_SERVER_SERVER_IMPL_H
#define HARK_SERVER_SERVER_IMPL_H

#include "server/conn_guard.h"
#include "server/origin.h"
#include "server/park.h"
#include "server/reply.h"
#include "server/server.h"
#include "server/upload.h"
#include "util/buf.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct stream_tickets stream_tickets;

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
    int64_t max_body_bytes;
    const token_table *tokens; /* NULL: no authentication */
    const path_roots *roots;
    int queue_limit[4];
    hark_metrics *metrics;
    int (*ready)(void *ctx, char *why, size_t n);
    void *ready_ctx;
    bool webhooks;               /* callback_url accepted (a sender and its secret are there) */
    const net_dest_policy *dest; /* NULL: public addresses only */
    char *uploads_dir;
    char *artifact_root;        /* jobs' artifacts, <root>/<id>/<name>; NULL: none kept */
    double live_idle_timeout_s; /* a live job's idle end unless it asks for its own */
    struct MHD_Daemon *daemon;
    int port;
    park *park;          /* requests waiting for the store (park.h) */
    conn_guard *guard;   /* header and body deadlines (conn_guard.h) */
    origin_policy hosts; /* Host names served, CORS origins (origin.h) */
    int max_per_address;
    atomic_int answering; /* requests whose answer is being made or sent */
    atomic_bool stopping; /* server_stop began: event streams end */
    unsigned boot_id;     /* request ids: unique per process start */
    atomic_ullong next_request;
    atomic_int keepalive_ms;
    stream_tickets *tickets; /* POST /v1/stream-tickets (auth/stream_tickets.h) */
};

/* What a request may do: the highest class it may submit at (a token's
 * ceiling; STORE_PRIO_REALTIME without authentication), whose jobs it sees
 * and its id for logs. */
typedef struct caller {
    int max_priority;
    const char *token_name; /* "" without authentication; the owner of what it submits */
    bool admin;             /* sees every job: an admin token, or no authentication */
    const char *request_id;
} caller;

/* The jobs who may see and touch (store.h, "Owners and scopes"): every job
 * for an admin, else those its token submitted. Every store call a handler
 * makes for a request goes through this: another's job is then a 404, as
 * the store answers HARK_ENOENT for it. The scope borrows who->token_name. */
store_scope caller_scope(const caller *who);

/* A job's priority for a caller: the one asked (requested >= 0) if the
 * caller may use it, or 403 in e; with none asked, the default capped at
 * the caller's ceiling. 0 or HARK_EINVAL. */
int caller_priority(const caller *who, int requested, int default_priority, int *out, api_error *e);

/* A submit was refused because its class is full: 429 with Retry-After. */
enum MHD_Result reply_queue_full(struct MHD_Connection *c, int priority, const hark_err *err);

/* A request whose answer has to wait (park.h): its handler parks the
 * connection and leaves a continuation here; when libmicrohttpd calls the
 * access handler again after the resume, the server calls fn instead of
 * routing the request again. fn queues the answer, parks again (and
 * returns MHD_YES), or returns MHD_NO to drop the connection. free_ctx (may
 * be NULL) runs when the request ends, however it ends. */
typedef struct request_cont {
    enum MHD_Result (*fn)(server *s, struct MHD_Connection *c, void *ctx);
    void *ctx;
    void (*free_ctx)(void *ctx);
} request_cont;

/* The socket of connection c, -1 if unknown. */
int server_connection_fd(struct MHD_Connection *c);

/* The server is stopping (or its notify was closed): waiting requests
 * answer 503 and streams end. */
bool server_stopping(server *s);

/* Tell the runtime a submit or control change committed. */
void server_wake(server *s);

/* Strict decimal integer in [min, max] (no sign, no spaces): 0 or -1. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* A store failure as a response: HARK_ENOENT -> 404 naming job id,
 * HARK_EINVAL -> 409 with the store's message (an illegal transition),
 * HARK_EUNAVAIL -> 503 (api_store_unavailable), anything else -> 500. */
enum MHD_Result reply_store_error(struct MHD_Connection *c, int rc, const hark_err *err,
                                  const char *id);

/* The store cannot be reached (HARK_EUNAVAIL: PostgreSQL down or
 * restarting): 503 "store_unavailable" with the store's message (which
 * names the location without its password) and a Retry-After, so clients
 * come back rather than give up. Nothing was done. Returns HARK_EIO. */
int api_store_unavailable(api_error *e, const hark_err *err);
#define STORE_RETRY_AFTER "2" /* seconds: about the store's reconnect backoff */

/* job_wait.c: one look at job id for a request parked until the job ends
 * (POST /v1/live/{id}/end, the OpenAI endpoint without stream), as the
 * scope sees it. fd is the request's socket.
 *   JOB_WAIT_ENDED: the job has ended: *job is filled (release it);
 *   JOB_WAIT_PARKED: parked until the store changes (return MHD_YES; the
 *     continuation comes back here);
 *   JOB_WAIT_GONE: the client went away (return MHD_NO);
 *   JOB_WAIT_STOPPING: the server is stopping (answer 503);
 *   JOB_WAIT_FAILED: the store failed: *rc and err say how. */
enum job_wait {
    JOB_WAIT_ENDED,
    JOB_WAIT_PARKED,
    JOB_WAIT_GONE,
    JOB_WAIT_STOPPING,
    JOB_WAIT_FAILED
};
enum job_wait server_wait_job(server *s, struct MHD_Connection *c, store_scope scope,
                              const char *id, int fd, store_job *job, int *rc, hark_err *err);

/* handlers.c: GET /healthz, GET /v1/jobs, GET /v1/jobs/{id},
 * POST /v1/jobs/{id}/{cancel,pause,resume}, GET .../result, GET .../events.
 * ids are already checked to be j + 16 hex digits. */
enum control_op { CONTROL_CANCEL, CONTROL_PAUSE, CONTROL_RESUME };
enum MHD_Result handle_health(server *s, struct MHD_Connection *c);
enum MHD_Result handle_ready(server *s, struct MHD_Connection *c);
/* The metrics collect hook (hark_metrics_on_collect): values read from the
 * store at scrape time. ctx is the server. */
void server_collect_metrics(void *ctx);
/* GET /metrics. The metrics describe every tenant's work, so with tokens
 * only an admin token may read them (403 otherwise). */
enum MHD_Result handle_metrics(server *s, struct MHD_Connection *c, const caller *who);
enum MHD_Result handle_list(server *s, struct MHD_Connection *c, const caller *who);
/* GET /v1/events: every event of the caller's jobs (sse.h). */
enum MHD_Result handle_events_all(server *s, struct MHD_Connection *c, const caller *who);
/* POST /v1/stream-tickets: a ticket standing for who's token. */
enum MHD_Result handle_stream_ticket(server *s, struct MHD_Connection *c, const caller *who);
enum MHD_Result handle_get(server *s, struct MHD_Connection *c, const caller *who, const char *id);
enum MHD_Result handle_control(server *s, struct MHD_Connection *c, const caller *who,
                               const char *id, enum control_op op);
enum MHD_Result handle_result(server *s, struct MHD_Connection *c, const caller *who,
                              const char *id);
/* handle_result with default_format (NULL: the kind's first) when the
 * request names none (?format=). */
enum MHD_Result reply_job_result(server *s, struct MHD_Connection *c, const caller *who,
                                 const char *id, const char *default_format);
/* POST /v1/jobs/{id}/retry: a failed job back to the queue with its
 * committed chunks (store_retry), under the caller's priority ceiling (403)
 * and its class's limit (429); 409 unless it failed. */
enum MHD_Result handle_retry(server *s, struct MHD_Connection *c, const caller *who,
                             const char *id);
/* DELETE /v1/jobs/{id}: a finished job, its events, results, uploaded input
 * and artifacts (its work directory goes with the runtime's next sweep). */
enum MHD_Result handle_delete(server *s, struct MHD_Connection *c, const caller *who,
                              const char *id);
enum MHD_Result handle_events(server *s, struct MHD_Connection *c, const caller *who,
                              const char *id);

/* static_http.c: GET|HEAD / and /static/NAME, the dashboard's files
 * (static_assets.h), answered without a token. a is the asset the path
 * names, NULL for none: 404 asset_not_found quoting path. 200 with the
 * bytes, or 304 when If-None-Match names its ETag; both with the cache and
 * confinement headers (Content-Security-Policy, nosniff, ...). */
struct static_asset;
enum MHD_Result handle_static(server *s, struct MHD_Connection *c, const struct static_asset *a,
                              const char *path);

#endif
