/* fetch.h - download an http(s) URL to a file ("inputs by URL").
 *
 * Every connection, the first URL's and each redirect's, goes only to an
 * address o->dest allows (net/dest.h: public addresses, and private ones
 * only for url_allow hosts), judged on the very address connected to; a
 * refused one is never contacted and fails the download at once:
 *     cannot download http://localhost:8080/a.wav: destination
 *     localhost:8080 is not allowed (a private, loopback or reserved address)
 * Proxies are not used (unless o->dest is net_dest_anywhere).
 *
 * One call, one blocking transfer on the calling thread, bounded on every
 * side: a connect timeout, a low-speed limit (a stalled or trickling server
 * is abandoned), an optional total timeout, a cap on the size, a cap on
 * redirects, and a cancel check. All timeouts are libcurl's, with
 * CURLOPT_NOSIGNAL: no signal is involved (DESIGN.md invariant 1).
 *
 * Only http and https, for the first URL and for every redirect: a server
 * cannot bounce hark to file:///etc/passwd or an ftp:// URL. The size cap
 * holds whether the server announces a Content-Length (refused before the
 * body is read) or not (the transfer stops before the byte that would pass
 * the cap is written). No compressed transfer encoding is asked for, so the
 * cap counts the bytes that land on disk.
 *
 * The body goes to a temporary file beside dest_path (mode 0600), is
 * fsynced, and is renamed over dest_path only on success (invariant 6):
 * on any failure the temporary is removed and dest_path is neither created
 * nor replaced (the one exception: if the directory cannot be synced after
 * the rename, dest_path is removed again, so a failure still leaves no file).
 *
 * Errors name the URL with its credentials removed (net_url_redact) and say
 * the cause:
 *     cannot download https://example.com/talk.mp3: server answered HTTP 404
 *     cannot download https://example.com/talk.mp3: over the cap of 1048576 bytes
 *
 * Needs net_global_init() once per process first. Not safe to share one
 * net_fetch_opts' cancel context between threads unless the callback is.
 */
#ifndef HARK_NET_FETCH_H
#define HARK_NET_FETCH_H

#include "net/dest.h"
#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>

/* Polled during the transfer, at least every 50 ms whatever the server
 * does (more often while data flows); true stops the download with
 * HARK_ECANCELED. */
typedef bool (*net_cancel_fn)(void *ctx);

typedef struct net_fetch_opts {
    double connect_timeout_s; /* name lookup + TCP + TLS; <= 0: libcurl's 300 s */
    double total_timeout_s;   /* the whole transfer, redirects included; <= 0: none */
    long low_speed_bytes;     /* abandon when under this many bytes/s ... */
    long low_speed_time_s;    /* ... for this many seconds; either <= 0: no check */
    uint64_t max_bytes;       /* cap on the body; 0: none */
    int max_redirects;        /* redirects followed; 0: none (a redirect fails) */
    net_cancel_fn cancel;     /* NULL: never cancelled */
    void *cancel_ctx;
    const net_dest_policy *dest; /* where it may connect; NULL: public addresses only */
} net_fetch_opts;

/* Defaults: connect 10 s, 1 h in all, under 1024 bytes/s for 30 s, 2 GiB,
 * 5 redirects, no cancel check, public addresses only. Start from these
 * and change fields. */
net_fetch_opts net_fetch_defaults(void);

typedef struct net_fetch_result {
    uint64_t bytes;           /* written to dest_path (on failure: received so far) */
    long status;              /* HTTP status of the last response, 0 if none */
    char content_type[256];   /* Content-Type of the last response, "" if none */
    char effective_url[2048]; /* the URL after redirects, as net_url_redact shows it */
    /* On failure: whether trying again later may succeed (timeouts,
     * connection and name lookup failures, HTTP 408, 429 and 5xx) rather
     * than fail the same way (other 4xx, the cap, a bad scheme or redirect,
     * a destination not allowed, a cancel, a local write error). A hint
     * for the caller's retry policy. */
    bool retryable;
    /* On failure: the host name did not resolve (HARK_EIO, retryable): a
     * caller may rather treat a mistyped or dead host as permanent. */
    bool host_unresolved;
} net_fetch_result;

/* Download url to dest_path with options o (NULL: net_fetch_defaults()).
 * res (may be NULL) is filled on success and on failure. Returns 0 for a
 * 2xx answer written whole, else:
 *   HARK_EINVAL     not an http(s) URL, a redirect to another scheme, too
 *                   many redirects, HTTP 4xx (but 404/410), another non-2xx,
 *                   a destination (first or redirected) o->dest refuses
 *   HARK_ENOENT     HTTP 404 or 410, or the directory of dest_path is missing
 *   HARK_ETOOLONG   the body is over o->max_bytes (announced or counted)
 *   HARK_ETIMEDOUT  connect timeout, too slow, no answer, total timeout
 *   HARK_ECANCELED  o->cancel said stop
 *   HARK_EIO        name lookup or connection failed, HTTP 5xx, TLS and
 *                   other transfer errors, or dest_path could not be written
 *   HARK_ENOMEM     out of memory
 * with err (may be NULL) set to a one-line message. */
int net_fetch_to_file(const char *url, const char *dest_path, const net_fetch_opts *o,
                      net_fetch_result *res, hark_err *err);

#endif
