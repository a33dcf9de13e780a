/* hl_render.h - a highlights result as the files users get.
 *
 *  highlights     NAME.highlights.json: the stored document (hl_json.h)
 *                 without "chapters", indented, keys in order
 *  chapters_txt   NAME.chapters.txt: YouTube chapter lines, "0:00 Title",
 *                 M:SS below an hour, H:MM:SS from an hour on; a recording
 *                 shorter than 30 s has its one chapter and a "#" line saying
 *                 YouTube shows no chapters for it
 *  chapters_json  NAME.chapters.json: Podcasting 2.0 JSON chapters,
 *                 {"version": "1.2.0", "chapters": [{"startTime": 0,
 *                 "title": "..."}]}
 *  edl            NAME.edl: a CMX 3600 EDL of markers, as DaVinci Resolve
 *                 writes them (Timelines > Export > Timeline Markers to EDL)
 *                 and imports them (Timelines > Import > Timeline Markers
 *                 from EDL): 30 fps non-drop, one event per highlight in time
 *                 order; source and record timecodes both the highlight's
 *                 place on a timeline that starts at 01:00:00:00 (Resolve's
 *                 default, and what its marker exports carry in both):
 *
 *      TITLE: stream.mkv
 *      FCM: NON-DROP FRAME
 *
 *      001  001      V     C        01:04:40:03 01:04:56:12 01:04:40:03 01:04:56:12
 *      loudness +10.0 LU over baseline; crowd noise |C:ResolveColorBlue |M:Highlight 1 |D:489
 *      * FROM CLIP NAME: stream.mkv
 *
 *                 The marker line is Resolve's: the note (the reasons) before
 *                 the first '|', then colour, name (the rank) and duration in
 *                 frames. '|' and line breaks in text become '/' and spaces.
 *
 * Each appends to dst and returns 0 or HARK_ENOMEM (dst's cap). Output is a
 * pure function of the result.
 */
#ifndef HARK_HIGHLIGHTS_HL_RENDER_H
#define HARK_HIGHLIGHTS_HL_RENDER_H

#include "highlights/rank.h"
#include "util/buf.h"
#include "util/err.h"

int hl_render_highlights(const hl_result *r, buf *dst, hark_err *err);
int hl_render_chapters_txt(const hl_result *r, buf *dst, hark_err *err);
int hl_render_chapters_json(const hl_result *r, buf *dst, hark_err *err);
int hl_render_edl(const hl_result *r, buf *dst, hark_err *err);

/* EDL frame rate. */
#define HL_EDL_FPS 30

/* The formats by name, as GET /v1/jobs/{id}/result?format= names them. */
typedef enum hl_format {
    HL_FMT_HIGHLIGHTS,    /* "highlights"    NAME.highlights.json  application/json */
    HL_FMT_CHAPTERS,      /* "chapters"      NAME.chapters.txt     text/plain */
    HL_FMT_CHAPTERS_JSON, /* "chapters_json" NAME.chapters.json    application/json+chapters */
    HL_FMT_EDL,           /* "edl"           NAME.edl              text/plain */
    HL_FMT_COUNT
} hl_format;

/* "edl" -> HL_FMT_EDL ... Returns 0 or HARK_EINVAL. */
int hl_format_parse(const char *name, hl_format *out);
const char *hl_format_name(hl_format f);
/* The file name's ending after "NAME.": "highlights.json", "edl" ... */
const char *hl_format_ext(hl_format f);
/* The Content-Type (text types say charset=utf-8). */
const char *hl_format_mime(hl_format f);

/* Render r as f (one of the functions above). */
int hl_render(const hl_result *r, hl_format f, buf *dst, hark_err *err);

#endif
