/* live_chunker.c - see live_chunker.h. All decisions are in whole frames
 * and integers, so they are a pure function of the samples. */
#include "media/live_chunker.h"

#include <math.h>
#include <string.h>

#define FRAME 160
#define NBINS 200
#define SPEECH_ABOVE_FLOOR 20 /* 10 dB in 0.5 dB bins, as the planner */
#define SPEECH_MIN_BIN 70     /* -65 dBFS */
#define HANGOVER 30           /* runs closer than 0.3 s merge */
#define MIN_REGION 10         /* runs shorter than 0.1 s are clicks */
#define SHORT_GAP 10          /* a 0.1 s pause closes a chunk past the target */
#define FLOOR_PERCENT 10

void live_chunker_init(live_chunker *c, const chunk_plan_opts *o)
{
    chunk_plan_opts def;
    if (!o) {
        chunk_plan_opts_default(&def);
        o = &def;
    }
    memset(c, 0, sizeof *c);
    c->pad_f = (int64_t)floor(o->pad_s * 100);
    c->min_f = (int64_t)floor(o->min_s * 100);
    c->tgt_f = (int64_t)floor((o->target_s - 2 * o->pad_s) * 100);
    c->max_f = (int64_t)floor((o->max_s - 2 * o->pad_s) * 100);
    c->gap_f = (int64_t)floor(o->max_gap_s * 100);
    if (c->tgt_f < c->min_f)
        c->tgt_f = c->min_f;
    if (c->max_f < c->tgt_f)
        c->max_f = c->tgt_f;
    if (c->gap_f <= HANGOVER)
        c->gap_f = HANGOVER + 1;
    c->run_s = c->run_e = -1;
}

static void queue(live_chunker *c, enum live_cut_kind kind, int64_t frame_or_sample, bool frames)
{
    if (c->q_n == LIVE_CHUNKER_QUEUE)
        return; /* cannot happen with pushes of at most 100 ms between drains */
    live_cut *q = &c->q[(c->q_head + c->q_n++) % LIVE_CHUNKER_QUEUE];
    q->kind = kind;
    q->at = frames ? frame_or_sample * FRAME : frame_or_sample;
}

static void close_at(live_chunker *c, int64_t f)
{
    if (f < c->safe_f)
        f = c->safe_f; /* never behind what the recognizer has */
    queue(c, LIVE_CUT_CLOSE, f, true);
    c->in_chunk = false;
    c->last_close = f;
    c->safe_f = f;
}

static void open_at(live_chunker *c, int64_t f, int64_t speech_from)
{
    if (f < c->last_close)
        f = c->last_close;
    if (f < 0)
        f = 0;
    queue(c, LIVE_CUT_OPEN, f, true);
    c->in_chunk = true;
    c->chunk_s = speech_from;
    c->speech_e = speech_from;
    if (c->safe_f < f)
        c->safe_f = f;
}

/* The floor: the 10th percentile of the bins of the last FLOOR_WIN frames. */
static int floor_bin(const live_chunker *c)
{
    int64_t have = c->t < LIVE_CHUNKER_FLOOR_WIN ? c->t : LIVE_CHUNKER_FLOOR_WIN;
    int64_t want = (have * FLOOR_PERCENT + 99) / 100, cum = 0;
    int b = 0;
    for (; b < NBINS - 1; b++) {
        cum += c->hist[b];
        if (cum >= want)
            break;
    }
    return b;
}

/* The quietest frame boundary among the last LAG frames (latest on ties). */
static int64_t quietest_recent(const live_chunker *c)
{
    int64_t best = c->t, lo = c->t - LIVE_CHUNKER_LAG_F + 1;
    if (lo < c->safe_f)
        lo = c->safe_f;
    int best_bin = 1 << 30;
    for (int64_t f = lo; f < c->t; f++) {
        int b = c->lag_ring[f % LIVE_CHUNKER_LAG_F];
        if (b <= best_bin) {
            best_bin = b;
            best = f;
        }
    }
    return best;
}

static void frame(live_chunker *c, int bin)
{
    int64_t t = c->t;
    /* the floor's window slides: [t - WIN + 1, t] */
    if (t >= LIVE_CHUNKER_FLOOR_WIN)
        c->hist[c->floor_ring[t % LIVE_CHUNKER_FLOOR_WIN]]--;
    c->floor_ring[t % LIVE_CHUNKER_FLOOR_WIN] = (unsigned char)bin;
    c->hist[bin]++;
    c->lag_ring[t % LIVE_CHUNKER_LAG_F] = (unsigned char)bin;
    c->t = t + 1;
    int fl = floor_bin(c);
    bool speech = bin >= fl + SPEECH_ABOVE_FLOOR && bin >= SPEECH_MIN_BIN;

    if (speech) {
        if (c->run_s >= 0 && t - c->run_e < HANGOVER)
            c->run_e = t + 1;
        else
            c->run_s = t, c->run_e = t + 1;
        if (c->run_e - c->run_s >= MIN_REGION) { /* a confirmed run */
            if (!c->in_chunk)
                open_at(c, c->run_s - c->pad_f, c->run_s);
            c->speech_e = c->run_e;
        }
    }
    if (c->in_chunk) {
        int64_t gap = c->t - c->speech_e;        /* frames of pause so far */
        int64_t span = c->speech_e - c->chunk_s; /* speech held */
        if (gap >= c->gap_f)
            close_at(c, c->speech_e + c->pad_f);
        else if (gap >= HANGOVER && span >= c->min_f)
            close_at(c, c->speech_e + HANGOVER / 2);
        else if (gap >= SHORT_GAP && span >= c->tgt_f)
            close_at(c, c->speech_e + SHORT_GAP / 2);
        else if (c->t - c->chunk_s >= c->max_f) {
            int64_t cut = quietest_recent(c);
            close_at(c, cut);
            open_at(c, cut, cut);
        }
    }
    if (c->in_chunk) {
        /* In speech the safe point trails by the lag; in a pause it stops
         * a pad after the speech, where a close would cut. */
        int64_t safe = c->t - LIVE_CHUNKER_LAG_F;
        if (safe > c->speech_e + c->pad_f)
            safe = c->speech_e + c->pad_f;
        if (safe > c->safe_f)
            c->safe_f = safe;
    }
}

void live_chunker_push(live_chunker *c, const int16_t *x, size_t n)
{
    if (c->finished)
        return;
    while (n > 0) {
        size_t k = (size_t)(FRAME - c->part_n) < n ? (size_t)(FRAME - c->part_n) : n;
        memcpy(c->part + c->part_n, x, k * sizeof *x);
        c->part_n += (int)k;
        x += k;
        n -= k;
        if (c->part_n == FRAME) {
            frame(c, chunk_plan_frame_bin(c->part, FRAME));
            c->part_n = 0;
        }
    }
}

void live_chunker_finish(live_chunker *c, int64_t total)
{
    if (c->finished)
        return;
    c->finished = true;
    if (!c->in_chunk)
        return;
    int64_t end = (c->speech_e + c->pad_f) * FRAME;
    if (end > total)
        end = total;
    if (end < c->safe_f * FRAME)
        end = c->safe_f * FRAME;
    queue(c, LIVE_CUT_CLOSE, end, false);
    c->in_chunk = false;
    c->safe_f = (end + FRAME - 1) / FRAME;
}

bool live_chunker_next(live_chunker *c, live_cut *out)
{
    if (c->q_n == 0)
        return false;
    *out = c->q[c->q_head];
    c->q_head = (c->q_head + 1) % LIVE_CHUNKER_QUEUE;
    c->q_n--;
    return true;
}

int64_t live_chunker_safe(const live_chunker *c)
{
    return c->safe_f * FRAME;
}

bool live_chunker_in_chunk(const live_chunker *c)
{
    return c->in_chunk;
}
