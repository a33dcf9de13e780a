/* transcript.h - the timed text of one recording, what every writer renders.
 *
 * Built by appending words chunk by chunk in time order, then finished once,
 * which groups the words into segments (subtitle-sized: a segment ends at a
 * chunk boundary, at a pause of at least 0.6 s, or before it passes 84
 * characters). The transcript owns copies of all strings.
 */
#ifndef HARK_OUTPUT_TRANSCRIPT_H
#define HARK_OUTPUT_TRANSCRIPT_H

#include <stddef.h>

typedef struct tr_word {
    char *text;
    double start; /* seconds */
    double end;
    float confidence; /* [0, 1] */
    int chunk;        /* index of the chunk the word came from */
} tr_word;

typedef struct tr_segment {
    double start;
    double end;
    size_t first_word; /* index into transcript.words */
    size_t n_words;
    char *text; /* the words joined by single spaces */
    float avg_confidence;
} tr_segment;

typedef struct transcript {
    char *source;    /* the input's name as the user gave it */
    char *language;  /* "en" */
    double duration; /* seconds of audio in the recording */
    tr_word *words;
    size_t n_words;
    size_t cap_words;
    tr_segment *segments;
    size_t n_segments;
    char *text; /* all segment texts joined by single spaces ("" when no speech) */
} transcript;

/* Start an empty transcript for `source` lasting duration seconds. */
int transcript_init(transcript *t, const char *source, double duration);

/* Append one word (copied). Words must come in time order. Returns 0 or HARK_ENOMEM. */
int transcript_add_word(transcript *t, const char *text, double start, double end, float confidence,
                        int chunk);

/* Group words into segments and build text. Call once after the last word. */
int transcript_finish(transcript *t);

void transcript_release(transcript *t);

#endif
