/* The transcription pipeline end to end, in-process: prepare a recording
 * with several chunks, decode its chunks in plan order and in reverse
 * order, and require byte-identical rendered output (DESIGN.md invariant 3). */
#include "jobs/transcription.h"
#include "output/format.h"
#include "util/buf.h"
#include "util/test.h"

#include <sys/stat.h>

/* ~27 s of speech: the five clips with short pauses between (3-4 chunks). */
static void make_recording(const char *out)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "set -e; d='%s'; sox -n -r 16000 -c 1 -b 16 gap.wav trim 0 0.4;"
             "l=''; for f in \"$d\"/*.wav; do l=\"$l $f gap.wav\"; done;"
             "sox $l '%s'",
             test_data_dir(), out);
    ASSERT_EQ(system(cmd), 0);
}

static char *render_all(transcript *t)
{
    buf b;
    buf_init(&b, 64u << 20);
    for (int f = 0; f < FMT_COUNT; f++)
        ASSERT_EQ(out_render(t, (out_format)f, &b, NULL), 0);
    return buf_steal(&b);
}

/* Decode every chunk, in the given order, and assemble in plan order. */
static char *transcribe(asr_engine *e, prepared_audio *p, int reverse)
{
    asr_result *res = calloc(p->plan.n, sizeof *res);
    ASSERT(res != NULL);
    for (size_t k = 0; k < p->plan.n; k++) {
        size_t i = reverse ? p->plan.n - 1 - k : k;
        hark_err err = {0};
        int rc = asr_engine_decode(e, &p->pcm, p->plan.chunks[i].start, p->plan.chunks[i].end, NULL,
                                   NULL, &res[i], &err);
        if (rc)
            TEST_FAIL_("chunk %zu: %s", i, err.msg);
    }
    transcript t;
    ASSERT_EQ(transcript_init(&t, "rec.wav", pcm_seconds(p->pcm.n_samples)), 0);
    for (size_t i = 0; i < p->plan.n; i++) {
        ASSERT_EQ(transcription_add_chunk(&t, (int)i, &res[i]), 0);
        asr_result_release(&res[i]);
    }
    free(res);
    ASSERT_EQ(transcript_finish(&t), 0);
    ASSERT(t.n_words > 50);
    char *out = render_all(&t);
    transcript_release(&t);
    return out;
}

static void test_reverse_order_gives_identical_output(void)
{
    make_recording("rec.wav");
    ASSERT_EQ(mkdir("work", 0700), 0);
    media_decode_opts dopts;
    media_decode_opts_default(&dopts);
    chunk_plan_opts popts;
    chunk_plan_opts_default(&popts);
    prepared_audio p;
    hark_err err = {0};
    if (transcription_prepare("rec.wav", NULL, "work", &dopts, &popts, &p, &err))
        TEST_FAIL_("prepare: %s", err.msg);
    printf("%zu chunks over %.1f s\n", p.plan.n, pcm_seconds(p.pcm.n_samples));
    ASSERT(p.plan.n >= 3);

    asr_config c;
    asr_config_default(&c);
    asr_engine *e;
    ASSERT_EQ(asr_engine_open(&c, &e, &err), 0);
    char *forward = transcribe(e, &p, 0);
    char *backward = transcribe(e, &p, 1);
    ASSERT_STREQ(forward, backward);
    /* And a fresh engine that never saw the other chunks agrees. */
    asr_engine_close(e);
    ASSERT_EQ(asr_engine_open(&c, &e, &err), 0);
    char *fresh = transcribe(e, &p, 1);
    ASSERT_STREQ(forward, fresh);
    free(forward);
    free(backward);
    free(fresh);
    asr_engine_close(e);
    prepared_audio_release(&p);
}

static void test_prepare_failure_leaves_nothing(void)
{
    ASSERT_EQ(mkdir("work", 0700), 0);
    FILE *f = fopen("bad.wav", "w");
    fputs("RIFF not really", f);
    fclose(f);
    media_decode_opts dopts;
    media_decode_opts_default(&dopts);
    chunk_plan_opts popts;
    chunk_plan_opts_default(&popts);
    prepared_audio p;
    hark_err err = {0};
    ASSERT(transcription_prepare("bad.wav", NULL, "work", &dopts, &popts, &p, &err) < 0);
    ASSERT(strstr(err.msg, "'bad.wav'") != NULL);
    ASSERT_EQ(system("test -z \"$(ls -A work)\""), 0);
}

int main(void)
{
    RUN(test_reverse_order_gives_identical_output);
    RUN(test_prepare_failure_leaves_nothing);
    TEST_DONE();
}
