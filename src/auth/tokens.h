/* tokens.h - API bearer tokens at request time: find the token a client
 * presented, parse the Authorization header, check the priority ceiling.
 *
 * The table keeps each configured secret only as its SHA-256 digest. A
 * lookup hashes the presented secret and compares that digest with every
 * entry's using CRYPTO_memcmp, with no early exit, so its time depends on
 * neither where the bytes differ nor which entry (if any) matches, and the
 * fixed-size digests reveal nothing of the configured secrets' lengths. The
 * only input-dependent cost is hashing the presented secret, whose length
 * the client knows anyway. (A plain hash suffices: the digests never leave
 * the process, and secrets of at least 16 characters are not guessed.)
 *
 * Priorities are enum store_priority (store/store.h): realtime (0) > high >
 * normal > low (3); a token may submit at its max_priority or below.
 */
#ifndef HARK_AUTH_TOKENS_H
#define HARK_AUTH_TOKENS_H

#include "auth/serve_config.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

#define TOKENS_DIGEST_SIZE 32 /* SHA-256 */

typedef struct token_entry {
    char name[SERVE_TOKEN_NAME_MAX + 1];
    int max_priority;                         /* enum store_priority */
    bool admin;                               /* sees and controls every job */
    unsigned char digest[TOKENS_DIGEST_SIZE]; /* SHA-256 of the secret */
} token_entry;

typedef struct token_table {
    token_entry *v;
    size_t n;
} token_table;

/* Build a table from n configured tokens (serve_config.h; their names and
 * secrets were validated there, and secrets are unique). The table keeps no
 * copy of any secret. Returns 0, or HARK_ENOMEM / HARK_EIO (hashing failed)
 * with err set and *t empty. An empty table matches nothing. */
int tokens_init(token_table *t, const serve_token *tokens, size_t n, hark_err *err);

/* Free the table (wiping the digests); it is empty afterwards. NULL is fine. */
void tokens_release(token_table *t);

/* The entry whose secret is the len bytes at secret, or NULL: constant time
 * in the sense above. Fails closed (NULL) should hashing fail. */
const token_entry *tokens_lookup(const token_table *t, const char *secret, size_t len);

/* Parse an Authorization header value: "Bearer", in any case, one or more
 * spaces, then the token, visible ASCII (0x21..0x7e) to the end; nothing
 * else (no leading or trailing blanks, no tabs, no second word). Returns 0
 * with *secret pointing into header and *len its length, or HARK_EINVAL
 * with err set (the message never quotes the header). NULL header (none
 * sent) is HARK_EINVAL too. */
int tokens_parse_bearer(const char *header, const char **secret, size_t *len, hark_err *err);

/* May a token whose ceiling is max_priority submit at requested? True when
 * requested is a valid priority no better than the ceiling. */
bool tokens_priority_allowed(int max_priority, int requested);

/* The same check for entry t, with a message naming the token and both
 * priorities: 0, or HARK_EINVAL with err set. */
int tokens_check_priority(const token_entry *t, int requested, hark_err *err);

#endif
