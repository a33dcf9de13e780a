#include "media/pcm.h"

#include "util/test.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>

static int16_t samples[PCM_RATE]; /* one second of silence */

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Written whole: the .part until finish, the final name after. */
static void test_write_read(void)
{
    pcm_writer w;
    hark_err err = {0};
    for (int i = 0; i < PCM_RATE; i++)
        samples[i] = (int16_t)(i % 1000);
    ASSERT_EQ(pcm_writer_open(&w, "a.pcm", &err), 0);
    for (int s = 0; s < 3; s++)
        ASSERT_EQ(pcm_writer_write(&w, samples, PCM_RATE, &err), 0);
    ASSERT(exists("a.pcm.part") && !exists("a.pcm"));
    ASSERT_EQ(pcm_writer_finish(&w, &err), 0);
    ASSERT(!exists("a.pcm.part") && exists("a.pcm"));
    pcm_file f;
    ASSERT_EQ(pcm_open("a.pcm", &f, &err), 0);
    ASSERT_EQ(f.n_samples, 3 * PCM_RATE);
    int16_t back[10];
    ASSERT_EQ(pcm_read(&f, PCM_RATE + 5, back, 10), 10);
    ASSERT_EQ(back[0], 5);
    pcm_close(&f);
}

/* A full disk is HARK_ENOSPC (a resource condition the runtime retries),
 * not HARK_EIO; abort leaves nothing. */
static void test_full_disk(void)
{
    setenv("HARK_TEST_ENOSPC", "audio.pcm.part", 1);
    pcm_writer w;
    hark_err err = {0};
    ASSERT_EQ(pcm_writer_open(&w, "audio.pcm", &err), 0);
    int rc = 0;
    for (int s = 0; s < 3 && rc == 0; s++) /* the buffer (64 KiB) fills in the first second */
        rc = pcm_writer_write(&w, samples, PCM_RATE, &err);
    ASSERT_EQ(rc, HARK_ENOSPC);
    ASSERT_STREQ(err.msg, "cannot write 'audio.pcm.part': No space left on device");
    pcm_writer_abort(&w);
    ASSERT(!exists("audio.pcm.part") && !exists("audio.pcm"));
    /* Other names are not affected. */
    ASSERT_EQ(pcm_writer_open(&w, "b.pcm", &err), 0);
    ASSERT_EQ(pcm_writer_write(&w, samples, PCM_RATE, &err), 0);
    ASSERT_EQ(pcm_writer_finish(&w, &err), 0);
}

/* The file-size limit: EFBIG with the limit in the message, no signal. */
static void test_file_size_limit(void)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl;
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &rl), 0);
    rl.rlim_cur = 100000;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
    pcm_writer w;
    hark_err err = {0};
    ASSERT_EQ(pcm_writer_open(&w, "audio.pcm", &err), 0);
    int rc = 0;
    for (int s = 0; s < 5 && rc == 0; s++)
        rc = pcm_writer_write(&w, samples, PCM_RATE, &err);
    if (rc == 0)
        rc = pcm_writer_finish(&w, &err);
    else
        pcm_writer_abort(&w);
    ASSERT_EQ(rc, HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot write 'audio.pcm.part': File too large: over the file-size "
                          "limit (ulimit -f) of 100000 bytes");
    ASSERT(!exists("audio.pcm.part") && !exists("audio.pcm"));
}

int main(void)
{
    RUN(test_write_read);
    RUN(test_full_disk);
    RUN(test_file_size_limit);
    TEST_DONE();
}
