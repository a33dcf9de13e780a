/* dest_test.c - the allow list without a network: url_allow entries as
 * libcurl's URL parser reads them, the decision for an address and a URL
 * host, and the check a submit makes of numeric hosts in every spelling.
 * (The guard on real connections is fetch_test's and webhook_test's.) */
#include "net/dest.h"
#include "util/test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static void allow_entries(void)
{
    net_allow a;
    hark_err err = {0};
    ASSERT_EQ(net_allow_parse("media.lan", &a, &err), 0);
    ASSERT_STREQ(a.host, "media.lan");
    ASSERT_EQ(a.port, 0);
    ASSERT_EQ(net_allow_parse("Media.LAN:8080", &a, &err), 0);
    ASSERT_STREQ(a.host, "Media.LAN"); /* compared without case */
    ASSERT_EQ(a.port, 8080);
    /* Numeric IPv4 forms become what libcurl shows for a URL with them. */
    ASSERT_EQ(net_allow_parse("2130706433:1", &a, &err), 0);
    ASSERT_STREQ(a.host, "127.0.0.1");
    ASSERT_EQ(net_allow_parse("0x0a.1", &a, &err), 0);
    ASSERT_STREQ(a.host, "10.0.0.1");
    ASSERT_EQ(net_allow_parse("[0:0:0:0:0:0:0:1]:65535", &a, &err), 0);
    ASSERT_STREQ(a.host, "[::1]");
    ASSERT_EQ(a.port, 65535);
    ASSERT_EQ(net_allow_parse("[fd00::5]", &a, &err), 0);
    ASSERT_STREQ(a.host, "[fd00::5]");

    const char *bad[] = {"",      "http://h/",  "h/x",      "u@h",    "h:0",      "h:65536", "h:",
                         "h:1:2", "fd00::5",    "[fd00::5", "[]",     "[x]]:1",   ":80",     "h h",
                         "h\n",   "[zz::1]:80", "h:+80",    "h:0x50", "h%25eth0", "*.lan"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_clear(&err);
        if (net_allow_parse(bad[i], &a, &err) != HARK_EINVAL)
            TEST_FAIL_("\"%s\" was accepted", bad[i]);
        ASSERT(err.msg[0]);
        ASSERT_STREQ(a.host, "");
    }
    char long_host[NET_HOST_MAX + 2];
    memset(long_host, 'a', sizeof long_host - 1);
    long_host[sizeof long_host - 1] = '\0';
    ASSERT_EQ(net_allow_parse(long_host, &a, &err), HARK_EINVAL);
}

static struct sockaddr_in v4(const char *addr, unsigned port)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    ASSERT_EQ(inet_pton(AF_INET, addr, &in.sin_addr), 1);
    return in;
}

static void decisions(void)
{
    struct sockaddr_in lo = v4("127.0.0.1", 8080), pub = v4("93.184.216.34", 80);
    const struct sockaddr *lo_sa = (const struct sockaddr *)&lo;
    /* Public: anyone; not public: nobody, by default. */
    ASSERT(net_dest_allows(NULL, NULL, (const struct sockaddr *)&pub, sizeof pub));
    ASSERT(!net_dest_allows(NULL, "localhost", lo_sa, sizeof lo));
    ASSERT(net_dest_allows(&net_dest_anywhere, NULL, lo_sa, sizeof lo));

    net_dest_policy p = {0};
    net_allow a;
    ASSERT_EQ(net_allow_parse("media.lan:8080", &a, NULL), 0);
    ASSERT_EQ(net_dest_policy_add(&p, &a, NULL), 0);
    ASSERT_EQ(net_allow_parse("127.0.0.1", &a, NULL), 0);
    ASSERT_EQ(net_dest_policy_add(&p, &a, NULL), 0);
    ASSERT(net_dest_allows(&p, "media.lan", lo_sa, sizeof lo));
    ASSERT(net_dest_allows(&p, "MEDIA.lan", lo_sa, sizeof lo));
    ASSERT(net_dest_allows(&p, "127.0.0.1", lo_sa, sizeof lo));
    struct sockaddr_in lo81 = v4("127.0.0.1", 81);
    ASSERT(!net_dest_allows(&p, "media.lan", (const struct sockaddr *)&lo81, sizeof lo81));
    ASSERT(net_dest_allows(&p, "127.0.0.1", (const struct sockaddr *)&lo81, sizeof lo81));
    ASSERT(!net_dest_allows(&p, "localhost", lo_sa, sizeof lo));
    ASSERT(!net_dest_allows(&p, "media.lan.", lo_sa, sizeof lo)); /* as written */
    ASSERT(!net_dest_allows(&p, NULL, lo_sa, sizeof lo));
    ASSERT(!net_dest_allows(&p, "", lo_sa, sizeof lo));
    net_dest_policy_release(&p);
    ASSERT(p.allow == NULL && p.n_allow == 0);
    net_dest_policy_release(NULL);
}

/* What a submit refuses before anything is queued: numeric hosts. */
static void urls_at_submit(void)
{
    const char *refused[] = {
        "http://127.0.0.1/x",
        "http://u:p@127.0.0.1:8080/x?q=1",
        "http://2130706433/x",
        "http://0x7f000001/x",
        "http://0x7f.1/x",
        "http://017700000001/x",
        "http://0177.0.0.1/x",
        "http://127.1/x",
        "http://0/x",
        "http://0.0.0.0:9/x",
        "https://[::1]/x",
        "http://[0:0:0:0:0:0:0:1]:80/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://[::FFFF:7f00:1]/x",
        "http://[::]/x",
        "http://[64:ff9b::a9fe:a9fe]/latest",
        "http://[2002:a00:1::]/x",
        "http://[fe80::1%25eth0]/x",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "HTTP://192.168.1.1/x",
        "http://100.64.0.1/x",
        "http://224.0.0.1/x",
        "http://255.255.255.255/x",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (!net_dest_url_refused(NULL, refused[i]))
            TEST_FAIL_("%s was not refused", refused[i]);
    /* Names wait for the connect; public addresses and unparsable URLs pass. */
    const char *passed[] = {"http://localhost/x",
                            "http://example.com/x",
                            "http://93.184.216.34/x",
                            "http://[2606:4700::1111]/x",
                            "http://[::ffff:8.8.8.8]/x",
                            "http://exa mple/x",
                            "not a url"};
    for (size_t i = 0; i < sizeof passed / sizeof passed[0]; i++)
        if (net_dest_url_refused(NULL, passed[i]))
            TEST_FAIL_("%s was refused", passed[i]);

    /* The allow list, at the URL's port (the scheme's default if none). */
    net_dest_policy p = {0};
    net_allow a;
    ASSERT_EQ(net_allow_parse("127.0.0.1:80", &a, NULL), 0);
    ASSERT_EQ(net_dest_policy_add(&p, &a, NULL), 0);
    ASSERT_EQ(net_allow_parse("[fd00::5]", &a, NULL), 0);
    ASSERT_EQ(net_dest_policy_add(&p, &a, NULL), 0);
    ASSERT(!net_dest_url_refused(&p, "http://127.0.0.1/x"));
    ASSERT(!net_dest_url_refused(&p, "http://2130706433:80/x"));
    ASSERT(net_dest_url_refused(&p, "https://127.0.0.1/x")); /* 443 */
    ASSERT(net_dest_url_refused(&p, "http://127.0.0.1:8080/x"));
    ASSERT(!net_dest_url_refused(&p, "http://[fd00::5]:9/x"));
    ASSERT(!net_dest_url_refused(&p, "http://[FD00:0::5]/x"));
    ASSERT(net_dest_url_refused(&p, "http://[fd00::6]/x"));
    ASSERT(!net_dest_url_refused(&net_dest_anywhere, "http://127.0.0.1:8080/x"));
    net_dest_policy_release(&p);
}

int main(void)
{
    RUN(allow_entries);
    RUN(decisions);
    RUN(urls_at_submit);
    TEST_DONE();
}
