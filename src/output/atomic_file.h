/* atomic_file.h - files appear whole or not at all (DESIGN.md invariant 6).
 *
 * The data goes to a temporary file in the same directory, is flushed and
 * fsynced, renamed over the final name, and the directory is fsynced. A
 * crash at any point leaves either the old file (or none) or the new one,
 * never a half-written file; the temporary is removed on every error path.
 */
#ifndef HARK_OUTPUT_ATOMIC_FILE_H
#define HARK_OUTPUT_ATOMIC_FILE_H

#include "util/err.h"

#include <stddef.h>

/* Write n bytes to path atomically with the given permission bits.
 * Returns 0, or with err naming path and the cause: HARK_ENOSPC for a full
 * disk or quota, HARK_EINVAL past the file-size limit (ulimit -f; the
 * message says the limit), HARK_EIO for anything else (fs_write_code). */
int atomic_write_file(const char *path, const void *data, size_t n, unsigned mode, hark_err *err);

#endif
