/* addr_policy_test.c - the class of every range addr_policy.h lists, at
 * its edges, and of loopback in every spelling the resolver accepts
 * (decimal, hex, octal, short forms, IPv4-mapped and other IPv6 forms that
 * carry an IPv4 address), read through getaddrinfo as libcurl reads them. */
#include "net/addr_policy.h"
#include "util/test.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/un.h>

/* The class of host as getaddrinfo reads it; numeric hosts only unless
 * names is set. Every address it gives must be of the same class. */
static addr_class class_of_host(const char *host, bool names)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    hints.ai_flags = names ? 0 : AI_NUMERICHOST;
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, "80", &hints, &res);
    if (rc != 0)
        TEST_FAIL_("getaddrinfo(\"%s\"): %s", host, gai_strerror(rc));
    addr_class c = addr_class_of(res->ai_addr, res->ai_addrlen);
    for (struct addrinfo *ai = res->ai_next; ai; ai = ai->ai_next)
        if (addr_class_of(ai->ai_addr, ai->ai_addrlen) != c)
            TEST_FAIL_("\"%s\" resolves to addresses of different classes", host);
    freeaddrinfo(res);
    return c;
}

#define ASSERT_CLASS(host, want)                                                                   \
    do {                                                                                           \
        addr_class got_ = class_of_host((host), false);                                            \
        if (got_ != (want))                                                                        \
            TEST_FAIL_("%s: %s, want %s", (host), addr_class_name(got_), addr_class_name(want));   \
    } while (0)

static void loopback_in_every_spelling(void)
{
    const char *v4[] = {
        "127.0.0.1",  "127.1",           "127.0.1",    "2130706433",       "0x7f000001",
        "0X7F000001", "0x7f.1",          "0x7f.0.0.1", "017700000001",     "0177.0.0.1",
        "0177.1",     "127.255.255.254", "127.0.0.01", "0x7f.0x0.0x0.0x1",
    };
    for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++)
        ASSERT_CLASS(v4[i], ADDR_LOOPBACK);
    const char *v6[] = {
        "::1",
        "0:0:0:0:0:0:0:1",
        "0000::0001",
        "::ffff:127.0.0.1",
        "::ffff:7f00:1",
        "::FFFF:127.1.2.3",
        "::ffff:0:127.0.0.1",
        "::127.0.0.1",
        "64:ff9b::127.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
        "2002:7f00:0001:ffff::1",
    };
    for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++)
        ASSERT_CLASS(v6[i], ADDR_LOOPBACK);
    /* A name: localhost is loopback (every address it has). */
    ASSERT_EQ(class_of_host("localhost", true), ADDR_LOOPBACK);
}

static void unspecified(void)
{
    const char *all[] = {"0",
                         "0.0.0.0",
                         "0x0",
                         "00",
                         "0.0",
                         "0.1.2.3",
                         "::",
                         "0::0",
                         "::ffff:0.0.0.0",
                         "::0.0.0.7",
                         "64:ff9b::0.0.0.0"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ASSERT_CLASS(all[i], ADDR_UNSPECIFIED);
}

static void private_shared_link_local(void)
{
    ASSERT_CLASS("10.0.0.0", ADDR_PRIVATE);
    ASSERT_CLASS("10.255.255.255", ADDR_PRIVATE);
    ASSERT_CLASS("167772161", ADDR_PRIVATE); /* 10.0.0.1 */
    ASSERT_CLASS("012.1", ADDR_PRIVATE);     /* octal 10.0.0.1 */
    ASSERT_CLASS("9.255.255.255", ADDR_PUBLIC);
    ASSERT_CLASS("11.0.0.0", ADDR_PUBLIC);
    ASSERT_CLASS("172.15.255.255", ADDR_PUBLIC);
    ASSERT_CLASS("172.16.0.0", ADDR_PRIVATE);
    ASSERT_CLASS("172.31.255.255", ADDR_PRIVATE);
    ASSERT_CLASS("172.32.0.0", ADDR_PUBLIC);
    ASSERT_CLASS("192.167.255.255", ADDR_PUBLIC);
    ASSERT_CLASS("192.168.0.0", ADDR_PRIVATE);
    ASSERT_CLASS("0xc0a80101", ADDR_PRIVATE); /* 192.168.1.1 */
    ASSERT_CLASS("192.169.0.0", ADDR_PUBLIC);
    ASSERT_CLASS("100.63.255.255", ADDR_PUBLIC);
    ASSERT_CLASS("100.64.0.0", ADDR_SHARED);
    ASSERT_CLASS("100.127.255.255", ADDR_SHARED);
    ASSERT_CLASS("100.128.0.0", ADDR_PUBLIC);
    ASSERT_CLASS("169.253.255.255", ADDR_PUBLIC);
    ASSERT_CLASS("169.254.169.254", ADDR_LINK_LOCAL); /* cloud metadata */
    ASSERT_CLASS("2852039166", ADDR_LINK_LOCAL);      /* the same, in decimal */
    ASSERT_CLASS("169.255.0.0", ADDR_PUBLIC);
    ASSERT_CLASS("fc00::", ADDR_PRIVATE);
    ASSERT_CLASS("fdff:ffff::1", ADDR_PRIVATE);
    ASSERT_CLASS("fbff:ffff::1", ADDR_PUBLIC);
    ASSERT_CLASS("fe00::1", ADDR_PUBLIC);
    ASSERT_CLASS("fe80::1", ADDR_LINK_LOCAL);
    ASSERT_CLASS("fe80::1%1", ADDR_LINK_LOCAL); /* with a scope */
    ASSERT_CLASS("febf:ffff::1", ADDR_LINK_LOCAL);
    ASSERT_CLASS("::ffff:10.1.2.3", ADDR_PRIVATE);
    ASSERT_CLASS("::ffff:169.254.169.254", ADDR_LINK_LOCAL);
    ASSERT_CLASS("::ffff:100.64.0.1", ADDR_SHARED);
    ASSERT_CLASS("64:ff9b::a9fe:a9fe", ADDR_LINK_LOCAL);
    ASSERT_CLASS("2002:c0a8:0101::1", ADDR_PRIVATE); /* 6to4 of 192.168.1.1 */
    ASSERT_CLASS("2002:a9fe:a9fe::", ADDR_LINK_LOCAL);
}

static void multicast_and_reserved(void)
{
    ASSERT_CLASS("223.255.255.255", ADDR_PUBLIC);
    ASSERT_CLASS("224.0.0.0", ADDR_MULTICAST);
    ASSERT_CLASS("239.255.255.255", ADDR_MULTICAST);
    ASSERT_CLASS("240.0.0.0", ADDR_RESERVED);
    ASSERT_CLASS("255.255.255.255", ADDR_RESERVED);
    ASSERT_CLASS("4294967295", ADDR_RESERVED);
    ASSERT_CLASS("192.0.0.0", ADDR_RESERVED);
    ASSERT_CLASS("192.0.0.255", ADDR_RESERVED);
    ASSERT_CLASS("192.0.1.0", ADDR_PUBLIC);
    ASSERT_CLASS("198.17.255.255", ADDR_PUBLIC);
    ASSERT_CLASS("198.18.0.0", ADDR_RESERVED);
    ASSERT_CLASS("198.19.255.255", ADDR_RESERVED);
    ASSERT_CLASS("198.20.0.0", ADDR_PUBLIC);
    ASSERT_CLASS("ff02::1", ADDR_MULTICAST);
    ASSERT_CLASS("ff00::", ADDR_MULTICAST);
    ASSERT_CLASS("::ffff:224.0.0.1", ADDR_MULTICAST);
    ASSERT_CLASS("fec0::1", ADDR_RESERVED);
    ASSERT_CLASS("feff::1", ADDR_RESERVED);
    ASSERT_CLASS("64:ff9b:1::1", ADDR_RESERVED);
    ASSERT_CLASS("::ffff:255.255.255.255", ADDR_RESERVED);
}

static void public_addresses(void)
{
    const char *all[] = {"8.8.8.8",         "1.1.1.1",          "134744072" /* 8.8.8.8 */,
                         "93.184.216.34",   "2606:4700::1111",  "2001:4860:4860::8888",
                         "::ffff:8.8.8.8",  "64:ff9b::8.8.8.8", "2002:0808:0808::1",
                         "::8.8.8.8",       "2a00:1450::1",     "1.0.0.0",
                         "126.255.255.255", "128.0.0.0",        "::ffff:0:8.8.8.8"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ASSERT_CLASS(all[i], ADDR_PUBLIC);
}

static void sockaddrs(void)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(80)};
    in.sin_addr.s_addr = htonl(0x7f000001);
    ASSERT_EQ(addr_class_of((struct sockaddr *)&in, sizeof in), ADDR_LOOPBACK);
    /* Too short for its family, another family, NULL: never public. */
    ASSERT_EQ(addr_class_of((struct sockaddr *)&in, sizeof in - 1), ADDR_RESERVED);
    in.sin_addr.s_addr = htonl(0x08080808);
    ASSERT_EQ(addr_class_of((struct sockaddr *)&in, sizeof in), ADDR_PUBLIC);
    ASSERT_EQ(addr_class_of((struct sockaddr *)&in, 2), ADDR_RESERVED);
    struct sockaddr_un un = {.sun_family = AF_UNIX, .sun_path = "/run/x.sock"};
    ASSERT_EQ(addr_class_of((struct sockaddr *)&un, sizeof un), ADDR_RESERVED);
    ASSERT_EQ(addr_class_of(NULL, 0), ADDR_RESERVED);
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    ASSERT_EQ(inet_pton(AF_INET6, "2606:4700::1111", &in6.sin6_addr), 1);
    ASSERT_EQ(addr_class_of((struct sockaddr *)&in6, sizeof in6), ADDR_PUBLIC);
    ASSERT_EQ(addr_class_of((struct sockaddr *)&in6, sizeof(struct sockaddr_in)), ADDR_RESERVED);

    ASSERT_STREQ(addr_class_name(ADDR_LOOPBACK), "loopback");
    ASSERT_STREQ(addr_class_name(ADDR_LINK_LOCAL), "link-local");
    ASSERT_STREQ(addr_class_name((addr_class)99), "reserved");
}

int main(void)
{
    RUN(loopback_in_every_spelling);
    RUN(unspecified);
    RUN(private_shared_link_local);
    RUN(multicast_and_reserved);
    RUN(public_addresses);
    RUN(sockaddrs);
    TEST_DONE();
}
