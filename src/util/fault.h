/* fault.h - TEST-ONLY failure injection for file writes (beanstalkd's
 * falloc idea), so a full disk is a test case, not a hope (STYLE.md).
 *
 * Off unless the environment says so; read once per process (workers read
 * it too: they inherit the daemon's environment):
 *
 *   HARK_TEST_ENOSPC=SUFFIX[,SUFFIX...]
 *       a write to a file whose path ends in one of the suffixes fails with
 *       ENOSPC ("No space left on device"), e.g. ".json" or "audio.pcm.part"
 *   HARK_TEST_ENOSPC_WHILE=FILE   (optional)
 *       ... but only while FILE exists: a test "frees space" by removing it
 *
 * The write paths that ask: the PCM writer (media/pcm.c), output files
 * (output/atomic_file.c) and uploads (server/upload.c). Never set these in
 * production; nothing else reads them.
 */
#ifndef HARK_UTIL_FAULT_H
#define HARK_UTIL_FAULT_H

/* 0, or the errno (ENOSPC) a write to path must fail with now. Cheap when
 * the variables are unset (one check after the first call). Thread-safe. */
int fault_write_errno(const char *path);

#endif
