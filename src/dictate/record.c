/* record.c - the recorder of `hark dictate` and `hark dictate start`.
 *
 * Four threads, one live job:
 *
 *   capture  microphone (media/capture) or standard input ──► pending (PCM, under mu)
 *   sender   pending ──► POST /v1/live/{id}/audio, 100 ms or more a request; once capture
 *            is done and pending is empty: POST /v1/live/{id}/end ──► the final result
 *   events   GET /v1/jobs/{id}/events ──► the partial text on the status line
 *   main     one poll loop over the signalfd (Ctrl-C, SIGTERM), the terminal (Enter),
 *            the control socket (background), the threads' eventfd and the timers;
 *            it alone decides when recording stops, delivers, and exits
 *
 * Main's states:
 *
 *   RECORDING ──Enter, Ctrl-C, --max, end of input, `stop`──► FINISHING
 *   FINISHING ──the sender has the result, or failed──────────► DONE
 *   any ──second Ctrl-C, `cancel`──► the job cancelled, exit
 *   any ──the sender failed (server gone, job refused)───────► DONE with the error
 *
 * Never a hang: every request has a time limit (appends 10 s, the end
 * --wait), the whole dictation a hard deadline (--max + --wait + 15 s)
 * that main enforces by itself, whatever the threads are doing, and at
 * exit a thread that does not stop within 2 s is left to the exit. What
 * the server received stays in its job: a daemon killed mid-dictation
 * transcribes it after its restart (`hark ls --kind live`).
 *
 * In the background (`start`), the recorder is a forked child in a session
 * of its own, its messages in dictate.log; it reports "started" (or why
 * not) to the parent over a pipe once the job exists and audio flows, and
 * answers `stop`, `cancel` and `status` on the control socket (ctl.h). A
 * result nobody asked for (--max reached) is kept for a `stop` until the
 * hard deadline.
 */
#include "dictate/ctl.h"
#include "dictate/dictate.h"
#include "dictate/live.h"
#include "dictate/status.h"

#include "cli/cli.h"
#include "media/capture.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/sigwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define BYTES_PER_S 32000       /* 16 kHz mono s16 */
#define APPEND_MIN_BYTES 3200   /* 100 ms: what a request carries while recording */
#define APPEND_MAX_BYTES 320000 /* 10 s: a backlog goes in bigger requests */
#define APPEND_TIMEOUT_S 10.0   /* one append, whatever the server does */
#define CREATE_TIMEOUT_S 10.0   /* POST /v1/live */
#define CANCEL_TIMEOUT_S 2.0    /* a cancel on the way out */
#define DEADLINE_SLACK_S 15.0   /* the hard deadline: --max + --wait + this */
#define JOIN_TIMEOUT_S 2.0      /* a thread that does not stop by then is left to exit */
#define START_TIMEOUT_S 30.0    /* `start` waits this long for the recorder to say it runs */
#define MAX_WAITING 8           /* `stop` clients waiting for the result */

typedef enum { REC_RECORDING, REC_FINISHING, REC_DONE } rec_state;

typedef struct rec {
    const dictate_opts *o;
    bool background;
    capture *cap; /* NULL: standard input */
    char source[300];
    hc_client *send_c, *events_c, *main_c;
    char id[LIVE_ID_MAX];

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wake_fd; /* eventfd: a thread changed something main must see */

    /* capture -> sender and main, under mu */
    buf pending;
    int64_t captured;     /* bytes captured in all (at most --max of audio) */
    bool capture_done;    /* the source ended, failed, or was stopped */
    bool capture_hit_max; /* it ended because --max of audio was captured */
    int capture_rc;
    hark_err capture_err;
    double capture_end_at; /* monotonic s */

    /* sender -> main, under mu */
    int64_t sent; /* bytes the server acknowledged */
    bool send_done;
    int send_rc;
    hark_err send_err;
    json_t *result;
    double result_at;

    atomic_bool stop_capture; /* main -> capture: stop reading */
    atomic_bool abort_send;   /* main -> sender: stop now, no end */
    atomic_bool abort_events; /* main -> events */

    live_partial partial; /* the events thread's */
} rec;

static double now_s(void)
{
    return clock_now_s();
}

static void wake(rec *r)
{
    uint64_t one = 1;
    ssize_t w = write(r->wake_fd, &one, sizeof one);
    (void)w; /* a full counter still wakes main */
}

/* ---- capture -------------------------------------------------------- */

/* Append captured bytes, up to --max of audio. Returns true when that was
 * reached. */
static bool push(rec *r, const void *data, size_t n)
{
    int64_t limit = ((int64_t)(r->o->max_s * BYTES_PER_S)) & ~(int64_t)1;
    bool hit = false;
    pthread_mutex_lock(&r->mu);
    if (r->captured + (int64_t)n >= limit) {
        n = (size_t)(limit - r->captured);
        hit = true;
    }
    if (n && buf_append(&r->pending, data, n) == 0) /* the cap is the limit: never refused */
        r->captured += (int64_t)n;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return hit;
}

static void *capture_main(void *arg)
{
    rec *r = arg;
    int rc = 0;
    hark_err err = {0};
    bool hit = false, first = true;
    double t0 = now_s();
    while (!hit && !atomic_load(&r->stop_capture)) {
        if (r->cap) {
            const int16_t *s;
            size_t n;
            if ((rc = capture_next(r->cap, &s, &n, &err)) != 0)
                break;
            if (first && n) { /* a device may take a while to start (tests wait for this) */
                log_debug("dictate: first audio from %s after %.2f s", r->source, now_s() - t0);
                first = false;
            }
            hit = push(r, s, n * sizeof *s);
            continue;
        }
        /* Standard input as it arrives: a pipe at real-time pace streams at
         * real-time pace. The poll's 20 ms bound the reaction to a stop. */
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        int pr = poll(&p, 1, 20);
        if (pr < 0 && errno != EINTR) {
            rc = err_set(&err, HARK_EIO, "cannot read standard input: %s", strerror(errno));
            break;
        }
        if (pr <= 0)
            continue;
        char chunk[16384];
        ssize_t got = read(STDIN_FILENO, chunk, sizeof chunk);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got < 0) {
            rc = err_set(&err, HARK_EIO, "cannot read standard input: %s", strerror(errno));
            break;
        }
        if (got == 0)
            break; /* the end of the recording */
        hit = push(r, chunk, (size_t)got);
    }
    if (rc && atomic_load(&r->stop_capture))
        rc = 0; /* stopped mid-read: not a failure */
    pthread_mutex_lock(&r->mu);
    r->capture_done = true;
    r->capture_hit_max = hit;
    r->capture_rc = rc;
    r->capture_err = err;
    r->capture_end_at = now_s();
    log_debug("dictate: capture ended: %.2f s captured", (double)r->captured / BYTES_PER_S);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    wake(r);
    return NULL;
}

/* ---- sender --------------------------------------------------------- */

static int abort_send_hook(void *ctx)
{
    rec *r = ctx;
    return atomic_load(&r->abort_send);
}

static int abort_events_hook(void *ctx)
{
    rec *r = ctx;
    return atomic_load(&r->abort_events);
}

/* Take up to max bytes (an even number) from the front of pending into out.
 * With mu held. */
static size_t take_pending(rec *r, char *out, size_t max)
{
    size_t take = r->pending.len < max ? r->pending.len : max;
    take &= ~(size_t)1; /* whole samples only; a lone last byte is dropped */
    if (take) {
        memcpy(out, r->pending.data, take);
        memmove(r->pending.data, r->pending.data + take, r->pending.len - take);
        r->pending.len -= take;
        r->pending.data[r->pending.len] = '\0';
    }
    return take;
}

static void *sender_main(void *arg)
{
    rec *r = arg;
    int rc = 0;
    hark_err err = {0};
    char *chunk = malloc(APPEND_MAX_BYTES);
    if (!chunk)
        rc = err_set(&err, HARK_ENOMEM, "out of memory");
    while (rc == 0) {
        pthread_mutex_lock(&r->mu);
        while (!atomic_load(&r->abort_send) && !r->capture_done &&
               r->pending.len < APPEND_MIN_BYTES)
            pthread_cond_wait(&r->cv, &r->mu);
        if (atomic_load(&r->abort_send)) {
            pthread_mutex_unlock(&r->mu);
            rc = err_set(&err, HARK_ECANCELED, "stopped");
            break;
        }
        size_t take = take_pending(r, chunk, APPEND_MAX_BYTES);
        bool last = r->capture_done && r->pending.len < 2;
        pthread_mutex_unlock(&r->mu);
        if (take) {
            hc_set_transfer_timeout(r->send_c, APPEND_TIMEOUT_S);
            if ((rc = live_append(r->send_c, r->id, chunk, take, NULL, &err)) != 0)
                break;
            pthread_mutex_lock(&r->mu);
            r->sent += (int64_t)take;
            pthread_mutex_unlock(&r->mu);
        }
        if (last)
            break;
    }
    json_t *result = NULL;
    if (rc == 0) {
        hc_set_transfer_timeout(r->send_c, r->o->wait_s);
        rc = live_end(r->send_c, r->id, &result, &err);
    }
    free(chunk);
    pthread_mutex_lock(&r->mu);
    r->send_done = true;
    r->send_rc = rc;
    r->send_err = err;
    r->result = result;
    r->result_at = now_s();
    pthread_mutex_unlock(&r->mu);
    wake(r);
    return NULL;
}

/* ---- events --------------------------------------------------------- */

static int on_event(void *ctx, const sse_event *ev)
{
    rec *r = ctx;
    if (live_partial_apply(&r->partial, ev->type, ev->data, ev->data_len))
        status_text(live_partial_text(&r->partial));
    return r->partial.final ? 1 : 0;
}

static void *events_main(void *arg)
{
    rec *r = arg;
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s/events", r->id);
    hark_err err = {0};
    if (hc_events(r->events_c, path, NULL, on_event, r, &err) != 0 &&
        !atomic_load(&r->abort_events))
        log_debug("dictate: the event stream of job %s: %s", r->id, err.msg);
    return NULL;
}

/* ---- threads -------------------------------------------------------- */

typedef struct thread {
    pthread_t t;
    bool started;
} thread;

static int start_thread(thread *th, void *(*fn)(void *), rec *r)
{
    th->started = pthread_create(&th->t, NULL, fn, r) == 0;
    return th->started ? 0 : -1;
}

/* Join within JOIN_TIMEOUT_S; false when the thread is still running. */
static bool join_thread(thread *th)
{
    if (!th->started)
        return true;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)JOIN_TIMEOUT_S;
    if (pthread_timedjoin_np(th->t, NULL, &ts) != 0)
        return false;
    th->started = false;
    return true;
}

/* ---- the outcome ---------------------------------------------------- */

/* What the dictation came to, for the terminal, a `stop` or the log. */
typedef struct outcome {
    bool ok;
    char error[700];
    buf text;       /* ok: the final text */
    json_t *result; /* ok: the json result (owned) */
    double audio_s; /* what the server received */
    double end_to_text_s;
} outcome;

static void describe_failure(rec *r, const hark_err *e, outcome *out)
{
    double got = (double)r->sent / BYTES_PER_S;
    if (e->code == HARK_EINVAL || e->code == HARK_ENOENT) /* the server refused, with its reason */
        snprintf(out->error, sizeof out->error, "job %s: %s", r->id, e->msg);
    else
        snprintf(out->error, sizeof out->error,
                 "%s; the %.1f s of audio the server received are kept in job %s (hark ls "
                 "--kind live)",
                 e->msg, got, r->id);
}

/* Fill out from the sender's end, with mu held. */
static void collect(rec *r, outcome *out)
{
    out->audio_s = (double)r->sent / BYTES_PER_S;
    if (r->send_rc) {
        describe_failure(r, &r->send_err, out);
        return;
    }
    hark_err err = {0};
    if (live_result_text(r->result, &out->text, &err) != 0) {
        snprintf(out->error, sizeof out->error, "job %s: %s", r->id, err.msg);
        return;
    }
    out->ok = true;
    out->result = json_incref(r->result);
    out->end_to_text_s = r->result_at - r->capture_end_at;
}

/* ---- the control socket (background) -------------------------------- */

static int reply(int fd, json_t *msg)
{
    hark_err err = {0};
    int rc = msg ? ctl_send(fd, msg, deadline_in(2), &err) : HARK_ENOMEM;
    if (rc)
        log_warn("dictate: cannot answer on the control socket: %s",
                 err.msg[0] ? err.msg : "out of memory");
    json_decref(msg);
    return rc;
}

static void reply_outcome(rec *r, int fd, const outcome *oc)
{
    if (oc->ok)
        reply(fd, json_pack("{s:b,s:s,s:s,s:s,s:O}", "ok", 1, "job", r->id, "text",
                            oc->text.data ? oc->text.data : "", "to", deliver_mode_name(r->o->to),
                            "result", oc->result));
    else
        reply(fd, json_pack("{s:b,s:s,s:s}", "ok", 0, "job", r->id, "error", oc->error));
}

/* ---- the main loop -------------------------------------------------- */

typedef struct loop {
    rec *r;
    int sig_fd;
    ctl_server *ctl;
    rec_state st;
    int sigs;
    deadline max_dl, finish_dl, hard_dl;
    int waiting[MAX_WAITING]; /* `stop` clients */
    int n_waiting;
    bool cancelled;         /* a `cancel` or a second Ctrl-C: no result wanted */
    bool signalled;         /* INT or TERM came: a background recorder exits once done */
    int cancel_fd;          /* the `cancel` client to answer, or -1 */
    char cancel_error[700]; /* why the cancel failed, "" if it did not */
    bool have_outcome;
    outcome oc;
} loop;

static void stop_recording(loop *l, const char *why)
{
    if (l->st != REC_RECORDING)
        return;
    log_debug("dictate: job %s: recording stops (%s)", l->r->id, why);
    atomic_store(&l->r->stop_capture, true);
    l->st = REC_FINISHING;
    l->finish_dl = deadline_in(l->r->o->wait_s + APPEND_TIMEOUT_S);
}

/* Stop everything now and cancel the job (bounded). */
static void cancel_job(loop *l, const char *why)
{
    rec *r = l->r;
    atomic_store(&r->stop_capture, true);
    atomic_store(&r->abort_send, true);
    atomic_store(&r->abort_events, true);
    pthread_mutex_lock(&r->mu);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    hark_err err = {0};
    hc_set_transfer_timeout(r->main_c, CANCEL_TIMEOUT_S);
    if (live_cancel(r->main_c, r->id, &err) != 0) {
        snprintf(l->cancel_error, sizeof l->cancel_error, "cannot cancel job %s: %s", r->id,
                 err.msg);
        status_say("dictate: %s; %s", why, l->cancel_error);
    } else
        status_say("dictate: %s; job %s cancelled", why, r->id);
    l->cancelled = true;
}

static void fail_now(loop *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* End with an error of main's own (a deadline). */
static void fail_now(loop *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->oc.error, sizeof l->oc.error, fmt, ap);
    va_end(ap);
    l->oc.ok = false;
    l->have_outcome = true;
    l->st = REC_DONE;
}

static void on_signal(loop *l)
{
    int s;
    while ((s = sigwatch_pending(l->sig_fd)) != 0) {
        l->sigs++;
        l->signalled = true;
        if (l->st == REC_DONE) /* a background result nobody collected: just go */
            continue;
        if (l->st == REC_RECORDING && l->sigs == 1)
            stop_recording(l, s == SIGINT ? "interrupted" : "terminated");
        else if (!l->cancelled)
            cancel_job(l, "abandoned");
    }
}

static void on_terminal(loop *l)
{
    char line[256];
    ssize_t n = read(STDIN_FILENO, line, sizeof line);
    if (n >= 0 || (errno != EINTR && errno != EAGAIN))
        stop_recording(l, n > 0 ? "Enter" : "end of the terminal's input");
}

/* A client on the control socket: read its request and act. */
static void on_client(loop *l, int fd)
{
    rec *r = l->r;
    char *line = NULL;
    size_t len = 0;
    hark_err err = {0};
    ctl_op op;
    if (ctl_recv_line(fd, &line, &len, deadline_in(1), &err) != 0 ||
        ctl_request_parse(line, len, &op, &err) != 0) {
        reply(fd, json_pack("{s:b,s:s,s:s}", "ok", 0, "job", r->id, "error", err.msg));
        free(line);
        close(fd);
        return;
    }
    free(line);
    switch (op) {
    case CTL_STATUS: {
        pthread_mutex_lock(&r->mu);
        double secs = (double)r->captured / BYTES_PER_S;
        pthread_mutex_unlock(&r->mu);
        reply(fd, json_pack("{s:b,s:s,s:s,s:f}", "ok", 1, "job", r->id, "state",
                            l->st == REC_RECORDING   ? "recording"
                            : l->st == REC_FINISHING ? "finishing"
                                                     : "done",
                            "seconds", secs));
        close(fd);
        return;
    }
    case CTL_CANCEL:
        if (l->st == REC_DONE) {
            /* The job has ended already: its text is dropped, not delivered. */
            reply(fd, json_pack("{s:b,s:s,s:s}", "ok", 1, "job", r->id, "state", "dropped"));
            close(fd);
            l->cancelled = true;
            return;
        }
        cancel_job(l, "cancelled by `hark dictate cancel`");
        l->cancel_fd = fd;
        return;
    case CTL_STOP:
        if (l->n_waiting == MAX_WAITING) {
            reply(fd, json_pack("{s:b,s:s,s:s}", "ok", 0, "job", r->id, "error",
                                "too many `hark dictate stop` waiting"));
            close(fd);
            return;
        }
        l->waiting[l->n_waiting++] = fd;
        stop_recording(l, "`hark dictate stop`");
        return;
    }
}

/* Look at what the threads did. */
static void on_wake(loop *l)
{
    rec *r = l->r;
    uint64_t v;
    ssize_t got = read(r->wake_fd, &v, sizeof v);
    (void)got;
    pthread_mutex_lock(&r->mu);
    bool capture_done = r->capture_done, send_done = r->send_done;
    int capture_rc = r->capture_rc;
    hark_err capture_err = r->capture_err;
    bool hit_max = r->capture_hit_max;
    if (send_done && !l->have_outcome) {
        collect(r, &l->oc);
        l->have_outcome = true;
    }
    pthread_mutex_unlock(&r->mu);
    if (capture_done && l->st == REC_RECORDING) {
        if (capture_rc)
            status_say("dictate: %s; transcribing what was recorded", capture_err.msg);
        stop_recording(l, capture_rc ? "the source failed"
                          : hit_max  ? "--max reached"
                                     : "end of input");
    }
    if (l->have_outcome) {
        atomic_store(&r->stop_capture, true); /* a failed send ends the recording too */
        l->st = REC_DONE;
    }
}

/* The poll timeout: the next timer of the state. */
static int next_timeout(const loop *l)
{
    int ms = deadline_remaining_ms(l->hard_dl);
    int other = l->st == REC_RECORDING   ? deadline_remaining_ms(l->max_dl)
                : l->st == REC_FINISHING ? deadline_remaining_ms(l->finish_dl)
                                         : -1;
    if (other >= 0 && (ms < 0 || other < ms))
        ms = other;
    return ms;
}

/* Run until the dictation is done (or cancelled). Returns when main has
 * an outcome, or l->cancelled. */
static void run_loop(loop *l, bool watch_terminal)
{
    rec *r = l->r;
    while (!l->cancelled) {
        if (l->st == REC_DONE) {
            /* In the background a result waits for its `stop` (or the hard
             * deadline), unless a signal ended the recording (a logout). */
            if (!l->ctl || l->n_waiting > 0 || l->signalled)
                return;
            if (deadline_passed(l->hard_dl))
                return;
        }
        struct pollfd p[4];
        int n = 0, i_sig, i_wake, i_term = -1, i_ctl = -1;
        p[i_sig = n++] = (struct pollfd){.fd = l->sig_fd, .events = POLLIN};
        p[i_wake = n++] = (struct pollfd){.fd = r->wake_fd, .events = POLLIN};
        if (watch_terminal && l->st == REC_RECORDING)
            p[i_term = n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        if (l->ctl)
            p[i_ctl = n++] = (struct pollfd){.fd = l->ctl->listen_fd, .events = POLLIN};
        int pr = poll(p, (nfds_t)n, next_timeout(l));
        if (pr < 0 && errno != EINTR) {
            fail_now(l, "cannot wait: %s", strerror(errno));
            return;
        }
        if (pr > 0 && p[i_sig].revents)
            on_signal(l);
        if (l->cancelled)
            return;
        if (pr > 0 && p[i_wake].revents)
            on_wake(l);
        if (pr > 0 && i_term >= 0 && p[i_term].revents)
            on_terminal(l);
        if (pr > 0 && i_ctl >= 0 && p[i_ctl].revents) {
            int fd;
            hark_err err = {0};
            int a;
            while ((a = ctl_accept(l->ctl, &fd, &err)) == 0) {
                on_client(l, fd);
                if (l->cancelled)
                    return;
            }
            if (a < 0)
                log_warn("dictate: %s", err.msg);
        }
        if (l->st == REC_RECORDING && deadline_passed(l->max_dl))
            stop_recording(l, "--max reached");
        if (l->st == REC_FINISHING && deadline_passed(l->finish_dl))
            fail_now(l,
                     "no final text from the hark server within %.0f s of the end of the "
                     "recording; job %s keeps the audio (hark result %s, later)",
                     r->o->wait_s + APPEND_TIMEOUT_S, r->id, r->id);
        if (l->st != REC_DONE && deadline_passed(l->hard_dl))
            fail_now(l,
                     "the dictation's deadline passed (--max %.0f s + --wait %.0f s); job %s "
                     "keeps the audio",
                     r->o->max_s, r->o->wait_s, r->id);
    }
}

/* ---- setup and teardown --------------------------------------------- */

static int open_client(const dictate_opts *o, hc_client **c, hark_err *err)
{
    char base[1024];
    int rc = hc_resolve_base(o->server, getenv(HC_SERVER_ENV), base, sizeof base, err);
    return rc ? rc : hc_open(base, c, err);
}

/* Say a setup failure: on stderr, or to the `start` parent (*ready_fd is
 * closed then, and -1). */
static void say_setup_error(int *ready_fd, const char *msg)
{
    if (*ready_fd >= 0) {
        dprintf(*ready_fd, "error %s\n", msg);
        close(*ready_fd);
        *ready_fd = -1;
    }
    status_say("dictate: %s", msg);
}

/* The recorder: set up, record, finish. ready_fd (-1: none) gets "ok ID" or
 * "error MSG" once recording runs or cannot; ctl is the control socket of a
 * background recorder (NULL in the foreground). Returns the exit status. */
static int record(const dictate_opts *o, int ready_fd, ctl_server *ctl)
{
    hark_err err = {0};
    capture_spec spec;
    char base[1024];
    if (hc_resolve_base(o->server, getenv(HC_SERVER_ENV), base, sizeof base, &err) != 0 ||
        (!o->from_stdin && capture_parse_spec(o->input, &spec, &err) != 0)) {
        say_setup_error(&ready_fd, err.msg);
        return EXIT_USAGE;
    }
    rec *r = calloc(1, sizeof *r);
    if (!r) {
        say_setup_error(&ready_fd, "out of memory");
        return EXIT_SOME_FAILED;
    }
    r->o = o;
    r->background = ctl != NULL;
    r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    buf_init(&r->pending, (size_t)(o->max_s * BYTES_PER_S) + 16);
    live_partial_init(&r->partial);
    thread t_capture = {0}, t_send = {0}, t_events = {0};
    loop l = {.r = r, .ctl = ctl, .st = REC_RECORDING, .cancel_fd = -1};
    int status = EXIT_SOME_FAILED;
    /* INT and TERM blocked before any thread starts: only main reads them. */
    l.sig_fd = sigwatch_open();
    if (r->wake_fd < 0 || l.sig_fd < 0) {
        say_setup_error(&ready_fd, strerror(errno));
        goto out;
    }
    if (open_client(o, &r->main_c, &err) || open_client(o, &r->send_c, &err) ||
        open_client(o, &r->events_c, &err)) {
        say_setup_error(&ready_fd, err.msg);
        goto out;
    }
    hc_set_abort(r->send_c, abort_send_hook, r);
    hc_set_abort(r->events_c, abort_events_hook, r);
    hc_set_reconnect(r->events_c, 3, 250);
    if (o->from_stdin) {
        snprintf(r->source, sizeof r->source, "standard input");
    } else {
        if (capture_open(&spec, &r->stop_capture, &r->cap, &err) != 0) {
            say_setup_error(&ready_fd, err.msg);
            goto out;
        }
        snprintf(r->source, sizeof r->source, "%s", capture_name(r->cap));
    }
    /* Capture first: what is said while the job is created is kept. */
    if (start_thread(&t_capture, capture_main, r) != 0) {
        say_setup_error(&ready_fd, "cannot start a thread");
        goto out;
    }
    live_opts lo = {.priority = o->priority, .name = o->name};
    hc_set_transfer_timeout(r->main_c, CREATE_TIMEOUT_S);
    if (live_create(r->main_c, &lo, r->id, &err) != 0) {
        atomic_store(&r->stop_capture, true);
        say_setup_error(&ready_fd, err.msg);
        goto out;
    }
    if (start_thread(&t_send, sender_main, r) != 0 ||
        start_thread(&t_events, events_main, r) != 0) {
        l.cancelled = true;
        say_setup_error(&ready_fd, "cannot start a thread");
        goto out;
    }
    double start = now_s();
    l.max_dl = deadline_in(o->max_s);
    l.hard_dl = deadline_in(o->max_s + o->wait_s + DEADLINE_SLACK_S);
    if (ready_fd >= 0) {
        dprintf(ready_fd, "ok %s\n", r->id);
        close(ready_fd);
        ready_fd = -1;
    }
    /* Enter ends it when the terminal is ours to read (not in the shell's
     * background, where a read would stop us with SIGTTIN). */
    bool watch_terminal =
        !o->from_stdin && !ctl && isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
    if (!o->quiet || ctl)
        status_say("dictating into job %s from %s; %s", r->id, r->source,
                   ctl              ? "`hark dictate stop` ends it"
                   : watch_terminal ? "Enter or Ctrl-C ends it"
                   : o->from_stdin  ? "the end of the input or Ctrl-C ends it"
                                    : "Ctrl-C ends it");
    /* Enter is read, not echoed: its newline would push the status line up
     * and leave it on the screen. Restored on every way out of here (INT
     * and TERM come through the signalfd, never kill us midway). */
    struct termios saved;
    bool restore = watch_terminal && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (restore) {
        struct termios quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        restore = tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0;
    }
    run_loop(&l, watch_terminal);
    if (restore)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    status_end();
    if (l.cancelled) {
        status = EXIT_INTERRUPTED;
        if (l.cancel_fd >= 0) {
            if (l.cancel_error[0])
                reply(l.cancel_fd,
                      json_pack("{s:b,s:s,s:s}", "ok", 0, "job", r->id, "error", l.cancel_error));
            else
                reply(l.cancel_fd,
                      json_pack("{s:b,s:s,s:s}", "ok", 1, "job", r->id, "state", "cancelled"));
            close(l.cancel_fd);
            status = l.cancel_error[0] ? EXIT_SOME_FAILED : EXIT_ALL_OK;
        }
        for (int i = 0; i < l.n_waiting; i++) {
            reply(l.waiting[i], json_pack("{s:b,s:s,s:s}", "ok", 0, "job", r->id, "error",
                                          "the dictation was cancelled"));
            close(l.waiting[i]);
        }
        goto out;
    }
    outcome *oc = &l.oc;
    if (!l.have_outcome) /* the background's hard deadline, nobody asked */
        fail_now(&l, "nobody stopped the dictation of job %s", r->id);
    log_debug("dictate: job %s done after %.1f s", r->id, now_s() - start);
    if (ctl) {
        for (int i = 0; i < l.n_waiting; i++) {
            reply_outcome(r, l.waiting[i], oc);
            close(l.waiting[i]);
        }
        if (oc->ok && l.n_waiting == 0)
            status_say("dictate: job %s ended; nobody asked for its text (hark result %s)", r->id,
                       r->id);
        status = oc->ok ? EXIT_ALL_OK : EXIT_SOME_FAILED;
        if (!oc->ok)
            status_say("dictate: %s", oc->error);
        goto out;
    }
    if (!oc->ok) {
        status_say("dictate: %s", oc->error);
        goto out;
    }
    if (!o->quiet)
        fprintf(stderr,
                "hark: job %s: %.1f s of audio, final text %.0f ms after the recording "
                "ended\n",
                r->id, oc->audio_s, oc->end_to_text_s * 1000);
    if (o->json) {
        char *dump = json_dumps(oc->result, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        status = dump ? dictate_deliver(DELIVER_STDOUT, dump, true) : EXIT_SOME_FAILED;
        free(dump);
    } else if (oc->text.len == 0) {
        fprintf(stderr, "hark: dictate: heard no speech (job %s)\n", r->id);
        status = EXIT_ALL_OK;
    } else {
        status = dictate_deliver(o->to, oc->text.data, o->quiet);
    }
out:
    if (ready_fd >= 0)
        close(ready_fd);
    /* Everything stops; a thread that does not within 2 s (a device that
     * hangs) is left to the exit, with what it uses. */
    atomic_store(&r->stop_capture, true);
    atomic_store(&r->abort_send, true);
    atomic_store(&r->abort_events, true);
    pthread_mutex_lock(&r->mu);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    bool joined = join_thread(&t_capture);
    joined = join_thread(&t_send) && joined;
    joined = join_thread(&t_events) && joined;
    if (!joined) {
        log_debug("dictate: a thread did not stop; exiting without it");
        return status;
    }
    capture_close(r->cap);
    hc_close(r->main_c);
    hc_close(r->send_c);
    hc_close(r->events_c);
    json_decref(r->result);
    json_decref(l.oc.result);
    buf_release(&l.oc.text);
    buf_release(&r->pending);
    live_partial_release(&r->partial);
    if (r->wake_fd >= 0)
        close(r->wake_fd);
    if (l.sig_fd >= 0)
        sigwatch_close(l.sig_fd);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
    return status;
}

/* ---- start: the background recorder --------------------------------- */

/* Read the child's one line ("ok ID", "busy HOLDER", "error MSG") within
 * the time limit. */
static int read_ready(int fd, char *line, size_t n)
{
    size_t got = 0;
    deadline dl = deadline_in(START_TIMEOUT_S);
    while (got + 1 < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ms = deadline_remaining_ms(dl);
        if (ms == 0)
            return HARK_ETIMEDOUT;
        int pr = poll(&p, 1, ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return pr == 0 ? HARK_ETIMEDOUT : HARK_EIO;
        ssize_t r = read(fd, line + got, n - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        if (memchr(line, '\n', got))
            break;
    }
    line[got] = '\0';
    line[strcspn(line, "\n")] = '\0';
    return got ? 0 : HARK_EIO;
}

static int start_background(const dictate_opts *o)
{
    hark_err err = {0};
    char dir[256], log_path[300];
    if (ctl_dir(dir, sizeof dir, &err) != 0) {
        fprintf(stderr, "hark: dictate: %s\n", err.msg);
        return EXIT_SOME_FAILED;
    }
    snprintf(log_path, sizeof log_path, "%s/dictate.log", dir);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        fprintf(stderr, "hark: dictate: cannot make a pipe: %s\n", strerror(errno));
        return EXIT_SOME_FAILED;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "hark: dictate: cannot fork: %s\n", strerror(errno));
        return EXIT_SOME_FAILED;
    }
    if (pid == 0) {
        close(p[0]);
        setsid(); /* the terminal's Ctrl-C and hangup are not for it */
        ctl_server ctl;
        char holder[160] = "";
        int rc = ctl_listen(dir, &ctl, holder, sizeof holder, &err);
        if (rc == 1) {
            dprintf(p[1], "busy %s\n", holder);
            _exit(EXIT_SOME_FAILED);
        }
        if (rc) {
            dprintf(p[1], "error %s\n", err.msg);
            _exit(EXIT_SOME_FAILED);
        }
        /* The lock is ours: the log is this recorder's to start afresh. */
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int lg =
            open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (in >= 0)
            dup2(in, STDIN_FILENO);
        if (lg >= 0) {
            dup2(lg, STDOUT_FILENO);
            dup2(lg, STDERR_FILENO);
        }
        if (in > STDERR_FILENO)
            close(in);
        if (lg > STDERR_FILENO)
            close(lg);
        if (chdir("/") != 0) {
            /* nothing of ours needs the directory; staying is harmless */
        }
        status_init(false, true);
        int status = record(o, p[1], &ctl);
        ctl_close(&ctl);
        exit(status);
    }
    close(p[1]);
    char line[700];
    int rc = read_ready(p[0], line, sizeof line);
    close(p[0]);
    if (rc == 0 && strncmp(line, "ok ", 3) == 0) {
        printf("%s\n", line + 3);
        return fflush(stdout) == 0 ? EXIT_ALL_OK : EXIT_SOME_FAILED;
    }
    if (rc == 0 && strncmp(line, "busy ", 5) == 0) {
        fprintf(stderr,
                "hark: dictate: already recording (%s); `hark dictate stop` ends it, `hark "
                "dictate cancel` drops it\n",
                line + 5);
    } else if (rc == 0 && strncmp(line, "error ", 6) == 0) {
        fprintf(stderr, "hark: dictate: %s\n", line + 6);
    } else if (rc == HARK_ETIMEDOUT) {
        kill(pid, SIGKILL);
        fprintf(stderr,
                "hark: dictate: the background recorder did not start within %.0f s (see %s)\n",
                START_TIMEOUT_S, log_path);
    } else {
        fprintf(stderr,
                "hark: dictate: the background recorder exited before it started (see %s)\n",
                log_path);
    }
    return EXIT_SOME_FAILED;
}

int dictate_record(const dictate_opts *o)
{
    /* A reader of our output that goes away is an error to report, not a
     * signal to die of. */
    signal(SIGPIPE, SIG_IGN);
    if (o->action == DICTATE_START)
        return start_background(o);
    if (o->from_stdin && isatty(STDIN_FILENO)) {
        fprintf(stderr, "hark: dictate: standard input is a terminal; pipe raw s16le 16 kHz mono "
                        "audio into it, or leave out - to use the microphone\n");
        return EXIT_USAGE;
    }
    status_init(isatty(STDERR_FILENO), o->quiet);
    return record(o, -1, NULL);
}
