/* live.h - a live job on `hark serve` (docs/api.md, "Live dictation"),
 * from the client's side: create it, append audio, end it for the final
 * result, or cancel it; and the partial text its event stream carries.
 *
 *   POST /v1/live                 {"priority", "format": "s16le", "name"} -> 201 job
 *   POST /v1/live/{id}/audio      raw bytes appended                      -> {"id", "bytes"}
 *   POST /v1/live/{id}/end        -> the final result (json), once the last audio is decoded
 *   POST /v1/jobs/{id}/cancel     -> the job
 *   GET  /v1/jobs/{id}/events     transcript.partial {"text"}, transcript.text.delta {"delta"},
 *                                 then succeeded | failed | cancelled
 */
#ifndef HARK_DICTATE_LIVE_H
#define HARK_DICTATE_LIVE_H

#include "client/http_client.h"
#include "util/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIVE_ID_MAX 72

typedef struct live_opts {
    const char *priority; /* NULL: the server's default (realtime) */
    const char *name;     /* a label for `hark ls`, NULL: none */
} live_opts;

/* The JSON body of POST /v1/live for o (raw s16le 16 kHz mono). */
json_t *live_create_body(const live_opts *o);

/* Create a live job; its id into id (LIVE_ID_MAX bytes). */
int live_create(hc_client *c, const live_opts *o, char *id, hark_err *err);

/* Append len bytes of audio; *total (may be NULL) gets the server's count
 * of bytes received so far. */
int live_append(hc_client *c, const char *id, const void *data, size_t len, int64_t *total,
                hark_err *err);

/* End the job and wait for its final result: the json result into *result
 * (to json_decref). */
int live_end(hc_client *c, const char *id, json_t **result, hark_err *err);

/* Cancel the job. */
int live_cancel(hc_client *c, const char *id, hark_err *err);

/* The text of a json result ("text", spaces trimmed) into out (initialized
 * here, to release). Returns 0, or HARK_EIO when it has none. */
int live_result_text(const json_t *result, buf *out, hark_err *err);

/* ---- partial text --------------------------------------------------- */

/* What the event stream said so far. transcript.text.delta carries text
 * that will not change any more (" word word", its own spacing), the
 * chunks' words in order; transcript.partial is the chunk being decoded:
 * "chunk" (its index), "words" (all of its words so far, the stable ones
 * first) and "text" (the still-changing tail alone). What is shown is the
 * stable text of the chunks before this one and this chunk's words: the
 * deltas of this chunk's stable words change nothing on screen, so words
 * do not blink out between a partial and the delta that follows it. */
typedef struct live_partial {
    buf stable;      /* the deltas, joined */
    buf base;        /* the stable text when the current chunk began */
    buf words;       /* the current chunk's words, from its last partial */
    buf shown;       /* base + words, or stable once it goes further */
    long long chunk; /* the current chunk's index, -1 before any partial */
    bool final;      /* succeeded, failed or cancelled came */
    char state[16];
} live_partial;

void live_partial_init(live_partial *p);
void live_partial_release(live_partial *p);

/* Apply one event. Returns true when the text to show changed. */
bool live_partial_apply(live_partial *p, const char *type, const char *data, size_t len);

/* The text to show. */
const char *live_partial_text(const live_partial *p);

#endif
