/* upload_sweep.h - removing uploads that no job refers to.
 *
 * An upload becomes a job's input when its job is committed
 * (server/submit.c). A file in the uploads directory that no job names as
 * its input is a leftover: a partial upload cut off by kill -9 or a crash,
 * or a whole one whose job was never committed (the client was never
 * answered 201). `hark serve` sweeps them at start, before it listens, so
 * no upload is in flight.
 */
#ifndef HARK_SERVER_UPLOAD_SWEEP_H
#define HARK_SERVER_UPLOAD_SWEEP_H

#include "store/store.h"
#include "util/err.h"

/* Remove every regular file directly in dir whose name is not the last
 * component of some job's input (any job, ended ones included: their
 * inputs stay until the job is deleted). Names that are not files
 * (directories, links) are left alone. A missing dir is fine. *removed
 * (may be NULL) gets the number of files removed. Returns 0, or the
 * store's error (nothing removed then) or HARK_EIO for an unreadable dir. */
int upload_sweep(const char *dir, store *st, int *removed, hark_err *err);

#endif
