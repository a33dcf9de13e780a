/* protocol.h - messages between the daemon (or embedded runtime) and its
 * worker processes, over one socketpair per worker (frame.h framing; the
 * payload of every frame is one JSON object).
 *
 *   daemon -> worker                      worker -> daemon
 *   MSG_PREPARE  {token, job, kind,       MSG_READY     {pid, engine}
 *                 input, root?, work_dir, MSG_HEARTBEAT {token, done_s}
 *                 max_duration, timeout,  MSG_PREPARED  {token, duration, plan,
 *                 cpu_s, fetch?}                         content_key}
 *   MSG_DECODE   {token, job, kind,       MSG_RESULT    {token, index, result,
 *                 index, work_dir, input,                decode_s, setup_s}
 *                 start, end, cpu_s, ...}
 *   MSG_YIELD    {token}                  MSG_YIELDED   {token, setup_s}
 *   MSG_SHUTDOWN {}                       MSG_FAILED    {token, code, message}
 *
 * MSG_DECODE is any chunk task: its job's kind (jobs/kind.h) adds its own
 * fields ("...") and says what the worker does with it; result is what the
 * kind's run_chunk made, committed as the chunk's result once the kind's
 * check_result accepts it. decode_s: the task's time after its setup.
 * content_key: what the decoded audio is (media/pcm.h pcm_content_key, and
 * the model), "" when it could not be read back.
 * root: the directory a file input is opened beneath, following no
 * symbolic link (the job's input_root: a server root, the uploads
 * directory); absent: the input is opened as named (hark transcribe).
 * fetch: for an http(s) input, the download's limits {connect_timeout,
 * timeout, low_speed_bytes, low_speed_time, max_bytes, max_redirects}
 * (net/fetch.h) and where it may connect, dest {any, allow: [{host, port}]}
 * (net/dest.h; without dest, public addresses only); the worker downloads
 * into work_dir, checking in as it goes.
 * keep_input: keep a URL input's download after the decode; tile_s: plan
 * tiles of that many seconds instead of speech chunks (kind.h
 * prepare_task and adjust_plan: a highlights job without a transcript).
 * cpu_s: the task's CPU-time budget, which the worker sets as its
 * RLIMIT_CPU soft limit (a backstop behind the wall-clock watchdog).
 * setup_s: from receiving a chunk task to starting the recognizer on it.
 *
 * A live job's prepare task is its session (jobs/live_kind.c): the
 * prepare message carries "live" {format, bytes, ended, first_idx,
 * resume_end, seed_start, words_before}; while it runs the daemon sends
 * MSG_LIVE_INPUT whenever the job's input grew (bytes: how much may be
 * read) or closed (ended), and the worker sends MSG_LIVE_PARTIAL (data:
 * the "transcript.partial" event; delta: newly stable text) and
 * MSG_LIVE_CHUNK for each chunk that closed (result: its words, as a
 * chunk task's), then MSG_PREPARED {token, duration} when the input ended
 * and everything was decoded.
 *
 * A worker runs one task at a time. While it runs, it checks in at every
 * block boundary (at most 100 ms of audio): it reads any pending message
 * without blocking, stops at once on MSG_YIELD for its token (dropping the
 * partial chunk) and answers MSG_YIELDED, and sends MSG_HEARTBEAT at most
 * every HEARTBEAT_INTERVAL_MS. The daemon renews the task's lease on each
 * heartbeat and kills the worker (SIGKILL through its pidfd) when
 * heartbeats stop or the task's watchdog passes: no signal is ever used
 * as a timer. Every answer carries the task's fencing token; the daemon
 * commits a result only if the token still holds its lease.
 */
#ifndef HARK_RUNTIME_PROTOCOL_H
#define HARK_RUNTIME_PROTOCOL_H

#include "runtime/proc.h"

enum msg_type {
    MSG_READY = 1,
    MSG_PREPARE = 2,
    MSG_DECODE = 3,
    MSG_YIELD = 4,
    MSG_SHUTDOWN = 5,
    MSG_HEARTBEAT = 6,
    MSG_PREPARED = 7,
    MSG_RESULT = 8,
    MSG_YIELDED = 9,
    MSG_FAILED = 10,
    MSG_LIVE_INPUT = 11,   /* daemon -> worker {token, bytes, ended} */
    MSG_LIVE_CHUNK = 12,   /* worker -> daemon {token, start, end, result, delta, decode_s} */
    MSG_LIVE_PARTIAL = 13, /* worker -> daemon {token, data, delta} */
};

/* How often a busy worker says it is alive, and how long the daemon waits
 * before it declares a silent worker hung. */
#define HEARTBEAT_INTERVAL_MS 200
#define HEARTBEAT_TIMEOUT_MS 5000

/* The file descriptor number a worker finds its socket on, and the exit
 * status of a worker that ran out of memory (malloc failed under its
 * address-space limit): proc.h's conventions. */
#define WORKER_FD PROC_CHILD_FD
#define WORKER_EXIT_OOM PROC_EXIT_OOM

#endif
