/* follow.h - follow one job's event stream to its end, with progress.
 *
 * `hark wait` and `hark ptt` both wait here. The job is fetched first (a
 * finished job needs no stream); then its events are replayed from the
 * start and followed live until succeeded, failed or cancelled.
 * follow_apply is the pure part: what one event does to what is shown.
 */
#ifndef HARK_CLIENT_FOLLOW_H
#define HARK_CLIENT_FOLLOW_H

#include "client/http_client.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct follow_state {
    char phase[24];  /* "queued", "decoding", "transcribing", "preempted", "paused" */
    double fraction; /* of the chunks done, in [0, 1] */
    bool decoded;    /* the input is decoded (the number of chunks is known) */
    bool final;
    char state[16];  /* once final: "succeeded", "failed" or "cancelled" */
    char error[400]; /* once failed: the job's error, one line */
} follow_state;

/* Start from a job object (GET /v1/jobs/{id}), or from nothing (NULL). */
void follow_init(follow_state *f, const json_t *job);

/* Apply one event (its type and data JSON). Returns true when it was a
 * final event; unknown events and bad data change nothing else. */
bool follow_apply(follow_state *f, const char *type, const char *data, size_t len);

typedef struct follow_opts {
    bool progress; /* show progress on stderr (a bar on a terminal) */
    bool tty;      /* stderr is a terminal */
} follow_opts;

/* Follow job id until it is final; the outcome is in f (f->final,
 * f->state, f->error). Returns 0 when it got there, or a negative code
 * with err when the server could not be asked or the stream was lost. */
int follow_job(hc_client *c, const char *id, const follow_opts *o, follow_state *f, hark_err *err);

#endif
