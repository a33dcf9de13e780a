/* hark_wer - word error rate of hypothesis texts against reference texts.
 *
 *   hark_wer REF1 HYP1 [REF2 HYP2 ...]
 *
 * Each file is plain text; words are compared case-insensitively with
 * punctuation other than apostrophes ignored, and sentence markers like
 * <s>, </s> and a trailing "(utterance-id)" dropped, so the testdata's
 * `transcription` lines can be used as references directly. Prints
 * "errors=E words=N wer=P%" for the total (Levenshtein distance over words,
 * summed over the pairs, divided by the reference words).
 */
#include "util/buf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct words {
    char **w;
    size_t n;
} words;

static int read_words(const char *path, words *out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    buf b;
    buf_init(&b, 64u << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&b, chunk, n)) {
            fclose(f);
            return -1;
        }
    fclose(f);
    char *text = buf_steal(&b);
    out->w = NULL;
    out->n = 0;
    for (char *tok = strtok(text, " \t\r\n"); tok; tok = strtok(NULL, " \t\r\n")) {
        if (tok[0] == '<' || tok[0] == '(')
            continue;
        char clean[256];
        size_t k = 0;
        for (const char *p = tok; *p && k + 1 < sizeof clean; p++)
            if (isalnum((unsigned char)*p) || *p == '\'')
                clean[k++] = (char)tolower((unsigned char)*p);
        clean[k] = '\0';
        if (!k)
            continue;
        out->w = realloc(out->w, (out->n + 1) * sizeof *out->w);
        out->w[out->n++] = strdup(clean);
    }
    free(text);
    return 0;
}

static size_t distance(const words *r, const words *h)
{
    size_t *prev = calloc(h->n + 1, sizeof *prev), *cur = calloc(h->n + 1, sizeof *cur);
    for (size_t j = 0; j <= h->n; j++)
        prev[j] = j;
    for (size_t i = 1; i <= r->n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= h->n; j++) {
            size_t sub = prev[j - 1] + (strcmp(r->w[i - 1], h->w[j - 1]) != 0);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        size_t *t = prev;
        prev = cur;
        cur = t;
    }
    size_t d = prev[h->n];
    free(prev);
    free(cur);
    return d;
}

static void free_words(words *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->w[i]);
    free(w->w);
}

int main(int argc, char **argv)
{
    if (argc < 3 || (argc - 1) % 2) {
        fprintf(stderr, "usage: hark_wer REF HYP [REF HYP ...]\n");
        return 2;
    }
    size_t errors = 0, total = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        words r, h;
        if (read_words(argv[i], &r) || read_words(argv[i + 1], &h))
            return 2;
        errors += distance(&r, &h);
        total += r.n;
        free_words(&r);
        free_words(&h);
    }
    printf("errors=%zu words=%zu wer=%.1f%%\n", errors, total,
           total ? 100.0 * (double)errors / (double)total : 0.0);
    return 0;
}
