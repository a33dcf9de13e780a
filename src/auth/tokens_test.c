#include "auth/tokens.h"

#include "store/store.h"
#include "util/test.h"

#define SECRET_CI "ci-0123456789abcdef"
#define SECRET_RT "rt-fedcba9876543210+/="
#define SECRET_LOW "low-ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"

static void load_table(token_table *t)
{
    serve_config cfg;
    hark_err err;
    serve_config_init(&cfg);
    const char text[] = "[token ci]\nsecret = " SECRET_CI "\n"
                        "[token rt]\nsecret = " SECRET_RT "\nmax_priority = realtime\n"
                        "admin = yes\n";
    ASSERT_EQ(serve_config_parse(text, sizeof text - 1, "t.conf", &cfg, &err), 0);
    ASSERT_EQ(serve_config_add_env_tokens(&cfg, "bulk:low:" SECRET_LOW, &err), 0);
    ASSERT_EQ(tokens_init(t, cfg.tokens, cfg.n_tokens, &err), 0);
    serve_config_release(&cfg); /* the table does not point into the config */
    ASSERT_EQ(t->n, 3);
}

static const token_entry *lookup(const token_table *t, const char *s)
{
    return tokens_lookup(t, s, strlen(s));
}

static void test_lookup_hits(void)
{
    token_table t;
    load_table(&t);
    const token_entry *e = lookup(&t, SECRET_CI);
    ASSERT(e != NULL);
    ASSERT_STREQ(e->name, "ci");
    ASSERT_EQ(e->max_priority, STORE_PRIO_NORMAL);
    ASSERT(!e->admin);
    e = lookup(&t, SECRET_RT);
    ASSERT(e != NULL);
    ASSERT_STREQ(e->name, "rt");
    ASSERT_EQ(e->max_priority, STORE_PRIO_REALTIME);
    ASSERT(e->admin); /* the entry keeps the config's admin flag */
    e = lookup(&t, SECRET_LOW);
    ASSERT(e != NULL);
    ASSERT_STREQ(e->name, "bulk");
    ASSERT_EQ(e->max_priority, STORE_PRIO_LOW);
    ASSERT(!e->admin);
    /* The secret need not be NUL-terminated: only len bytes count. */
    const char header[] = "Bearer " SECRET_CI " trailing";
    e = tokens_lookup(&t, header + 7, strlen(SECRET_CI));
    ASSERT(e != NULL);
    ASSERT_STREQ(e->name, "ci");
    tokens_release(&t);
}

static void test_lookup_misses(void)
{
    token_table t;
    load_table(&t);
    const char *miss[] = {
        "",
        "ci",
        "ci-0123456789abcde",   /* a prefix of a secret */
        "ci-0123456789abcdef0", /* longer than a secret */
        "ci-0123456789abcdeF",  /* the last byte differs */
        "Ci-0123456789abcdef",  /* the first byte differs */
        "ci-0123456789abcdef ", /* a trailing space */
        (SECRET_RT SECRET_CI),  /* two secrets in one */
        "ci-01234567X9abcdef",  /* a byte in the middle differs */
    };
    for (size_t i = 0; i < sizeof miss / sizeof *miss; i++)
        if (lookup(&t, miss[i]) != NULL)
            TEST_FAIL_("'%s' matched", miss[i]);
    /* Embedded NUL: the length counts, not the terminator. */
    ASSERT(tokens_lookup(&t, SECRET_CI "\0x", strlen(SECRET_CI) + 2) == NULL);
    ASSERT(tokens_lookup(&t, NULL, 0) == NULL);
    ASSERT(tokens_lookup(NULL, SECRET_CI, strlen(SECRET_CI)) == NULL);
    tokens_release(&t);
    ASSERT(t.v == NULL && t.n == 0);
    /* A released (empty) table matches nothing. */
    ASSERT(lookup(&t, SECRET_CI) == NULL);
    tokens_release(&t);
    tokens_release(NULL);
}

static void test_table_keeps_no_secret(void)
{
    token_table t;
    load_table(&t);
    const char *secrets[] = {SECRET_CI, SECRET_RT, SECRET_LOW};
    const unsigned char *mem = (const unsigned char *)t.v;
    size_t size = t.n * sizeof *t.v;
    for (size_t i = 0; i < 3; i++) {
        /* Not even the first 8 bytes of a secret are in the table. */
        for (size_t off = 0; off + 8 <= size; off++)
            ASSERT(memcmp(mem + off, secrets[i], 8) != 0);
    }
    /* Digests differ per secret and are the SHA-256 of the secret: the
     * known digest of "abc". */
    serve_token abc = {.name = "abc", .secret = "abc", .max_priority = STORE_PRIO_LOW};
    token_table one;
    hark_err err;
    ASSERT_EQ(tokens_init(&one, &abc, 1, &err), 0);
    static const unsigned char want[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                           0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                           0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                           0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    ASSERT(memcmp(one.v[0].digest, want, 32) == 0);
    ASSERT(lookup(&one, "abc") == &one.v[0]);
    tokens_release(&one);
    ASSERT(memcmp(t.v[0].digest, t.v[1].digest, 32) != 0);
    tokens_release(&t);

    /* No tokens: an empty table. */
    ASSERT_EQ(tokens_init(&one, NULL, 0, &err), 0);
    ASSERT_EQ(one.n, 0);
    ASSERT(lookup(&one, "abc") == NULL);
    tokens_release(&one);
}

static void test_parse_bearer(void)
{
    static const struct {
        const char *header;
        size_t off, len; /* where the token is */
    } ok[] = {
        {"Bearer abc", 7, 3},
        {"bearer abc", 7, 3},
        {"BEARER abc", 7, 3},
        {"BeArEr    abc", 10, 3},
        {"Bearer " SECRET_RT, 7, sizeof SECRET_RT - 1},
        {"Bearer !~", 7, 2},
    };
    hark_err err;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        const char *s = NULL;
        size_t len = 0;
        if (tokens_parse_bearer(ok[i].header, &s, &len, &err) != 0)
            TEST_FAIL_("'%s' refused: %s", ok[i].header, err.msg);
        ASSERT(s == ok[i].header + ok[i].off);
        ASSERT_EQ(len, ok[i].len);
    }
    static const struct {
        const char *header, *want;
    } bad[] = {
        {"", "the Authorization header is not 'Bearer TOKEN'"},
        {"Bearer", "the Authorization header is not 'Bearer TOKEN'"},
        {"Bear abc", "the Authorization header is not 'Bearer TOKEN'"},
        {"Bearerabc", "the Authorization header is not 'Bearer TOKEN'"},
        {"Basic YWxhZGRpbjpvcGVuc2VzYW1l", "the Authorization header is not 'Bearer TOKEN'"},
        {" Bearer abc", "the Authorization header is not 'Bearer TOKEN'"},
        {"Bearer\tabc", "the Authorization header is not 'Bearer TOKEN'"},
        {"Bearer ", "the Authorization header has no token"},
        {"Bearer    ", "the Authorization header has no token"},
        {"Bearer \tabc", "the Authorization header has no token"},
        {"Bearer abc ",
         "the Authorization header is not 'Bearer TOKEN' (something follows the token)"},
        {"Bearer abc def",
         "the Authorization header is not 'Bearer TOKEN' (something follows the token)"},
        {"Bearer abc\t",
         "the Authorization header is not 'Bearer TOKEN' (something follows the token)"},
        {"Bearer abc\xc3\xa4",
         "the Authorization header is not 'Bearer TOKEN' (something follows the token)"},
        {"Bearer abc\r\n",
         "the Authorization header is not 'Bearer TOKEN' (something follows the token)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *s = "x";
        size_t len = 99;
        err_clear(&err);
        if (tokens_parse_bearer(bad[i].header, &s, &len, &err) != HARK_EINVAL)
            TEST_FAIL_("'%s' accepted", bad[i].header);
        ASSERT_STREQ(err.msg, bad[i].want);
        ASSERT(s == NULL && len == 0);
    }
    const char *s;
    size_t len;
    ASSERT_EQ(tokens_parse_bearer(NULL, &s, &len, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "no Authorization header");
}

static void test_priority_ceiling(void)
{
    /* realtime(0) > high > normal > low(3): allowed iff requested >= ceiling. */
    for (int max = STORE_PRIO_REALTIME; max <= STORE_PRIO_LOW; max++)
        for (int req = STORE_PRIO_REALTIME; req <= STORE_PRIO_LOW; req++)
            ASSERT_EQ(tokens_priority_allowed(max, req), req >= max);
    ASSERT(!tokens_priority_allowed(STORE_PRIO_REALTIME, -1));
    ASSERT(!tokens_priority_allowed(STORE_PRIO_REALTIME, 4));
    ASSERT(tokens_priority_allowed(STORE_PRIO_NORMAL, STORE_PRIO_LOW));
    ASSERT(!tokens_priority_allowed(STORE_PRIO_NORMAL, STORE_PRIO_HIGH));

    token_table t;
    load_table(&t);
    const token_entry *ci = lookup(&t, SECRET_CI);
    hark_err err;
    ASSERT_EQ(tokens_check_priority(ci, STORE_PRIO_NORMAL, &err), 0);
    ASSERT_EQ(tokens_check_priority(ci, STORE_PRIO_LOW, &err), 0);
    ASSERT_EQ(tokens_check_priority(ci, STORE_PRIO_HIGH, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "token 'ci' may submit at normal priority at most, not high");
    ASSERT_EQ(tokens_check_priority(ci, STORE_PRIO_REALTIME, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "token 'ci' may submit at normal priority at most, not realtime");
    ASSERT_EQ(tokens_check_priority(ci, 7, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "unknown priority 7");
    ASSERT_EQ(tokens_check_priority(lookup(&t, SECRET_RT), STORE_PRIO_REALTIME, &err), 0);
    tokens_release(&t);
}

int main(void)
{
    RUN(test_lookup_hits);
    RUN(test_lookup_misses);
    RUN(test_table_keeps_no_secret);
    RUN(test_parse_bearer);
    RUN(test_priority_ceiling);
    TEST_DONE();
}
