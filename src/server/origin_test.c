/* origin_test.c - the Host and Origin rules of origin.h, spelling by
 * spelling. */
#include "server/origin.h"

#include "util/test.h"

#include <string.h>
#include <unistd.h>

static origin_policy policy(const char *const *hosts, size_t nh, const char *const *origins,
                            size_t no)
{
    origin_policy p;
    hark_err err = {0};
    if (origin_policy_init(&p, hosts, nh, origins, no, &err))
        TEST_FAIL_("origin_policy_init: %s", err.msg);
    return p;
}

static void test_hosts_served_by_default(void)
{
    origin_policy p = policy(NULL, 0, NULL, 0);
    const char *yes[] = {"127.0.0.1:8090",     "127.0.0.1", "10.1.2.3:80",
                         "[::1]:8090",         "[::1]",     "[fe80::1%25eth0]:8090",
                         "localhost:8090",     "LOCALHOST", "localhost.",
                         "app.localhost:3000", NULL};
    for (int i = 0; yes[i]; i++)
        if (!origin_host_allowed(&p, yes[i]))
            TEST_FAIL_("host '%s' refused", yes[i]);
    ASSERT(origin_host_allowed(&p, NULL)); /* HTTP/1.0 without Host: not a browser */
    /* DNS rebinding: the attacker's name, whatever it resolves to. */
    const char *no[] = {"evil.example:8090",
                        "evil.example",
                        "127.0.0.1.nip.io:8090",
                        "localhost.evil.example",
                        "evillocalhost",
                        "",
                        ":8090",
                        "127.0.0.1:99999",
                        "127.0.0.1:80x",
                        "[::1",
                        "::1",
                        "a b",
                        "host/path",
                        "user@127.0.0.1",
                        NULL};
    for (int i = 0; no[i]; i++)
        if (origin_host_allowed(&p, no[i]))
            TEST_FAIL_("host '%s' allowed", no[i]);
    origin_policy_release(&p);
}

static void test_machine_name_and_configured_hosts(void)
{
    const char *hosts[] = {"hark.example.com", "Transcribe.Local"};
    origin_policy p = policy(hosts, 2, NULL, 0);
    ASSERT(origin_host_allowed(&p, "hark.example.com"));
    ASSERT(origin_host_allowed(&p, "HARK.example.com:8443"));
    ASSERT(origin_host_allowed(&p, "transcribe.local."));
    ASSERT(!origin_host_allowed(&p, "sub.hark.example.com"));
    char name[256];
    if (gethostname(name, sizeof name) == 0 && name[0]) {
        char h[300];
        snprintf(h, sizeof h, "%s:8090", name);
        ASSERT(origin_host_allowed(&p, h));
    }
    origin_policy_release(&p);
    const char *any[] = {"*"};
    p = policy(any, 1, NULL, 0);
    ASSERT(origin_host_allowed(&p, "anything.example:1"));
    ASSERT(!origin_host_allowed(&p, "not a host"));
    origin_policy_release(&p);
}

static void test_bad_configuration(void)
{
    origin_policy p;
    hark_err err = {0};
    const char *bad_host[] = {"host:8090"};
    ASSERT_EQ(origin_policy_init(&p, bad_host, 1, NULL, 0, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "host:8090"));
    const char *bad_origins[] = {
        "example.com", "ftp://example.com",       "https://example.com/app",
        "http://",     "http://user@example.com", "null"};
    for (size_t i = 0; i < sizeof bad_origins / sizeof *bad_origins; i++) {
        ASSERT_EQ(origin_policy_init(&p, NULL, 0, &bad_origins[i], 1, &err), HARK_EINVAL);
        ASSERT(strstr(err.msg, "cors_origin"));
    }
}

static void test_origins(void)
{
    const char *origins[] = {"https://app.example.com", "http://localhost:5173",
                             "HTTP://Tools.Example.com:80"};
    origin_policy p = policy(NULL, 0, origins, 3);
    const char *host = "127.0.0.1:8090";
    ASSERT_EQ(origin_check(&p, NULL, host), ORIGIN_ABSENT);
    ASSERT_EQ(origin_check(&p, "http://127.0.0.1:8090", host), ORIGIN_SAME);
    ASSERT_EQ(origin_check(&p, "http://localhost:8090", "localhost:8090"), ORIGIN_SAME);
    ASSERT_EQ(origin_check(&p, "https://hark.example.com", "hark.example.com"), ORIGIN_SAME);
    ASSERT_EQ(origin_check(&p, "http://[::1]:8090", "[::1]:8090"), ORIGIN_SAME);
    ASSERT_EQ(origin_check(&p, "https://app.example.com", host), ORIGIN_ALLOWED);
    ASSERT_EQ(origin_check(&p, "https://APP.example.com:443", host), ORIGIN_ALLOWED);
    ASSERT_EQ(origin_check(&p, "http://localhost:5173", host), ORIGIN_ALLOWED);
    ASSERT_EQ(origin_check(&p, "http://tools.example.com", host), ORIGIN_ALLOWED);
    /* Same host, another port: another origin. The scheme is not compared:
     * behind a TLS proxy the page is https and the daemon sees plain HTTP,
     * and no other server can answer on the daemon's own host and port. */
    ASSERT_EQ(origin_check(&p, "http://127.0.0.1:8091", host), ORIGIN_REFUSED);
    ASSERT_EQ(origin_check(&p, "https://127.0.0.1:8090", host), ORIGIN_SAME);
    ASSERT_EQ(origin_check(&p, "http://app.example.com", host), ORIGIN_REFUSED);
    ASSERT_EQ(origin_check(&p, "https://app.example.com:8443", host), ORIGIN_REFUSED);
    ASSERT_EQ(origin_check(&p, "https://evil.example", host), ORIGIN_REFUSED);
    ASSERT_EQ(origin_check(&p, "https://app.example.com.evil.example", host), ORIGIN_REFUSED);
    ASSERT_EQ(origin_check(&p, "null", host), ORIGIN_REFUSED);
    ASSERT_EQ(origin_check(&p, "", host), ORIGIN_REFUSED);
    ASSERT_EQ(origin_check(&p, "https://app.example.com/", host), ORIGIN_REFUSED);
    origin_policy_release(&p);
    const char *any[] = {"*"};
    p = policy(NULL, 0, any, 1);
    ASSERT_EQ(origin_check(&p, "https://evil.example", host), ORIGIN_ALLOWED);
    ASSERT_EQ(origin_check(&p, "null", host), ORIGIN_REFUSED);
    origin_policy_release(&p);
}

static void test_unsafe_methods(void)
{
    ASSERT(!origin_method_unsafe("GET"));
    ASSERT(!origin_method_unsafe("HEAD"));
    ASSERT(!origin_method_unsafe("OPTIONS"));
    ASSERT(origin_method_unsafe("POST"));
    ASSERT(origin_method_unsafe("DELETE"));
    ASSERT(origin_method_unsafe("PUT"));
    ASSERT(origin_method_unsafe("PATCH"));
}

int main(void)
{
    RUN(test_hosts_served_by_default);
    RUN(test_machine_name_and_configured_hosts);
    RUN(test_bad_configuration);
    RUN(test_origins);
    RUN(test_unsafe_methods);
    TEST_DONE();
}
