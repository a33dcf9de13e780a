/* worker.h - the worker process: `hark worker` (started by the supervisor
 * with fork+exec, never by hand) serves tasks on fd WORKER_FD until it is
 * told to shut down or the socket closes. See protocol.h for the messages.
 *
 * FFmpeg and PocketSphinx run only here, so a hostile input that crashes
 * or hangs them takes down one worker, which the supervisor replaces.
 */
#ifndef HARK_RUNTIME_WORKER_H
#define HARK_RUNTIME_WORKER_H

#include <stdbool.h>

/* Serve on fd. Returns the process exit status (0 after MSG_SHUTDOWN or a
 * closed socket; 1 if the model cannot be loaded; WORKER_EXIT_OOM when out
 * of memory).
 *
 * WORKER_LOAD_FIRST: load the model, then say MSG_READY (a ready worker
 * decodes at once: what a daemon wants for push-to-talk). WORKER_BACKGROUND_LOAD: say
 * MSG_READY at once and load the model on a thread of its own; prepares
 * run beside the load and the first decode waits for it (checking in every
 * 10 ms). A run that ends before the load does (a bad input) stops it
 * half way instead of waiting for it, and one file's media decode
 * overlaps the load: what `hark transcribe` wants. A load that fails then
 * fails the first decode task with the load's error, and the worker exits. */
enum worker_model {
    WORKER_LOAD_FIRST = 0,      /* load, then say ready: a daemon's warm workers */
    WORKER_BACKGROUND_LOAD = 1, /* ready at once, load beside the first tasks */
    WORKER_NO_MODEL = 2,        /* never load: tasks that only measure audio
                                   (`hark highlights --no-transcript`); one that
                                   asks for the model fails (HARK_EINVAL) */
};
int worker_main(int fd, enum worker_model model);

/* Test-only fault injection, off unless HARK_FAULT is set (documented in
 * docs/operations.md): HARK_FAULT=hang|crash|oom|stall, applied when
 * decoding chunk HARK_FAULT_CHUNK (default 0) of a job whose input path
 * contains HARK_FAULT_MATCH (default: any); HARK_FAULT=slow waits 20 ms at
 * every check-in of every chunk task of such a job (a slow disk or encoder
 * that still checks in: the tests' way to hold a task open);
 * HARK_FAULT=slowyield is slow on that one chunk and answers a yield of it
 * 1.5 s late, still beating (a loaded machine stretching a yield past a
 * short lease). */

#endif
