/* addr_policy.c - see addr_policy.h. */
#include "net/addr_policy.h"

#include <netinet/in.h>
#include <string.h>

/* True when the top `bits` bits of a equal those of net. */
static int in_v4(uint32_t a, uint32_t net, int bits)
{
    uint32_t mask = bits == 0 ? 0 : ~(uint32_t)0 << (32 - bits);
    return (a & mask) == (net & mask);
}

addr_class addr_class_v4(uint32_t a)
{
    if (in_v4(a, 0x00000000, 8))
        return ADDR_UNSPECIFIED;
    if (in_v4(a, 0x7f000000, 8))
        return ADDR_LOOPBACK;
    if (in_v4(a, 0x0a000000, 8) || in_v4(a, 0xac100000, 12) || in_v4(a, 0xc0a80000, 16))
        return ADDR_PRIVATE;
    if (in_v4(a, 0x64400000, 10))
        return ADDR_SHARED;
    if (in_v4(a, 0xa9fe0000, 16))
        return ADDR_LINK_LOCAL;
    if (in_v4(a, 0xe0000000, 4))
        return ADDR_MULTICAST;
    if (in_v4(a, 0xc0000000, 24) || in_v4(a, 0xc6120000, 15) || in_v4(a, 0xf0000000, 4))
        return ADDR_RESERVED; /* 240/4 holds 255.255.255.255 */
    return ADDR_PUBLIC;
}

/* The IPv4 address in the 4 bytes at p (network order), in host order. */
static uint32_t v4_at(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* True when the first n bytes of a are prefix's. */
static int starts(const unsigned char a[16], const unsigned char *prefix, size_t n)
{
    return memcmp(a, prefix, n) == 0;
}

addr_class addr_class_v6(const unsigned char a[16])
{
    static const unsigned char zero[12] = {0};
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char translated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char nat64_local[6] = {0, 0x64, 0xff, 0x9b, 0, 1};

    /* ::/96 holds :: and ::1 as well as the old IPv4-compatible form:
     * as IPv4 they are 0.0.0.0 and 0.0.0.1, both in 0/8. */
    if (starts(a, zero, 12)) {
        if (v4_at(a + 12) == 0)
            return ADDR_UNSPECIFIED;
        if (v4_at(a + 12) == 1)
            return ADDR_LOOPBACK;
        return addr_class_v4(v4_at(a + 12));
    }
    if (starts(a, mapped, 12) || starts(a, translated, 12) || starts(a, nat64, 12))
        return addr_class_v4(v4_at(a + 12));
    if (a[0] == 0x20 && a[1] == 0x02) /* 6to4: 2002:AABB:CCDD::/48 */
        return addr_class_v4(v4_at(a + 2));
    if (starts(a, nat64_local, 6))
        return ADDR_RESERVED;
    if ((a[0] & 0xfe) == 0xfc)
        return ADDR_PRIVATE;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return ADDR_LINK_LOCAL;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
        return ADDR_RESERVED;
    if (a[0] == 0xff)
        return ADDR_MULTICAST;
    return ADDR_PUBLIC;
}

addr_class addr_class_of(const struct sockaddr *sa, size_t len)
{
    if (!sa)
        return ADDR_RESERVED;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return addr_class_v4(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return addr_class_v6(in6->sin6_addr.s6_addr);
    }
    return ADDR_RESERVED;
}

const char *addr_class_name(addr_class c)
{
    switch (c) {
    case ADDR_PUBLIC:
        return "public";
    case ADDR_UNSPECIFIED:
        return "unspecified";
    case ADDR_LOOPBACK:
        return "loopback";
    case ADDR_PRIVATE:
        return "private";
    case ADDR_SHARED:
        return "shared";
    case ADDR_LINK_LOCAL:
        return "link-local";
    case ADDR_MULTICAST:
        return "multicast";
    default:
        return "reserved";
    }
}
