/* keywords.h - excitement phrases to look for in a transcript.
 *
 * A phrase is one or more words, kept normalised: lower case (ASCII), words
 * separated by single spaces, without the punctuation a recogniser never
 * writes ("Let's go!" -> "let's go"). Matching (rank.c) is case-insensitive,
 * on whole words, across consecutive words of the transcript.
 */
#ifndef HARK_HIGHLIGHTS_KEYWORDS_H
#define HARK_HIGHLIGHTS_KEYWORDS_H

#include "util/err.h"

#include <stddef.h>

typedef struct hl_keyword {
    char *phrase;
    double weight; /* (0, 100]; 1.0 is an ordinary excitement phrase */
} hl_keyword;

#define HL_KEYWORDS_MAX 1000     /* phrases in one file */
#define HL_KEYWORD_MAX_BYTES 100 /* bytes in one phrase */
#define HL_KEYWORD_MAX_WORDS 8   /* words in one phrase */
#define HL_KEYWORDS_FILE_MAX (256 * 1024)

/* The built-in list ("let's go", "oh my god", "no way", ...), static. */
const hl_keyword *hl_default_keywords(size_t *n);

/* Parse a --keywords file's text (NUL-terminated; name is the file's name
 * for messages). One phrase per line, optionally followed by a TAB or " | "
 * and a weight (default 1.0); lines whose first non-blank is '#' and blank
 * lines are skipped; CRLF is accepted. A bad line (no words, a bad weight,
 * control characters, invalid UTF-8, too long) is HARK_EINVAL naming the
 * file and line: "bad keyword in 'kw.txt' line 3: weight 'x' is not a
 * number in (0, 100]". Caps: HL_KEYWORDS_FILE_MAX bytes, HL_KEYWORDS_MAX
 * phrases. On success *out (free with hl_keywords_free) holds *n phrases,
 * normalised; on error nothing. */
int hl_keywords_parse(const char *text, const char *name, hl_keyword **out, size_t *n,
                      hark_err *err);

void hl_keywords_free(hl_keyword *k, size_t n);

/* Normalise one word or phrase into dst (size cap): ASCII lower case,
 * punctuation other than an inner apostrophe dropped, runs of spaces as one.
 * Returns the number of words (0 if none fit or there are none). */
size_t hl_normalise(const char *src, char *dst, size_t cap);

#endif
