/* listen_addr.h - the server's listening socket: "HOST:PORT".
 *
 * HOST is an IP address (IPv6 in brackets) or "localhost" (127.0.0.1).
 * Without API tokens the server must never be reachable from another
 * machine, so unless any_host is set (tokens are configured) HOST must be
 * in 127.0.0.0/8 or "::1". The socket is bound here, not by libmicrohttpd,
 * so a bind failure can name its cause.
 */
#ifndef HARK_SERVER_LISTEN_ADDR_H
#define HARK_SERVER_LISTEN_ADDR_H

#include "util/err.h"

#include <stdbool.h>

/* Bind and listen on spec. 0 with *fd (CLOEXEC) and *port (the bound one,
 * useful with port 0) set and *ipv6 saying the family; HARK_EINVAL for a
 * malformed or non-loopback spec, HARK_EIO when it cannot be bound. */
int listen_open(const char *spec, bool any_host, int *fd, int *port, bool *ipv6, hark_err *err);

#endif
