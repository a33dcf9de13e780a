/* retention_test.c - what a retention pass removes: uploads of jobs that
 * succeeded or were cancelled (not of failed ones, not with keep_inputs,
 * never a path a client named), and jobs past their retention with their
 * files, never one that has not ended. A real store on a fake clock, real
 * directories; no workers. */
#include "runtime/retention.h"

#include "util/fs.h"
#include "util/test.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define T0 1700000000000LL
#define LEASE 600000

static int64_t fake_now = T0;

static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

typedef struct env {
    store *st;
    char user[1024], uploads[1100], work[1100];
    retention_opts o;
} env;

static void env_open(env *e)
{
    memset(e, 0, sizeof *e);
    ASSERT(getcwd(e->user, sizeof e->user));
    snprintf(e->uploads, sizeof e->uploads, "%s/uploads", e->user);
    snprintf(e->work, sizeof e->work, "%s/work", e->user);
    ASSERT_EQ(fs_mkdir_p(e->uploads, 0700, NULL), 0);
    ASSERT_EQ(fs_mkdir_p(e->work, 0700, NULL), 0);
    store_options so = {.now_ms = fake_clock};
    hark_err err = {0};
    if (store_open("hark.db", &so, &e->st, &err))
        TEST_FAIL_("store_open: %s", err.msg);
    e->o = (retention_opts){.work_root = e->work, .uploads_dir = e->uploads, .keep_failed = true};
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT(fd >= 0);
    close(fd);
}

/* A job whose input is an upload (upload = true: a file in uploads/) or a
 * client's own file; both files and a work directory exist. */
static void new_job(env *e, const char *name, bool upload, char id[STORE_ID_SIZE], char *input,
                    size_t n)
{
    ASSERT(snprintf(input, n, "%s/%s", upload ? e->uploads : e->user, name) < (int)n);
    touch(input);
    store_job_spec spec = {.kind = "transcribe", .input = input, .source = name};
    hark_err err = {0};
    if (store_submit(e->st, &spec, id, &err))
        TEST_FAIL_("store_submit: %s", err.msg);
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/%s", e->work, id);
    ASSERT_EQ(fs_mkdir_p(dir, 0700, NULL), 0);
}

static bool work_dir_exists(env *e, const char *id)
{
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/%s", e->work, id);
    return exists(dir);
}

/* Take job id through a one-chunk plan to success. */
static void succeed(env *e, const char *id)
{
    hark_err err = {0};
    store_task t;
    ASSERT_EQ(store_claim(e->st, "w", LEASE, &t, &err), 0);
    ASSERT_STREQ(t.job_id, id);
    store_span plan = {0, 16000};
    ASSERT_EQ(store_commit_prepare(e->st, t.token, 1.0, &plan, 1, NULL, NULL, &err), 0);
    ASSERT_EQ(store_claim(e->st, "w", LEASE, &t, &err), 0);
    ASSERT_EQ(store_commit_chunk(e->st, t.token, "[]", 0.1, NULL, &err), 0);
    ASSERT_EQ(store_succeed(e->st, STORE_SCOPE_ALL, id, &err), 0);
}

static retention_stats pass(env *e)
{
    retention_stats s;
    hark_err err = {0};
    if (retention_pass(e->st, &e->o, &s, &err))
        TEST_FAIL_("retention_pass: %s", err.msg);
    return s;
}

static void uploads_go_when_their_job_succeeds_or_is_cancelled(void)
{
    env e;
    env_open(&e);
    hark_err err = {0};
    char ok[STORE_ID_SIZE], cancelled[STORE_ID_SIZE], failed[STORE_ID_SIZE];
    char queued[STORE_ID_SIZE], mine[STORE_ID_SIZE];
    char ok_in[PATH_MAX], cancelled_in[PATH_MAX], failed_in[PATH_MAX], queued_in[PATH_MAX],
        mine_in[PATH_MAX];
    new_job(&e, "ok.wav", true, ok, ok_in, sizeof ok_in);
    new_job(&e, "cancelled.wav", true, cancelled, cancelled_in, sizeof cancelled_in);
    new_job(&e, "failed.wav", true, failed, failed_in, sizeof failed_in);
    new_job(&e, "queued.wav", true, queued, queued_in, sizeof queued_in);
    new_job(&e, "mine.wav", false, mine, mine_in, sizeof mine_in);
    retention_stats s = pass(&e);
    ASSERT_EQ(s.released, 0);
    succeed(&e, ok);
    ASSERT_EQ(store_cancel(e.st, STORE_SCOPE_ALL, cancelled, &err), 0);
    ASSERT_EQ(store_fail(e.st, STORE_SCOPE_ALL, failed, "chunk 0 (0.0-1.0 s) failed 3 times: crash",
                         &err),
              0);
    ASSERT_EQ(store_cancel(e.st, STORE_SCOPE_ALL, mine, &err), 0);
    s = pass(&e);
    ASSERT_EQ(s.released, 3);
    ASSERT_EQ(s.pruned, 0); /* no retention set: jobs stay */
    ASSERT(!exists(ok_in));
    ASSERT(!exists(cancelled_in));
    ASSERT(exists(failed_in)); /* a retry may need it */
    ASSERT(exists(queued_in));
    ASSERT(exists(mine_in)); /* the client's own file */
    ASSERT_EQ(pass(&e).released, 0);
    store_job j;
    ASSERT_EQ(store_get_job(e.st, STORE_SCOPE_ALL, ok, &j, &err), 0);
    store_job_release(&j);

    /* The failed job, retried to success, lets its upload go then. */
    ASSERT_EQ(store_retry(e.st, STORE_SCOPE_ALL, failed, 0, &err), 0);
    succeed(&e, failed);
    ASSERT_EQ(pass(&e).released, 1);
    ASSERT(!exists(failed_in));
    ASSERT_EQ(store_check(e.st, &err), 0);
    store_close(e.st);
}

static void keep_inputs_leaves_uploads_until_the_job_goes(void)
{
    env e;
    env_open(&e);
    e.o.keep_inputs = true;
    e.o.job_retention_ms = 60000;
    hark_err err = {0};
    char ok[STORE_ID_SIZE], ok_in[PATH_MAX];
    new_job(&e, "ok.wav", true, ok, ok_in, sizeof ok_in);
    succeed(&e, ok);
    ASSERT_EQ(pass(&e).released, 0);
    ASSERT(exists(ok_in));
    fake_now += 60000;
    ASSERT_EQ(pass(&e).pruned, 1); /* nobody refers to it any more */
    ASSERT(!exists(ok_in));
    ASSERT_EQ(store_check(e.st, &err), 0);
    store_close(e.st);
}

static void ended_jobs_are_pruned_with_their_files_active_ones_never(void)
{
    env e;
    env_open(&e);
    e.o.job_retention_ms = 30000;
    hark_err err = {0};
    char ok[STORE_ID_SIZE], failed[STORE_ID_SIZE], queued[STORE_ID_SIZE], paused[STORE_ID_SIZE];
    char ok_in[PATH_MAX], failed_in[PATH_MAX], queued_in[PATH_MAX], paused_in[PATH_MAX];
    new_job(&e, "queued.wav", true, queued, queued_in, sizeof queued_in);
    new_job(&e, "paused.wav", true, paused, paused_in, sizeof paused_in);
    ASSERT_EQ(store_pause(e.st, STORE_SCOPE_ALL, paused, &err), 0);
    /* Claimed first: the queued job is low priority. */
    ASSERT_EQ(store_pause(e.st, STORE_SCOPE_ALL, queued, &err), 0);
    new_job(&e, "ok.wav", true, ok, ok_in, sizeof ok_in);
    new_job(&e, "failed.wav", true, failed, failed_in, sizeof failed_in);
    succeed(&e, ok);
    ASSERT_EQ(store_resume(e.st, STORE_SCOPE_ALL, queued, &err), 0);
    fake_now += 10000;
    ASSERT_EQ(store_fail(e.st, STORE_SCOPE_ALL, failed,
                         "prepare of 'failed.wav' failed 3 times: crash", &err),
              0);

    fake_now += 20000; /* ok ended 30 s ago, failed 20 s ago */
    retention_stats s = pass(&e);
    ASSERT_EQ(s.pruned, 1);
    ASSERT_EQ(store_get_job(e.st, STORE_SCOPE_ALL, ok, &(store_job){0}, &err), HARK_ENOENT);
    ASSERT(!work_dir_exists(&e, ok));
    ASSERT(exists(failed_in));
    ASSERT(work_dir_exists(&e, failed));
    fake_now += 10000;
    s = pass(&e);
    ASSERT_EQ(s.pruned, 1);
    ASSERT(!exists(failed_in)); /* pruned: its upload and decoded audio go with it */
    ASSERT(!work_dir_exists(&e, failed));

    /* Unfinished jobs stay, however old. */
    fake_now += 365LL * 86400000;
    ASSERT_EQ(pass(&e).pruned, 0);
    ASSERT(exists(queued_in) && exists(paused_in));
    ASSERT(work_dir_exists(&e, queued) && work_dir_exists(&e, paused));
    store_job j;
    ASSERT_EQ(store_get_job(e.st, STORE_SCOPE_ALL, queued, &j, &err), 0);
    ASSERT_EQ(j.state, STORE_QUEUED);
    store_job_release(&j);
    ASSERT_EQ(store_get_job(e.st, STORE_SCOPE_ALL, paused, &j, &err), 0);
    ASSERT_EQ(j.state, STORE_PAUSED);
    store_job_release(&j);
    ASSERT_EQ(store_check(e.st, &err), 0);
    store_close(e.st);
}

static void a_batch_at_a_time(void)
{
    env e;
    env_open(&e);
    e.o.job_retention_ms = 1000;
    hark_err err = {0};
    int n = RETENTION_BATCH + 5;
    for (int i = 0; i < n; i++) {
        char id[STORE_ID_SIZE], in[PATH_MAX], name[32];
        snprintf(name, sizeof name, "%d.wav", i);
        new_job(&e, name, true, id, in, sizeof in);
        ASSERT_EQ(store_cancel(e.st, STORE_SCOPE_ALL, id, &err), 0);
    }
    retention_stats s = pass(&e);
    ASSERT_EQ(s.released, RETENTION_BATCH);
    ASSERT_EQ(s.pruned, 0);
    fake_now += 1000;
    s = pass(&e);
    ASSERT_EQ(s.released, 5);
    ASSERT_EQ(s.pruned, RETENTION_BATCH);
    s = pass(&e);
    ASSERT_EQ(s.pruned, 5);
    ASSERT_EQ(pass(&e).pruned, 0);
    ASSERT(!fs_is_entry_of(e.uploads, e.uploads));
    store_close(e.st);
}

static void a_failed_job_keeps_only_its_decoded_audio(void)
{
    ASSERT_EQ(fs_mkdir_p("w/prepared", 0700, NULL), 0);
    touch("w/prepared/audio.pcm");
    touch("w/prepared/input.download");
    touch("w/prepared/.input.download.part.Ab12Cd");
    ASSERT_EQ(fs_mkdir_p("w/prepared/junk", 0700, NULL), 0);
    retention_trim_failed("w/prepared", true);
    ASSERT(exists("w/prepared/audio.pcm"));
    ASSERT(!exists("w/prepared/input.download"));
    ASSERT(!exists("w/prepared/.input.download.part.Ab12Cd"));
    ASSERT(!exists("w/prepared/junk"));
    ASSERT_EQ(fs_mkdir_p("w/unprepared", 0700, NULL), 0);
    touch("w/unprepared/input.download");
    retention_trim_failed("w/unprepared", false);
    ASSERT(!exists("w/unprepared"));
    retention_trim_failed("w/missing", true); /* fine */
    retention_trim_failed("w/missing", false);
}

static void entry_of_a_directory_by_spelling(void)
{
    ASSERT(fs_is_entry_of("/s/up", "/s/up/x.wav"));
    ASSERT(!fs_is_entry_of("/s/up", "/s/up/a/x.wav"));
    ASSERT(!fs_is_entry_of("/s/up", "/s/upx/x.wav"));
    ASSERT(!fs_is_entry_of("/s/up", "/s/up/"));
    ASSERT(!fs_is_entry_of("/s/up", "/s/up/.."));
    ASSERT(!fs_is_entry_of("/s/up", "/s/up"));
    ASSERT(!fs_is_entry_of("", "/x"));
    ASSERT(!fs_is_entry_of(NULL, "/x"));
    ASSERT(!fs_is_entry_of("/s/up", "https://example.com/s/up/x"));
}

int main(void)
{
    RUN(uploads_go_when_their_job_succeeds_or_is_cancelled);
    RUN(keep_inputs_leaves_uploads_until_the_job_goes);
    RUN(ended_jobs_are_pruned_with_their_files_active_ones_never);
    RUN(a_batch_at_a_time);
    RUN(a_failed_job_keeps_only_its_decoded_audio);
    RUN(entry_of_a_directory_by_spelling);
    TEST_DONE();
}
