/* rank.h - the highlights of a whole recording, from its features and
 * (optionally) its transcript.
 *
 * Runs once per recording, after every chunk's features are committed and
 * concatenated (hl_features_append). A pure function of its inputs: the same
 * features, transcript and options always give the same result (no
 * randomness; sorts break ties by time). The method and its weights are
 * described at the top of rank.c.
 */
#ifndef HARK_HIGHLIGHTS_RANK_H
#define HARK_HIGHLIGHTS_RANK_H

#include "highlights/chapters.h"
#include "highlights/features.h"
#include "highlights/keywords.h"
#include "output/transcript.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct hl_opts {
    int top_n;                  /* highlights wanted, default 10 (1..100) */
    double pre_s, post_s;       /* clip bounds around the peak, default 8 and 5 s */
    double dead_air_min_s;      /* silence at least this long is dead air, default 20 s */
    const hl_keyword *keywords; /* extra phrases (--keywords), may be NULL */
    size_t n_keywords;
    bool default_keywords; /* also look for hl_default_keywords, default true */
} hl_opts;

void hl_opts_default(hl_opts *o);

typedef struct hl_highlight {
    int rank;     /* 1 = best score */
    double start; /* clip bounds, seconds */
    double end;
    double peak; /* the moment the score peaks, start < peak < end */
    double score;
    char **reasons; /* human strings: "loudness +6.1 LU over baseline" ... */
    size_t n_reasons;
    char *text; /* transcript words inside the clip, "" without transcript */
} hl_highlight;

typedef struct hl_result {
    char *source;
    double duration;
    hl_highlight *h; /* in time order */
    size_t n;
    hl_span *dead_air; /* in time order */
    size_t n_dead;
    hl_chapter *chapters;
    size_t n_chapters;
} hl_result;

/* Find the highlights, dead air and chapters of a recording of `duration`
 * seconds named source, from its features f (frame 0 at sample 0, as
 * hl_features_append builds them) and transcript t (may be NULL). o may be
 * NULL for the defaults. Highlights never overlap each other, never overlap
 * dead air by more than a second, and lie within [0, duration]. out is
 * initialised; release it with hl_result_release whatever the result.
 * Returns 0, HARK_EINVAL (bad options or features) or HARK_ENOMEM. */
int hl_find(const hl_features *f, const transcript *t, const char *source, double duration,
            const hl_opts *o, hl_result *out, hark_err *err);

void hl_result_release(hl_result *r);

#endif
