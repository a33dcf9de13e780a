/* origin.h - who may talk to the daemon from a browser: the Host names it
 * answers to (against DNS rebinding) and the Origins whose pages may use it
 * (CORS, and against cross-site requests).
 *
 * DNS rebinding: a page on evil.example makes its name resolve to
 * 127.0.0.1, and the browser, seeing the same origin, lets the page read
 * the loopback daemon's answers. Its requests still carry `Host:
 * evil.example`, so the daemon answers only to names it knows: IP
 * literals (a rebinding page never has one), `localhost` and names under
 * `.localhost` (which browsers resolve to loopback themselves), this
 * machine's host name, and the names the configuration allows
 * (`allowed_host`, "*" for any).
 *
 * Cross-site requests: a page on another origin can send a form POST to
 * the daemon without asking (no preflight), so state-changing requests
 * (anything but GET, HEAD and OPTIONS) that carry an Origin are refused
 * unless it is the daemon's own origin or a configured `cors_origin`; the
 * same list decides which pages may read answers (Access-Control-Allow-
 * Origin) and which preflights succeed.
 *
 * Pure functions of their inputs: no I/O but gethostname(2) once, at init.
 */
#ifndef HARK_SERVER_ORIGIN_H
#define HARK_SERVER_ORIGIN_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

#define ORIGIN_MAX 256 /* bytes of a configured origin or host name */

typedef struct origin_policy {
    char **hosts; /* allowed_host names, lowercase, no port */
    size_t n_hosts;
    bool any_host;  /* allowed_host = * */
    char **origins; /* cors_origin values, normalized: scheme://host[:port] */
    size_t n_origins;
    bool any_origin;   /* cors_origin = * */
    char machine[256]; /* gethostname(2), lowercase; "" if unknown */
} origin_policy;

/* Check and keep the configured lists (NULL with n = 0: none). An
 * allowed_host is a host name or "*"; a cors_origin is "*" or
 * scheme://host[:port] with scheme http or https, no path, no user info.
 * 0 or HARK_EINVAL naming the bad value, HARK_ENOMEM. */
int origin_policy_init(origin_policy *p, const char *const *hosts, size_t n_hosts,
                       const char *const *origins, size_t n_origins, hark_err *err);
void origin_policy_release(origin_policy *p);

/* Whether the daemon answers to this Host header (NULL: none was sent,
 * allowed: only browsers are the concern, and they always send one). */
bool origin_host_allowed(const origin_policy *p, const char *host_header);

enum origin_verdict {
    ORIGIN_ABSENT,  /* no Origin header: not a cross-origin browser request */
    ORIGIN_SAME,    /* the page is on the daemon's own origin */
    ORIGIN_ALLOWED, /* a configured cors_origin */
    ORIGIN_REFUSED, /* any other, "null" and malformed ones included */
};

/* Judge an Origin header (NULL: absent) of a request sent to host_header.
 * ORIGIN_SAME compares host and port, not the scheme: behind a TLS proxy
 * the page is https while the daemon speaks plain HTTP, and nothing else
 * can answer on the daemon's own host and port. */
enum origin_verdict origin_check(const origin_policy *p, const char *origin,
                                 const char *host_header);

/* Whether a method changes state (a cross-site request must not). */
bool origin_method_unsafe(const char *method);

#endif
