/* http_client.h - a thin libcurl wrapper for talking to `hark serve`
 * (docs/api.md): JSON requests, multipart uploads, and the event stream.
 *
 * One curl handle per client, reused so requests share the connection.
 * Timeouts are libcurl's (connect timeout, low-speed abort) with
 * CURLOPT_NOSIGNAL: no signal is ever involved (DESIGN.md invariant 1).
 * Every response body lands in a capped buf.
 *
 * Errors follow util/err.h. A failed connection says
 *     cannot reach hark server at http://127.0.0.1:8090 (is `hark serve` running?)
 * and an HTTP error status carries the server's own one-line message
 * ({"error": {"message": ...}}) with a code from hc_status_error.
 */
#ifndef HARK_CLIENT_HTTP_CLIENT_H
#define HARK_CLIENT_HTTP_CLIENT_H

#include "client/sse.h"
#include "util/buf.h"
#include "util/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define HC_DEFAULT_SERVER "http://127.0.0.1:8090"
#define HC_SERVER_ENV "HARK_SERVER"

#define HC_JSON_MAX (16u << 20)    /* cap on a JSON response */
#define HC_RESULT_MAX (256u << 20) /* cap on a rendered result */

typedef struct hc_client hc_client;

/* A text field of a multipart upload. */
typedef struct hc_field {
    const char *name;
    const char *value;
} hc_field;

/* The server's base URL: flag (--server) if given, else env (HARK_SERVER)
 * if set and not empty, else HC_DEFAULT_SERVER. "HOST:PORT" without a
 * scheme means http://HOST:PORT; trailing slashes are dropped. Returns 0,
 * or HARK_EINVAL for an empty flag, a scheme other than http(s), a URL with
 * spaces or control characters, or one that does not fit in n. */
int hc_resolve_base(const char *flag, const char *env, char *out, size_t n, hark_err *err);

/* Turn an HTTP error response (status >= 400) into err: the server's
 * {"error": {"message": ...}} on one line (control characters become
 * spaces), else "hark server answered HTTP <status>" plus the first line of
 * a non-JSON body. Returns the code: HARK_ENOENT for 404, HARK_ETOOLONG for
 * 413, HARK_EIO for 5xx and anything unexpected, HARK_EINVAL for other 4xx. */
int hc_status_error(long status, const char *body, size_t len, hark_err *err);

/* A client for the server at base (a URL from hc_resolve_base). */
int hc_open(const char *base, hc_client **out, hark_err *err);
void hc_close(hc_client *c);

const char *hc_base(const hc_client *c);

/* Connect timeout, and how long a transfer may stall (under 1 byte/s)
 * before it is abandoned. Defaults: 10 s and 60 s; the event stream always
 * allows at least 60 s (the server sends a keepalive every 15 s). */
void hc_set_timeouts(hc_client *c, double connect_s, double stall_s);

/* Event stream reconnections: at most tries in a row without an event in
 * between, waiting delay_ms before each (doubling, at most 4 s; a retry:
 * field of the stream overrides it). Defaults: 5 and 250 ms. */
void hc_set_reconnect(hc_client *c, int tries, long delay_ms);

/* A limit on each whole transfer (connect, send, answer) from now on;
 * seconds <= 0: none (the default). A transfer past it fails with
 * HARK_ETIMEDOUT ("stopped answering"). */
void hc_set_transfer_timeout(hc_client *c, double seconds);

/* A hook libcurl asks during every transfer (several times a second while
 * data moves, about once a second while it waits) and hc_events between
 * reconnections (every 50 ms): nonzero stops the transfer at once with
 * HARK_ECANCELED. For another thread to end a request that is waiting on
 * the server. fn NULL removes it. */
void hc_set_abort(hc_client *c, int (*fn)(void *ctx), void *ctx);

/* A 503 answer with a Retry-After (the server's store is down or
 * restarting) to a JSON request (hc_get_json, hc_post_json, hc_upload_file
 * ...): wait what it says (at most HC_RETRY_AFTER_MAX_S) and send the
 * request again, for up to seconds in all, saying so once on stderr; then
 * it is the server's error as usual. seconds <= 0: no retries (the
 * default). */
#define HC_RETRY_AFTER_MAX_S 30
void hc_set_unavailable_retry(hc_client *c, double seconds);

/* True when the last failure was not reaching the server at all (refused,
 * unknown host, connect timeout): later requests would fail the same way. */
bool hc_unreachable(const hc_client *c);

/* One request. method is "GET", "POST" or "DELETE"; path starts with '/'; json, if
 * not NULL, is sent as an application/json body (a POST with neither has
 * an empty body). The status goes to *status and the body to body (its cap
 * applies: HARK_ENOMEM when passed). Only transport failures are errors
 * here; see hc_status_error for statuses. */
int hc_request(hc_client *c, const char *method, const char *path, const char *json, long *status,
               buf *body, hark_err *err);

/* GET path, or POST it with body (NULL: empty), and parse the 2xx JSON
 * answer into *out (an object, to json_decref). An error status is an
 * error with the server's message. */
int hc_get_json(hc_client *c, const char *path, json_t **out, hark_err *err);
int hc_post_json(hc_client *c, const char *path, const json_t *body, json_t **out, hark_err *err);
/* POST len bytes of data (any bytes) as a body of content_type and parse
 * the 2xx JSON answer into *out (NULL: not kept), as above. */
int hc_post_bytes(hc_client *c, const char *path, const void *data, size_t len,
                  const char *content_type, json_t **out, hark_err *err);
/* DELETE path and parse the 2xx JSON answer into *out, as above. */
int hc_delete_json(hc_client *c, const char *path, json_t **out, hark_err *err);

/* GET path and keep the 2xx body as is in out (initialized here, capped at
 * max). */
int hc_get_body(hc_client *c, const char *path, size_t max, buf *out, hark_err *err);

/* GET path and write a 2xx body to fd as it arrives (never held in
 * memory: an artifact may be large); *bytes (may be NULL) gets how many
 * were written. A non-2xx answer writes nothing and is the server's error;
 * a failed write is HARK_ENOSPC or HARK_EIO naming what (name: how
 * messages call fd's file). */
int hc_download(hc_client *c, const char *path, int fd, const char *name, int64_t *bytes,
                hark_err *err);

/* POST a multipart/form-data body: the fields, then a part "file" with the
 * contents of file (streamed from disk, never held in memory; sent under
 * its base name). The 2xx JSON answer goes to *out. A file that cannot be
 * opened or is not a regular file fails before anything is sent. */
int hc_upload_file(hc_client *c, const char *path, const char *file, const hc_field *fields,
                   size_t n_fields, json_t **out, hark_err *err);

/* The same with the part "file" taken from memory, sent as filename. */
int hc_upload_memory(hc_client *c, const char *path, const char *filename, const void *data,
                     size_t len, const hc_field *fields, size_t n_fields, json_t **out,
                     hark_err *err);

/* Follow the text/event-stream at path, calling fn for every event until
 * fn returns nonzero. fn returning > 0 means "that was the final event":
 * hc_events returns 0. fn returning < 0 stops with that code (fn sets err
 * itself). If the stream ends or breaks before, hc_events reconnects with
 * Last-Event-ID (the last id seen, else last_event_id if not NULL) as set
 * by hc_set_reconnect, and fails when the tries are used up. An error
 * status is not retried. */
int hc_events(hc_client *c, const char *path, const char *last_event_id, sse_event_fn fn, void *ctx,
              hark_err *err);

#endif
