/* addr_policy.h - which IP addresses hark's outbound requests may reach.
 *
 * URL inputs and webhooks are requests hark makes on a client's behalf.
 * Unchecked, they reach whatever the server can: its own loopback
 * services, the cloud metadata address, the private network behind it
 * (server-side request forgery). This module is the table of what is not
 * a public destination, judged on the address itself (a sockaddr or its
 * bytes), never on how a URL spelled its host: decimal (2130706433), hex
 * (0x7f000001), octal (0177.0.0.1), short (127.1), IPv4-mapped
 * ([::ffff:127.0.0.1]) and DNS names all arrive here as the same bytes.
 * net/dest.h applies it to the address libcurl is about to connect to.
 *
 * Not public (the class it gets):
 *   IPv4  0.0.0.0/8 unspecified      127.0.0.0/8 loopback
 *         10/8, 172.16/12, 192.168/16 private
 *         100.64.0.0/10 shared (carrier-grade NAT)
 *         169.254.0.0/16 link-local  224.0.0.0/4 multicast
 *         192.0.0.0/24, 198.18.0.0/15 (benchmarking), 240.0.0.0/4 (with
 *         255.255.255.255) reserved
 *   IPv6  :: unspecified, ::1 loopback, fc00::/7 private, fe80::/10
 *         link-local, fec0::/10 (old site-local) reserved, ff00::/8
 *         multicast, 64:ff9b:1::/48 (local-use NAT64) reserved; and an
 *         IPv4 address carried inside an IPv6 one is judged as that IPv4
 *         address: ::ffff:0:0/96 (IPv4-mapped), ::ffff:0:0:0/96
 *         (IPv4-translated), ::/96 (IPv4-compatible), 64:ff9b::/96 (NAT64),
 *         2002::/16 (6to4, bits 16-47).
 *   Any other address family is reserved.
 * Everything else is public.
 *
 * Pure functions: no state, no allocation, no system calls.
 */
#ifndef HARK_NET_ADDR_POLICY_H
#define HARK_NET_ADDR_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef enum addr_class {
    ADDR_PUBLIC = 0,
    ADDR_UNSPECIFIED, /* 0.0.0.0/8, :: */
    ADDR_LOOPBACK,    /* 127.0.0.0/8, ::1 */
    ADDR_PRIVATE,     /* 10/8, 172.16/12, 192.168/16, fc00::/7 */
    ADDR_SHARED,      /* 100.64.0.0/10 */
    ADDR_LINK_LOCAL,  /* 169.254.0.0/16, fe80::/10 */
    ADDR_MULTICAST,   /* 224.0.0.0/4, ff00::/8 */
    ADDR_RESERVED,    /* the rest of the list above, and unknown families */
} addr_class;

/* The class of IPv4 address a, in host byte order (127.0.0.1 = 0x7f000001). */
addr_class addr_class_v4(uint32_t a);

/* The class of the IPv6 address in the 16 bytes at a (network order). */
addr_class addr_class_v6(const unsigned char a[16]);

/* The class of the address in sa (len bytes): AF_INET and AF_INET6 by
 * their address (port and scope ignored); anything else, or a len too
 * short for its family, is ADDR_RESERVED. */
addr_class addr_class_of(const struct sockaddr *sa, size_t len);

/* "public", "unspecified", "loopback", "private", "shared", "link-local",
 * "multicast", "reserved". Never NULL. */
const char *addr_class_name(addr_class c);

#endif
