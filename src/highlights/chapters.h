/* chapters.h - a recording's chapters, for YouTube descriptions and podcast
 * players.
 *
 * With a transcript, topic boundaries come from lexical cohesion (Hearst's
 * TextTiling): the words, less a small stop list, in blocks of about 20 s;
 * the cosine similarity of the windows either side of each block gap; a
 * boundary where the similarity dips deepest (depth score), preferring gaps
 * at long pauses. Without one, long pauses and lasting loudness changes only.
 * Titles are the segment's most distinctive words ("Elinor and Marianne"),
 * or "Part N" without a transcript.
 *
 * YouTube's rules always hold for a recording of 30 s or more: the first
 * chapter at 0, at least 3 chapters, each at least 10 s long, in ascending
 * order. A shorter recording gets a single chapter at 0.
 */
#ifndef HARK_HIGHLIGHTS_CHAPTERS_H
#define HARK_HIGHLIGHTS_CHAPTERS_H

#include "highlights/features.h"
#include "output/transcript.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct hl_span {
    double start, end; /* seconds */
} hl_span;

typedef struct hl_chapter {
    double start; /* seconds */
    char *title;  /* UTF-8, one line, never empty */
} hl_chapter;

#define HL_CHAPTER_MIN_S 10.0      /* YouTube: each chapter at least 10 s */
#define HL_CHAPTERS_MIN_TOTAL 30.0 /* shorter recordings get one chapter */
#define HL_CHAPTERS_MAX 100

/* Chapters of a recording of `duration` seconds from its features f (may be
 * NULL) and transcript t (may be NULL or empty), avoiding starts inside the
 * dead-air spans (n_dead of them, may be 0). *out (free with
 * hl_chapters_free) holds *n chapters obeying the rules above; about one
 * chapter per 5 minutes, at most HL_CHAPTERS_MAX. Deterministic. Returns 0
 * or HARK_ENOMEM. */
int hl_chapters_find(const hl_features *f, const transcript *t, double duration,
                     const hl_span *dead, size_t n_dead, hl_chapter **out, size_t *n,
                     hark_err *err);

void hl_chapters_free(hl_chapter *c, size_t n);

/* True if chapters c[0..n) obey the rules above for duration (tests, and
 * hl_result_from_json). */
bool hl_chapters_valid(const hl_chapter *c, size_t n, double duration);

#endif
