#include "auth/serve_config.h"

#include "store/store.h"
#include "util/test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

/* Tests run in a fresh temporary working directory (test.h). */

#define SECRET_A "aaaaaaaaaaaaaaaa-secret-A"
#define SECRET_B "bbbbbbbbbbbbbbbb-secret-B"

static void parse_ok_(int line, const char *text, size_t len, serve_config *cfg)
{
    hark_err err;
    err_clear(&err);
    serve_config_init(cfg);
    int rc = serve_config_parse(text, len, "hark.conf", cfg, &err);
    if (rc != 0)
        TEST_FAIL_("line %d: parse failed (%d): %s", line, rc, err.msg);
}
#define PARSE_OK(text, cfg) parse_ok_(__LINE__, (text), strlen(text), (cfg))

/* text must fail with exactly the message want, leaving the config empty. */
static void expect_err_(int line, const char *text, size_t len, const char *want)
{
    serve_config cfg;
    hark_err err;
    err_clear(&err);
    serve_config_init(&cfg);
    int rc = serve_config_parse(text, len, "hark.conf", &cfg, &err);
    if (rc != HARK_EINVAL || strcmp(err.msg, want) != 0)
        TEST_FAIL_("line %d: rc %d, message\n  \"%s\"\nwanted\n  \"%s\"", line, rc, err.msg, want);
    if (cfg.tokens || cfg.n_tokens || cfg.roots || cfg.listen || cfg.source || cfg.webhook_secret ||
        cfg.url_allow || cfg.n_url_allow || cfg.workers != -1)
        TEST_FAIL_("line %d: the config is not empty after an error", line);
    /* No message ever quotes a secret. */
    if (strstr(err.msg, "-secret-"))
        TEST_FAIL_("line %d: the message shows a secret: %s", line, err.msg);
    serve_config_release(&cfg);
}
#define EXPECT_ERR(text, want) expect_err_(__LINE__, (text), strlen(text), (want))

static void test_every_key(void)
{
    serve_config cfg;
    PARSE_OK("# hark serve\n"
             "\n"
             "listen = 127.0.0.1:8090\n"
             "state_dir=/var/lib/hark\n"
             "\tworkers   =\t8  \n"
             "max_upload = 2G\n"
             "max_body = 64K\n"
             "timeout = 90.5\n"
             "max_duration = 43200\n"
             "root = /srv/audio\n"
             "root = /home/me/Music dir\n"
             "queue_limit.realtime = 4\n"
             "queue_limit.high = 100\n"
             "queue_limit.normal = 0\n"
             "queue_limit.low = 2147483647\n"
             "log_format = json\n"
             "webhook_secret = whsec-0123456789abcdef#not-a-comment\n"
             "url_max_bytes = 512M\n"
             "url_timeout = 30\n"
             "url_allow = Media.LAN:8080\n"
             "keep_inputs = no\n"
             "job_retention = 7d\n"
             "\n"
             "[token ci]\n"
             "secret = " SECRET_A "\n"
             "max_priority = high\n"
             "  [ token  batch.nightly_2-x ]  \n"
             "# a comment inside a section\n"
             "secret = " SECRET_B "\n",
             &cfg);
    ASSERT_STREQ(cfg.listen, "127.0.0.1:8090");
    ASSERT_STREQ(cfg.state_dir, "/var/lib/hark");
    ASSERT_EQ(cfg.workers, 8);
    ASSERT_EQ(cfg.max_upload, 2LL << 30);
    ASSERT_EQ(cfg.max_body, 64 << 10);
    ASSERT_NEAR(cfg.timeout_s, 90.5, 0);
    ASSERT_NEAR(cfg.max_duration_s, 43200, 0);
    ASSERT_EQ(cfg.n_roots, 2);
    ASSERT_STREQ(cfg.roots[0], "/srv/audio");
    ASSERT_STREQ(cfg.roots[1], "/home/me/Music dir");
    ASSERT_EQ(cfg.queue_limit[STORE_PRIO_REALTIME], 4);
    ASSERT_EQ(cfg.queue_limit[STORE_PRIO_HIGH], 100);
    ASSERT_EQ(cfg.queue_limit[STORE_PRIO_NORMAL], 0);
    ASSERT_EQ(cfg.queue_limit[STORE_PRIO_LOW], INT_MAX);
    ASSERT_EQ(cfg.log_format, SERVE_LOG_JSON);
    ASSERT_STREQ(serve_log_format_name(cfg.log_format), "json");
    ASSERT_STREQ(cfg.webhook_secret, "whsec-0123456789abcdef#not-a-comment");
    ASSERT_EQ(cfg.url_max_bytes, 512LL << 20);
    ASSERT_NEAR(cfg.url_timeout_s, 30, 0);
    ASSERT_EQ(cfg.n_url_allow, 1);
    ASSERT_STREQ(cfg.url_allow[0], "Media.LAN:8080"); /* as written */
    ASSERT_EQ(cfg.keep_inputs, 0);
    ASSERT_NEAR(cfg.job_retention_s, 7 * 86400.0, 0);
    ASSERT_EQ(cfg.n_tokens, 2);
    ASSERT_STREQ(cfg.tokens[0].name, "ci");
    ASSERT_STREQ(cfg.tokens[0].secret, SECRET_A);
    ASSERT_EQ(cfg.tokens[0].max_priority, STORE_PRIO_HIGH);
    ASSERT_EQ(cfg.tokens[0].where, 24);
    ASSERT(!cfg.tokens[0].from_env);
    ASSERT_STREQ(cfg.tokens[1].name, "batch.nightly_2-x");
    ASSERT_EQ(cfg.tokens[1].max_priority, STORE_PRIO_NORMAL); /* the default */
    ASSERT_EQ(cfg.tokens[1].where, 27);
    ASSERT_STREQ(cfg.source, "hark.conf");
    ASSERT(!cfg.has_mode); /* parsed from memory */
    serve_config_release(&cfg);
    ASSERT(cfg.tokens == NULL && cfg.n_tokens == 0 && cfg.listen == NULL && cfg.workers == -1);
    serve_config_release(&cfg); /* twice is fine */
    serve_config_release(NULL);
}

/* Several machines: the store's location, the shared directory, the node's
 * name and its machine's (a token name's rule: they show in logs and metric
 * labels). */
static void test_cluster_keys(void)
{
    serve_config cfg;
    PARSE_OK("store = postgresql://hark@db.lan/hark?sslmode=require\n"
             "shared_dir = /mnt/hark\n"
             "node = asr-1.rack_2\n"
             "machine = rack_2-host7\n",
             &cfg);
    ASSERT_STREQ(cfg.store, "postgresql://hark@db.lan/hark?sslmode=require");
    ASSERT_STREQ(cfg.shared_dir, "/mnt/hark");
    ASSERT_STREQ(cfg.node, "asr-1.rack_2");
    ASSERT_STREQ(cfg.machine, "rack_2-host7");
    serve_config_release(&cfg);
    PARSE_OK("", &cfg);
    ASSERT(cfg.store == NULL && cfg.shared_dir == NULL && cfg.node == NULL && cfg.machine == NULL);
    serve_config_release(&cfg);
    EXPECT_ERR("node = a b\n",
               "hark.conf:1: node: bad name \"a b\" (1 to 64 of A-Z a-z 0-9 . _ -)");
    EXPECT_ERR("machine = host/1\n",
               "hark.conf:1: machine: bad name \"host/1\" (1 to 64 of A-Z a-z 0-9 . _ -)");
    EXPECT_ERR("store = /a\nstore = /b\n",
               "hark.conf:2: duplicate key \"store\" (first set on line 1)");
}

static void test_empty_means_unset(void)
{
    const char *texts[] = {"", "\n\n", "# only a comment\n   \n\t# indented\n", "\r\n"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        serve_config cfg;
        PARSE_OK(texts[i], &cfg);
        ASSERT(cfg.listen == NULL && cfg.state_dir == NULL && cfg.webhook_secret == NULL);
        ASSERT_EQ(cfg.workers, -1);
        ASSERT_EQ(cfg.max_upload, -1);
        ASSERT_EQ(cfg.max_body, -1);
        ASSERT_EQ(cfg.url_max_bytes, -1);
        ASSERT_EQ(cfg.timeout_s, -1);
        ASSERT_EQ(cfg.max_duration_s, -1);
        ASSERT_EQ(cfg.url_timeout_s, -1);
        ASSERT_EQ(cfg.keep_inputs, -1);
        ASSERT_EQ(cfg.job_retention_s, -1);
        for (int p = 0; p < SERVE_CONFIG_N_PRIOS; p++)
            ASSERT_EQ(cfg.queue_limit[p], -1);
        ASSERT_EQ(cfg.log_format, SERVE_LOG_UNSET);
        ASSERT(serve_log_format_name(cfg.log_format) == NULL);
        ASSERT_EQ(cfg.n_roots, 0);
        ASSERT_EQ(cfg.n_url_allow, 0);
        ASSERT_EQ(cfg.n_tokens, 0);
        serve_config_release(&cfg);
    }
    /* A buffer that is not NUL-terminated: only len bytes count. */
    serve_config cfg;
    parse_ok_(__LINE__, "workers = 12", 11, &cfg);
    ASSERT_EQ(cfg.workers, 1);
    serve_config_release(&cfg);
}

static void test_line_endings(void)
{
    serve_config cfg;
    PARSE_OK("workers = 3\r\nlog_format = text\r\nlisten = [::1]:0", &cfg);
    ASSERT_EQ(cfg.workers, 3);
    ASSERT_EQ(cfg.log_format, SERVE_LOG_TEXT);
    ASSERT_STREQ(cfg.listen, "[::1]:0");
    serve_config_release(&cfg);
    /* A CR anywhere but before the LF is a control character. */
    EXPECT_ERR("workers = 3\r\r\n", "hark.conf:1: control character 0x0d");
    EXPECT_ERR("workers = 3\rlisten = x:1\n", "hark.conf:1: control character 0x0d");
}

static void test_bytes(void)
{
    static const struct {
        const char *v;
        long long want;
    } ok[] = {
        {"1", 1},
        {"0001", 1},
        {"1K", 1024},
        {"1k", 1024},
        {"3M", 3LL << 20},
        {"3m", 3LL << 20},
        {"2G", 2LL << 30},
        {"2g", 2LL << 30},
        {"9223372036854775807", LLONG_MAX},
        {"8589934591G", 8589934591LL << 30},
        {"9007199254740991K", 9007199254740991LL << 10},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char text[128];
        snprintf(text, sizeof text, "max_upload = %s\nmax_body = %s\nurl_max_bytes = %s\n", ok[i].v,
                 ok[i].v, ok[i].v);
        serve_config cfg;
        PARSE_OK(text, &cfg);
        ASSERT_EQ(cfg.max_upload, ok[i].want);
        ASSERT_EQ(cfg.max_body, ok[i].want);
        ASSERT_EQ(cfg.url_max_bytes, ok[i].want);
        serve_config_release(&cfg);
    }
    EXPECT_ERR("max_upload = 9223372036854775808\n",
               "hark.conf:1: max_upload: 9223372036854775808 is too large");
    EXPECT_ERR("max_upload = 99999999999999999999999999\n",
               "hark.conf:1: max_upload: 99999999999999999999999999 is too large");
    EXPECT_ERR("max_body = 8589934592G\n", "hark.conf:1: max_body: 8589934592G is too large");
    EXPECT_ERR("url_max_bytes = 9007199254740992K\n",
               "hark.conf:1: url_max_bytes: 9007199254740992K is too large");
    EXPECT_ERR("max_upload = 0\n", "hark.conf:1: max_upload: must be at least 1 byte");
    EXPECT_ERR("max_upload = 0G\n", "hark.conf:1: max_upload: must be at least 1 byte");
    const char *bad[] = {"-1", "+1", "1.5M", "10 M", "1KB", "1T", "0x10", "K", "1e3", "ten"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[64], want[256];
        snprintf(text, sizeof text, "max_body = %s\n", bad[i]);
        snprintf(want, sizeof want,
                 "hark.conf:1: max_body: \"%s\" is not a size (a number of bytes, optionally "
                 "with K, M or G)",
                 bad[i]);
        expect_err_(__LINE__, text, strlen(text), want);
    }
}

static void test_ints(void)
{
    serve_config cfg;
    PARSE_OK("workers = 1\n", &cfg);
    ASSERT_EQ(cfg.workers, 1);
    serve_config_release(&cfg);
    PARSE_OK("workers = 256\n", &cfg);
    ASSERT_EQ(cfg.workers, 256);
    serve_config_release(&cfg);
    EXPECT_ERR("workers = 0\n", "hark.conf:1: workers: 0 is out of range (1 to 256)");
    EXPECT_ERR("workers = 257\n", "hark.conf:1: workers: 257 is out of range (1 to 256)");
    EXPECT_ERR("workers = 99999999999999999999\n",
               "hark.conf:1: workers: 99999999999999999999 is out of range (1 to 256)");
    EXPECT_ERR("workers = -1\n", "hark.conf:1: workers: \"-1\" is not a whole number");
    EXPECT_ERR("workers = 4.0\n", "hark.conf:1: workers: \"4.0\" is not a whole number");
    EXPECT_ERR("workers = 4 4\n", "hark.conf:1: workers: \"4 4\" is not a whole number");
    EXPECT_ERR("workers = 1e2\n", "hark.conf:1: workers: \"1e2\" is not a whole number");
    EXPECT_ERR("queue_limit.low = 2147483648\n",
               "hark.conf:1: queue_limit.low: 2147483648 is out of range (0 to 2147483647)");
    EXPECT_ERR("queue_limit.high = -1\n",
               "hark.conf:1: queue_limit.high: \"-1\" is not a whole number");
    EXPECT_ERR("queue_limit.urgent = 1\n", "hark.conf:1: unknown key \"queue_limit.urgent\"");
    EXPECT_ERR("queue_limit = 1\n", "hark.conf:1: unknown key \"queue_limit\"");
}

static void test_seconds(void)
{
    serve_config cfg;
    PARSE_OK("timeout = 0\nmax_duration = 0.25\nurl_timeout = 1000000000\n", &cfg);
    ASSERT_EQ(cfg.timeout_s, 0);
    ASSERT_NEAR(cfg.max_duration_s, 0.25, 0);
    ASSERT_NEAR(cfg.url_timeout_s, 1e9, 0);
    serve_config_release(&cfg);
    PARSE_OK("timeout = 000.500\n", &cfg);
    ASSERT_NEAR(cfg.timeout_s, 0.5, 0);
    serve_config_release(&cfg);

    EXPECT_ERR("max_duration = 0\n", "hark.conf:1: max_duration: must be more than 0 seconds");
    EXPECT_ERR("url_timeout = 0.0\n", "hark.conf:1: url_timeout: must be more than 0 seconds");
    EXPECT_ERR("timeout = 1000000000.5\n", "hark.conf:1: timeout: 1000000000.5 is out of range "
                                           "(at most 1000000000 seconds)");
    /* 400 digits: strtod overflows to infinity (ERANGE). */
    char text[512], want[512];
    int o = snprintf(text, sizeof text, "timeout = 1");
    for (int i = 0; i < 400; i++)
        text[o++] = '0';
    text[o] = '\0';
    /* The message quotes the first 60 bytes. */
    snprintf(want, sizeof want,
             "hark.conf:1: timeout: %.60s... is out of range (at most "
             "1000000000 seconds)",
             text + strlen("timeout = "));
    expect_err_(__LINE__, text, strlen(text), want);
    const char *bad[] = {"-1", "+1", ".5", "5.", "1e3", "inf", "nan", "0x10", "1,5", "1.2.3", "5s"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(text, sizeof text, "url_timeout = %s\n", bad[i]);
        snprintf(want, sizeof want, "hark.conf:1: url_timeout: \"%s\" is not a number of seconds",
                 bad[i]);
        expect_err_(__LINE__, text, strlen(text), want);
    }
}

static void test_retention_keys(void)
{
    serve_config cfg;
    PARSE_OK("keep_inputs = yes\njob_retention = 30d\n", &cfg);
    ASSERT_EQ(cfg.keep_inputs, 1);
    ASSERT_NEAR(cfg.job_retention_s, 30 * 86400.0, 0);
    serve_config_release(&cfg);
    PARSE_OK("keep_inputs = no\njob_retention = 0\n", &cfg);
    ASSERT_EQ(cfg.keep_inputs, 0);
    ASSERT_EQ(cfg.job_retention_s, 0); /* 0: ended jobs are kept forever */
    serve_config_release(&cfg);
    static const struct {
        const char *v;
        double want;
    } ok[] = {{"12h", 43200}, {"90m", 5400}, {"45s", 45},      {"2", 2},
              {"1.5h", 5400}, {"0.5", 0.5},  {"0.25d", 21600}, {"11574d", 11574 * 86400.0}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char text[64];
        snprintf(text, sizeof text, "job_retention = %s\n", ok[i].v);
        PARSE_OK(text, &cfg);
        ASSERT_NEAR(cfg.job_retention_s, ok[i].want, 1e-9);
        serve_config_release(&cfg);
    }
    EXPECT_ERR("keep_inputs = true\n", "hark.conf:1: keep_inputs: \"true\" is not one of yes, no");
    EXPECT_ERR("keep_inputs = YES\n", "hark.conf:1: keep_inputs: \"YES\" is not one of yes, no");
    EXPECT_ERR("job_retention = 11575d\n", "hark.conf:1: job_retention: 11575d is out of range "
                                           "(at most 1000000000 seconds)");
    const char *bad[] = {"30 d", "-1", "1w", "d", ".5d", "5.d", "1dd", "1e3", "inf", "30D"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[128], want[256];
        snprintf(text, sizeof text, "job_retention = %s\n", bad[i]);
        snprintf(want, sizeof want,
                 "hark.conf:1: job_retention: \"%s\" is not a duration (seconds, or a number "
                 "with s, m, h or d, as in 30d)",
                 bad[i]);
        expect_err_(__LINE__, text, strlen(text), want);
    }
}

static void test_listen(void)
{
    const char *ok[] = {"127.0.0.1:8090",      "[::1]:0",   "localhost:65535",
                        "hark.example.org:80", "0.0.0.0:1", "[fe80::1]:443"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char text[128];
        snprintf(text, sizeof text, "listen = %s\n", ok[i]);
        serve_config cfg;
        PARSE_OK(text, &cfg);
        ASSERT_STREQ(cfg.listen, ok[i]);
        serve_config_release(&cfg);
    }
    EXPECT_ERR("listen = 127.0.0.1\n", "hark.conf:1: listen: \"127.0.0.1\": expected HOST:PORT");
    EXPECT_ERR("listen = :8090\n", "hark.conf:1: listen: \":8090\": expected HOST:PORT");
    EXPECT_ERR("listen = h:65536\n",
               "hark.conf:1: listen: \"h:65536\": the port must be 0 to 65535");
    EXPECT_ERR("listen = h:\n", "hark.conf:1: listen: \"h:\": the port must be 0 to 65535");
    EXPECT_ERR("listen = h:-1\n", "hark.conf:1: listen: \"h:-1\": the port must be 0 to 65535");
    EXPECT_ERR("listen = h:000080\n",
               "hark.conf:1: listen: \"h:000080\": the port must be 0 to 65535");
    EXPECT_ERR("listen = ::1:80\n",
               "hark.conf:1: listen: \"::1:80\": an IPv6 address goes in brackets, as in "
               "[::1]:8090");
    EXPECT_ERR("listen = []:80\n", "hark.conf:1: listen: \"[]:80\": expected [IPV6]:PORT");
    EXPECT_ERR("listen = [::1]x:80\n", "hark.conf:1: listen: \"[::1]x:80\": expected [IPV6]:PORT");
    EXPECT_ERR("listen = a b:80\n",
               "hark.conf:1: listen: \"a b:80\": the host must be a name or an IP address");
}

static void test_strings_and_enums(void)
{
    EXPECT_ERR("log_format = xml\n", "hark.conf:1: log_format: \"xml\" is not one of text, json");
    EXPECT_ERR("log_format = JSON\n", "hark.conf:1: log_format: \"JSON\" is not one of text, json");
    EXPECT_ERR("webhook_secret = short-secret\n",
               "hark.conf:1: webhook_secret: too short (at least 16 bytes)");
    EXPECT_ERR("root = srv/audio\n", "hark.conf:1: root: \"srv/audio\" is not an absolute path");
    EXPECT_ERR("root = ~/audio\n", "hark.conf:1: root: \"~/audio\" is not an absolute path");
    serve_config cfg;
    PARSE_OK("state_dir = relative/dir\nroot = /\nroot = /\n", &cfg);
    ASSERT_STREQ(cfg.state_dir, "relative/dir");
    ASSERT_EQ(cfg.n_roots, 2); /* repeatable, even twice the same */
    serve_config_release(&cfg);
    /* Values are literal: quotes stay, '#' after a value is part of it. */
    PARSE_OK("state_dir = \"/a b\" # not a comment\n", &cfg);
    ASSERT_STREQ(cfg.state_dir, "\"/a b\" # not a comment");
    serve_config_release(&cfg);
    /* UTF-8 is fine in values. */
    PARSE_OK("state_dir = /srv/h\xc3\xa4rk \xe2\x82\xac \xf0\x9f\x8e\xa4\n", &cfg);
    ASSERT_STREQ(cfg.state_dir, "/srv/h\xc3\xa4rk \xe2\x82\xac \xf0\x9f\x8e\xa4");
    serve_config_release(&cfg);
}

/* url_allow = HOST[:PORT], repeatable; every form net_allow_parse refuses
 * is an error naming the line. */
static void test_url_allow(void)
{
    serve_config cfg;
    PARSE_OK("url_allow = 127.0.0.1:8080\nurl_allow = media.lan\nurl_allow = [fd00::5]:443\n"
             "url_allow = media.lan\n",
             &cfg);
    ASSERT_EQ(cfg.n_url_allow, 4);
    ASSERT_STREQ(cfg.url_allow[0], "127.0.0.1:8080");
    ASSERT_STREQ(cfg.url_allow[1], "media.lan");
    ASSERT_STREQ(cfg.url_allow[2], "[fd00::5]:443");
    ASSERT_STREQ(cfg.url_allow[3], "media.lan"); /* twice is harmless */
    serve_config_release(&cfg);
    ASSERT(cfg.url_allow == NULL && cfg.n_url_allow == 0);

    EXPECT_ERR("url_allow = http://media.lan/\n",
               "hark.conf:1: url_allow: \"http://media.lan/\": expected HOST or HOST:PORT (a host "
               "name or IP address, an IPv6 one in brackets; no scheme, user or path)");
    EXPECT_ERR("url_allow = media.lan:0\n",
               "hark.conf:1: url_allow: \"media.lan:0\": the port must be 1 to 65535");
    EXPECT_ERR("url_allow = media.lan:65536\n",
               "hark.conf:1: url_allow: \"media.lan:65536\": the port must be 1 to 65535");
    EXPECT_ERR("url_allow = media.lan:\n",
               "hark.conf:1: url_allow: \"media.lan:\": the port must be 1 to 65535");
    EXPECT_ERR("url_allow = fd00::5\n", "hark.conf:1: url_allow: \"fd00::5\": an IPv6 address "
                                        "goes in brackets, as in [fd00::5]:8080");
    EXPECT_ERR("url_allow = [fd00::5\n",
               "hark.conf:1: url_allow: \"[fd00::5\": expected [IPV6] or [IPV6]:PORT");
    EXPECT_ERR("url_allow = :80\n",
               "hark.conf:1: url_allow: \":80\": the host must be a name or an IP address");
    EXPECT_ERR("url_allow = user@media.lan\n",
               "hark.conf:1: url_allow: \"user@media.lan\": expected HOST or HOST:PORT (a host "
               "name or IP address, an IPv6 one in brackets; no scheme, user or path)");
    EXPECT_ERR("url_allow = media lan\n",
               "hark.conf:1: url_allow: \"media lan\": expected HOST or HOST:PORT (a host "
               "name or IP address, an IPv6 one in brackets; no scheme, user or path)");
    EXPECT_ERR("url_allow = [zz::1]\n",
               "hark.conf:1: url_allow: \"[zz::1]\": the host must be a name or an IP address");
    EXPECT_ERR("workers = 2\n[token t]\nsecret = " SECRET_A "\nurl_allow = h\n",
               "hark.conf:4: url_allow: top-level keys go before the first [token] section");
}

static void test_general_errors(void)
{
    EXPECT_ERR("# c\n\nworkers = 2\nfrobnicate = 1\n", "hark.conf:4: unknown key \"frobnicate\"");
    EXPECT_ERR("workers = 2\n\n# again\nworkers = 3\n",
               "hark.conf:4: duplicate key \"workers\" (first set on line 1)");
    EXPECT_ERR("listen = a:1\nlisten = a:1\n",
               "hark.conf:2: duplicate key \"listen\" (first set on line 1)");
    EXPECT_ERR("webhook_secret = 0123456789abcdef\nwebhook_secret = 0123456789abcdef\n",
               "hark.conf:2: duplicate key \"webhook_secret\" (first set on line 1)");
    EXPECT_ERR("workers 2\n", "hark.conf:1: expected KEY = VALUE or [token NAME]");
    EXPECT_ERR("= 2\n", "hark.conf:1: no key before '='");
    EXPECT_ERR("workers =\n", "hark.conf:1: workers: no value");
    EXPECT_ERR("state_dir =   \t\n", "hark.conf:1: state_dir: no value");
    EXPECT_ERR("Workers = 2\n", "hark.conf:1: unknown key \"Workers\"");
    EXPECT_ERR("work ers = 2\n", "hark.conf:1: unknown key \"work ers\"");
    EXPECT_ERR("secret = " SECRET_A "\n",
               "hark.conf:1: secret: only allowed in a [token NAME] section");
    EXPECT_ERR("max_priority = high\n",
               "hark.conf:1: max_priority: only allowed in a [token NAME] section");
    /* A long unknown key is cut in the message. */
    EXPECT_ERR("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij = 1\n",
               "hark.conf:1: unknown key "
               "\"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij...\"");
    /* The display name is the caller's. */
    serve_config cfg;
    hark_err err;
    serve_config_init(&cfg);
    ASSERT_EQ(serve_config_parse("x = 1", 5, "/etc/hark/serve.conf", &cfg, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "/etc/hark/serve.conf:1: unknown key \"x\"");
}

static void test_tokens(void)
{
    /* The spec's own example message. */
    EXPECT_ERR("workers = 2\n\n[token ci]\nsecret = " SECRET_A "\nmax_priority = urgent\n",
               "hark.conf:5: max_priority: \"urgent\" is not one of realtime, high, normal, low");
    EXPECT_ERR("[token ci]\nsecret = " SECRET_A "\nmax_priority = High\n",
               "hark.conf:3: max_priority: \"High\" is not one of realtime, high, normal, low");
    const char *prios[] = {"realtime", "high", "normal", "low"};
    for (int p = 0; p < 4; p++) {
        char text[256];
        snprintf(text, sizeof text, "[token t]\nmax_priority = %s\nsecret = %s\n", prios[p],
                 SECRET_A);
        serve_config cfg;
        PARSE_OK(text, &cfg);
        ASSERT_EQ(cfg.tokens[0].max_priority, p);
        serve_config_release(&cfg);
    }

    /* Names. */
    char text[512];
    const char *name64 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._";
    ASSERT_EQ(strlen(name64), 64);
    snprintf(text, sizeof text, "[token %s]\nsecret = %s\n", name64, SECRET_A);
    serve_config cfg;
    PARSE_OK(text, &cfg);
    ASSERT_STREQ(cfg.tokens[0].name, name64);
    serve_config_release(&cfg);
    snprintf(text, sizeof text, "[token %s-]\nsecret = %s\n", name64, SECRET_A);
    EXPECT_ERR(text, "hark.conf:1: bad token name "
                     "\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567...\" (1 to 64 "
                     "of A-Z a-z 0-9 . _ -)");
    EXPECT_ERR("[token a b]\n",
               "hark.conf:1: bad token name \"a b\" (1 to 64 of A-Z a-z 0-9 . _ -)");
    EXPECT_ERR("[token a/b]\n",
               "hark.conf:1: bad token name \"a/b\" (1 to 64 of A-Z a-z 0-9 . _ -)");
    EXPECT_ERR("[token \xc3\xa4]\n",
               "hark.conf:1: bad token name \"\\xc3\\xa4\" (1 to 64 of A-Z a-z 0-9 . _ -)");
    EXPECT_ERR("[token]\n", "hark.conf:1: [token] needs a name: [token NAME]");
    EXPECT_ERR("[token   ]\n", "hark.conf:1: [token] needs a name: [token NAME]");
    EXPECT_ERR("[tokens a]\n",
               "hark.conf:1: unknown section [tokens a] (the only kind is [token NAME])");
    EXPECT_ERR("[server]\n",
               "hark.conf:1: unknown section [server] (the only kind is [token NAME])");
    EXPECT_ERR("[token a\n", "hark.conf:1: a section header ends with ']'");
    EXPECT_ERR("[token a] x\n", "hark.conf:1: a section header ends with ']'");
    EXPECT_ERR("[\n", "hark.conf:1: a section header ends with ']'");
    EXPECT_ERR("[token a]\nsecret = " SECRET_A "\n\n[token a]\nsecret = " SECRET_B "\n",
               "hark.conf:4: duplicate token name \"a\" (first on line 1)");

    /* Secrets. */
    EXPECT_ERR("[token a]\nsecret = " SECRET_A "\n[token b]\nsecret = " SECRET_A "\n",
               "hark.conf:4: token \"b\" has the same secret as token \"a\" (line 1)");
    EXPECT_ERR("[token a]\nsecret = 0123456789abcde\n",
               "hark.conf:2: secret of token \"a\": too short (at least 16 characters)");
    PARSE_OK("[token a]\nsecret = 0123456789abcdef\n", &cfg);
    ASSERT_STREQ(cfg.tokens[0].secret, "0123456789abcdef");
    serve_config_release(&cfg);
    EXPECT_ERR("[token a]\nsecret = 01234567 89abcdef\n",
               "hark.conf:2: secret of token \"a\": only visible ASCII characters, no spaces (it "
               "is sent in an HTTP header)");
    EXPECT_ERR("[token a]\nsecret = 0123456789abcdef\xc3\xa4\n",
               "hark.conf:2: secret of token \"a\": only visible ASCII characters, no spaces (it "
               "is sent in an HTTP header)");
    EXPECT_ERR("[token a]\nsecret =\n", "hark.conf:2: secret: no value");
    EXPECT_ERR("[token a]\nsecret = " SECRET_A "\nsecret = " SECRET_B "\n",
               "hark.conf:3: duplicate key \"secret\" in [token a] (first set on line 2)");
    EXPECT_ERR("[token a]\nmax_priority = low\nsecret = " SECRET_A "\nmax_priority = low\n",
               "hark.conf:4: duplicate key \"max_priority\" in [token a] (first set on line 2)");

    /* A section without a secret: the error names its header's line. */
    EXPECT_ERR("[token a]\nmax_priority = low\n\n[token b]\nsecret = " SECRET_B "\n",
               "hark.conf:1: [token a] has no secret");
    EXPECT_ERR("[token a]\nsecret = " SECRET_A "\n# end\n[token b]\nmax_priority = low\n\n",
               "hark.conf:4: [token b] has no secret");
    EXPECT_ERR("[token a]\n", "hark.conf:1: [token a] has no secret");

    /* Keys in sections. */
    EXPECT_ERR("[token a]\nsecret = " SECRET_A "\nworkers = 2\n",
               "hark.conf:3: workers: top-level keys go before the first [token] section");
    EXPECT_ERR("[token a]\nsecret = " SECRET_A "\nname = x\n",
               "hark.conf:3: unknown key \"name\" in [token a]");
    EXPECT_ERR("[token a]\nmax_priority =\n", "hark.conf:2: max_priority: no value");

    /* Name and secret uniqueness hold across many tokens. */
    PARSE_OK("[token a]\nsecret = " SECRET_A "\n[token b]\nsecret = " SECRET_B
             "\n[token c]\nsecret = cccccccccccccccc\n",
             &cfg);
    ASSERT_EQ(cfg.n_tokens, 3);
    ASSERT_STREQ(cfg.tokens[2].name, "c");
    ASSERT_EQ(cfg.tokens[2].where, 5);
    serve_config_release(&cfg);
}

/* admin = yes|no in a [token] section: whether the token sees every job. */
static void test_admin(void)
{
    serve_config cfg;
    PARSE_OK("[token root]\nsecret = " SECRET_A "\nadmin = yes\n[token ci]\nsecret = " SECRET_B
             "\nadmin = no\n[token bot]\nsecret = cccccccccccccccc\n",
             &cfg);
    ASSERT_EQ(cfg.n_tokens, 3);
    ASSERT(cfg.tokens[0].admin);
    ASSERT(!cfg.tokens[1].admin);
    ASSERT(!cfg.tokens[2].admin); /* the default */
    serve_config_release(&cfg);
    EXPECT_ERR("[token a]\nsecret = " SECRET_A "\nadmin = true\n",
               "hark.conf:3: admin: \"true\" is not one of yes, no");
    EXPECT_ERR("[token a]\nsecret = " SECRET_A "\nadmin = Yes\n",
               "hark.conf:3: admin: \"Yes\" is not one of yes, no");
    EXPECT_ERR("[token a]\nadmin =\nsecret = " SECRET_A "\n", "hark.conf:2: admin: no value");
    EXPECT_ERR("[token a]\nadmin = yes\nsecret = " SECRET_A "\nadmin = no\n",
               "hark.conf:4: duplicate key \"admin\" in [token a] (first set on line 2)");
    EXPECT_ERR("admin = yes\n", "hark.conf:1: admin: only allowed in a [token NAME] section");
    /* HARK_TOKENS tokens are never admins: an admin is written in the file. */
    hark_err err;
    serve_config_init(&cfg);
    ASSERT_EQ(serve_config_add_env_tokens(&cfg, "ci:high:" SECRET_A, &err), 0);
    ASSERT(!cfg.tokens[0].admin);
    serve_config_release(&cfg);
}

static void test_long_lines(void)
{
    static char text[3 * SERVE_CONFIG_MAX_LINE];
    /* Exactly the maximum: fine, as a comment and as a value. */
    size_t n = 0;
    text[n++] = '#';
    while (n < SERVE_CONFIG_MAX_LINE)
        text[n++] = 'x';
    text[n++] = '\n';
    n += (size_t)snprintf(text + n, sizeof text - n, "state_dir = /");
    size_t start = n - strlen("state_dir = /");
    while (n - start < SERVE_CONFIG_MAX_LINE)
        text[n++] = 'd';
    text[n++] = '\r'; /* the line ending is not counted */
    text[n++] = '\n';
    serve_config cfg;
    parse_ok_(__LINE__, text, n, &cfg);
    ASSERT_EQ(strlen(cfg.state_dir), SERVE_CONFIG_MAX_LINE - strlen("state_dir = "));
    serve_config_release(&cfg);

    /* One byte more: an error naming the line, not a truncation. */
    n = (size_t)snprintf(text, sizeof text, "workers = 2\n");
    for (size_t i = 0; i <= SERVE_CONFIG_MAX_LINE; i++)
        text[n++] = '#';
    text[n++] = '\n';
    expect_err_(__LINE__, text, n, "hark.conf:2: line longer than 4096 bytes");
    /* Also without a final newline, and when the excess is blanks. */
    n--;
    expect_err_(__LINE__, text, n, "hark.conf:2: line longer than 4096 bytes");
    n = (size_t)snprintf(text, sizeof text, "workers = 2");
    while (n <= SERVE_CONFIG_MAX_LINE)
        text[n++] = ' ';
    expect_err_(__LINE__, text, n, "hark.conf:1: line longer than 4096 bytes");
}

static void test_bytes_that_are_not_text(void)
{
    expect_err_(__LINE__, "workers = 2\n\nlisten = a\0:1\n", 24, "hark.conf:3: NUL byte");
    expect_err_(__LINE__, "# comment \0 too\n", 16, "hark.conf:1: NUL byte");
    expect_err_(__LINE__, "\0", 1, "hark.conf:1: NUL byte");
    EXPECT_ERR("# ok\nstate_dir = /a\x01z\n", "hark.conf:2: control character 0x01");
    EXPECT_ERR("state_dir = /a\x7f\n", "hark.conf:1: control character 0x7f");
    EXPECT_ERR("state_dir = /a\x1b[31m\n", "hark.conf:1: control character 0x1b");
    /* Invalid UTF-8: a stray byte, an overlong form, a surrogate, a cut
     * sequence, a code point past U+10FFFF. Even in a comment. */
    const char *bad[] = {"# \xff\n",
                         "state_dir = /\xc0\x80\n",
                         "state_dir = /\xed\xa0\x80\n",
                         "state_dir = /\xe2\x82\n",
                         "state_dir = /\xf4\x90\x80\x80\n",
                         "state_dir = /\xe0\x80\xaf\n",
                         "state_dir = /\x80\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_err_(__LINE__, bad[i], strlen(bad[i]), "hark.conf:1: invalid UTF-8");
}

static void test_env_tokens(void)
{
    hark_err err;
    serve_config cfg;
    /* NULL and "" add nothing, also to an empty config (no file). */
    serve_config_init(&cfg);
    ASSERT_EQ(serve_config_add_env_tokens(&cfg, NULL, &err), 0);
    ASSERT_EQ(serve_config_add_env_tokens(&cfg, "", &err), 0);
    ASSERT_EQ(cfg.n_tokens, 0);
    ASSERT_EQ(serve_config_add_env_tokens(
                  &cfg, "ci:high:" SECRET_A ",web:low:colon:in:the:secret:xx", &err),
              0);
    ASSERT_EQ(cfg.n_tokens, 2);
    ASSERT_STREQ(cfg.tokens[0].name, "ci");
    ASSERT_EQ(cfg.tokens[0].max_priority, STORE_PRIO_HIGH);
    ASSERT_STREQ(cfg.tokens[0].secret, SECRET_A);
    ASSERT(cfg.tokens[0].from_env);
    ASSERT_EQ(cfg.tokens[0].where, 1);
    ASSERT_STREQ(cfg.tokens[1].secret, "colon:in:the:secret:xx");
    ASSERT_EQ(cfg.tokens[1].max_priority, STORE_PRIO_LOW);
    ASSERT_EQ(cfg.tokens[1].where, 2);
    serve_config_release(&cfg);

    /* Merged with the file's tokens, checked across both. */
    PARSE_OK("[token ci]\nsecret = " SECRET_A "\n", &cfg);
    ASSERT_EQ(serve_config_add_env_tokens(&cfg, "rt:realtime:" SECRET_B, &err), 0);
    ASSERT_EQ(cfg.n_tokens, 2);
    ASSERT(!cfg.tokens[0].from_env);
    ASSERT(cfg.tokens[1].from_env);
    ASSERT_EQ(cfg.tokens[1].max_priority, STORE_PRIO_REALTIME);

    static const struct {
        const char *env, *want;
    } bad[] = {
        {"x:normal:" SECRET_A,
         "HARK_TOKENS: entry 1 (x): same secret as token \"ci\" (hark.conf:1)"},
        {"ci:normal:cccccccccccccccc",
         "HARK_TOKENS: entry 1: duplicate token name \"ci\" (first in hark.conf:1)"},
        {"x:normal:cccccccccccccccc,rt:low:dddddddddddddddd",
         "HARK_TOKENS: entry 2: duplicate token name \"rt\" (first in HARK_TOKENS entry 1)"},
        {"x:normal:cccccccccccccccc,y:low:" SECRET_B,
         "HARK_TOKENS: entry 2 (y): same secret as token \"rt\" (HARK_TOKENS entry 1)"},
        {"x:normal:cccccccccccccccc,y:normal:cccccccccccccccc",
         "HARK_TOKENS: entry 2 (y): same secret as token \"x\" (HARK_TOKENS entry 1)"},
        {",", "HARK_TOKENS: entry 1 is empty"},
        {"x:normal:cccccccccccccccc,", "HARK_TOKENS: entry 2 is empty"},
        {"x:normal:cccccccccccccccc,,y:low:dddddddddddddddd", "HARK_TOKENS: entry 2 is empty"},
        {"just-a-secret-value-1234", "HARK_TOKENS: entry 1: expected name:max_priority:secret"},
        {"x:" SECRET_B, "HARK_TOKENS: entry 1: expected name:max_priority:secret"},
        {":normal:cccccccccccccccc",
         "HARK_TOKENS: entry 1: bad token name (1 to 64 of A-Z a-z 0-9 . _ -)"},
        {"a b:normal:cccccccccccccccc",
         "HARK_TOKENS: entry 1: bad token name (1 to 64 of A-Z a-z 0-9 . _ -)"},
        {" x:normal:cccccccccccccccc",
         "HARK_TOKENS: entry 1: bad token name (1 to 64 of A-Z a-z 0-9 . _ -)"},
        {"x:urgent:cccccccccccccccc",
         "HARK_TOKENS: entry 1 (x): max_priority is not one of realtime, high, normal, low"},
        {"x::cccccccccccccccc",
         "HARK_TOKENS: entry 1 (x): max_priority is not one of realtime, high, normal, low"},
        {"x:normalnormalnormalnormal:cccccccccccccccc",
         "HARK_TOKENS: entry 1 (x): max_priority is not one of realtime, high, normal, low"},
        /* Entries in the wrong order: the secret is not quoted back. */
        {"x:normal:cccccccccccccccc,Zm9vYmFy+/Zm9vYmFyYmF6:normal:y",
         "HARK_TOKENS: entry 2: bad token name (1 to 64 of A-Z a-z 0-9 . _ -)"},
        {"x:" SECRET_B ":normal",
         "HARK_TOKENS: entry 1 (x): max_priority is not one of realtime, high, normal, low"},
        {"x:normal:ccccccccccccccc",
         "HARK_TOKENS: entry 1 (x): secret: too short (at least 16 characters)"},
        {"x:normal:", "HARK_TOKENS: entry 1 (x): secret: too short (at least 16 characters)"},
        {"x:normal:cccccccc cccccccc",
         "HARK_TOKENS: entry 1 (x): secret: only visible ASCII characters, no spaces (it is sent "
         "in an HTTP header)"},
        {"x:normal:cccccccccccccccc\t",
         "HARK_TOKENS: entry 1 (x): secret: only visible ASCII characters, no spaces (it is sent "
         "in an HTTP header)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err_clear(&err);
        int rc = serve_config_add_env_tokens(&cfg, bad[i].env, &err);
        if (rc != HARK_EINVAL || strcmp(err.msg, bad[i].want) != 0)
            TEST_FAIL_("entry %zu: rc %d, message\n  \"%s\"\nwanted\n  \"%s\"", i, rc, err.msg,
                       bad[i].want);
        ASSERT(!strstr(err.msg, "-secret-"));
        /* All or nothing: the good entries before the bad one are gone too. */
        ASSERT_EQ(cfg.n_tokens, 2);
        ASSERT_STREQ(cfg.tokens[1].name, "rt");
    }
    serve_config_release(&cfg);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
    ASSERT_EQ(fchmod(fd, mode), 0);
    close(fd);
}

static void test_load_and_mode_warning(void)
{
    hark_err err;
    serve_config cfg;
    char msg[512];
    write_file("hark.conf", "workers = 2\n[token ci]\nsecret = " SECRET_A "\n", 0600);
    serve_config_init(&cfg);
    ASSERT_EQ(serve_config_load("hark.conf", &cfg, &err), 0);
    ASSERT_EQ(cfg.workers, 2);
    ASSERT(cfg.has_mode);
    ASSERT_EQ(cfg.file_mode & 07777, 0600);
    ASSERT(!serve_config_mode_warning(&cfg, msg, sizeof msg));
    ASSERT_STREQ(msg, "");
    serve_config_release(&cfg);

    static const struct {
        mode_t mode;
        const char *who;
    } modes[] = {{0640, "its group"}, {0604, "others"}, {0644, "group and others"}};
    for (size_t i = 0; i < 3; i++) {
        ASSERT_EQ(chmod("hark.conf", modes[i].mode), 0);
        serve_config_init(&cfg);
        ASSERT_EQ(serve_config_load("hark.conf", &cfg, &err), 0);
        ASSERT(serve_config_mode_warning(&cfg, msg, sizeof msg));
        char want[256];
        snprintf(want, sizeof want,
                 "config 'hark.conf' holds secrets but is readable by %s (mode %04o); chmod 600 "
                 "it",
                 modes[i].who, (unsigned)modes[i].mode);
        ASSERT_STREQ(msg, want);
        ASSERT(serve_config_mode_warning(&cfg, NULL, 0));
        serve_config_release(&cfg);
    }
    /* Writable or executable by others, but not readable: no warning asked for. */
    ASSERT_EQ(chmod("hark.conf", 0622), 0);
    serve_config_init(&cfg);
    ASSERT_EQ(serve_config_load("hark.conf", &cfg, &err), 0);
    ASSERT(!serve_config_mode_warning(&cfg, msg, sizeof msg));
    serve_config_release(&cfg);

    /* webhook_secret is a secret too. */
    write_file("hook.conf", "webhook_secret = 0123456789abcdef\n", 0644);
    serve_config_init(&cfg);
    ASSERT_EQ(serve_config_load("hook.conf", &cfg, &err), 0);
    ASSERT(serve_config_mode_warning(&cfg, msg, sizeof msg));
    serve_config_release(&cfg);

    /* So is a store location's password; a location without one is not. */
    write_file("pg.conf", "store = postgresql://hark:s3cret@db/hark\n", 0644);
    serve_config_init(&cfg);
    ASSERT_EQ(serve_config_load("pg.conf", &cfg, &err), 0);
    ASSERT(serve_config_mode_warning(&cfg, msg, sizeof msg));
    serve_config_release(&cfg);
    write_file("pg2.conf", "store = postgresql://hark@db/hark?sslmode=require\n", 0644);
    serve_config_init(&cfg);
    ASSERT_EQ(serve_config_load("pg2.conf", &cfg, &err), 0);
    ASSERT(!serve_config_mode_warning(&cfg, msg, sizeof msg));
    serve_config_release(&cfg);

    /* No secrets in the file: a world-readable file is fine, even when
     * HARK_TOKENS adds tokens. */
    write_file("plain.conf", "workers = 2\n", 0644);
    serve_config_init(&cfg);
    ASSERT_EQ(serve_config_load("plain.conf", &cfg, &err), 0);
    ASSERT_EQ(serve_config_add_env_tokens(&cfg, "ci:normal:" SECRET_A, &err), 0);
    ASSERT(!serve_config_mode_warning(&cfg, msg, sizeof msg));
    serve_config_release(&cfg);

    /* Parsed from memory: no file, no mode, no warning. */
    PARSE_OK("[token ci]\nsecret = " SECRET_A "\n", &cfg);
    ASSERT(!serve_config_mode_warning(&cfg, msg, sizeof msg));
    serve_config_release(&cfg);
}

static void test_load_errors(void)
{
    hark_err err;
    serve_config cfg;
    serve_config_init(&cfg);
    ASSERT_EQ(serve_config_load("missing.conf", &cfg, &err), HARK_ENOENT);
    ASSERT_STREQ(err.msg, "cannot read config 'missing.conf': No such file or directory");
    ASSERT_EQ(mkdir("dir.conf", 0700), 0);
    ASSERT_EQ(serve_config_load("dir.conf", &cfg, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot read config 'dir.conf': not a regular file");
    /* A FIFO is refused at once, not waited on. */
    ASSERT_EQ(mkfifo("fifo.conf", 0600), 0);
    ASSERT_EQ(serve_config_load("fifo.conf", &cfg, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot read config 'fifo.conf': not a regular file");
    if (geteuid() != 0) { /* root reads anything */
        write_file("secret.conf", "workers = 1\n", 0000);
        ASSERT_EQ(serve_config_load("secret.conf", &cfg, &err), HARK_EIO);
        ASSERT_STREQ(err.msg, "cannot read config 'secret.conf': Permission denied");
    }
    /* Parse errors name the path as given. */
    write_file("bad.conf", "workers = 2\nworkers = 3\n", 0600);
    ASSERT_EQ(serve_config_load("./bad.conf", &cfg, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "./bad.conf:2: duplicate key \"workers\" (first set on line 1)");
    ASSERT(!cfg.has_mode && cfg.source == NULL);

    /* Size: exactly the maximum is read, one byte more is refused. */
    static char big[SERVE_CONFIG_MAX_FILE + 2];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (i % 64 == 63) ? '\n' : '#';
    big[SERVE_CONFIG_MAX_FILE] = '\0';
    write_file("max.conf", big, 0600);
    ASSERT_EQ(serve_config_load("max.conf", &cfg, &err), 0);
    serve_config_release(&cfg);
    big[SERVE_CONFIG_MAX_FILE] = '\n';
    big[SERVE_CONFIG_MAX_FILE + 1] = '\0';
    write_file("big.conf", big, 0600);
    serve_config_init(&cfg);
    ASSERT_EQ(serve_config_load("big.conf", &cfg, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "config 'big.conf' is larger than 1048576 bytes");
    serve_config_release(&cfg);
}

/* The example at the top of docs/config.md parses, and means what it says. */
static void test_docs_example(void)
{
    const char *src = getenv("HARK_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/config.md", src ? src : "../..");
    FILE *f = fopen(path, "r");
    if (!f)
        TEST_FAIL_("cannot open %s", path);
    static char doc[1 << 16];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    char *start = strstr(doc, "```ini\n");
    ASSERT(start != NULL);
    start += strlen("```ini\n");
    char *end = strstr(start, "```");
    ASSERT(end != NULL);
    serve_config cfg;
    parse_ok_(__LINE__, start, (size_t)(end - start), &cfg);
    ASSERT_STREQ(cfg.listen, "127.0.0.1:8090");
    ASSERT_EQ(cfg.workers, 4);
    ASSERT_EQ(cfg.max_upload, 2LL << 30);
    ASSERT_EQ(cfg.max_body, 65536);
    ASSERT_EQ(cfg.n_roots, 2);
    ASSERT_EQ(cfg.queue_limit[STORE_PRIO_REALTIME], 4);
    ASSERT_EQ(cfg.queue_limit[STORE_PRIO_HIGH], 1000);
    ASSERT_EQ(cfg.queue_limit[STORE_PRIO_NORMAL], 10000);
    ASSERT_EQ(cfg.queue_limit[STORE_PRIO_LOW], 10000);
    ASSERT_EQ(cfg.keep_inputs, 0);
    ASSERT_NEAR(cfg.job_retention_s, 30 * 86400.0, 0);
    ASSERT_EQ(cfg.n_tokens, 4);
    ASSERT_EQ(cfg.tokens[0].max_priority, STORE_PRIO_HIGH);
    ASSERT_EQ(cfg.tokens[1].max_priority, STORE_PRIO_REALTIME);
    ASSERT_EQ(cfg.tokens[2].max_priority, STORE_PRIO_NORMAL);
    ASSERT(!cfg.tokens[0].admin && !cfg.tokens[1].admin && !cfg.tokens[2].admin);
    ASSERT_STREQ(cfg.tokens[3].name, "ops");
    ASSERT(cfg.tokens[3].admin);
    ASSERT_EQ(cfg.n_url_allow, 2);
    /* And so does its HARK_TOKENS example, alongside (other names and secrets). */
    hark_err err;
    ASSERT_EQ(serve_config_add_env_tokens(&cfg,
                                          "ci2:high:hk-1f0c3a9e6d2b4c8a97e5f1d3b6a8c0e3,"
                                          "bulk:low:hk-5e4d3c2b1a09f8e7d6c5b4a3",
                                          &err),
              0);
    ASSERT_EQ(cfg.n_tokens, 6);
    serve_config_release(&cfg);
}

/* contrib/hark.conf.example, the config file the package installs as
 * /etc/hark/hark.conf, loads as it is (no secrets: no mode warning), and
 * again with its commented-out settings switched on (a made-up secret in
 * place of its "..."), so that every key it shows is one hark accepts. */
static void test_contrib_example(void)
{
    const char *src = getenv("HARK_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/contrib/hark.conf.example", src ? src : "../..");
    serve_config cfg;
    hark_err err;
    err_clear(&err);
    serve_config_init(&cfg);
    if (serve_config_load(path, &cfg, &err) != 0)
        TEST_FAIL_("%s: %s", path, err.msg);
    ASSERT_STREQ(cfg.listen, "127.0.0.1:8090");
    ASSERT_STREQ(cfg.state_dir, "/var/lib/hark"); /* hark.service's StateDirectory */
    ASSERT_EQ(cfg.workers, 4);
    ASSERT_EQ(cfg.n_tokens, 0);
    char msg[256];
    ASSERT(!serve_config_mode_warning(&cfg, msg, sizeof msg)); /* no secrets */
    serve_config_release(&cfg);

    FILE *f = fopen(path, "r");
    ASSERT(f != NULL);
    static char on[1 << 16];
    size_t n = 0, switched = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        const char *l = line;
        /* "#key = value" and "#[token NAME]": a setting switched off. */
        if (line[0] == '#' && (line[1] == '[' || (line[1] >= 'a' && line[1] <= 'z'))) {
            l = line + 1;
            switched++;
        }
        if (strcmp(l, "secret = ...\n") == 0)
            l = "secret = hk-3b1f0c9e5d7a2b4c6e8f0a1b3c5d7e9f\n";
        size_t len = strlen(l);
        ASSERT(n + len < sizeof on);
        memcpy(on + n, l, len);
        n += len;
    }
    fclose(f);
    ASSERT(switched >= 4);
    parse_ok_(__LINE__, on, n, &cfg);
    ASSERT_EQ(cfg.n_roots, 1);
    ASSERT_EQ(cfg.n_tokens, 1);
    ASSERT(cfg.tokens[0].admin);
    serve_config_release(&cfg);
}

int main(void)
{
    RUN(test_every_key);
    RUN(test_empty_means_unset);
    RUN(test_cluster_keys);
    RUN(test_line_endings);
    RUN(test_bytes);
    RUN(test_ints);
    RUN(test_seconds);
    RUN(test_retention_keys);
    RUN(test_listen);
    RUN(test_strings_and_enums);
    RUN(test_url_allow);
    RUN(test_general_errors);
    RUN(test_tokens);
    RUN(test_admin);
    RUN(test_long_lines);
    RUN(test_bytes_that_are_not_text);
    RUN(test_env_tokens);
    RUN(test_load_and_mode_warning);
    RUN(test_load_errors);
    RUN(test_docs_example);
    RUN(test_contrib_example);
    TEST_DONE();
}
