#include "highlights/chapters.h"

#include "highlights/keywords.h"
#include "util/buf.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One chapter per 5 minutes; the TextTiling windows either side of a gap are
 * a minute long (about 150 words of narration: Hearst's blocks are a few
 * sentences, a chapter many). */
#define CHAPTER_TARGET_S 300.0
#define WINDOW_S 60.0
#define GAP_STEP_S 10
#define SNAP_S 5
#define LONG_PAUSE_S 1.5

/* Weights of a boundary's score at a whole second (measured on LibriVox
 * narration joined from different books' passages, where the joins are the
 * topic boundaries): depth of the cohesion dip, a long pause, a lasting
 * loudness change, the end of dead air. */
#define W_DEPTH 1.0
#define W_PAUSE 0.5
#define W_LOUDNESS 0.3
#define W_DEAD_END 1.0

static const char *const stop_words[] = {
    "a",       "about",  "after",  "again",   "all",   "also",  "am",    "an",      "and",
    "any",     "are",    "as",     "at",      "be",    "been",  "but",   "by",      "can",
    "could",   "did",    "do",     "does",    "for",   "from",  "had",   "has",     "have",
    "he",      "her",    "here",   "him",     "his",   "how",   "i",     "if",      "in",
    "into",    "is",     "it",     "its",     "just",  "like",  "me",    "more",    "most",
    "much",    "my",     "no",     "not",     "now",   "of",    "on",    "one",     "only",
    "or",      "other",  "our",    "out",     "over",  "said",  "she",   "so",      "some",
    "such",    "than",   "that",   "the",     "their", "them",  "then",  "there",   "these",
    "they",    "this",   "those",  "to",      "too",   "up",    "upon",  "us",      "very",
    "was",     "we",     "were",   "what",    "when",  "which", "while", "who",     "will",
    "with",    "would",  "yes",    "you",     "your",  "it's",  "don't", "i'm",     "that's",
    "oh",      "well",   "yeah",   "okay",    "go",    "get",   "got",   "know",    "think",
    "going",   "really", "should", "every",   "each",  "own",   "same",  "because", "before",
    "being",   "both",   "down",   "through", "under", "until", "where", "why",     "herself",
    "himself", "itself", "myself",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_stop(const char *w)
{
    static const size_t n = sizeof stop_words / sizeof stop_words[0];
    for (size_t i = 0; i < n; i++)
        if (strcmp(stop_words[i], w) == 0)
            return true;
    return false;
}

void hl_chapters_free(hl_chapter *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++)
        free(c[i].title);
    free(c);
}

bool hl_chapters_valid(const hl_chapter *c, size_t n, double duration)
{
    if (n == 0 || c[0].start != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!c[i].title || !c[i].title[0] || !isfinite(c[i].start))
            return false;
    if (duration < HL_CHAPTERS_MIN_TOTAL)
        return n == 1;
    if (n < 3)
        return false;
    for (size_t i = 0; i < n; i++) {
        double end = i + 1 < n ? c[i + 1].start : duration;
        if (end - c[i].start < HL_CHAPTER_MIN_S)
            return false;
    }
    return true;
}

/* --- the words ----------------------------------------------------------- */

typedef struct words {
    size_t n;
    int *id;      /* vocabulary id per word, -1 for stop words and noise */
    double *mid;  /* midpoint, seconds */
    char **vocab; /* sorted, unique */
    size_t n_vocab;
} words;

static void words_release(words *w)
{
    free(w->id);
    free(w->mid);
    for (size_t i = 0; i < w->n_vocab; i++)
        free(w->vocab[i]);
    free(w->vocab);
}

static int words_build(const transcript *t, words *w)
{
    memset(w, 0, sizeof *w);
    if (!t || t->n_words == 0)
        return 0;
    size_t n = t->n_words, nv = 0;
    char **norm = calloc(n, sizeof *norm);
    w->id = malloc(n * sizeof *w->id);
    w->mid = malloc(n * sizeof *w->mid);
    w->vocab = calloc(n, sizeof *w->vocab);
    if (!norm || !w->id || !w->mid || !w->vocab)
        goto oom;
    w->n = n;
    for (size_t i = 0; i < n; i++) {
        char tmp[64];
        w->mid[i] = (t->words[i].start + t->words[i].end) / 2;
        /* one recogniser word is one word: a multi-word or very short one
         * (or a filler like "<sil>", which normalises to "sil") is noise */
        if (hl_normalise(t->words[i].text ? t->words[i].text : "", tmp, sizeof tmp) != 1 ||
            strlen(tmp) < 3 || is_stop(tmp) || strchr(t->words[i].text, '<'))
            continue;
        norm[i] = strdup(tmp);
        if (!norm[i])
            goto oom;
        w->vocab[nv] = strdup(tmp);
        if (!w->vocab[nv])
            goto oom;
        nv++;
    }
    qsort(w->vocab, nv, sizeof *w->vocab, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < nv; i++) {
        if (u > 0 && strcmp(w->vocab[u - 1], w->vocab[i]) == 0) {
            free(w->vocab[i]);
            continue;
        }
        w->vocab[u++] = w->vocab[i];
    }
    w->n_vocab = u;
    for (size_t i = 0; i < n; i++) {
        w->id[i] = -1;
        if (!norm[i])
            continue;
        char **hit = bsearch(&norm[i], w->vocab, u, sizeof *w->vocab, cmp_str);
        w->id[i] = hit ? (int)(hit - w->vocab) : -1;
        free(norm[i]);
    }
    free(norm);
    return 0;
oom:
    if (norm)
        for (size_t i = 0; i < n; i++)
            free(norm[i]);
    free(norm);
    w->n_vocab = nv;
    words_release(w);
    memset(w, 0, sizeof *w);
    return HARK_ENOMEM;
}

/* Cosine similarity of the word counts in [a, b) and [b, c). */
static double cohesion(const words *w, int *count, double a, double b, double c)
{
    double dot = 0, nl = 0, nr = 0;
    size_t i0 = 0;
    while (i0 < w->n && w->mid[i0] < a)
        i0++;
    size_t i = i0;
    for (; i < w->n && w->mid[i] < b; i++)
        if (w->id[i] >= 0)
            count[w->id[i]]++;
    for (size_t k = i0; k < i; k++)
        if (w->id[k] >= 0 && count[w->id[k]] > 0) {
            nl += (double)count[w->id[k]] * count[w->id[k]];
            count[w->id[k]] = -count[w->id[k]]; /* counted once */
        }
    for (size_t k = i0; k < i; k++)
        if (w->id[k] >= 0 && count[w->id[k]] < 0)
            count[w->id[k]] = -count[w->id[k]];
    /* right window: dot with the left counts, own norm with a second pass */
    size_t j0 = i, j = i;
    for (; j < w->n && w->mid[j] < c; j++)
        if (w->id[j] >= 0)
            dot += count[w->id[j]];
    for (size_t k = i0; k < i; k++)
        if (w->id[k] >= 0)
            count[w->id[k]] = 0;
    for (size_t k = j0; k < j; k++)
        if (w->id[k] >= 0)
            count[w->id[k]]++;
    for (size_t k = j0; k < j; k++)
        if (w->id[k] >= 0 && count[w->id[k]] > 0) {
            nr += (double)count[w->id[k]] * count[w->id[k]];
            count[w->id[k]] = -count[w->id[k]];
        }
    for (size_t k = j0; k < j; k++)
        if (w->id[k] >= 0)
            count[w->id[k]] = 0;
    if (nl <= 0 || nr <= 0)
        return 0;
    return dot / sqrt(nl * nr);
}

/* --- boundary scores per whole second ------------------------------------ */

static int score_seconds(const hl_features *f, const words *w, const transcript *t, size_t secs,
                         const hl_span *dead, size_t n_dead, double *score)
{
    /* TextTiling: similarity at gaps every GAP_STEP_S, depth scores, spread
     * to the seconds within SNAP_S of the gap (a boundary at a pause
     * nearby is as good, and the pause term picks it). */
    if (w->n_vocab > 0) {
        size_t ng = secs / GAP_STEP_S + 1;
        double *sim = malloc(ng * sizeof *sim);
        int *count = calloc(w->n_vocab, sizeof *count);
        if (!sim || !count) {
            free(sim);
            free(count);
            return HARK_ENOMEM;
        }
        for (size_t g = 0; g < ng; g++) {
            double at = (double)(g * GAP_STEP_S);
            sim[g] = cohesion(w, count, at - WINDOW_S, at, at + WINDOW_S);
        }
        for (size_t g = 1; g + 1 < ng; g++) {
            double lp = sim[g], rp = sim[g];
            for (size_t k = g; k-- > 0 && sim[k] >= lp;)
                lp = sim[k];
            for (size_t k = g + 1; k < ng && sim[k] >= rp; k++)
                rp = sim[k];
            double depth = (lp - sim[g]) + (rp - sim[g]);
            size_t at = g * GAP_STEP_S;
            /* the gap itself first, a second away a little less */
            for (size_t s = at > SNAP_S ? at - SNAP_S : 0; s <= at + SNAP_S && s < secs; s++) {
                double away = fabs((double)s - (double)at);
                double v = W_DEPTH * depth * (1.0 - 0.04 * away);
                if (v > score[s])
                    score[s] = v;
            }
        }
        free(sim);
        free(count);
    }
    /* long pauses between words */
    if (t) {
        for (size_t i = 1; i < t->n_words; i++) {
            double gap = t->words[i].start - t->words[i - 1].end;
            if (gap < LONG_PAUSE_S)
                continue;
            double at = floor(t->words[i].start);
            if (at >= 0 && at < (double)secs)
                score[(size_t)at] += W_PAUSE * (gap > 3 ? 1.0 : gap / 3);
        }
    }
    /* long pauses and lasting loudness changes in the audio */
    if (f && f->n) {
        size_t run = 0;
        for (size_t i = 0; i <= f->n; i++) {
            if (i < f->n && f->momentary[i] <= -50.0f) {
                run++;
                continue;
            }
            if (run >= (size_t)(LONG_PAUSE_S * 10) && !t) {
                size_t at = i / 10;
                if (at < secs)
                    score[at] += W_PAUSE * (run >= 30 ? 1.0 : run / 30.0);
            }
            run = 0;
        }
        for (size_t s = 30; s + 30 < secs; s++) {
            double a = 0, b = 0;
            int na = 0, nb = 0;
            for (size_t i = (s - 30) * 10; i < s * 10 && i < f->n; i += 5, na++)
                a += f->short_term[i];
            for (size_t i = s * 10 + 30; i < (s + 30) * 10 && i < f->n; i += 5, nb++)
                b += f->short_term[i];
            if (na && nb) {
                double d = fabs(a / na - b / nb) / 6.0;
                score[s] += W_LOUDNESS * (d > 1 ? 1 : d);
            }
        }
    }
    for (size_t k = 0; k < n_dead; k++) {
        double e = ceil(dead[k].end);
        if (e < (double)secs)
            score[(size_t)e] += W_DEAD_END;
        for (double s = ceil(dead[k].start); s < dead[k].end && s < (double)secs; s++)
            score[(size_t)s] = -1; /* never start a chapter in dead air */
    }
    return 0;
}

typedef struct sec_order {
    double score;
    size_t s;
} sec_order;

static int cmp_sec(const void *a, const void *b)
{
    const sec_order *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->s > y->s) - (x->s < y->s);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* --- titles -------------------------------------------------------------- */

static char *make_title(const words *w, const size_t *starts, size_t k, size_t nk)
{
    buf b;
    buf_init(&b, 256);
    /* tf in this chapter x idf over chapters: the words that set it apart */
    int best[3] = {-1, -1, -1};
    double best_s[3] = {0, 0, 0};
    size_t first[3] = {0, 0, 0};
    if (w->n_vocab) {
        int *tf = calloc(w->n_vocab, sizeof *tf);
        int *df = calloc(w->n_vocab, sizeof *df);
        size_t *firstpos = calloc(w->n_vocab, sizeof *firstpos);
        int *seen = malloc(w->n_vocab * sizeof *seen);
        if (tf && df && firstpos && seen) {
            for (size_t v = 0; v < w->n_vocab; v++)
                seen[v] = -1;
            size_t c = 0;
            for (size_t i = 0; i < w->n; i++) {
                while (c + 1 < nk && w->mid[i] >= (double)starts[c + 1])
                    c++;
                if (w->id[i] < 0)
                    continue;
                if (seen[w->id[i]] != (int)c) {
                    seen[w->id[i]] = (int)c;
                    df[w->id[i]]++;
                }
                if (c == k) {
                    if (tf[w->id[i]] == 0)
                        firstpos[w->id[i]] = i;
                    tf[w->id[i]]++;
                }
            }
            for (size_t v = 0; v < w->n_vocab; v++) {
                if (tf[v] < 1)
                    continue;
                double s = tf[v] * log(1.0 + (double)nk / df[v]);
                for (int r = 0; r < 3; r++) {
                    if (best[r] < 0 || s > best_s[r] + 1e-12 ||
                        (fabs(s - best_s[r]) <= 1e-12 && firstpos[v] < first[r])) {
                        for (int q = 2; q > r; q--) {
                            best[q] = best[q - 1];
                            best_s[q] = best_s[q - 1];
                            first[q] = first[q - 1];
                        }
                        best[r] = (int)v;
                        best_s[r] = s;
                        first[r] = firstpos[v];
                        break;
                    }
                }
            }
        }
        free(tf);
        free(df);
        free(firstpos);
        free(seen);
    }
    /* in the order they are first said; two words "A and B", three "A, B and C" */
    int m = 0;
    for (int r = 0; r < 3; r++)
        if (best[r] >= 0 && (r < 2 || best_s[r] >= best_s[0] * 0.5))
            m = r + 1;
    for (int i = 1; i < m; i++)
        for (int j = i; j > 0 && first[j] < first[j - 1]; j--) {
            int tb = best[j];
            best[j] = best[j - 1];
            best[j - 1] = tb;
            size_t tf2 = first[j];
            first[j] = first[j - 1];
            first[j - 1] = tf2;
        }
    for (int i = 0; i < m; i++) {
        const char *sep = i == 0 ? "" : i == m - 1 ? " and " : ", ";
        char word[64];
        snprintf(word, sizeof word, "%s", w->vocab[best[i]]);
        word[0] = (char)toupper((unsigned char)word[0]);
        if (buf_puts(&b, sep) != 0 || buf_puts(&b, word) != 0)
            break;
    }
    if (b.len == 0 && buf_printf(&b, "Part %zu", k + 1) != 0) {
        buf_release(&b);
        return NULL;
    }
    char *title = buf_steal(&b);
    buf_release(&b);
    return title;
}

/* --- the entry point ----------------------------------------------------- */

int hl_chapters_find(const hl_features *f, const transcript *t, double duration,
                     const hl_span *dead, size_t n_dead, hl_chapter **out, size_t *n, hark_err *err)
{
    *out = NULL;
    *n = 0;
    if (!isfinite(duration) || duration < 0)
        duration = 0;
    words w;
    if (words_build(t, &w) != 0)
        return err_set(err, HARK_ENOMEM, "cannot find chapters: out of memory");
    size_t secs = (size_t)floor(duration);
    size_t *starts = NULL, ns = 1;
    double *score = NULL;
    sec_order *ord = NULL;
    int rc = 0;
    size_t max_ch = secs / (size_t)HL_CHAPTER_MIN_S;
    if (max_ch > HL_CHAPTERS_MAX)
        max_ch = HL_CHAPTERS_MAX;
    size_t want = 1;
    if (duration >= HL_CHAPTERS_MIN_TOTAL) {
        want = (size_t)lround(duration / CHAPTER_TARGET_S);
        if (want < 3)
            want = 3;
        if (want > max_ch)
            want = max_ch;
    }
    starts = calloc(want, sizeof *starts);
    if (!starts)
        goto oom;
    if (want > 1) {
        score = calloc(secs + 1, sizeof *score);
        ord = malloc((secs + 1) * sizeof *ord);
        if (!score || !ord)
            goto oom;
        if (score_seconds(f, &w, t, secs, dead, n_dead, score) != 0)
            goto oom;
        /* greedy: the best-scoring seconds, each chapter at least
         * max(10 s, half an even share) long */
        double spacing = duration / (double)want * 0.5;
        if (spacing < HL_CHAPTER_MIN_S)
            spacing = HL_CHAPTER_MIN_S;
        for (size_t s = 0; s < secs; s++)
            ord[s] = (sec_order){score[s], s};
        qsort(ord, secs, sizeof *ord, cmp_sec);
        for (size_t k = 0; k < secs && ns < want; k++) {
            double s = (double)ord[k].s;
            if (ord[k].score < 0 || s < spacing || duration - s < spacing)
                continue;
            bool ok = true;
            for (size_t j = 1; j < ns && ok; j++)
                ok = fabs((double)starts[j] - s) >= spacing;
            if (ok)
                starts[ns++] = ord[k].s;
        }
        qsort(starts, ns, sizeof *starts, cmp_size);
        /* Could not place them all (the picks boxed each other in): even
         * shares, which always fit since want <= duration / 10. */
        if (ns < want) {
            size_t share = secs / want;
            for (size_t k = 0; k < want; k++)
                starts[k] = k * share;
            ns = want;
        }
    }
    *out = calloc(ns, sizeof **out);
    if (!*out)
        goto oom;
    for (size_t k = 0; k < ns; k++) {
        (*out)[k].start = (double)starts[k];
        (*out)[k].title = make_title(&w, starts, k, ns);
        if (!(*out)[k].title) {
            *n = k;
            goto oom;
        }
    }
    *n = ns;
    goto done;
oom:
    rc = err_set(err, HARK_ENOMEM, "cannot find chapters: out of memory");
    hl_chapters_free(*out, *n);
    *out = NULL;
    *n = 0;
done:
    free(starts);
    free(score);
    free(ord);
    words_release(&w);
    return rc;
}
