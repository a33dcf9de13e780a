/* net.h - what the outbound HTTP modules share: libcurl's one-time global
 * setup, and URLs made safe to show.
 *
 * hark makes two kinds of outbound requests on behalf of users: it
 * downloads inputs by URL (net/fetch.h) and it delivers webhooks
 * (net/webhook.h). Both speak http and https only, never follow a redirect
 * to another scheme, and never put credentials from a URL into a message:
 * error messages end up in job records, logs and API answers.
 */
#ifndef HARK_NET_NET_H
#define HARK_NET_NET_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

/* Set up libcurl (and the TLS library under it) for the whole process.
 * Call once at start, before any thread is created and before any
 * net_fetch_to_file or webhook_deliver: curl_global_init is not safe to run
 * concurrently with other threads in every libcurl build. The daemon calls
 * it in its start-up path; unit tests call it at the top of main. Returns 0
 * or HARK_EIO. */
int net_global_init(hark_err *err);

/* Undo net_global_init, at exit, after the last transfer. Optional: what it
 * frees is reachable until exit anyway. */
void net_global_cleanup(void);

/* True if url starts with "http://" or "https://" (any case) and has a
 * host after it. */
bool net_url_is_http(const char *url);

/* url as it may be shown: the userinfo ("user:password@") is removed, and
 * a query string or fragment becomes "?..." because presigned URLs carry
 * their credentials there (X-Amz-Signature=..., token=...). Control
 * characters become '?'. Truncated to fit outlen (with "..." at the end);
 * out is always NUL-terminated when outlen > 0.
 *   https://u:pw@example.com:8443/a/b.mp3?sig=x  ->  https://example.com:8443/a/b.mp3?...
 */
void net_url_redact(const char *url, char *out, size_t outlen);

/* The host (and port, if given) of url without any userinfo, for messages
 * like "cannot resolve host 'example.com'". Empty if url has no "://". */
void net_url_host(const char *url, char *out, size_t outlen);

/* The standard reason phrase of an HTTP status ("Not Found" for 404), ""
 * for a status without one here. Messages use it rather than the reason a
 * server sent, which is the server's own text. */
const char *net_http_reason(long status);

/* libcurl's error text (errbuf, or fallback when errbuf is empty) as one
 * line for a message about url: fallback instead when the text quotes the
 * user name or password of url's userinfo. */
void net_error_detail(const char *url, const char *errbuf, const char *fallback, char *out,
                      size_t outlen);

#endif
