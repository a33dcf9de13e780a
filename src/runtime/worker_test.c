/* The worker process over the real protocol: `hark worker` started with
 * proc_spawn, driven with frames over a socketpair, as the daemon will. */
#include "jobs/chunk_result.h"
#include "jobs/transcription.h"
#include "net/test_httpd.h"
#include "runtime/frame.h"
#include "runtime/proc.h"
#include "runtime/protocol.h"
#include "util/test.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>

typedef struct peer {
    proc_t proc;
    int fd;
    frame_reader r;
} peer;

/* Start `hark worker` [mode: --background-load, --no-model]. */
static void start_mode(peer *p, const char *mode)
{
    const char *hark = getenv("HARK");
    ASSERT(hark != NULL);
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    const char *argv[] = {hark, "worker", mode, NULL};
    proc_limits lim = {0};
    hark_err err = {0};
    if (proc_spawn(argv, &lim, sv[1], &p->proc, &err))
        TEST_FAIL_("spawn: %s", err.msg);
    close(sv[1]);
    p->fd = sv[0];
    frame_reader_init(&p->r, 0);
}

static void start_with(peer *p, bool background_load)
{
    start_mode(p, background_load ? "--background-load" : NULL);
}

static void start(peer *p)
{
    start_with(p, false);
}

/* The next message, skipping heartbeats (counted in *beats if given). */
static json_t *next(peer *p, int want, int *beats)
{
    for (;;) {
        uint16_t type;
        json_t *m = NULL;
        hark_err err = {0};
        int rc = frame_read_json(&p->r, p->fd, deadline_in(60), &type, &m, &err);
        if (rc)
            TEST_FAIL_("read (want %d): %s", want, err.msg);
        if (type == MSG_HEARTBEAT && want != MSG_HEARTBEAT) {
            if (beats)
                (*beats)++;
            json_decref(m);
            continue;
        }
        if (type != want)
            TEST_FAIL_("got message %d, want %d: %s", type, want, json_dumps(m, 0));
        return m;
    }
}

static void send_msg(peer *p, int type, json_t *m)
{
    hark_err err = {0};
    if (frame_write_json(p->fd, (uint16_t)type, m, deadline_in(10), &err))
        TEST_FAIL_("write: %s", err.msg);
    json_decref(m);
}

/* The worker's exit status after SHUTDOWN (or after it ended by itself). */
static proc_status finish_peer(peer *p, bool send_shutdown)
{
    if (send_shutdown)
        send_msg(p, MSG_SHUTDOWN, json_object());
    proc_status s;
    ASSERT_EQ(proc_wait(&p->proc, deadline_in(30), &s, NULL), 0);
    proc_release(&p->proc);
    frame_reader_release(&p->r);
    close(p->fd);
    return s;
}

static void make_recording(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "sox '%s'/*.wav rec.wav && mkdir -p work", test_data_dir());
    ASSERT_EQ(system(cmd), 0);
}

static json_t *prepare(peer *p, int token)
{
    char cwd[2048], input[4200], work[4200];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(input, sizeof input, "%s/rec.wav", cwd);
    snprintf(work, sizeof work, "%s/work", cwd);
    send_msg(p, MSG_PREPARE,
             json_pack("{s:i, s:s, s:s, s:s}", "token", token, "job", "j1", "input", input,
                       "work_dir", work));
    json_t *m = next(p, MSG_PREPARED, NULL);
    ASSERT_EQ(json_integer_value(json_object_get(m, "token")), token);
    return m;
}

static void decode_msg(peer *p, int token, const json_t *plan, size_t i)
{
    char cwd[2048], work[4200];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(work, sizeof work, "%s/work", cwd);
    const json_t *c = json_array_get(json_object_get(plan, "chunks"), i);
    send_msg(p, MSG_DECODE,
             json_pack("{s:i, s:s, s:I, s:s, s:O, s:O}", "token", token, "job", "j1", "index",
                       (json_int_t)i, "work_dir", work, "start", json_array_get(c, 0), "end",
                       json_array_get(c, 1)));
}

static void test_prepare_decode_yield_shutdown(void)
{
    make_recording();
    peer p;
    start(&p);
    json_decref(next(&p, MSG_READY, NULL));

    json_t *prep = prepare(&p, 7);
    const json_t *plan = json_object_get(prep, "plan");
    chunk_plan cp;
    ASSERT_EQ(chunk_plan_from_json(plan, &cp, NULL), 0);
    ASSERT(cp.n >= 2);
    ASSERT(json_number_value(json_object_get(prep, "duration")) > 20);
    struct stat st;
    ASSERT_EQ(stat("work/audio.pcm", &st), 0);

    /* A chunk decodes to words with absolute times inside the chunk, and the
     * worker sends heartbeats while it works. */
    int beats = 0;
    decode_msg(&p, 8, plan, 1);
    json_t *res = next(&p, MSG_RESULT, &beats);
    ASSERT_EQ(json_integer_value(json_object_get(res, "token")), 8);
    ASSERT_EQ(json_integer_value(json_object_get(res, "index")), 1);
    asr_result r;
    ASSERT_EQ(chunk_result_from_json(json_object_get(res, "result"), &r, NULL), 0);
    ASSERT(r.n_words > 5);
    ASSERT(r.words[0].start_s >= pcm_seconds(cp.chunks[1].start) - 1e-6);
    ASSERT(r.words[r.n_words - 1].end_s <= pcm_seconds(cp.chunks[1].end) + 1e-6);
    printf("chunk 1: %zu words, %d heartbeats\n", r.n_words, beats);
    ASSERT(beats >= 1);
    asr_result_release(&r);
    json_decref(res);

    /* Yield: asked right after the task starts, the worker stops at its next
     * block boundary, drops the chunk and says so. A yield for another token
     * is ignored. */
    decode_msg(&p, 9, plan, 0);
    send_msg(&p, MSG_YIELD, json_pack("{s:i}", "token", 1234));
    double t0 = clock_now_s();
    send_msg(&p, MSG_YIELD, json_pack("{s:i}", "token", 9));
    json_t *y = next(&p, MSG_YIELDED, NULL);
    double took = clock_now_s() - t0;
    printf("yielded %.0f ms after the request\n", took * 1000);
    ASSERT_EQ(json_integer_value(json_object_get(y, "token")), 9);
    ASSERT_LE(took, 2.0);
    json_decref(y);

    /* The worker is free again: the same chunk decodes fully. */
    decode_msg(&p, 10, plan, 0);
    json_decref(next(&p, MSG_RESULT, NULL));

    /* A bad input fails alone, with the decoder's message. */
    send_msg(&p, MSG_PREPARE,
             json_pack("{s:i, s:s, s:s, s:s}", "token", 11, "job", "j2", "input",
                       "/nonexistent.wav", "work_dir", "/tmp"));
    json_t *f = next(&p, MSG_FAILED, NULL);
    ASSERT(strstr(json_string_value(json_object_get(f, "message")), "/nonexistent.wav") != NULL);
    json_decref(f);

    /* An input beneath a root is opened there following no link: a link
     * to a good recording fails the task, as the input's fault. */
    char cwd[2048], root[2100], link[2200];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(root, sizeof root, "%s/root", cwd);
    snprintf(link, sizeof link, "%s/link.wav", root);
    ASSERT_EQ(mkdir(root, 0700), 0);
    ASSERT_EQ(symlink("../rec.wav", link), 0);
    send_msg(&p, MSG_PREPARE,
             json_pack("{s:i, s:s, s:s, s:s, s:s}", "token", 12, "job", "j3", "input", link, "root",
                       root, "work_dir", "work"));
    f = next(&p, MSG_FAILED, NULL);
    char want[2400];
    snprintf(want, sizeof want,
             "cannot read '%s': a symbolic link (links are not followed under a root)", link);
    ASSERT_STREQ(json_string_value(json_object_get(f, "message")), want);
    ASSERT_EQ(json_integer_value(json_object_get(f, "code")), HARK_EINVAL);
    json_decref(f);

    proc_status s = finish_peer(&p, true);
    ASSERT_EQ(s.cause, PROC_EXITED);
    ASSERT_EQ(s.code, 0);
    chunk_plan_release(&cp);
    json_decref(prep);
}

/* ---- inputs by URL ---- */

typedef struct blob {
    char *data;
    size_t n;
} blob;

static enum MHD_Result serve_rec(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **state)
{
    const blob *b = cls;
    if (strcmp(url, "/rec.wav") != 0)
        return httpd_reply(c, 404, "no such file\n", NULL, NULL);
    struct MHD_Response *r = MHD_create_response_from_buffer(b->n, b->data, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

static void read_all(const char *path, blob *b)
{
    FILE *f = fopen(path, "rb");
    ASSERT(f != NULL);
    ASSERT_EQ(fseek(f, 0, SEEK_END), 0);
    b->n = (size_t)ftell(f);
    rewind(f);
    b->data = malloc(b->n);
    ASSERT(b->data != NULL);
    ASSERT_EQ(fread(b->data, 1, b->n, f), b->n);
    fclose(f);
}

/* A prepare task of a URL input, into work directory dir (made here unless
 * it exists); the daemon allows allow_host (any port) to be private, or
 * nothing when it is NULL. */
static void prepare_url_to(peer *p, int token, const char *url, const char *dir, double stall_s,
                           const char *allow_host)
{
    char cwd[2048], work[4200];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(work, sizeof work, "%s/%s", cwd, dir);
    ASSERT(mkdir(work, 0700) == 0 || errno == EEXIST);
    json_t *t = json_pack("{s:i, s:s, s:s, s:s, s:{s:f, s:f, s:i, s:i, s:I, s:i}}", "token", token,
                          "job", "j1", "input", url, "work_dir", work, "fetch", "connect_timeout",
                          5.0, "timeout", 60.0, "low_speed_bytes", 1024, "low_speed_time",
                          (int)stall_s, "max_bytes", (json_int_t)1 << 30, "max_redirects", 2);
    if (allow_host)
        json_object_set_new(
            json_object_get(t, "fetch"), "dest",
            json_pack("{s:b, s:[{s:s, s:i}]}", "any", 0, "allow", "host", allow_host, "port", 0));
    send_msg(p, MSG_PREPARE, t);
}

/* The test's servers are on 127.0.0.1: allowed as a daemon with
 * `url_allow = 127.0.0.1` allows it. */
static void prepare_url(peer *p, int token, const char *url, const char *dir, double stall_s)
{
    prepare_url_to(p, token, url, dir, stall_s, "127.0.0.1");
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* The worker downloads a URL input into the work directory (clearing what
 * a killed attempt left), decodes it and removes the download; a download
 * completed by an earlier attempt is decoded without fetching again; a 404
 * is an input fault naming the URL without its credentials; a download
 * that hangs checks in (heartbeats) and stops promptly on a yield. */
static void test_prepare_by_url(void)
{
    make_recording();
    blob rec;
    read_all("rec.wav", &rec);
    unsigned port, hang_port;
    struct MHD_Daemon *d = httpd_start(serve_rec, &rec, &port);
    int hang = listener_start(8, &hang_port); /* connects, never answers */
    peer p;
    start(&p);
    json_decref(next(&p, MSG_READY, NULL));

    /* A partial download of a killed attempt is cleared first. */
    ASSERT_EQ(mkdir("w1", 0700), 0);
    FILE *stale = fopen("w1/." TRANSCRIPTION_DOWNLOAD_NAME ".part.Ab12Cd", "w");
    ASSERT(stale != NULL);
    fclose(stale);
    char url[256];
    snprintf(url, sizeof url, "http://alice:s3cret@127.0.0.1:%u/rec.wav?sig=x", port);
    prepare_url(&p, 1, url, "w1", 30);
    json_t *m = next(&p, MSG_PREPARED, NULL);
    ASSERT(json_number_value(json_object_get(m, "duration")) > 20);
    json_decref(m);
    ASSERT(exists("w1/" TRANSCRIPTION_PCM_NAME));
    ASSERT(!exists("w1/" TRANSCRIPTION_DOWNLOAD_NAME));
    ASSERT(!exists("w1/." TRANSCRIPTION_DOWNLOAD_NAME ".part.Ab12Cd"));

    snprintf(url, sizeof url, "http://alice:s3cret@127.0.0.1:%u/missing.wav?sig=x", port);
    prepare_url(&p, 2, url, "w2", 30);
    m = next(&p, MSG_FAILED, NULL);
    const char *msg = json_string_value(json_object_get(m, "message"));
    char want[256];
    snprintf(want, sizeof want,
             "cannot download http://127.0.0.1:%u/missing.wav?...: server "
             "answered HTTP 404",
             port);
    ASSERT_STREQ(msg, want);
    ASSERT_EQ(json_integer_value(json_object_get(m, "code")), HARK_ENOENT);
    json_decref(m);
    ASSERT(!exists("w2/" TRANSCRIPTION_DOWNLOAD_NAME));

    /* Without the daemon's allow list, loopback is not a destination: an
     * input fault, named. (And an allow list for
     * another host does not open it.) */
    snprintf(url, sizeof url, "http://localhost:%u/rec.wav", port);
    const char *allows[] = {NULL, "media.lan"};
    for (int i = 0; i < 2; i++) {
        prepare_url_to(&p, 20 + i, url, "w4", 30, allows[i]);
        m = next(&p, MSG_FAILED, NULL);
        snprintf(want, sizeof want,
                 "cannot download http://localhost:%u/rec.wav: destination localhost:%u is not "
                 "allowed (a private, loopback or reserved address)",
                 port, port);
        ASSERT_STREQ(json_string_value(json_object_get(m, "message")), want);
        ASSERT_EQ(json_integer_value(json_object_get(m, "code")), HARK_EINVAL);
        json_decref(m);
    }
    ASSERT(!exists("w4/" TRANSCRIPTION_DOWNLOAD_NAME));

    /* A download that an earlier attempt completed is decoded, not fetched
     * again: nothing listens at this URL. */
    ASSERT_EQ(mkdir("w3", 0700), 0);
    ASSERT_EQ(rename("rec.wav", "w3/" TRANSCRIPTION_DOWNLOAD_NAME), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/rec.wav", closed_port());
    prepare_url(&p, 3, url, "w3", 30);
    json_decref(next(&p, MSG_PREPARED, NULL));
    ASSERT(!exists("w3/" TRANSCRIPTION_DOWNLOAD_NAME));

    snprintf(url, sizeof url, "http://127.0.0.1:%u/rec.wav", hang_port);
    prepare_url(&p, 5, url, "w5", 60);
    uint16_t type = 0;
    m = NULL;
    ASSERT_EQ(frame_read_json(&p.r, p.fd, deadline_in(3), &type, &m, NULL), 0);
    ASSERT_EQ(type, MSG_HEARTBEAT); /* alive while it waits for the server */
    json_decref(m);
    double t0 = clock_now_s();
    send_msg(&p, MSG_YIELD, json_pack("{s:i}", "token", 5));
    m = next(&p, MSG_YIELDED, NULL);
    double took = clock_now_s() - t0;
    printf("a hung download yielded %.0f ms after the request\n", took * 1000);
    ASSERT_LE(took, 2.0);
    json_decref(m);
    ASSERT(!exists("w5/" TRANSCRIPTION_DOWNLOAD_NAME));

    send_msg(&p, MSG_SHUTDOWN, json_object());
    proc_status s;
    ASSERT_EQ(proc_wait(&p.proc, deadline_in(30), &s, NULL), 0);
    ASSERT_EQ(s.code, 0);
    proc_release(&p.proc);
    frame_reader_release(&p.r);
    close(p.fd);
    close(hang);
    MHD_stop_daemon(d);
    free(rec.data);
}

/* Fault injection reaches the worker through its environment. */
static void run_fault(const char *fault, proc_status *out, int *beats_after_start)
{
    make_recording();
    setenv("HARK_FAULT", fault, 1);
    setenv("HARK_FAULT_CHUNK", "0", 1);
    peer p;
    start(&p);
    unsetenv("HARK_FAULT");
    json_decref(next(&p, MSG_READY, NULL));
    json_t *prep = prepare(&p, 1);
    decode_msg(&p, 2, json_object_get(prep, "plan"), 0);
    /* A hung or stalled worker goes silent: read with a short deadline. */
    *beats_after_start = 0;
    for (;;) {
        uint16_t type;
        json_t *m = NULL;
        int rc = frame_read_json(&p.r, p.fd, deadline_in(1.5), &type, &m, NULL);
        if (rc)
            break;
        if (type == MSG_HEARTBEAT)
            (*beats_after_start)++;
        json_decref(m);
    }
    proc_kill(&p.proc);
    ASSERT_EQ(proc_wait(&p.proc, deadline_in(10), out, NULL), 0);
    proc_release(&p.proc);
    json_decref(prep);
    frame_reader_release(&p.r);
    close(p.fd);
}

static void test_fault_crash(void)
{
    proc_status s;
    int beats;
    run_fault("crash", &s, &beats);
    ASSERT_EQ(s.cause, PROC_SIGNALED);
    ASSERT_EQ(s.code, SIGSEGV);
}

static void test_fault_hang_stops_heartbeats(void)
{
    proc_status s;
    int beats;
    run_fault("hang", &s, &beats);
    ASSERT_EQ(beats, 0);
    ASSERT_EQ(s.cause, PROC_SIGNALED);
    ASSERT_EQ(s.code, SIGKILL);
}

/* The words of a RESULT message, as JSON text (for comparing two runs). */
static char *result_words(json_t *res)
{
    char *w = json_dumps(json_object_get(res, "result"), JSON_SORT_KEYS);
    json_decref(res);
    ASSERT(w != NULL);
    return w;
}

/* --background-load: ready before the model is, prepares beside the load,
 * and the first decode waits for it, still answering a yield; its words
 * are the same as a worker that loaded first. */
static void test_background_load(void)
{
    make_recording();
    peer eager;
    start(&eager);
    json_decref(next(&eager, MSG_READY, NULL));
    json_t *prep = prepare(&eager, 1);
    const json_t *plan = json_object_get(prep, "plan");
    decode_msg(&eager, 2, plan, 0);
    char *want = result_words(next(&eager, MSG_RESULT, NULL));
    ASSERT_EQ(finish_peer(&eager, true).code, 0);

    peer p;
    start_with(&p, true);
    json_t *ready = next(&p, MSG_READY, NULL);
    ASSERT_STREQ(json_string_value(json_object_get(ready, "engine")), "loading in the background");
    json_decref(ready);
    json_decref(prepare(&p, 3));
    /* A yield reaches the decode while it waits for the model. */
    decode_msg(&p, 4, plan, 0);
    send_msg(&p, MSG_YIELD, json_pack("{s:i}", "token", 4));
    json_t *y = next(&p, MSG_YIELDED, NULL);
    ASSERT_EQ(json_integer_value(json_object_get(y, "token")), 4);
    json_decref(y);
    decode_msg(&p, 5, plan, 0);
    char *got = result_words(next(&p, MSG_RESULT, NULL));
    ASSERT_STREQ(got, want);
    proc_status s = finish_peer(&p, true);
    ASSERT_EQ(s.cause, PROC_EXITED);
    ASSERT_EQ(s.code, 0);
    free(got);
    free(want);
    json_decref(prep);
}

/* Told to shut down while the model is still loading, it exits at once
 * (status 0) rather than after the load. */
static void test_background_load_shutdown_early(void)
{
    peer p;
    start_with(&p, true);
    json_decref(next(&p, MSG_READY, NULL));
    proc_status s = finish_peer(&p, true);
    ASSERT_EQ(s.cause, PROC_EXITED);
    ASSERT_EQ(s.code, 0);
}

/* A model that cannot be loaded: prepares still work (they need none),
 * the first decode fails with the load's message, and the worker exits 1
 * so the supervisor replaces it. */
static void test_background_load_failure(void)
{
    make_recording();
    ASSERT_EQ(setenv("HARK_MODEL_DIR", "/nonexistent-model", 1), 0);
    peer p;
    start_with(&p, true);
    ASSERT_EQ(unsetenv("HARK_MODEL_DIR"), 0);
    json_decref(next(&p, MSG_READY, NULL));
    json_t *prep = prepare(&p, 1);
    decode_msg(&p, 2, json_object_get(prep, "plan"), 0);
    json_t *f = next(&p, MSG_FAILED, NULL);
    ASSERT_EQ(json_integer_value(json_object_get(f, "token")), 2);
    const char *msg = json_string_value(json_object_get(f, "message"));
    ASSERT(msg && strstr(msg, "cannot load the speech model: '/nonexistent-model/") != NULL);
    json_decref(f);
    proc_status s = finish_peer(&p, false);
    ASSERT_EQ(s.cause, PROC_EXITED);
    ASSERT_EQ(s.code, 1);
    json_decref(prep);
}

/* A worker without a model prepares, and refuses a task that wants one
 * with a clear error; it exits 0 (nothing failed to load). */
static void test_no_model(void)
{
    make_recording();
    peer p;
    start_mode(&p, "--no-model");
    json_t *ready = next(&p, MSG_READY, NULL);
    ASSERT_STREQ(json_string_value(json_object_get(ready, "engine")), "none");
    json_decref(ready);
    json_t *prep = prepare(&p, 1);
    decode_msg(&p, 2, json_object_get(prep, "plan"), 0);
    json_t *f = next(&p, MSG_FAILED, NULL);
    const char *msg = json_string_value(json_object_get(f, "message"));
    ASSERT(msg && strstr(msg, "without a speech model") != NULL);
    json_decref(f);
    proc_status s = finish_peer(&p, true);
    ASSERT_EQ(s.cause, PROC_EXITED);
    ASSERT_EQ(s.code, 0);
    json_decref(prep);
}

int main(void)
{
    RUN(test_prepare_decode_yield_shutdown);
    RUN(test_prepare_by_url);
    RUN(test_fault_crash);
    RUN(test_fault_hang_stops_heartbeats);
    RUN(test_background_load);
    RUN(test_no_model);
    RUN(test_background_load_shutdown_early);
    RUN(test_background_load_failure);
    TEST_DONE();
}
