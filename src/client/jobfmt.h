/* jobfmt.h - job objects (docs/api.md) as text for people: the rows of
 * `hark ls` and the fields of `hark show`. Pure functions of the JSON. */
#ifndef HARK_CLIENT_JOBFMT_H
#define HARK_CLIENT_JOBFMT_H

#include "util/buf.h"

#include <jansson.h>
#include <stddef.h>

/* Copy s into out (truncated to n) with control characters as '?': text
 * from the server must not drive the terminal. */
void jobfmt_clean(const char *s, char *out, size_t n);

/* Seconds as "M:SS" or "H:MM:SS", rounded; "-" when secs < 0. */
void jobfmt_duration(double secs, char *out, size_t n);

/* The header line of the `ls` table, with its newline. */
const char *jobfmt_header(void);

/* Append job's `ls` row (id, state, priority, progress, duration, source)
 * with its newline. Returns 0 or HARK_ENOMEM. */
int jobfmt_row(const json_t *job, buf *out);

/* Append job's fields as "name: value" lines for `show`. Times are local.
 * Returns 0 or HARK_ENOMEM. */
int jobfmt_show(const json_t *job, buf *out);

#endif
