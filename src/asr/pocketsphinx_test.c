/* Tests of the PocketSphinx engine against the real en-us model and the
 * LibriVox clips from pocketsphinx-testdata. */
#include "asr/engine.h"
#include "util/buf.h"
#include "util/test.h"

#include <sys/stat.h>

#include <glob.h>

/* Convert the testdata WAVs into one PCM file with a second of silence
 * between clips; record where each clip starts and ends. */
static int clip_start[5], clip_end[5];

static void make_pcm(const char *out)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "set -e; d='%s'; : > '%s';"
             "for f in \"$d\"/*.wav; do sox \"$f\" -t raw -r 16000 -b 16 -c 1 -e signed - >> '%s';"
             " sox -n -t raw -r 16000 -b 16 -c 1 -e signed - trim 0 1 >> '%s'; done",
             test_data_dir(), out, out, out);
    ASSERT_EQ(system(cmd), 0);
    glob_t g;
    char pat[4096];
    snprintf(pat, sizeof pat, "%s/*.wav", test_data_dir());
    ASSERT_EQ(glob(pat, 0, NULL, &g), 0);
    ASSERT_EQ(g.gl_pathc, 5);
    int at = 0;
    for (size_t i = 0; i < 5; i++) {
        struct stat st;
        ASSERT_EQ(stat(g.gl_pathv[i], &st), 0);
        int n = (int)(st.st_size - 44) / 2; /* these clips have a 44-byte header */
        clip_start[i] = at;
        clip_end[i] = at + n;
        at += n + PCM_RATE;
    }
    globfree(&g);
}

static asr_engine *open_engine(void)
{
    asr_config c;
    asr_config_default(&c);
    asr_engine *e = NULL;
    hark_err err = {0};
    int rc = asr_engine_open(&c, &e, &err);
    if (rc)
        TEST_FAIL_("open: %s", err.msg);
    return e;
}

static char *words_of(const asr_result *r)
{
    buf b;
    buf_init(&b, 1 << 20);
    for (size_t i = 0; i < r->n_words; i++)
        buf_printf(&b, "%s %.2f %.2f %.4f\n", r->words[i].text, r->words[i].start_s,
                   r->words[i].end_s, r->words[i].confidence);
    return buf_steal(&b);
}

static void test_decodes_speech_with_absolute_times(void)
{
    make_pcm("a.pcm");
    pcm_file pcm;
    ASSERT_EQ(pcm_open("a.pcm", &pcm, NULL), 0);
    asr_engine *e = open_engine();
    asr_result r;
    hark_err err = {0};
    ASSERT_EQ(asr_engine_decode(e, &pcm, clip_start[1], clip_end[1], NULL, NULL, &r, &err), 0);
    char *w = words_of(&r);
    printf("%s", w);
    ASSERT(r.n_words >= 5);
    /* "he was not an ill disposed young man": the model gets the ends right. */
    ASSERT_STREQ(r.words[0].text, "he");
    ASSERT_STREQ(r.words[1].text, "was");
    ASSERT_STREQ(r.words[r.n_words - 2].text, "young");
    ASSERT_STREQ(r.words[r.n_words - 1].text, "man");
    for (size_t i = 0; i < r.n_words; i++) {
        ASSERT(r.words[i].start_s >= pcm_seconds(clip_start[1]) - 1e-9);
        ASSERT(r.words[i].end_s <= pcm_seconds(clip_end[1]) + 1e-9);
        ASSERT(r.words[i].start_s < r.words[i].end_s);
        ASSERT(r.words[i].confidence >= 0.0f && r.words[i].confidence <= 1.0f);
        ASSERT(strchr(r.words[i].text, '(') == NULL);
        ASSERT(r.words[i].text[0] != '<' && r.words[i].text[0] != '[');
        if (i)
            ASSERT(r.words[i].start_s >= r.words[i - 1].end_s - 1e-9);
    }
    ASSERT_NEAR(r.audio_s, pcm_seconds(clip_end[1] - clip_start[1]), 1e-9);
    free(w);
    asr_result_release(&r);
    asr_engine_close(e);
    pcm_close(&pcm);
}

/* Invariant 3: a chunk's words depend only on its audio. Decode every clip
 * in order, then in reverse order on the same engine, then on a fresh
 * engine: all three must agree byte for byte. */
static void test_chunks_are_independent_of_order(void)
{
    make_pcm("a.pcm");
    pcm_file pcm;
    ASSERT_EQ(pcm_open("a.pcm", &pcm, NULL), 0);
    asr_engine *e = open_engine();
    char *fwd[5], *rev[5];
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < 5; k++) {
            int i = pass == 0 ? k : 4 - k;
            asr_result r;
            hark_err err = {0};
            ASSERT_EQ(asr_engine_decode(e, &pcm, clip_start[i], clip_end[i], NULL, NULL, &r, &err),
                      0);
            (pass == 0 ? fwd : rev)[i] = words_of(&r);
            asr_result_release(&r);
        }
    }
    for (int i = 0; i < 5; i++)
        ASSERT_STREQ(fwd[i], rev[i]);
    asr_engine_close(e);
    /* A fresh engine decoding only the last clip agrees too. */
    e = open_engine();
    asr_result r;
    ASSERT_EQ(asr_engine_decode(e, &pcm, clip_start[4], clip_end[4], NULL, NULL, &r, NULL), 0);
    char *fresh = words_of(&r);
    ASSERT_STREQ(fresh, fwd[4]);
    free(fresh);
    asr_result_release(&r);
    for (int i = 0; i < 5; i++) {
        free(fwd[i]);
        free(rev[i]);
    }
    asr_engine_close(e);
    pcm_close(&pcm);
}

typedef struct {
    int calls;
    int stop_after;
    double last_fed;
    double max_gap;
} checkin_state;

static int stop_checkin(void *ctx, double fed_s)
{
    checkin_state *s = ctx;
    s->calls++;
    if (fed_s > 0) {
        if (fed_s - s->last_fed > s->max_gap)
            s->max_gap = fed_s - s->last_fed;
        s->last_fed = fed_s;
    }
    return s->calls >= s->stop_after ? 42 : 0;
}

/* A check-in that says stop abandons the chunk with its code, leaves no
 * words, and the next decode is unaffected. Check-ins come at least every
 * 100 ms of audio. */
static void test_checkin_stops_and_blocks_are_short(void)
{
    make_pcm("a.pcm");
    pcm_file pcm;
    ASSERT_EQ(pcm_open("a.pcm", &pcm, NULL), 0);
    asr_engine *e = open_engine();
    asr_result r;
    checkin_state s = {0, 1000000, 0, 0};
    ASSERT_EQ(asr_engine_decode(e, &pcm, clip_start[0], clip_end[0], stop_checkin, &s, &r, NULL),
              0);
    ASSERT_LE(s.max_gap, 0.1 + 1e-9);
    char *before = words_of(&r);
    asr_result_release(&r);

    checkin_state stop = {0, 80, 0, 0};
    ASSERT_EQ(asr_engine_decode(e, &pcm, clip_start[0], clip_end[0], stop_checkin, &stop, &r, NULL),
              42);
    ASSERT_EQ(r.n_words, 0);
    ASSERT_EQ(asr_engine_decode(e, &pcm, clip_start[0], clip_end[0], NULL, NULL, &r, NULL), 0);
    char *after = words_of(&r);
    ASSERT_STREQ(before, after);
    free(before);
    free(after);
    asr_result_release(&r);
    asr_engine_close(e);
    pcm_close(&pcm);
}

static void test_bad_model_dir_is_a_clear_error(void)
{
    asr_config c;
    asr_config_default(&c);
    c.model_dir = "/nonexistent/model";
    asr_engine *e = NULL;
    hark_err err = {0};
    ASSERT_EQ(asr_engine_open(&c, &e, &err), HARK_EINVAL);
    ASSERT(e == NULL);
    ASSERT(strstr(err.msg, "/nonexistent/model/en-us") != NULL);
    c.model_dir = HARK_MODEL_DIR;
    c.engine = "whisper";
    ASSERT_EQ(asr_engine_open(&c, &e, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "unknown recognizer 'whisper'") != NULL);
}

static void test_chunk_outside_audio_is_refused(void)
{
    make_pcm("a.pcm");
    pcm_file pcm;
    ASSERT_EQ(pcm_open("a.pcm", &pcm, NULL), 0);
    asr_engine *e = open_engine();
    asr_result r;
    hark_err err = {0};
    ASSERT_EQ(asr_engine_decode(e, &pcm, 0, pcm.n_samples + 1, NULL, NULL, &r, &err), HARK_EINVAL);
    /* An empty chunk decodes to nothing, without error. */
    ASSERT_EQ(asr_engine_decode(e, &pcm, 100, 100, NULL, NULL, &r, &err), 0);
    ASSERT_EQ(r.n_words, 0);
    asr_result_release(&r);
    asr_engine_close(e);
    pcm_close(&pcm);
}

int main(void)
{
    RUN(test_decodes_speech_with_absolute_times);
    RUN(test_chunks_are_independent_of_order);
    RUN(test_checkin_stops_and_blocks_are_short);
    RUN(test_bad_model_dir_is_a_clear_error);
    RUN(test_chunk_outside_audio_is_refused);
    TEST_DONE();
}
