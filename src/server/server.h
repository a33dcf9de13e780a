/* server.h - the HTTP JSON API of `hark serve` (docs/api.md), on
 * libmicrohttpd's own threads.
 *
 * The server only talks to the store: a submit, cancel, pause or resume is
 * one store transaction, acknowledged after it is durable, followed by a
 * call to wake() so the runtime (another thread) acts on it at once. Event
 * streams wait on the notify counter that the store bumps on every commit.
 * The server never touches workers or the runtime's state.
 */
#ifndef HARK_SERVER_SERVER_H
#define HARK_SERVER_SERVER_H

#include "auth/path_root.h"
#include "auth/tokens.h"
#include "metrics/hark_metrics.h"
#include "net/dest.h"
#include "store/store.h"
#include "util/err.h"
#include "util/notify.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct server server;

typedef struct server_opts {
    const char *listen;    /* "HOST:PORT"; loopback only without tokens; port 0 = any */
    const char *state_dir; /* uploads are stored under <state_dir>/uploads (0700 dir, 0600 files) */
    store *st;             /* shared with the runtime; thread-safe */
    notify *changes;       /* bumped after every store commit */
    void (*wake)(void *ctx); /* after a submit/cancel/pause/resume committed */
    void *wake_ctx;
    int64_t max_upload_bytes;   /* [2 GiB]: larger uploads get 413 */
    double default_timeout_s;   /* job timeout when the request gives none [0 = none] */
    double live_idle_timeout_s; /* a live job without audio this long is ended [30] */
    int max_connections;        /* [4096, and what RLIMIT_NOFILE allows] */
    /* Connections one client address may hold [256]; -1: no limit. */
    int max_connections_per_address;
    /* A request's headers must be in within this many seconds of the
     * connection's start or of its previous answer [15]. */
    double header_timeout_s;
    /* A body must arrive at this many bytes per second on average, judged
     * after header_timeout_s [1024]; -1: no minimum. */
    int64_t body_min_rate;
    /* Host names the server answers to besides IP literals, localhost and
     * the machine's name ("*": any); origins whose pages may use the API
     * (CORS; "*": any). origin.h says why. */
    const char *const *allowed_hosts;
    size_t n_allowed_hosts;
    const char *const *cors_origins;
    size_t n_cors_origins;
    int64_t max_body_bytes; /* [64 KiB]: JSON bodies; larger ones get 413 */
    /* API tokens (NULL or empty: no authentication, loopback only). With
     * tokens every route but /healthz and /readyz wants "Authorization:
     * Bearer <secret>" (401 without, 403 above the token's priority). */
    const token_table *tokens;
    /* Where server-side paths may be read from (NULL or empty: nowhere;
     * a path submit gets 403). */
    const path_roots *roots;
    /* Active (queued, running, paused) jobs per class, by enum
     * store_priority; 0 = unbounded. A submit past it gets 429. */
    int queue_limit[4];
    hark_metrics *metrics; /* GET /metrics; NULL: 404 */
    /* GET /readyz: 0 when workers are ready, or why not in why. */
    int (*ready)(void *ctx, char *why, size_t n);
    void *ready_ctx;
    bool webhooks; /* a webhook sender runs: submits may set callback_url [false: refused] */
    /* Where url and callback_url may lead (net/dest.h): a numeric host it
     * refuses is a 403 at submit; names are judged when connected.
     * [NULL: public addresses only] */
    const net_dest_policy *dest;
    /* Where jobs' artifacts are (jobs/artifacts.h: <root>/<id>/<name>),
     * served at /v1/jobs/{id}/artifacts/{name} and removed with a deleted
     * job. [NULL: none are served] */
    const char *artifact_root;
} server_opts;

/* Bind and start serving. HARK_EINVAL for a bad or non-loopback address,
 * HARK_EIO when the address cannot be bound (err names it). */
int server_start(const server_opts *o, server **out, hark_err *err);

/* The bound port (useful with port 0). */
int server_port(const server *s);

/* Milliseconds without events after which an event stream sends a
 * ": keepalive" comment [15000; ms <= 0 restores it]. Applies to streams
 * opened afterwards; tests shorten it. */
void server_set_keepalive_ms(server *s, int ms);

/* Stop accepting; wake every waiting request, which answers 503 (an OpenAI
 * transcription) or ends (an event stream); give the answers in flight up
 * to 2 s to go out; close every connection; free. notify_close(changes)
 * also ends streams, but server_stop does not close it (it belongs to the
 * caller). */
void server_stop(server *s);

#endif
