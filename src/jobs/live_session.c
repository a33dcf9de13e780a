/* live_session.c - see live_session.h. */
#include "jobs/live_session.h"

#include "media/live_chunker.h"
#include "util/buf.h"
#include "util/clock.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define READ_MAX 1600         /* samples per read and per chunker push (100 ms) */
#define KEEP_BACK (3 * 16000) /* audio kept behind the newest: room for a lead-in */
#define STABLE_AGE_S 1.0      /* a stable word ended this long before the audio decoded */
#define UNSTABLE_TAIL 2       /* the last words of a hypothesis are never stable */
#define PARTIAL_QUIET 16000   /* a partial with no change is still sent after 1 s of audio */

typedef struct session {
    asr_engine *e;
    const live_session_io *io;
    live_chunker ch;
    hark_err *err;
    /* audio: win holds samples [win_start, win_start + win_n) */
    int16_t *win;
    size_t win_n, win_cap;
    int64_t win_start, total;
    /* resume */
    int64_t resume_end, seed_start;
    int16_t *seed;
    size_t seed_n;
    bool seeded;
    /* the open chunk */
    int idx;
    bool open, begun;
    int64_t chunk_start, feed_pos, next_partial, last_partial_at;
    double decode_s;
    asr_result prev;    /* the hypothesis at the last partial */
    asr_result emitted; /* its stable words, sent */
    bool words_before;  /* the session has sent words: a space before the next */
} session;

static int grow(session *s, size_t need)
{
    if (need <= s->win_cap)
        return 0;
    size_t cap = s->win_cap ? s->win_cap : 4 * 16000;
    while (cap < need)
        cap *= 2;
    int16_t *w = realloc(s->win, cap * sizeof *w);
    if (!w)
        return err_set(s->err, HARK_ENOMEM, "out of memory in a live session");
    s->win = w;
    s->win_cap = cap;
    return 0;
}

/* Drop audio nobody can need again: before the open chunk's next sample,
 * and more than KEEP_BACK behind the newest (a chunk opens with a lead-in). */
static void compact(session *s)
{
    int64_t keep = s->total - KEEP_BACK;
    if (s->open && s->feed_pos < keep)
        keep = s->feed_pos;
    if (keep - s->win_start < 16000)
        return;
    size_t drop = (size_t)(keep - s->win_start);
    memmove(s->win, s->win + drop, (s->win_n - drop) * sizeof *s->win);
    s->win_n -= drop;
    s->win_start = keep;
}

static const int16_t *at(const session *s, int64_t pos)
{
    return s->win + (pos - s->win_start);
}

static bool same_word(const asr_word *a, const asr_word *b)
{
    return strcmp(a->text, b->text) == 0 && fabs(a->start_s - b->start_s) < 1e-6;
}

static int copy_words(asr_result *dst, const asr_word *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (asr_result_add_word(dst, w[i].text, strlen(w[i].text), w[i].start_s, w[i].end_s,
                                w[i].confidence))
            return HARK_ENOMEM;
    return 0;
}

/* " word word" for words[from, to), with no leading space for a session's
 * very first word. */
static int delta_text(session *s, const asr_result *r, size_t from, size_t to, buf *out)
{
    for (size_t i = from; i < to; i++) {
        if (buf_printf(out, "%s%s", s->words_before ? " " : "", r->words[i].text))
            return HARK_ENOMEM;
        s->words_before = true;
    }
    return 0;
}

static int partial(session *s)
{
    asr_result cur;
    int rc = asr_engine_live_partial(s->e, &cur, s->err);
    if (rc)
        return rc;
    double now_s = (double)s->feed_pos / 16000;
    /* The prefix that stood still since the last look, old enough, not the tail. */
    size_t k = 0;
    while (k < cur.n_words && k < s->prev.n_words && same_word(&cur.words[k], &s->prev.words[k]))
        k++;
    size_t limit = cur.n_words > UNSTABLE_TAIL ? cur.n_words - UNSTABLE_TAIL : 0;
    if (k > limit)
        k = limit;
    while (k > 0 && cur.words[k - 1].end_s > now_s - STABLE_AGE_S)
        k--;
    /* What was sent must still be there, or nothing more is sent for now. */
    bool agrees = s->emitted.n_words <= cur.n_words;
    for (size_t i = 0; agrees && i < s->emitted.n_words; i++)
        agrees = strcmp(s->emitted.words[i].text, cur.words[i].text) == 0;
    buf delta;
    buf_init(&delta, 1 << 20);
    size_t before = s->emitted.n_words;
    if (agrees && k > before) {
        rc = delta_text(s, &cur, before, k, &delta);
        if (rc == 0)
            rc = copy_words(&s->emitted, cur.words + before, k - before);
    }
    bool changed = cur.n_words != s->prev.n_words || k > before;
    for (size_t i = 0; !changed && i < cur.n_words; i++)
        changed = !same_word(&cur.words[i], &s->prev.words[i]);
    if (rc == 0 && (changed || s->feed_pos - s->last_partial_at >= PARTIAL_QUIET)) {
        s->last_partial_at = s->feed_pos;
        rc = s->io->partial(s->io->ctx, s->idx, s->chunk_start, s->feed_pos, &cur,
                            s->emitted.n_words, delta.len ? delta.data : "", s->err);
    }
    buf_release(&delta);
    asr_result_release(&s->prev);
    s->prev = cur;
    return rc;
}

static int engine_checkin(void *ctx, double fed_s)
{
    (void)fed_s;
    session *s = ctx;
    return s->io->checkin ? s->io->checkin(s->io->ctx) : 0;
}

static int begin(session *s)
{
    if (s->begun)
        return 0;
    int rc = asr_engine_live_begin(s->e, s->chunk_start, engine_checkin, s, s->err);
    if (rc)
        return rc;
    s->begun = true;
    s->next_partial = s->chunk_start + LIVE_PARTIAL_EVERY;
    s->last_partial_at = s->chunk_start;
    s->decode_s = 0;
    return 0;
}

/* Feed the open chunk up to target, stopping at each partial point. */
static int feed_to(session *s, int64_t target)
{
    if (target > s->total)
        target = s->total;
    if (!s->open || s->feed_pos >= target)
        return 0;
    int rc = begin(s);
    while (rc == 0 && s->feed_pos < target) {
        int64_t stop = target < s->next_partial ? target : s->next_partial;
        double t0 = clock_now_s();
        rc = asr_engine_live_feed(s->e, at(s, s->feed_pos), (size_t)(stop - s->feed_pos), s->err);
        s->feed_pos = stop;
        if (rc == 0 && stop == s->next_partial) {
            rc = partial(s);
            s->next_partial += LIVE_PARTIAL_EVERY;
        }
        s->decode_s += clock_now_s() - t0;
    }
    return rc;
}

/* Times in order: each word starts where the one before ends, or later.
 * Stable words come from hypotheses half a second apart, which may place
 * a word's end differently, and a chunk result with overlapping words is
 * refused as malformed. */
static void in_order(asr_result *r)
{
    double prev = 0;
    for (size_t i = 0; i < r->n_words; i++) {
        asr_word *w = &r->words[i];
        if (w->start_s < prev)
            w->start_s = prev;
        if (w->end_s < w->start_s)
            w->end_s = w->start_s;
        prev = w->end_s;
    }
}

/* The chunk's words: the stable ones as sent, then the final hypothesis
 * from where they end (the same as the final words when they agree). */
static int merge(const session *s, const asr_result *final, asr_result *out)
{
    memset(out, 0, sizeof *out);
    const asr_result *em = &s->emitted;
    bool prefix = em->n_words <= final->n_words;
    for (size_t i = 0; prefix && i < em->n_words; i++)
        prefix = strcmp(em->words[i].text, final->words[i].text) == 0;
    if (prefix) {
        if (copy_words(out, final->words, final->n_words))
            return HARK_ENOMEM;
        in_order(out);
        return 0;
    }
    if (copy_words(out, em->words, em->n_words))
        return HARK_ENOMEM;
    double from = em->n_words ? em->words[em->n_words - 1].end_s : 0;
    for (size_t i = 0; i < final->n_words; i++)
        if (final->words[i].start_s >= from - 0.005 && copy_words(out, final->words + i, 1))
            return HARK_ENOMEM;
    in_order(out);
    return 0;
}

static int close_chunk(session *s, int64_t end)
{
    double t0 = clock_now_s();
    int rc = feed_to(s, end);
    if (rc == 0)
        rc = begin(s); /* an empty chunk still closes */
    asr_result final = {0}, words = {0};
    if (rc == 0)
        rc = asr_engine_live_end(s->e, &final, s->err);
    s->decode_s += clock_now_s() - t0;
    if (rc == 0 && merge(s, &final, &words))
        rc = err_set(s->err, HARK_ENOMEM, "out of memory");
    buf delta;
    buf_init(&delta, 1 << 20);
    if (rc == 0 && delta_text(s, &words, s->emitted.n_words, words.n_words, &delta))
        rc = err_set(s->err, HARK_ENOMEM, "out of memory");
    if (rc == 0)
        rc = s->io->chunk(s->io->ctx, s->idx, s->chunk_start, end, &words,
                          delta.len ? delta.data : "", s->decode_s, s->err);
    buf_release(&delta);
    asr_result_release(&final);
    asr_result_release(&words);
    asr_result_release(&s->prev);
    asr_result_release(&s->emitted);
    s->open = s->begun = false;
    s->idx++;
    return rc;
}

static int apply(session *s, const live_cut *c)
{
    if (c->kind == LIVE_CUT_OPEN) {
        s->open = true;
        s->begun = false;
        s->chunk_start = c->at < s->resume_end ? s->resume_end : c->at;
        s->feed_pos = s->chunk_start;
        return 0;
    }
    if (!s->open)
        return 0;
    if (c->at <= s->resume_end) { /* committed before the resume */
        s->open = false;
        return 0;
    }
    return close_chunk(s, c->at);
}

static int drain(session *s)
{
    live_cut c;
    int rc = 0;
    while (rc == 0 && live_chunker_next(&s->ch, &c))
        rc = apply(s, &c);
    return rc;
}

/* Keep what the seed needs while the committed audio is replayed. */
static int keep_seed(session *s, const int16_t *x, size_t n, int64_t pos)
{
    int64_t a = pos > s->seed_start ? pos : s->seed_start;
    int64_t b = pos + (int64_t)n < s->resume_end ? pos + (int64_t)n : s->resume_end;
    if (b <= a)
        return 0;
    int16_t *seed = realloc(s->seed, (s->seed_n + (size_t)(b - a)) * sizeof *seed);
    if (!seed)
        return err_set(s->err, HARK_ENOMEM, "out of memory in a live session");
    memcpy(seed + s->seed_n, x + (a - pos), (size_t)(b - a) * sizeof *seed);
    s->seed = seed;
    s->seed_n += (size_t)(b - a);
    return 0;
}

static int take(session *s, const int16_t *x, size_t n)
{
    int rc = grow(s, s->win_n + n);
    if (rc == 0 && !s->seeded)
        rc = keep_seed(s, x, n, s->total);
    if (rc)
        return rc;
    memcpy(s->win + s->win_n, x, n * sizeof *x);
    s->win_n += n;
    s->total += (int64_t)n;
    if (!s->seeded && s->total >= s->resume_end) {
        if (s->seed_n)
            rc = asr_engine_live_seed(s->e, s->seed, s->seed_n, s->err);
        free(s->seed);
        s->seed = NULL;
        s->seeded = true;
    }
    if (rc == 0)
        live_chunker_push(&s->ch, x, n);
    if (rc == 0)
        rc = drain(s);
    if (rc == 0 && s->open)
        rc = feed_to(s, live_chunker_safe(&s->ch));
    compact(s);
    return rc;
}

int live_session_run(asr_engine *e, const live_session_opts *o, const live_session_io *io,
                     int64_t *total_samples, hark_err *err)
{
    session s = {.e = e, .io = io, .err = err};
    s.idx = o->first_idx;
    s.resume_end = o->resume_end > 0 ? o->resume_end : 0;
    s.seed_start = o->seed_start < s.resume_end ? o->seed_start : s.resume_end;
    s.seeded = s.resume_end == 0;
    s.words_before = o->words_before;
    live_chunker_init(&s.ch, NULL);
    asr_engine_live_reset(e);
    int16_t block[READ_MAX];
    int rc = 0;
    for (;;) {
        int64_t n = io->read(io->ctx, block, READ_MAX, err);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        if (n == 0) {
            live_chunker_finish(&s.ch, s.total);
            rc = drain(&s);
            break;
        }
        if ((rc = take(&s, block, (size_t)n)) != 0)
            break;
    }
    asr_engine_live_abort(e);
    asr_result_release(&s.prev);
    asr_result_release(&s.emitted);
    free(s.win);
    free(s.seed);
    if (rc == 0 && total_samples)
        *total_samples = s.total;
    return rc;
}
