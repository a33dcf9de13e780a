/* park.h - connections that wait for the store to change, held off
 * libmicrohttpd's event loop.
 *
 * The server runs a few event-loop threads (server.c); nothing may block
 * one, or every connection it serves waits too. A request that has to wait
 * (an OpenAI transcription for its job, an event stream with nothing new to
 * send) suspends its connection and parks it here instead. One thread
 * watches the notify counter the store bumps on every commit; it resumes a
 * parked connection when the counter has moved past what the request last
 * saw, when the request's deadline passes (a keepalive is due) or when its
 * client hung up. libmicrohttpd then calls the request's handler or content
 * reader again, which looks at the store and sends, ends, or parks again.
 *
 * A parked connection costs a list entry: no thread, no timer.
 *
 * Suspended connections are invisible to libmicrohttpd's own timeouts and
 * hang-up detection, so this module looks for hang-ups itself (POLLRDHUP
 * on every parked socket, at least every PARK_HANGUP_CHECK_MS).
 */
#ifndef HARK_SERVER_PARK_H
#define HARK_SERVER_PARK_H

#include "util/err.h"
#include "util/notify.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#define PARK_HANGUP_CHECK_MS 100

typedef struct park park;

/* Start the parking thread over changes (which must outlive the park).
 * 0, HARK_ENOMEM or HARK_EIO (thread). */
int park_new(notify *changes, park **out, hark_err *err);

enum park_result {
    PARK_PARKED,  /* c is suspended: return, libmicrohttpd calls again on resume */
    PARK_CHANGED, /* the counter moved already: nothing suspended, look again now */
    PARK_CLOSED,  /* park_close or notify_close was called: the server is stopping;
                     nothing suspended, answer or end now */
};

/* Suspend c (libmicrohttpd's MHD_suspend_connection) and park it until the
 * notify counter differs from seen, deadline_ns (monotonic; 0 = none)
 * passes, or the client behind fd hangs up. Read seen from the counter
 * BEFORE looking at the store, so a commit in between is never missed.
 * Call only from c's access handler or content reader; after PARK_PARKED
 * return from it at once (MHD_YES from a handler, 0 bytes from a reader):
 * libmicrohttpd calls it again once c is resumed. A deadline or hang-up is
 * seen within PARK_HANGUP_CHECK_MS. */
enum park_result park_wait(park *p, struct MHD_Connection *c, int fd, uint64_t seen,
                           int64_t deadline_ns);

/* Resume every parked connection and refuse new ones: later park_wait
 * calls return PARK_CLOSED. Call before MHD_stop_daemon (which must not find a
 * suspended connection). */
void park_close(park *p);

/* How many connections are parked now (for tests and metrics). */
int park_count(park *p);

/* Stop the thread and free; park_close first. NULL is fine. */
void park_free(park *p);

/* True when the peer of socket fd has closed its end or the connection
 * broke. One poll(2), no waiting. */
bool park_client_gone(int fd);

#endif
