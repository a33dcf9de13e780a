/* hmac_test.c - HMAC-SHA256 against the RFC 4231 test vectors, messages in
 * parts, the empty key, and hex. */
#include "net/hmac.h"
#include "util/test.h"

typedef struct vector {
    const char *key_hex;
    const char *data_hex;
    const char *mac_hex; /* case 5 gives only the first 128 bits */
} vector;

/* RFC 4231 section 4, test cases 1 to 7. */
static const vector rfc4231[] = {
    {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {"4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
     "d"
     "dddddd",
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {"0102030405060708090a0b0c0d0e0f10111213141516171819",
     "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdc"
     "d"
     "cdcdcd",
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {"0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "546573742057697468205472756e636174696f6e",
     "a3b6167473100ee06e0c796c2955552b"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "a"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "a"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b"
     "6579204669727374",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "a"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "a"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65"
     "206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b"
     "6579206e6565647320746f20626520686173686564206265666f7265206265696e6720757365642062792074"
     "686520484d414320616c676f726974686d2e",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

/* Decode hex into out; returns the byte count. */
static size_t unhex(const char *hex, unsigned char *out, size_t max)
{
    size_t n = strlen(hex) / 2;
    ASSERT(n <= max);
    for (size_t i = 0; i < n; i++) {
        char pair[3] = {hex[2 * i], hex[2 * i + 1], 0};
        out[i] = (unsigned char)strtoul(pair, NULL, 16);
    }
    return n;
}

static void rfc4231_vectors(void)
{
    for (size_t i = 0; i < sizeof rfc4231 / sizeof rfc4231[0]; i++) {
        unsigned char key[256], data[256];
        size_t kn = unhex(rfc4231[i].key_hex, key, sizeof key);
        size_t dn = unhex(rfc4231[i].data_hex, data, sizeof data);
        char hex[NET_HMAC_SHA256_HEX_SIZE];
        ASSERT_EQ(net_hmac_sha256_hex(key, kn, data, dn, hex), 0);
        ASSERT_EQ(strlen(hex), 64);
        const char *want = rfc4231[i].mac_hex;
        if (strncmp(hex, want, strlen(want)) != 0)
            TEST_FAIL_("RFC 4231 case %zu:\n  got  %s\n  want %s", i + 1, hex, want);
    }
}

/* The same digest whatever the cut into parts, empty parts included. */
static void parts_equal_whole(void)
{
    const char *key = "Jefe";
    const char *msg = "what do ya want for nothing?";
    size_t n = strlen(msg);
    char whole[NET_HMAC_SHA256_HEX_SIZE];
    ASSERT_EQ(net_hmac_sha256_hex(key, 4, msg, n, whole), 0);
    ASSERT_STREQ(whole, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            struct iovec parts[] = {
                {.iov_base = (void *)msg, .iov_len = a},
                {.iov_base = NULL, .iov_len = 0},
                {.iov_base = (void *)(msg + a), .iov_len = b - a},
                {.iov_base = (void *)(msg + b), .iov_len = n - b},
            };
            unsigned char mac[NET_HMAC_SHA256_LEN];
            char hex[NET_HMAC_SHA256_HEX_SIZE];
            ASSERT_EQ(net_hmac_sha256(key, 4, parts, 4, mac), 0);
            net_hex(mac, sizeof mac, hex);
            ASSERT_STREQ(hex, whole);
        }
    }
}

/* An empty key and an empty message are valid HMAC inputs (values from
 * `printf '' | openssl dgst -sha256 -hmac ''`). */
static void empty_key_and_message(void)
{
    char hex[NET_HMAC_SHA256_HEX_SIZE];
    ASSERT_EQ(net_hmac_sha256_hex("", 0, "", 0, hex), 0);
    ASSERT_STREQ(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    ASSERT_EQ(net_hmac_sha256_hex(NULL, 0, NULL, 0, hex), 0);
    ASSERT_STREQ(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void hex_digits(void)
{
    const unsigned char in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof in + 1];
    net_hex(in, sizeof in, out);
    ASSERT_STREQ(out, "00017f80abff");
    net_hex(in, 0, out);
    ASSERT_STREQ(out, "");
}

int main(void)
{
    RUN(rfc4231_vectors);
    RUN(parts_equal_whole);
    RUN(empty_key_and_message);
    RUN(hex_digits);
    TEST_DONE();
}
