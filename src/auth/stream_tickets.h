/* stream_tickets.h - short-lived tickets that stand for an API token on the
 * event streams (GET /v1/events, GET /v1/jobs/{id}/events).
 *
 * A browser's EventSource cannot send an Authorization header, and a token
 * in a URL ends up in logs, history and Referer headers for as long as the
 * token lives. So a page trades its token (POST /v1/stream-tickets, with
 * the usual Bearer header) for a ticket: 192 random bits, good for one
 * stream, for STREAM_TICKET_TTL_S seconds, standing for the token that made
 * it (its name, ceiling and admin flag). The book keeps only each ticket's
 * SHA-256 digest, compared in constant time as tokens are (tokens.h); a
 * ticket is forgotten when it is redeemed or expires. At most
 * STREAM_TICKETS_MAX are outstanding: issuing past that drops the one
 * closest to expiry. Thread-safe.
 */
#ifndef HARK_AUTH_STREAM_TICKETS_H
#define HARK_AUTH_STREAM_TICKETS_H

#include "auth/tokens.h"
#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>

#define STREAM_TICKET_TTL_S 60
#define STREAM_TICKETS_MAX 4096
#define STREAM_TICKET_PREFIX "hst_"
#define STREAM_TICKET_RANDOM_BYTES 24 /* 192 bits */
#define STREAM_TICKET_SIZE (sizeof STREAM_TICKET_PREFIX - 1 + 2 * STREAM_TICKET_RANDOM_BYTES + 1)

typedef struct stream_tickets stream_tickets;

/* 0 or HARK_ENOMEM. */
int stream_tickets_new(stream_tickets **out, hark_err *err);

/* Forget every ticket (wiping the digests) and free. NULL is fine. */
void stream_tickets_free(stream_tickets *b);

/* A new ticket for token who, valid from now_ms for STREAM_TICKET_TTL_S
 * seconds, into out ("hst_" and 48 hex digits). 0, HARK_EIO (no
 * randomness, or hashing failed). */
int stream_ticket_issue(stream_tickets *b, const token_entry *who, int64_t now_ms,
                        char out[STREAM_TICKET_SIZE], hark_err *err);

/* Redeem ticket text at now_ms: true with *who filled (name, max_priority,
 * admin; no digest) when it is outstanding and unexpired; it is then
 * forgotten, so a second redeem is false. False for anything else. */
bool stream_ticket_redeem(stream_tickets *b, const char *text, int64_t now_ms, token_entry *who);

#endif
