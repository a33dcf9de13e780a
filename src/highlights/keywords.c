#include "highlights/keywords.h"

#include "util/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Weights: a phrase that is nearly always excitement ("oh my god") above
 * one that is often ordinary speech ("yes", "wow" in a podcast). */
static const hl_keyword defaults[] = {
    {"let's go", 1.5},    {"oh my god", 1.5},   {"oh my gosh", 1.2},      {"no way", 1.2},
    {"what a shot", 1.5}, {"what a play", 1.5}, {"what a goal", 1.5},     {"unbelievable", 1.2},
    {"incredible", 1.0},  {"insane", 1.2},      {"are you kidding", 1.2}, {"holy", 1.0},
    {"clutch", 1.2},      {"wow", 0.8},         {"yes yes", 1.2},         {"come on", 0.8},
    {"oh no", 0.8},       {"amazing", 0.8},     {"let's go go", 0.5},     {"did you see that", 1.2},
    {"get in", 0.6},
};

const hl_keyword *hl_default_keywords(size_t *n)
{
    *n = sizeof defaults / sizeof defaults[0];
    return defaults;
}

static bool word_char(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

size_t hl_normalise(const char *src, char *dst, size_t cap)
{
    size_t len = 0, words = 0;
    bool in_word = false;
    if (cap == 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
        unsigned char c = *p;
        /* An apostrophe inside a word stays ("let's"); anywhere else it is
         * punctuation like the rest. */
        bool keep = word_char(c) || (c == '\'' && in_word && word_char(p[1]));
        if (!keep) {
            in_word = false;
            continue;
        }
        if (!in_word) {
            if (words > 0) {
                if (len + 1 >= cap)
                    return 0;
                dst[len++] = ' ';
            }
            words++;
            in_word = true;
        }
        if (len + 1 >= cap)
            return 0;
        dst[len++] = (char)tolower(c);
    }
    dst[len] = '\0';
    return words;
}

void hl_keywords_free(hl_keyword *k, size_t n)
{
    if (!k)
        return;
    for (size_t i = 0; i < n; i++)
        free(k[i].phrase);
    free(k);
}

/* Parse one line (without its newline) into phrase and weight; 0 or an error
 * message in why. */
static int parse_line(char *line, char *phrase, size_t cap, double *weight, size_t *words,
                      const char **why, char *bad, size_t badcap)
{
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';
    if (!utf8_valid(line, len)) {
        *why = "not valid UTF-8";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t') {
            *why = "control character";
            return -1;
        }
    }
    char *sep = strchr(line, '\t');
    size_t seplen = 1;
    char *bar = strstr(line, " | ");
    if (bar && (!sep || bar < sep)) {
        sep = bar;
        seplen = 3;
    }
    *weight = 1.0;
    if (sep) {
        char *w = sep + seplen;
        *sep = '\0';
        while (*w == ' ' || *w == '\t')
            w++;
        char *end = NULL;
        errno = 0;
        double v = strtod(w, &end);
        while (end && (*end == ' ' || *end == '\t'))
            end++;
        if (end == w || !end || *end != '\0' || errno != 0 || !isfinite(v) || v <= 0 || v > 100) {
            snprintf(bad, badcap, "weight '%.40s' is not a number in (0, 100]", w);
            *why = bad;
            return -1;
        }
        *weight = v;
    }
    if (strlen(line) >= HL_KEYWORD_MAX_BYTES) {
        *why = "phrase longer than 100 bytes";
        return -1;
    }
    *words = hl_normalise(line, phrase, cap);
    if (*words == 0) {
        *why = "no words";
        return -1;
    }
    if (*words > HL_KEYWORD_MAX_WORDS) {
        *why = "more than 8 words";
        return -1;
    }
    return 0;
}

int hl_keywords_parse(const char *text, const char *name, hl_keyword **out, size_t *n,
                      hark_err *err)
{
    *out = NULL;
    *n = 0;
    size_t total = strlen(text);
    if (total > HL_KEYWORDS_FILE_MAX)
        return err_set(err, HARK_EINVAL, "bad keywords file '%.200s': larger than %d bytes", name,
                       HL_KEYWORDS_FILE_MAX);
    hl_keyword *k = NULL;
    size_t nk = 0, cap = 0;
    int rc = 0;
    size_t lineno = 0;
    char *copy = strdup(text); /* cut into lines in place */
    if (!copy)
        goto oom;
    for (char *p = copy; *p;) {
        char *line = p, *nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p += strlen(p);
        }
        lineno++;

        const char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '#' || (*s == '\r' && s[1] == '\0'))
            continue;
        char phrase[HL_KEYWORD_MAX_BYTES + 1], bad[96];
        double weight;
        size_t words;
        const char *why = NULL;
        if (parse_line(line, phrase, sizeof phrase, &weight, &words, &why, bad, sizeof bad) != 0) {
            rc = err_set(err, HARK_EINVAL, "bad keyword in '%.200s' line %zu: %s", name, lineno,
                         why);
            goto fail;
        }
        if (nk == HL_KEYWORDS_MAX) {
            rc = err_set(err, HARK_EINVAL, "bad keywords file '%.200s': more than %d phrases", name,
                         HL_KEYWORDS_MAX);
            goto fail;
        }
        if (nk == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            hl_keyword *g = realloc(k, ncap * sizeof *g);
            if (!g)
                goto oom;
            k = g;
            cap = ncap;
        }
        k[nk].phrase = strdup(phrase);
        if (!k[nk].phrase)
            goto oom;
        k[nk].weight = weight;
        nk++;
    }
    free(copy);
    *out = k;
    *n = nk;
    return 0;
oom:
    rc = err_set(err, HARK_ENOMEM, "cannot read keywords file '%.200s': out of memory", name);
fail:
    free(copy);
    hl_keywords_free(k, nk);
    return rc;
}
