/* stream_tickets.c - see stream_tickets.h. */
#include "auth/stream_tickets.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

typedef struct ticket {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    int64_t expires_ms;
    char name[SERVE_TOKEN_NAME_MAX + 1];
    int max_priority;
    bool admin;
} ticket;

struct stream_tickets {
    pthread_mutex_t mu;
    ticket v[STREAM_TICKETS_MAX];
    size_t n;
};

int stream_tickets_new(stream_tickets **out, hark_err *err)
{
    stream_tickets *b = calloc(1, sizeof *b);
    if (!b)
        return err_set(err, HARK_ENOMEM, "out of memory for stream tickets");
    pthread_mutex_init(&b->mu, NULL);
    *out = b;
    return 0;
}

void stream_tickets_free(stream_tickets *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->mu);
    OPENSSL_cleanse(b, sizeof *b);
    free(b);
}

static void drop(stream_tickets *b, size_t i)
{
    b->v[i] = b->v[--b->n];
    OPENSSL_cleanse(&b->v[b->n], sizeof b->v[b->n]);
}

static void drop_expired(stream_tickets *b, int64_t now_ms)
{
    for (size_t i = 0; i < b->n;)
        if (b->v[i].expires_ms <= now_ms)
            drop(b, i);
        else
            i++;
}

int stream_ticket_issue(stream_tickets *b, const token_entry *who, int64_t now_ms,
                        char out[STREAM_TICKET_SIZE], hark_err *err)
{
    unsigned char r[STREAM_TICKET_RANDOM_BYTES];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return err_set(err, HARK_EIO, "no randomness for a stream ticket: %s", strerror(errno));
    size_t p = (size_t)snprintf(out, STREAM_TICKET_SIZE, "%s", STREAM_TICKET_PREFIX);
    for (size_t i = 0; i < sizeof r; i++, p += 2)
        snprintf(out + p, STREAM_TICKET_SIZE - p, "%02x", r[i]);
    OPENSSL_cleanse(r, sizeof r);
    ticket t = {.expires_ms = now_ms + STREAM_TICKET_TTL_S * 1000,
                .max_priority = who->max_priority,
                .admin = who->admin};
    snprintf(t.name, sizeof t.name, "%s", who->name);
    if (!SHA256((const unsigned char *)out, strlen(out), t.digest))
        return err_set(err, HARK_EIO, "cannot hash a stream ticket");
    pthread_mutex_lock(&b->mu);
    drop_expired(b, now_ms);
    if (b->n == STREAM_TICKETS_MAX) {
        size_t oldest = 0;
        for (size_t i = 1; i < b->n; i++)
            if (b->v[i].expires_ms < b->v[oldest].expires_ms)
                oldest = i;
        drop(b, oldest);
    }
    b->v[b->n++] = t;
    pthread_mutex_unlock(&b->mu);
    OPENSSL_cleanse(&t, sizeof t);
    return 0;
}

bool stream_ticket_redeem(stream_tickets *b, const char *text, int64_t now_ms, token_entry *who)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    if (!b || !text || strlen(text) != STREAM_TICKET_SIZE - 1 ||
        !SHA256((const unsigned char *)text, strlen(text), d))
        return false;
    bool found = false;
    pthread_mutex_lock(&b->mu);
    drop_expired(b, now_ms);
    size_t hit = 0;
    /* Every outstanding digest is compared, without an early exit. */
    for (size_t i = 0; i < b->n; i++)
        if (CRYPTO_memcmp(b->v[i].digest, d, sizeof d) == 0) {
            found = true;
            hit = i;
        }
    if (found) {
        memset(who, 0, sizeof *who);
        snprintf(who->name, sizeof who->name, "%s", b->v[hit].name);
        who->max_priority = b->v[hit].max_priority;
        who->admin = b->v[hit].admin;
        drop(b, hit);
    }
    pthread_mutex_unlock(&b->mu);
    return found;
}
