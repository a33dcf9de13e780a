/* listen_addr.h - the server's listening socket: "HOST:PORT", loopback only.
 *
 * This version has no authentication, so it must never be reachable from
 * another machine: HOST must be an IPv4 address in 127.0.0.0/8, "::1" (also
 * written "[::1]") or "localhost" (127.0.0.1). The socket is bound here, not
 * by libmicrohttpd, so a bind failure can name its cause.
 */
#ifndef HARK_SERVER_LISTEN_ADDR_H
#define HARK_SERVER_LISTEN_ADDR_H

#include "util/err.h"

#include <stdbool.h>

/* Bind and listen on spec. 0 with *fd (CLOEXEC) and *port (the bound one,
 * useful with port 0) set and *ipv6 saying the family; HARK_EINVAL for a
 * malformed or non-loopback spec, HARK_EIO when it cannot be bound. */
int listen_open(const char *spec, int *fd, int *port, bool *ipv6, hark_err *err);

#endif
