#include "net/hmac.h"

#include "util/err.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* EVP_MAC rather than HMAC_CTX: the latter is deprecated in OpenSSL 3
 * (Debian 12 ships 3.0), and the one-shot HMAC() takes a single buffer. */
int net_hmac_sha256(const void *key, size_t key_len, const struct iovec *parts, size_t n,
                    unsigned char out[NET_HMAC_SHA256_LEN])
{
    /* A non-NULL key even when empty: EVP_MAC_init reads a NULL key as
     * "keep the key set before", and there is none. */
    static const unsigned char empty[1];
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    size_t got = 0;
    int ok = ctx && EVP_MAC_init(ctx, key_len ? key : empty, key_len, params);
    for (size_t i = 0; ok && i < n; i++)
        if (parts[i].iov_len)
            ok = EVP_MAC_update(ctx, parts[i].iov_base, parts[i].iov_len);
    ok = ok && EVP_MAC_final(ctx, out, &got, NET_HMAC_SHA256_LEN) && got == NET_HMAC_SHA256_LEN;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? 0 : HARK_EIO;
}

int net_hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t len,
                        char out[NET_HMAC_SHA256_HEX_SIZE])
{
    unsigned char d[NET_HMAC_SHA256_LEN];
    struct iovec part = {.iov_base = (void *)msg, .iov_len = len};
    int rc = net_hmac_sha256(key, key_len, &part, 1, d);
    if (rc) {
        out[0] = '\0';
        return rc;
    }
    net_hex(d, sizeof d, out);
    return 0;
}

void net_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}
