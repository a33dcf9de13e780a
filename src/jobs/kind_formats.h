/* kind_formats.h - the result formats of the job kinds, as data only.
 *
 * The kinds' rows (kind.h) point here for their formats, and the client
 * commands check a --format against them without linking the kinds
 * themselves: a reference to the kind table would pull every kind's code
 * (FFmpeg, PocketSphinx, SQLite) into the front-end `hark`, which links
 * only libcurl and jansson so that it starts in a fifth of the time
 * (src/main.c). */
#ifndef HARK_JOBS_KIND_FORMATS_H
#define HARK_JOBS_KIND_FORMATS_H

#include <stdbool.h>

/* NULL-terminated names (the first is the default) and, in the same
 * order, their MIME types. */
extern const char *const transcription_formats[]; /* transcribe, live */
extern const char *const transcription_mimes[];
extern const char *const highlights_formats[];
extern const char *const highlights_mimes[];

/* Whether some kind renders format. */
bool kind_formats_known(const char *format);

#endif
