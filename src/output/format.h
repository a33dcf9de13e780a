/* format.h - render a transcript as txt, json, srt, vtt, tsv or verbose_json.
 *
 *  txt           the text, one segment per line
 *  json          hark's own: source, duration, text, segments (with words),
 *                times in seconds (3 decimals), confidences
 *  srt / vtt     subtitles, one cue per segment (HH:MM:SS,mmm / HH:MM:SS.mmm)
 *  tsv           start<TAB>end<TAB>text with integer milliseconds (whisper's tsv)
 *  verbose_json  OpenAI's verbose_json response shape (task, language,
 *                duration, text, segments, words)
 *
 * Output is a pure function of the transcript: the same transcript always
 * renders to the same bytes (determinism is tested end to end).
 */
#ifndef HARK_OUTPUT_FORMAT_H
#define HARK_OUTPUT_FORMAT_H

#include "output/transcript.h"
#include "util/buf.h"
#include "util/err.h"

typedef enum out_format {
    FMT_TXT,
    FMT_JSON,
    FMT_SRT,
    FMT_VTT,
    FMT_TSV,
    FMT_VERBOSE_JSON,
    FMT_COUNT
} out_format;

/* "txt" -> FMT_TXT ... Returns 0 or HARK_EINVAL. */
int out_format_parse(const char *name, out_format *out);

/* The format's name as parsed ("verbose_json"). */
const char *out_format_name(out_format f);

/* The file extension written for it ("txt", "json", "verbose.json" ...). */
const char *out_format_ext(out_format f);

/* The Content-Type of a rendered f (text types say charset=utf-8). */
const char *out_format_mime(out_format f);

/* Parse a comma-separated list ("txt,json,srt") into a bit set of
 * (1u << format). Returns 0, or HARK_EINVAL with err naming the bad entry. */
int out_format_parse_list(const char *list, unsigned *set, hark_err *err);

/* A confidence in [0, 1] as a log-probability, floored at -10 so a zero
 * confidence does not become -inf (which JSON cannot hold). */
double out_confidence_logprob(float confidence);

/* Append the rendering of t in format f to dst. Returns 0 or a negative code. */
int out_render(const transcript *t, out_format f, buf *dst, hark_err *err);

#endif
