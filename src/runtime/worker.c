/* worker.c - the worker's loop: one task at a time, check-ins between
 * blocks, heartbeats, yield on request. */
#include "runtime/worker.h"

#include "asr/engine.h"
#include "jobs/chunk_result.h"
#include "jobs/kind.h"
#include "jobs/transcription.h"
#include "runtime/frame.h"
#include "runtime/protocol.h"
#include "util/clock.h"
#include "util/log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define SEND_TIMEOUT_S 10.0 /* the daemon reads continuously; this is a backstop */

/* The model, loaded by a thread of its own beside the first tasks (see
 * worker_main's background_load): started once, joined by the first decode. */
typedef struct engine_loader {
    pthread_t thread;
    bool running;     /* started and not joined yet */
    atomic_bool done; /* the thread has finished: engine or err is set */
    asr_engine *engine;
    hark_err err;
} engine_loader;

typedef struct worker {
    int fd;
    frame_reader reader;
    asr_engine *engine; /* NULL until loaded */
    engine_loader loader;
    long long token;   /* the running task's token, 0 when idle */
    int stop;          /* the running task must stop: HARK_ECANCELED */
    int shutdown;      /* MSG_SHUTDOWN or EOF seen */
    double last_beat;  /* monotonic seconds of the last heartbeat */
    double done_s;     /* progress of the running task, for heartbeats */
    double received;   /* when the running chunk task arrived (monotonic s) */
    double setup_s;    /* the running chunk's task-to-recognizer time, -1 until known */
    const char *fault; /* HARK_FAULT, NULL normally */
    int fault_chunk;
    int fault_armed; /* this task is the one to misbehave */
    double stop_at;  /* slowyield: when the yield asked for takes effect, 0 = none */
    bool no_model;   /* started without a model: a task that asks for one fails */
    /* A live session's input (MSG_LIVE_INPUT): bytes that may be read, ended. */
    int64_t input_bytes;
    bool input_ended;
} worker;

static int send_msg(worker *w, int type, json_t *obj)
{
    hark_err err = {0};
    int rc = frame_write_json(w->fd, (uint16_t)type, obj, deadline_in(SEND_TIMEOUT_S), &err);
    json_decref(obj);
    if (rc) {
        /* The daemon is gone or wedged: nobody will read our results. */
        w->shutdown = 1;
        w->stop = HARK_ECANCELED;
    }
    return rc;
}

static void handle(worker *w, int type, json_t *msg, json_t **task, int *task_type)
{
    switch (type) {
    case MSG_YIELD:
        if (w->token && json_integer_value(json_object_get(msg, "token")) == w->token) {
            if (w->fault_armed && strcmp(w->fault, "slowyield") == 0)
                w->stop_at = clock_now_s() + 1.5;
            else
                w->stop = HARK_ECANCELED;
        }
        json_decref(msg);
        return;
    case MSG_LIVE_INPUT:
        if (w->token && json_integer_value(json_object_get(msg, "token")) == w->token) {
            json_int_t b = json_integer_value(json_object_get(msg, "bytes"));
            if (b > w->input_bytes)
                w->input_bytes = b;
            w->input_ended |= json_is_true(json_object_get(msg, "ended"));
        }
        json_decref(msg);
        return;
    case MSG_SHUTDOWN:
        w->shutdown = 1;
        w->stop = HARK_ECANCELED;
        json_decref(msg);
        return;
    case MSG_PREPARE:
    case MSG_DECODE:
        if (task && !*task) {
            /* Take the token now: a yield for this task may be in the same
             * read, right behind it. */
            *task = msg;
            *task_type = type;
            w->token = json_integer_value(json_object_get(msg, "token"));
            w->stop = 0;
            w->stop_at = 0;
            w->done_s = 0;
            w->last_beat = clock_now_s();
            const json_t *live = json_object_get(msg, "live");
            w->input_bytes = json_integer_value(json_object_get(live, "bytes"));
            w->input_ended = json_is_true(json_object_get(live, "ended"));
            return;
        }
        /* A second task while busy is a daemon bug; refuse it loudly. */
        send_msg(w, MSG_FAILED,
                 json_pack("{s:O?, s:i, s:s}", "token", json_object_get(msg, "token"), "code",
                           HARK_EINVAL, "message", "worker is busy"));
        json_decref(msg);
        return;
    default:
        log_warn("worker: ignoring message type %d", type);
        json_decref(msg);
    }
}

/* Read whatever is pending (timeout_ms: 0 to poll, -1 to block). Tasks that
 * arrive are returned through task (only when task != NULL). */
static void pump(worker *w, int timeout_ms, json_t **task, int *task_type)
{
    struct pollfd p = {.fd = w->fd, .events = POLLIN};
    int n = poll(&p, 1, timeout_ms);
    if (n <= 0)
        return;
    hark_err err = {0};
    int rc = frame_reader_read_fd(&w->reader, w->fd, &err);
    if (rc != 0) {
        w->shutdown = 1; /* closed or broken: the daemon is gone */
        w->stop = HARK_ECANCELED;
    }
    for (;;) {
        uint16_t type = 0;
        const void *payload;
        size_t len;
        int got = frame_reader_next(&w->reader, &type, &payload, &len);
        json_t *msg = NULL;
        if (got == 0 && frame_parse_json(payload, len, &msg, &err) != 0)
            got = HARK_EINVAL;
        if (got != 0) {
            if (got < 0) {
                log_error("worker: bad message from the daemon: %s", err.msg);
                w->shutdown = 1;
                w->stop = HARK_ECANCELED;
            }
            break;
        }
        handle(w, type, msg, task, task_type);
    }
}

static void heartbeat(worker *w)
{
    double now = clock_now_s();
    if (now - w->last_beat < HEARTBEAT_INTERVAL_MS / 1000.0)
        return;
    w->last_beat = now;
    send_msg(w, MSG_HEARTBEAT,
             json_pack("{s:I, s:f}", "token", (json_int_t)w->token, "done_s", w->done_s));
}

/* Test-only misbehaviour, see worker.h. */
static void inject_fault(worker *w)
{
    if (!w->fault_armed)
        return;
    if (strcmp(w->fault, "hang") == 0) {
        for (;;) /* no check-ins, no heartbeats: the watchdog must kill us */
            poll(NULL, 0, 1000);
    } else if (strcmp(w->fault, "crash") == 0) {
        /* The default action, not a sanitizer's handler: the supervisor must
         * see exactly what a real segfault looks like from outside. */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    } else if (strcmp(w->fault, "oom") == 0) {
        /* Heartbeats go on while it grows: the death must be the memory
         * limit's, not the silence watchdog's, even on a loaded machine. */
        for (;;) {
            char *p = malloc(16 << 20);
            if (!p)
                _exit(WORKER_EXIT_OOM);
            memset(p, 1, 16 << 20);
            heartbeat(w);
        }
    } else if (strcmp(w->fault, "slow") == 0 || strcmp(w->fault, "slowyield") == 0) {
        poll(NULL, 0, 20); /* a slow disk or encoder: it still checks in and beats */
        if (w->stop_at > 0 && clock_now_s() >= w->stop_at)
            w->stop = HARK_ECANCELED;
    } else if (strcmp(w->fault, "stall") == 0) {
        w->last_beat = clock_now_s() + 1e9; /* never beat again, keep working slowly */
        poll(NULL, 0, 100);
    }
}

/* The check-in between blocks: messages, stop requests, heartbeats. */
static int checkin(void *ctx, double done_s)
{
    worker *w = ctx;
    if (done_s > 0)
        w->done_s = done_s;
    inject_fault(w);
    pump(w, 0, NULL, NULL);
    if (!w->stop)
        heartbeat(w);
    return w->stop;
}

static int decode_checkin(void *ctx, double decoded_s, double total_s)
{
    (void)total_s;
    return checkin(ctx, decoded_s);
}

static void answer_failure(worker *w, int code, const char *message)
{
    if (code == HARK_ECANCELED && !w->shutdown) {
        send_msg(w, MSG_YIELDED,
                 json_pack("{s:I, s:f}", "token", (json_int_t)w->token, "setup_s",
                           w->setup_s > 0 ? w->setup_s : 0.0));
        return;
    }
    if (code == HARK_ENOMEM) {
        /* Memory is short in this process; a fresh worker may do better. */
        send_msg(w, MSG_FAILED,
                 json_pack("{s:I, s:i, s:s}", "token", (json_int_t)w->token, "code", code,
                           "message", "out of memory"));
        _exit(WORKER_EXIT_OOM);
    }
    send_msg(w, MSG_FAILED,
             json_pack("{s:I, s:i, s:s}", "token", (json_int_t)w->token, "code", code, "message",
                       message));
}

/* CPU time as a backstop behind the supervisor's wall-clock watchdog: this
 * task may use at most cpu_s more seconds of CPU, then the kernel ends the
 * process (SIGXCPU, default action). Only the soft limit moves, so every
 * task can set its own. 0: no limit. */
static void limit_cpu(double cpu_s)
{
    struct rusage ru;
    struct rlimit rl;
    if (getrusage(RUSAGE_SELF, &ru) != 0 || getrlimit(RLIMIT_CPU, &rl) != 0)
        return;
    rlim_t used = (rlim_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1);
    rl.rlim_cur = cpu_s > 0 ? used + (rlim_t)cpu_s : rl.rlim_max;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
        rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_CPU, &rl);
}

/* The download's cancel check: the same check-in as between decode blocks
 * (messages, yield, heartbeats), which net_fetch_to_file runs at least
 * every 50 ms while a transfer runs. */
static bool fetch_cancel(void *ctx)
{
    return checkin(ctx, 0) != 0;
}

/* Where the download may connect ("dest" of "fetch"), into *dest. Without
 * it, or with an entry that is not one, public addresses only. */
static void dest_opts(const json_t *d, net_dest_policy *dest)
{
    memset(dest, 0, sizeof *dest);
    dest->any = json_is_true(json_object_get(d, "any"));
    const json_t *allow = json_object_get(d, "allow"), *e;
    size_t i;
    json_array_foreach(allow, i, e)
    {
        const char *host = json_string_value(json_object_get(e, "host"));
        json_int_t port = json_integer_value(json_object_get(e, "port"));
        net_allow a = {.port = (unsigned)port};
        if (!host || strlen(host) >= sizeof a.host || port < 0 || port > 65535)
            continue;
        memcpy(a.host, host, strlen(host) + 1);
        if (net_dest_policy_add(dest, &a, NULL))
            break; /* out of memory: fewer hosts allowed, never more */
    }
}

/* The download limits the daemon sent ("fetch" of a prepare task of a URL
 * input), over net_fetch_defaults(); dest holds its allow list (released
 * by the caller). */
static net_fetch_opts fetch_opts(worker *w, const json_t *f, net_dest_policy *dest)
{
    net_fetch_opts o = net_fetch_defaults();
    dest_opts(json_object_get(f, "dest"), dest);
    o.dest = dest;
    json_t *v;
    if ((v = json_object_get(f, "connect_timeout")) && json_is_number(v))
        o.connect_timeout_s = json_number_value(v);
    if ((v = json_object_get(f, "timeout")) && json_is_number(v))
        o.total_timeout_s = json_number_value(v);
    if ((v = json_object_get(f, "low_speed_bytes")) && json_is_integer(v))
        o.low_speed_bytes = (long)json_integer_value(v);
    if ((v = json_object_get(f, "low_speed_time")) && json_is_integer(v))
        o.low_speed_time_s = (long)json_integer_value(v);
    if ((v = json_object_get(f, "max_bytes")) && json_is_integer(v) && json_integer_value(v) >= 0)
        o.max_bytes = (uint64_t)json_integer_value(v);
    if ((v = json_object_get(f, "max_redirects")) && json_is_integer(v))
        o.max_redirects = (int)json_integer_value(v);
    o.cancel = fetch_cancel;
    o.cancel_ctx = w;
    return o;
}

static void run_prepare(worker *w, json_t *t)
{
    const char *input = json_string_value(json_object_get(t, "input"));
    const char *work = json_string_value(json_object_get(t, "work_dir"));
    if (!input || !work) {
        answer_failure(w, HARK_EINVAL, "malformed prepare task");
        return;
    }
    media_decode_opts d;
    media_decode_opts_default(&d);
    json_t *v;
    if ((v = json_object_get(t, "max_duration")) && json_is_number(v))
        d.max_duration_s = json_number_value(v);
    if ((v = json_object_get(t, "timeout")) && json_is_number(v))
        d.timeout_s = json_number_value(v);
    d.checkin = decode_checkin;
    d.checkin_ctx = w;
    chunk_plan_opts p;
    chunk_plan_opts_default(&p);
    /* Tiles (a highlights job without a transcript): no speech plan. */
    p.none = json_integer_value(json_object_get(t, "tile_s")) > 0;
    prepared_audio prep;
    hark_err err = {0};
    int rc;
    if (transcription_input_is_url(input)) {
        net_dest_policy dest;
        net_fetch_opts f = fetch_opts(w, json_object_get(t, "fetch"), &dest);
        rc = transcription_prepare_url(input, work, json_is_true(json_object_get(t, "keep_input")),
                                       &f, &d, &p, &prep, &err);
        net_dest_policy_release(&dest);
    } else {
        /* A file beneath a root (a server path, an upload): opened there,
         * following no link (transcription.h). */
        rc = transcription_prepare(input, json_string_value(json_object_get(t, "root")), work, &d,
                                   &p, &prep, &err);
    }
    if (rc) {
        answer_failure(w, rc, err.msg);
        return;
    }
    const char *kind_name = json_string_value(json_object_get(t, "kind"));
    const job_kind *kind = job_kind_find(kind_name ? kind_name : "transcribe");
    if (kind && kind->adjust_plan)
        kind->adjust_plan(t, &prep.plan);
    /* The content key: the audio itself and the model that hears it. */
    asr_config model;
    asr_config_default(&model);
    char key[PCM_KEY_SIZE + 4096] = "";
    if (pcm_content_key(&prep.pcm, key, &err) == 0)
        snprintf(key + strlen(key), sizeof key - strlen(key), "|model=%s", model.model_dir);
    else
        key[0] = 0; /* no key, no cache: the job runs all the same */
    json_t *plan = chunk_plan_to_json(&prep.plan);
    send_msg(w, MSG_PREPARED,
             json_pack("{s:I, s:f, s:o?, s:s}", "token", (json_int_t)w->token, "duration",
                       prep.info.duration_s, "plan", plan, "content_key", key));
    prepared_audio_release(&prep);
}

static void *load_engine(void *arg)
{
    engine_loader *l = arg;
    asr_config c;
    asr_config_default(&c);
    asr_engine_open(&c, &l->engine, &l->err);
    atomic_store(&l->done, true);
    return NULL;
}

static void start_loading(worker *w)
{
    /* The loader runs with every signal blocked: INT/TERM/KILL from the
     * supervisor or a terminal still end the process as a whole. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    w->loader.running = pthread_create(&w->loader.thread, NULL, load_engine, &w->loader) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!w->loader.running)
        load_engine(&w->loader); /* no thread: load here and now */
}

/* The first decode waits for the background load, with check-ins (yield,
 * cancel, shutdown, heartbeats) every 10 ms so that the supervisor's
 * watchdogs and preemption work the same as during a decode. Returns 0
 * with w->engine set, HARK_ECANCELED if the task must stop first (the
 * load goes on for the next task), or the load's error. */
static int await_engine(worker *w, hark_err *err)
{
    while (!atomic_load(&w->loader.done)) {
        int stop = checkin(w, 0);
        if (stop)
            return stop;
        poll(NULL, 0, 10);
    }
    if (w->loader.running) {
        pthread_join(w->loader.thread, NULL);
        w->loader.running = false;
    }
    if (!w->loader.engine) {
        *err = w->loader.err;
        return w->loader.err.code ? w->loader.err.code : HARK_EENGINE;
    }
    w->engine = w->loader.engine;
    return 0;
}

/* kind_worker's engine: the model, waiting for a background load. The
 * moment it is there ends the task's setup (setup_s). */
static int task_engine(void *ctx, asr_engine **out, hark_err *err)
{
    worker *w = ctx;
    if (w->no_model)
        return err_set(err, HARK_EINVAL, "this worker runs without a speech model");
    int rc = w->engine ? 0 : await_engine(w, err);
    if (rc) {
        if (rc != HARK_ECANCELED)
            w->shutdown = 1; /* no model, no use: the supervisor starts a new worker */
        return rc;
    }
    if (w->setup_s < 0)
        w->setup_s = clock_now_s() - w->received;
    *out = w->engine;
    return 0;
}

/* kind_worker's send: a message of the running task, with its token. */
static int task_send(void *ctx, int type, json_t *msg)
{
    worker *w = ctx;
    if (!msg)
        return HARK_ENOMEM;
    json_object_set_new(msg, "token", json_integer(w->token));
    int rc = send_msg(w, type, msg);
    return rc ? HARK_ECANCELED : 0;
}

/* kind_worker's wait_input: block on the daemon's socket (so a
 * MSG_LIVE_INPUT wakes us at once), beating and checking in meanwhile. */
static int wait_input(void *ctx, int64_t *bytes, bool *ended)
{
    worker *w = ctx;
    while (!w->stop && w->input_bytes <= *bytes && !w->input_ended) {
        pump(w, HEARTBEAT_INTERVAL_MS / 2, NULL, NULL);
        if (!w->stop)
            heartbeat(w);
    }
    if (w->stop)
        return w->stop;
    *bytes = w->input_bytes;
    *ended = w->input_ended;
    return 0;
}

/* A prepare the task's kind runs itself (kind.h run_prepare): a live
 * session. Its chunks went to the daemon as they closed. */
static void run_own_prepare(worker *w, json_t *t, const job_kind *kind)
{
    w->received = clock_now_s();
    w->setup_s = -1;
    kind_worker kw = {.checkin = checkin,
                      .engine = task_engine,
                      .send = task_send,
                      .wait_input = wait_input,
                      .ctx = w};
    double duration = 0;
    hark_err err = {0};
    int rc = kind->run_prepare(&kw, t, &duration, &err);
    if (rc) {
        answer_failure(w, rc, err.msg);
        return;
    }
    send_msg(w, MSG_PREPARED,
             json_pack("{s:I, s:f, s:b}", "token", (json_int_t)w->token, "duration", duration,
                       "live", 1));
}

static void run_chunk(worker *w, json_t *t)
{
    w->received = clock_now_s();
    w->setup_s = -1;
    json_int_t index = json_integer_value(json_object_get(t, "index"));
    const char *kind_name = json_string_value(json_object_get(t, "kind"));
    const job_kind *kind = job_kind_find(kind_name ? kind_name : "transcribe");
    if (!kind) {
        answer_failure(w, HARK_EINVAL, "unknown job kind in chunk task");
        return;
    }
    const char *match = getenv("HARK_FAULT_MATCH");
    const char *input = json_string_value(json_object_get(t, "input"));
    /* "slow" slows every chunk task of the matching input, not one. */
    bool every = w->fault && strcmp(w->fault, "slow") == 0;
    w->fault_armed = w->fault && (every || index == w->fault_chunk) &&
                     (!match || (input && strstr(input, match)));
    kind_worker kw = {.checkin = checkin, .engine = task_engine, .ctx = w};
    json_t *result = NULL;
    hark_err err = {0};
    int rc = kind->run_chunk(&kw, t, &result, &err);
    if (rc) {
        answer_failure(w, rc, err.msg);
        return;
    }
    /* What taking up a chunk costs before its work starts: with the PCM
     * and plan kept in the work directory, a resumed job pays only this
     * (and the first chunk of a worker that loads its model in the
     * background, whatever of the load is left). A task that needs no
     * model has none. */
    double setup_s = w->setup_s < 0 ? 0 : w->setup_s;
    double work_s = clock_now_s() - w->received - setup_s;
    send_msg(w, MSG_RESULT,
             json_pack("{s:I, s:I, s:o, s:f, s:f}", "token", (json_int_t)w->token, "index", index,
                       "result", result, "decode_s", work_s, "setup_s", setup_s));
}

int worker_main(int fd, enum worker_model model)
{
    worker w = {.fd = fd};
    frame_reader_init(&w.reader, 0);
    w.fault = getenv("HARK_FAULT");
    if (w.fault && !*w.fault)
        w.fault = NULL;
    w.fault_chunk = w.fault && getenv("HARK_FAULT_CHUNK")
                        ? (int)strtol(getenv("HARK_FAULT_CHUNK"), NULL, 10)
                        : 0;

    w.no_model = model == WORKER_NO_MODEL;
    if (model == WORKER_BACKGROUND_LOAD) {
        start_loading(&w);
    } else if (model == WORKER_LOAD_FIRST) {
        load_engine(&w.loader);
        if (!(w.engine = w.loader.engine)) {
            send_msg(&w, MSG_FAILED,
                     json_pack("{s:I, s:i, s:s}", "token", (json_int_t)0, "code", w.loader.err.code,
                               "message", w.loader.err.msg));
            frame_reader_release(&w.reader);
            return 1;
        }
    }
    send_msg(&w, MSG_READY,
             json_pack("{s:i, s:s}", "pid", (int)getpid(), "engine",
                       w.engine     ? asr_engine_name(w.engine)
                       : w.no_model ? "none"
                                    : "loading in the background"));
    while (!w.shutdown) {
        json_t *task = NULL;
        int type = 0;
        pump(&w, -1, &task, &type);
        if (!task)
            continue;
        limit_cpu(json_number_value(json_object_get(task, "cpu_s")));
        const char *kind_name = json_string_value(json_object_get(task, "kind"));
        const job_kind *kind = kind_name ? job_kind_find(kind_name) : NULL;
        if (type == MSG_PREPARE && kind && kind->run_prepare)
            run_own_prepare(&w, task, kind);
        else if (type == MSG_PREPARE)
            run_prepare(&w, task);
        else
            run_chunk(&w, task);
        w.token = 0;
        w.fault_armed = 0;
        json_decref(task);
    }
    if (w.loader.running && !atomic_load(&w.loader.done)) {
        /* Told to stop while the model is still loading (a run that ended
         * before it needed one): nothing of ours is unsaved, and waiting
         * for the load would only burn the CPU it is meant to spare. */
        _exit(0);
    }
    if (w.loader.running)
        pthread_join(w.loader.thread, NULL);
    /* A failed load said so to the first decode; the model lives in the
     * loader whether or not a decode took it up. */
    int status = w.loader.engine || w.no_model ? 0 : 1;
    asr_engine_close(w.loader.engine);
    frame_reader_release(&w.reader);
    return status;
}
