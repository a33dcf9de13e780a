/* chunk_result.h - chunk results and plans as JSON, the form they take in
 * worker messages and in the job store.
 *
 *   words: [["word", start_s, end_s, confidence], ...]   (compact: a long
 *          job stores one of these per chunk)
 *   plan:  {"total": samples, "chunks": [[start, end], ...]}
 *
 * Decoding validates everything (types, finite non-negative times in
 * order, confidences in [0, 1], sane sizes), because the bytes come from
 * another process or from disk: a malformed value is HARK_EINVAL, never a
 * crash or a silently wrong transcript.
 */
#ifndef HARK_JOBS_CHUNK_RESULT_H
#define HARK_JOBS_CHUNK_RESULT_H

#include "asr/engine.h"
#include "media/chunk_plan.h"
#include "util/err.h"

#include <jansson.h>

/* The most words one chunk may carry (30 s of speech is ~100 words). */
#define CHUNK_RESULT_MAX_WORDS 10000

/* New JSON array of r's words; NULL on allocation failure. */
json_t *chunk_result_to_json(const asr_result *r);

/* Fill r (empty on entry) from a words array. Returns 0 or HARK_EINVAL
 * (r left empty) with err saying what is wrong. */
int chunk_result_from_json(const json_t *words, asr_result *r, hark_err *err);

/* The words of any kind's stored chunk result (jobs/kind.h): a words
 * array (transcribe), or an object whose "words" member is one (a
 * highlights analysis); an object without "words" but with "features"
 * (an analysis without transcript) or "artifact" (a clip export) has none.
 * 0 or HARK_EINVAL as above (an object with none of these too). */
int chunk_result_words(const json_t *result, asr_result *r, hark_err *err);

/* The same through text, for the store (which keeps the JSON as TEXT);
 * chunk_result_loads reads any kind's result as chunk_result_words does.
 * chunk_result_dumps returns a malloc'ed string or NULL. */
char *chunk_result_dumps(const asr_result *r);
int chunk_result_loads(const char *text, asr_result *r, hark_err *err);

/* Plans. chunk_plan_from_json checks the plan's invariants (sorted,
 * non-overlapping, within total, at most CHUNK_PLAN_MAX_CHUNKS). */
#define CHUNK_PLAN_MAX_CHUNKS 1000000
json_t *chunk_plan_to_json(const chunk_plan *p);
int chunk_plan_from_json(const json_t *j, chunk_plan *p, hark_err *err);

#endif
