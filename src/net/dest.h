/* dest.h - where hark's outbound requests (URL inputs, webhooks) may
 * connect: public addresses (net/addr_policy.h), and private ones only for
 * the hosts the operator names (`url_allow = HOST[:PORT]`).
 *
 * The check is made on the address libcurl is about to connect to: a
 * guard (net_dest_guard_attach) installs libcurl's open-socket callback,
 * which is handed the resolved address of every connection a transfer
 * makes, the first URL's and each redirect's, before the socket exists. So
 * what is judged is what is connected to (DESIGN.md invariant 10): a name
 * that resolves to a public address for a check and to 127.0.0.1 for the
 * connect (DNS rebinding) has no gap to slip through, since there is one
 * resolution and it is the one connected to. Proxies are switched off for
 * guarded transfers (the proxy would be what is judged, and http_proxy
 * from the environment would route around the rule).
 *
 * A refused address is never connected to: a refused destination fails
 * at once, the same way whether anything listens there or not, and the
 * message names the URL's host, never the address it resolved to:
 *     destination localhost:8080 is not allowed (a private, loopback or
 *     reserved address)
 *
 * An allow entry matches the URL's host as libcurl's URL parser reads it
 * (numeric IPv4 forms become dotted: "2130706433" is "127.0.0.1"; IPv6 in
 * brackets, compressed), compared without regard to case, and, when it
 * names a port, the port connected to. It is judged per connection, so
 * a redirect from an allowed host to another host or port is judged again.
 */
#ifndef HARK_NET_DEST_H
#define HARK_NET_DEST_H

#include "util/err.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define NET_HOST_MAX 256
/* The end of every refusal message, after "destination HOST:PORT ". */
#define NET_DEST_NOT_ALLOWED "is not allowed (a private, loopback or reserved address)"

/* One url_allow entry. */
typedef struct net_allow {
    char host[NET_HOST_MAX]; /* as libcurl's URL parser gives it: "media.lan", "10.0.0.5",
                                "[fd00::5]" */
    unsigned port;           /* 1..65535; 0: any port */
} net_allow;

typedef struct net_dest_policy {
    bool any;         /* no check at all: every address may be reached */
    net_allow *allow; /* n_allow entries (malloc'ed by net_dest_policy_add) */
    size_t n_allow;
} net_dest_policy;

/* The policy with `any` set: for `hark transcribe`, where the URL comes
 * from the user running the command, who can reach those addresses anyway. */
extern const net_dest_policy net_dest_anywhere;

/* Parse "HOST" or "HOST:PORT" into *out: HOST a name or IPv4 address, or
 * an IPv6 address in brackets; PORT 1 to 65535. No scheme, user, path or
 * blanks. Returns 0, or HARK_EINVAL with err saying why ("url_allow" is
 * left to the caller to add). */
int net_allow_parse(const char *spec, net_allow *out, hark_err *err);

/* Append a copy of *a to p's list. 0 or HARK_ENOMEM. */
int net_dest_policy_add(net_dest_policy *p, const net_allow *a, hark_err *err);

/* Free p's list and leave it empty (any cleared). NULL is fine. */
void net_dest_policy_release(net_dest_policy *p);

/* Whether p (NULL: public addresses only) lets a connection for a URL
 * whose host is host (as libcurl's URL parser gives it; may be NULL when
 * unknown) go to the address in sa (len bytes, its port included). */
bool net_dest_allows(const net_dest_policy *p, const char *host, const struct sockaddr *sa,
                     size_t len);

/* Whether p refuses url before any lookup: its host is a numeric address
 * (any spelling libcurl accepts) that p does not allow at the URL's port
 * (80 or 443 when none is written). A name is never refused here: it is
 * judged when connected (the guard). A URL libcurl cannot parse is not
 * refused here either (it fails later, as a bad URL). */
bool net_dest_url_refused(const net_dest_policy *p, const char *url);

/* The guard of one libcurl easy handle. */
typedef struct net_dest_guard {
    const net_dest_policy *policy; /* NULL: public addresses only */
    CURL *h;
    bool refused; /* the last address libcurl asked to connect to was refused */
} net_dest_guard;

/* Judge every connection h makes by p (NULL: public addresses only): set
 * libcurl's open-socket callback (sockets are made close-on-exec) and
 * switch proxies off. g must outlive the transfers of h. */
void net_dest_guard_attach(net_dest_guard *g, const net_dest_policy *p, CURL *h);

/* True when a transfer that ended with rc failed because the guard
 * refused its destination (libcurl then says CURLE_COULDNT_CONNECT). */
bool net_dest_guard_refused(const net_dest_guard *g, CURLcode rc);

#endif
