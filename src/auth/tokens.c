/* tokens.c - see tokens.h. */
#include "auth/tokens.h"

#include "store/store.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(TOKENS_DIGEST_SIZE == SHA256_DIGEST_LENGTH, "digests are SHA-256");

int tokens_init(token_table *t, const serve_token *tokens, size_t n, hark_err *err)
{
    t->v = NULL;
    t->n = 0;
    if (n == 0)
        return 0;
    token_entry *v = calloc(n, sizeof *v);
    if (!v)
        return err_set(err, HARK_ENOMEM, "out of memory building the token table");
    for (size_t i = 0; i < n; i++) {
        const serve_token *src = &tokens[i];
        if (!src->name || !src->secret) {
            free(v);
            return err_set(err, HARK_EINVAL, "token %zu has no name or no secret", i + 1);
        }
        snprintf(v[i].name, sizeof v[i].name, "%s", src->name);
        v[i].max_priority = src->max_priority;
        v[i].admin = src->admin;
        if (!SHA256((const unsigned char *)src->secret, strlen(src->secret), v[i].digest)) {
            explicit_bzero(v, n * sizeof *v);
            free(v);
            return err_set(err, HARK_EIO, "cannot hash the secret of token '%s'", src->name);
        }
    }
    t->v = v;
    t->n = n;
    return 0;
}

void tokens_release(token_table *t)
{
    if (!t)
        return;
    if (t->v) {
        explicit_bzero(t->v, t->n * sizeof *t->v);
        free(t->v);
    }
    t->v = NULL;
    t->n = 0;
}

const token_entry *tokens_lookup(const token_table *t, const char *secret, size_t len)
{
    unsigned char d[TOKENS_DIGEST_SIZE];
    if (!t || !secret || !SHA256((const unsigned char *)secret, len, d))
        return NULL;
    /* Every entry, no early exit; the match is folded in with a mask, not
     * a branch. Secrets are unique, so at most one entry matches. */
    size_t hit = 0; /* index + 1 of the match, 0 if none */
    for (size_t i = 0; i < t->n; i++) {
        size_t eq = (size_t)(CRYPTO_memcmp(d, t->v[i].digest, sizeof d) == 0);
        hit |= ((size_t)0 - eq) & (i + 1);
    }
    explicit_bzero(d, sizeof d);
    return hit ? &t->v[hit - 1] : NULL;
}

int tokens_parse_bearer(const char *header, const char **secret, size_t *len, hark_err *err)
{
    static const char scheme[] = "bearer";
    *secret = NULL;
    *len = 0;
    if (!header)
        return err_set(err, HARK_EINVAL, "no Authorization header");
    for (size_t i = 0; i < sizeof scheme - 1; i++) {
        char c = header[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != scheme[i]) /* also stops at the terminating NUL */
            return err_set(err, HARK_EINVAL, "the Authorization header is not 'Bearer TOKEN'");
    }
    const char *s = header + sizeof scheme - 1;
    if (*s != ' ')
        return err_set(err, HARK_EINVAL, "the Authorization header is not 'Bearer TOKEN'");
    while (*s == ' ')
        s++;
    size_t n = 0;
    while ((unsigned char)s[n] >= 0x21 && (unsigned char)s[n] <= 0x7e)
        n++;
    if (n == 0)
        return err_set(err, HARK_EINVAL, "the Authorization header has no token");
    if (s[n] != '\0')
        return err_set(err, HARK_EINVAL,
                       "the Authorization header is not 'Bearer TOKEN' (something follows the "
                       "token)");
    *secret = s;
    *len = n;
    return 0;
}

bool tokens_priority_allowed(int max_priority, int requested)
{
    return requested >= STORE_PRIO_REALTIME && requested <= STORE_PRIO_LOW &&
           requested >= max_priority;
}

int tokens_check_priority(const token_entry *t, int requested, hark_err *err)
{
    if (tokens_priority_allowed(t->max_priority, requested))
        return 0;
    if (requested < STORE_PRIO_REALTIME || requested > STORE_PRIO_LOW)
        return err_set(err, HARK_EINVAL, "unknown priority %d", requested);
    return err_set(err, HARK_EINVAL, "token '%s' may submit at %s priority at most, not %s",
                   t->name, store_priority_name(t->max_priority), store_priority_name(requested));
}
