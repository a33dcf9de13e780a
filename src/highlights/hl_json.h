/* hl_json.h - the stored form of a highlights result.
 *
 * The job store keeps one document per recording and every output format is
 * rendered from it (hl_render.h):
 *
 *   {"source": "stream.mkv", "duration": 912.345,
 *    "highlights": [{"rank": 1, "start": 280.1, "end": 296.4, "peak": 290.2,
 *                    "score": 14.86, "reasons": ["loudness +10.0 LU over
 *                    baseline", "crowd noise"], "text": ""}, ...],
 *    "dead_air": [{"start": 315.0, "end": 375.2}],
 *    "chapters": [{"start": 0.0, "title": "Elinor and Marianne"}, ...]}
 *
 * Seconds and scores are rounded to 3 decimals (halves away from zero), so
 * to_json(from_json(to_json(r))) is to_json(r) and rendering is a pure
 * function of the document.
 */
#ifndef HARK_HIGHLIGHTS_HL_JSON_H
#define HARK_HIGHLIGHTS_HL_JSON_H

#include "highlights/rank.h"

#include <jansson.h>

/* Caps of a parsed document (it may come from disk or another process). */
#define HL_JSON_MAX_HIGHLIGHTS 100
#define HL_JSON_MAX_REASONS 16
#define HL_JSON_MAX_REASON_BYTES 256
#define HL_JSON_MAX_TEXT_BYTES (64 * 1024)
#define HL_JSON_MAX_DEAD 10000
#define HL_JSON_MAX_TITLE_BYTES 256
#define HL_JSON_MAX_SOURCE_BYTES 4096

/* The document for r, or NULL when out of memory. Strings that are not valid
 * UTF-8 are repaired (U+FFFD) so the document always dumps. */
json_t *hl_result_to_json(const hl_result *r);

/* The same without "chapters": the NAME.highlights.json users get. */
json_t *hl_result_to_json_highlights(const hl_result *r);

/* Parse a document (untrusted): types, finite numbers, ranges (0 <= start <=
 * peak <= end <= duration + 0.001, ranks 1..n each once, chapters ascending
 * from 0), sizes within the caps above. out is initialised; on error it holds
 * nothing. Returns 0, HARK_EINVAL or HARK_ENOMEM with err set. */
int hl_result_from_json(const json_t *j, hl_result *out, hark_err *err);

#endif
