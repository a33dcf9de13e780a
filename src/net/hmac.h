/* hmac.h - HMAC-SHA256 (RFC 2104 with SHA-256), by OpenSSL's libcrypto.
 *
 * Used to sign webhook deliveries (net/webhook.h). The message may be given
 * in parts (struct iovec) so a signer can cover "<timestamp>.<body>"
 * without copying the body.
 */
#ifndef HARK_NET_HMAC_H
#define HARK_NET_HMAC_H

#include <stddef.h>
#include <sys/uio.h>

#define NET_HMAC_SHA256_LEN 32      /* bytes of a digest */
#define NET_HMAC_SHA256_HEX_SIZE 65 /* its lowercase hex, with the NUL */

/* HMAC-SHA256 with key over the concatenation of n parts into out.
 * key may be empty (key_len 0). Returns 0, or HARK_EIO if libcrypto fails
 * (out of memory, or no SHA-256 in the loaded provider). */
int net_hmac_sha256(const void *key, size_t key_len, const struct iovec *parts, size_t n,
                    unsigned char out[NET_HMAC_SHA256_LEN]);

/* The same over one buffer, as lowercase hex (what `openssl dgst -sha256
 * -hmac KEY` prints). Returns 0 or HARK_EIO. */
int net_hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t len,
                        char out[NET_HMAC_SHA256_HEX_SIZE]);

/* n bytes as 2n lowercase hex digits plus a NUL into out (2n+1 bytes). */
void net_hex(const unsigned char *in, size_t n, char *out);

#endif
