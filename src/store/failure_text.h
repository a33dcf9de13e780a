/* failure_text.h - the words a job fails with when the store fails it (a
 * task out of attempts, a deadline passed), the same for every backend:
 * what `hark ls`, the API and the webhook body show as the job's error. */
#ifndef HARK_STORE_FAILURE_TEXT_H
#define HARK_STORE_FAILURE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest failure message the store composes (causes are capped at 4096). */
#define STORE_MSG_MAX 8192

/* Into buf (size bytes, truncated to fit): a task out of attempts. idx >= 0:
 * "chunk 4 (40.0-49.8 s) failed 3 times: <cause>" for the chunk over
 * [start, end) samples; idx < 0: "prepare of '<source>' failed 3 times:
 * <cause>". resource: "waited for a resource N times" instead of "failed
 * N times"; n is that count. */
void store_task_failure_text(char *buf, size_t size, int idx, int64_t start, int64_t end,
                             const char *source, bool resource, int n, const char *cause);

/* Into buf: "timed out after <timeout_s> s". */
void store_timeout_text(char *buf, size_t size, double timeout_s);

#endif
