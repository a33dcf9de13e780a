#include "output/transcript.h"

#include "util/err.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Segmentation rules (see transcript.h). */
#define TR_GAP_MS 600       /* a pause this long starts a new segment */
#define TR_MAX_SEG_CHARS 84 /* subtitle line budget, in characters */

/* Hard cap on words: ~16.7 million words is over a thousand hours of speech.
 * Hitting it is HARK_ENOMEM, like any other cap (err.h). */
#define TR_MAX_WORDS ((size_t)1 << 24)

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Characters, not bytes: a subtitle line budget is about what the reader
 * sees, so count UTF-8 code points (every byte that is not a continuation). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Times are compared in whole milliseconds, the resolution every format
 * prints, so a gap that renders as 0.600 s always splits and one that
 * renders as 0.599 s never does, whatever the floating-point noise. */
static long long to_ms(double t)
{
    if (!isfinite(t))
        return 0;
    return llround(t * 1000.0);
}

int transcript_init(transcript *t, const char *source, double duration)
{
    memset(t, 0, sizeof *t);
    t->source = dup_str(source ? source : "");
    t->language = dup_str("en");
    if (!t->source || !t->language) {
        transcript_release(t);
        return HARK_ENOMEM;
    }
    t->duration = duration;
    return 0;
}

int transcript_add_word(transcript *t, const char *text, double start, double end, float confidence,
                        int chunk)
{
    if (t->n_words >= TR_MAX_WORDS)
        return HARK_ENOMEM;
    if (t->n_words == t->cap_words) {
        size_t cap = t->cap_words ? t->cap_words * 2 : 64;
        if (cap > TR_MAX_WORDS)
            cap = TR_MAX_WORDS;
        tr_word *w = realloc(t->words, cap * sizeof *w);
        if (!w)
            return HARK_ENOMEM;
        t->words = w;
        t->cap_words = cap;
    }
    char *copy = dup_str(text ? text : "");
    if (!copy)
        return HARK_ENOMEM;
    tr_word *w = &t->words[t->n_words++];
    w->text = copy;
    w->start = start;
    w->end = end;
    w->confidence = confidence;
    w->chunk = chunk;
    return 0;
}

static void free_segments(transcript *t)
{
    for (size_t i = 0; i < t->n_segments; i++)
        free(t->segments[i].text);
    free(t->segments);
    t->segments = NULL;
    t->n_segments = 0;
    free(t->text);
    t->text = NULL;
}

/* Fill seg's text, times and confidence from its words. */
static int build_segment(const transcript *t, tr_segment *seg)
{
    const tr_word *w = &t->words[seg->first_word];
    size_t len = 0;
    double conf = 0.0;
    for (size_t i = 0; i < seg->n_words; i++) {
        len += strlen(w[i].text) + (i ? 1 : 0);
        conf += w[i].confidence;
    }
    char *text = malloc(len + 1);
    if (!text)
        return HARK_ENOMEM;
    size_t off = 0;
    for (size_t i = 0; i < seg->n_words; i++) {
        if (i)
            text[off++] = ' ';
        size_t n = strlen(w[i].text);
        memcpy(text + off, w[i].text, n);
        off += n;
    }
    text[off] = '\0';
    seg->text = text;
    seg->start = w[0].start;
    seg->end = w[seg->n_words - 1].end;
    seg->avg_confidence = (float)(conf / (double)seg->n_words);
    return 0;
}

int transcript_finish(transcript *t)
{
    /* Safe to call again (e.g. after more words): rebuild from scratch. */
    free_segments(t);

    if (t->n_words > 0) {
        /* At most one segment per word. */
        t->segments = calloc(t->n_words, sizeof *t->segments);
        if (!t->segments)
            return HARK_ENOMEM;
    }

    size_t seg_chars = 0; /* characters in the segment being grown */
    for (size_t i = 0; i < t->n_words; i++) {
        const tr_word *w = &t->words[i];
        size_t wc = utf8_chars(w->text);
        int split = i == 0;
        if (!split) {
            const tr_word *prev = &t->words[i - 1];
            split = w->chunk != prev->chunk || to_ms(w->start) - to_ms(prev->end) >= TR_GAP_MS ||
                    seg_chars + 1 + wc > TR_MAX_SEG_CHARS;
        }
        if (split) {
            tr_segment *s = &t->segments[t->n_segments++];
            s->first_word = i;
            s->n_words = 1;
            seg_chars = wc;
        } else {
            t->segments[t->n_segments - 1].n_words++;
            seg_chars += 1 + wc;
        }
    }

    size_t total = 0;
    for (size_t i = 0; i < t->n_segments; i++) {
        if (build_segment(t, &t->segments[i]) != 0) {
            free_segments(t);
            return HARK_ENOMEM;
        }
        total += strlen(t->segments[i].text) + (i ? 1 : 0);
    }

    t->text = malloc(total + 1);
    if (!t->text) {
        free_segments(t);
        return HARK_ENOMEM;
    }
    size_t off = 0;
    for (size_t i = 0; i < t->n_segments; i++) {
        if (i)
            t->text[off++] = ' ';
        size_t n = strlen(t->segments[i].text);
        memcpy(t->text + off, t->segments[i].text, n);
        off += n;
    }
    t->text[off] = '\0';
    return 0;
}

void transcript_release(transcript *t)
{
    free_segments(t);
    for (size_t i = 0; i < t->n_words; i++)
        free(t->words[i].text);
    free(t->words);
    free(t->source);
    free(t->language);
    memset(t, 0, sizeof *t);
}
