/* conn_guard.h - deadlines for slow clients that libmicrohttpd does not
 * have: a total time for a request's headers, and a minimum rate for its
 * body.
 *
 * libmicrohttpd's own timeout is an idle timeout: a client that sends one
 * header byte every few seconds (slowloris) never trips it. The guard keeps
 * one small record per connection (in libmicrohttpd's socket context) and
 * a thread that looks at them every GUARD_TICK_MS:
 *
 *   WAITING  from accept, or from the end of the previous request on a
 *            keep-alive connection, to the end of the next request's
 *            headers: at most header_timeout_ms in all.
 *   BODY     from the end of the headers to the end of the body: after
 *            body_grace_ms, at least body_min_rate bytes per second on
 *            average, else the connection is cut.
 *   ACTIVE   the request is being answered (or waits, parked): no guard
 *            deadline (libmicrohttpd's idle timeout still applies to a
 *            client that stops reading).
 *
 * A connection past its deadline is cut with shutdown(2) on its socket;
 * libmicrohttpd sees the end of the stream at once and closes it. The
 * record is removed when libmicrohttpd says the connection closed, which it
 * does before it closes the socket, so a descriptor is never shut down
 * after it was reused.
 */
#ifndef HARK_SERVER_CONN_GUARD_H
#define HARK_SERVER_CONN_GUARD_H

#include "util/err.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#define GUARD_TICK_MS 250

typedef struct conn_guard conn_guard;
typedef struct guard_conn guard_conn;

typedef struct conn_guard_opts {
    int64_t header_timeout_ms; /* WAITING at most this long */
    int64_t body_grace_ms;     /* BODY: the rate is judged after this long */
    int64_t body_min_rate;     /* BODY: bytes per second on average, at least */
} conn_guard_opts;

typedef struct conn_guard_stats {
    uint64_t header_timeouts; /* connections cut in WAITING */
    uint64_t slow_bodies;     /* connections cut in BODY */
    int open;                 /* connections open now */
} conn_guard_stats;

/* Start the guard's thread. 0, HARK_EINVAL (bad options), HARK_ENOMEM,
 * HARK_EIO. */
int conn_guard_new(const conn_guard_opts *o, conn_guard **out, hark_err *err);

/* Stop the thread and free. Call after MHD_stop_daemon (every connection
 * closed). NULL is fine. */
void conn_guard_free(conn_guard *g);

/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION callback (cls: the guard):
 * STARTED adds a record in WAITING, CLOSED removes it. */
void conn_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode code);

/* The record of connection c (its socket context), NULL if it has none
 * (allocation failed at start: that connection is not guarded). */
guard_conn *conn_guard_of(struct MHD_Connection *c);

/* A request's headers are in: BODY when it has one to read, else ACTIVE. */
void conn_guard_headers_done(conn_guard *g, guard_conn *gc, bool has_body);

/* n more body bytes arrived. */
void conn_guard_body(conn_guard *g, guard_conn *gc, uint64_t n);

/* The body is in: ACTIVE. */
void conn_guard_body_done(conn_guard *g, guard_conn *gc);

/* The request was answered (libmicrohttpd's request-completed callback):
 * WAITING again, for the next request on a keep-alive connection. */
void conn_guard_request_done(conn_guard *g, guard_conn *gc);

void conn_guard_stats_get(conn_guard *g, conn_guard_stats *out);

#endif
