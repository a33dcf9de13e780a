/* client_test.c - the client's pure parts (SSE parser, WAV header, error
 * messages, URL precedence, event bookkeeping, job rows) and its HTTP code
 * against a scripted fake server (a forked child on a loopback port). */
#include "client/client.h"
#include "client/follow.h"
#include "client/http_client.h"
#include "client/jobfmt.h"
#include "client/sse.h"
#include "client/wav.h"
#include "util/clock.h"
#include "util/test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---- SSE parser ----------------------------------------------------- */

/* Events as one string: "type|id|data" per event, joined by "\n--\n". */
typedef struct collected {
    buf log;
    int n;
    int stop_after; /* return 7 from the callback at this event (0: never) */
} collected;

static int collect(void *ctx, const sse_event *ev)
{
    collected *c = ctx;
    ASSERT_EQ(strlen(ev->data), ev->data_len);
    ASSERT_EQ(buf_printf(&c->log, "%s%s|%s|%s", c->n ? "\n--\n" : "", ev->type, ev->id, ev->data),
              0);
    c->n++;
    return c->stop_after && c->n == c->stop_after ? 7 : 0;
}

static const char *stream_lf = "\xEF\xBB\xBF"
                               ": hello, a comment\n"
                               "id: 1\n"
                               "event: queued\n"
                               "data: {\"job\": \"j1\"}\n"
                               "\n"
                               ": keepalive\n"
                               "\n"
                               "event: chunk_committed\n"
                               "id: 2\n"
                               "data: first line\n"
                               "data:second line\n"
                               "data\n"
                               "unknown: field\n"
                               "retry: 1500\n"
                               "\n"
                               "id: 3\n"
                               "data: no event line\n"
                               "\n"
                               "id: 4\n"
                               "\n"
                               "event: ignored-no-data\n"
                               "\n"
                               "data:  two spaces\n"
                               "\n"
                               "id: 5\n"
                               "event: succeeded\n"
                               "data: {\"job\": \"j1\"}\n"
                               "\n"
                               "data: an event the stream ends in\n";

static const char *expected = "queued|1|{\"job\": \"j1\"}\n--\n"
                              "chunk_committed|2|first line\nsecond line\n\n--\n"
                              "message|3|no event line\n--\n"
                              "message|4| two spaces\n--\n"
                              "succeeded|5|{\"job\": \"j1\"}";

/* The stream with every LF turned into eol. */
static char *with_eol(const char *s, const char *eol)
{
    buf b;
    buf_init(&b, 1 << 16);
    for (; *s; s++)
        ASSERT_EQ(*s == '\n' ? buf_puts(&b, eol) : buf_append(&b, s, 1), 0);
    return buf_steal(&b);
}

/* Feed text in the pieces cut at a and b (a <= b) and check the events. */
static void feed_split(const char *text, size_t a, size_t b)
{
    size_t n = strlen(text);
    collected c = {0};
    buf_init(&c.log, 1 << 16);
    sse_parser p;
    sse_init(&p, 4096, 4096, collect, &c);
    ASSERT_EQ(sse_feed(&p, text, a), 0);
    ASSERT_EQ(sse_feed(&p, text + a, b - a), 0);
    ASSERT_EQ(sse_feed(&p, text + b, n - b), 0);
    if (strcmp(c.log.data ? c.log.data : "", expected) != 0)
        TEST_FAIL_("split at %zu,%zu:\n%s", a, b, c.log.data ? c.log.data : "");
    ASSERT_EQ(c.n, 5);
    ASSERT_STREQ(p.id, "5");
    ASSERT_EQ(p.retry_ms, 1500);
    sse_release(&p);
    buf_release(&c.log);
}

static void sse_every_split_every_line_ending(void)
{
    const char *eols[] = {"\n", "\r\n", "\r"};
    for (size_t e = 0; e < 3; e++) {
        char *text = with_eol(stream_lf, eols[e]);
        size_t n = strlen(text);
        for (size_t a = 0; a <= n; a++)
            feed_split(text, a, a);
        /* Three pieces: every pair of cuts (CRLF split with a byte between). */
        for (size_t a = 0; a <= n; a += 1)
            for (size_t b = a; b <= n; b += 7)
                feed_split(text, a, b);
        free(text);
    }
}

static void sse_byte_at_a_time(void)
{
    char *text = with_eol(stream_lf, "\r\n");
    collected c = {0};
    buf_init(&c.log, 1 << 16);
    sse_parser p;
    sse_init(&p, 4096, 4096, collect, &c);
    for (size_t i = 0; text[i]; i++)
        ASSERT_EQ(sse_feed(&p, text + i, 1), 0);
    ASSERT_STREQ(c.log.data, expected);
    sse_release(&p);
    buf_release(&c.log);
    free(text);
}

static void sse_callback_stops_the_feed(void)
{
    collected c = {.stop_after = 2};
    buf_init(&c.log, 1 << 16);
    sse_parser p;
    sse_init(&p, 4096, 4096, collect, &c);
    ASSERT_EQ(sse_feed(&p, stream_lf, strlen(stream_lf)), 7);
    ASSERT_EQ(c.n, 2);
    ASSERT_STREQ(p.id, "2");
    sse_release(&p);
    buf_release(&c.log);
}

static void sse_caps_lines_and_events(void)
{
    collected c = {0};
    buf_init(&c.log, 1 << 16);
    sse_parser p;
    sse_init(&p, 16, 32, collect, &c);
    ASSERT_EQ(sse_feed(&p, "data: 0123456789\n", 17), 0); /* a 16-byte line fits */
    ASSERT_EQ(sse_feed(&p, "data: 01234567890\n", 18), HARK_ENOMEM);
    sse_release(&p);

    sse_init(&p, 64, 32, collect, &c);
    ASSERT_EQ(sse_feed(&p, "data: 0123456789\ndata: 0123456789\n", 34), 0); /* 22 bytes */
    ASSERT_EQ(sse_feed(&p, "data: 0123456789\n", 17), HARK_ENOMEM);
    sse_release(&p);
    ASSERT_EQ(c.n, 0);
    buf_release(&c.log);
}

static void sse_reset_keeps_the_last_id(void)
{
    collected c = {0};
    buf_init(&c.log, 1 << 16);
    sse_parser p;
    sse_init(&p, 4096, 4096, collect, &c);
    const char *s = "id: 41\nevent: started\ndata: x\n\nid: 42\nevent: progress\ndata: half";
    ASSERT_EQ(sse_feed(&p, s, strlen(s)), 0);
    ASSERT_EQ(c.n, 1);
    ASSERT_STREQ(p.id, "41"); /* 42 belongs to an event not dispatched yet */
    sse_reset(&p);            /* the connection dropped mid-event: 42 is gone */
    s = "\r";                 /* a lone CR before the drop must not eat the next LF... */
    ASSERT_EQ(sse_feed(&p, s, 1), 0);
    sse_reset(&p);
    s = "\nevent: succeeded\ndata: y\n\n"; /* ...of the next connection */
    ASSERT_EQ(sse_feed(&p, s, strlen(s)), 0);
    ASSERT_EQ(c.n, 2);
    ASSERT_STREQ(c.log.data, "started|41|x\n--\nsucceeded|41|y");
    ASSERT_EQ(sse_feed(&p, "id: 43\n\n", 8), 0); /* an id alone counts without an event */
    ASSERT_STREQ(p.id, "43");
    ASSERT_EQ(c.n, 2);
    sse_release(&p);
    buf_release(&c.log);
}

/* ---- WAV ------------------------------------------------------------ */

static uint32_t le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* Parse a canonical WAV back and check every field for data_len bytes. */
static void check_wav(const uint8_t *w, size_t total, uint32_t data_len)
{
    ASSERT_EQ(total, 44 + (size_t)data_len);
    ASSERT(memcmp(w, "RIFF", 4) == 0);
    ASSERT_EQ(le32(w + 4), total - 8);
    ASSERT(memcmp(w + 8, "WAVE", 4) == 0);
    ASSERT(memcmp(w + 12, "fmt ", 4) == 0);
    ASSERT_EQ(le32(w + 16), 16);
    ASSERT_EQ(le16(w + 20), 1); /* PCM */
    ASSERT_EQ(le16(w + 22), 1); /* mono */
    ASSERT_EQ(le32(w + 24), 16000);
    ASSERT_EQ(le32(w + 28), 32000);
    ASSERT_EQ(le16(w + 32), 2);
    ASSERT_EQ(le16(w + 34), 16);
    ASSERT(memcmp(w + 36, "data", 4) == 0);
    ASSERT_EQ(le32(w + 40), data_len);
}

static int file_with(const char *name, size_t n)
{
    FILE *f = fopen(name, "wb");
    ASSERT(f);
    for (size_t i = 0; i < n; i++)
        fputc((int)(i * 7 & 0xff), f);
    ASSERT_EQ(fclose(f), 0);
    int fd = open(name, O_RDONLY);
    ASSERT(fd >= 0);
    return fd;
}

static void wav_header_fields(void)
{
    uint8_t h[WAV_HEADER_SIZE];
    wav_header(h, 320000);
    check_wav(h, 44 + 320000, 320000);
    ASSERT_EQ(WAV_MAX_PCM_BYTES, 16000 * 2 * 600);
}

static void wav_wraps_stdin_pcm(void)
{
    /* 100001 bytes: more than one read block, and an odd byte to drop. */
    int fd = file_with("pcm.raw", 100001);
    buf w;
    hark_err err = {0};
    ASSERT_EQ(wav_read_pcm(fd, WAV_MAX_PCM_BYTES, "standard input", &w, &err), 0);
    close(fd);
    check_wav((const uint8_t *)w.data, w.len, 100000);
    for (size_t i = 0; i < 100000; i++)
        ASSERT_EQ((uint8_t)w.data[44 + i], (uint8_t)(i * 7 & 0xff));
    buf_release(&w);
}

static void wav_caps_and_empty_input(void)
{
    hark_err err = {0};
    buf w;
    int fd = file_with("exact.raw", 4000);
    ASSERT_EQ(wav_read_pcm(fd, 4000, "standard input", &w, &err), 0); /* exactly the cap */
    check_wav((const uint8_t *)w.data, w.len, 4000);
    buf_release(&w);
    close(fd);

    fd = file_with("long.raw", 70000);
    ASSERT_EQ(wav_read_pcm(fd, 4000, "standard input", &w, &err), HARK_ETOOLONG);
    ASSERT(strstr(err.msg, "standard input is longer than"));
    ASSERT_EQ(w.data, NULL);
    close(fd);

    fd = file_with("empty.raw", 1);
    ASSERT_EQ(wav_read_pcm(fd, 4000, "standard input", &w, &err), HARK_EMEDIA);
    ASSERT_STREQ(err.msg, "no audio on standard input");
    close(fd);
}

/* ---- error messages and the server URL ------------------------------ */

static void server_error_json_to_one_line(void)
{
    hark_err err = {0};
    const char *b = "{\"error\": {\"message\": \"job j0123456789abcdef not found\", \"type\": "
                    "\"not_found_error\", \"param\": \"id\", \"code\": \"job_not_found\"}}";
    ASSERT_EQ(hc_status_error(404, b, strlen(b), &err), HARK_ENOENT);
    ASSERT_STREQ(err.msg, "job j0123456789abcdef not found");
    ASSERT_EQ(err.code, HARK_ENOENT);

    b = "{\"error\": {\"message\": \"  cannot pause job j1:\\nit is succeeded\\r\\n\"}}";
    ASSERT_EQ(hc_status_error(409, b, strlen(b), &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot pause job j1: it is succeeded");

    b = "{\"error\": {\"message\": \"upload larger than 2 GiB\", \"code\": \"file_too_large\"}}";
    ASSERT_EQ(hc_status_error(413, b, strlen(b), &err), HARK_ETOOLONG);
    ASSERT_STREQ(err.msg, "upload larger than 2 GiB");

    b = "{\"error\": {\"message\": \"the store failed\"}}";
    ASSERT_EQ(hc_status_error(500, b, strlen(b), &err), HARK_EIO);
    ASSERT_STREQ(err.msg, "the store failed");

    b = "<html>\n<body>Bad Gateway</body>\n</html>";
    ASSERT_EQ(hc_status_error(502, b, strlen(b), &err), HARK_EIO);
    ASSERT_STREQ(err.msg, "hark server answered HTTP 502: <html>");

    b = "{\"detail\": \"no error object\"}";
    ASSERT_EQ(hc_status_error(400, b, strlen(b), &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "hark server answered HTTP 400");

    ASSERT_EQ(hc_status_error(405, NULL, 0, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "hark server answered HTTP 405");

    /* A very long message is cut whole characters at a time ("é" is 2 bytes). */
    buf big;
    buf_init(&big, 1 << 16);
    ASSERT_EQ(buf_puts(&big, "{\"error\": {\"message\": \"x"), 0);
    for (int i = 0; i < 400; i++)
        ASSERT_EQ(buf_puts(&big, "\xC3\xA9"), 0);
    ASSERT_EQ(buf_puts(&big, "\"}}"), 0);
    ASSERT_EQ(hc_status_error(400, big.data, big.len, &err), HARK_EINVAL);
    ASSERT_EQ(strlen(err.msg) % 2, 1); /* "x" plus whole 2-byte characters */
    ASSERT(strlen(err.msg) > 300);
    buf_reset(&big);
    ASSERT_EQ(buf_puts(&big, "{\"error\": {\"message\": \"x"), 0);
    for (int i = 0; i < 400; i++)
        ASSERT_EQ(buf_puts(&big, "\xE2\x82\xAC"), 0); /* the euro sign: 3 bytes */
    ASSERT_EQ(buf_puts(&big, "\"}}"), 0);
    ASSERT_EQ(hc_status_error(400, big.data, big.len, &err), HARK_EINVAL);
    ASSERT_EQ((strlen(err.msg) - 1) % 3, 0);
    ASSERT(strlen(err.msg) > 390);
    buf_release(&big);
}

static void server_url_precedence(void)
{
    char out[256];
    hark_err err = {0};
    ASSERT_EQ(hc_resolve_base("http://flag:1", "http://env:2", out, sizeof out, &err), 0);
    ASSERT_STREQ(out, "http://flag:1");
    ASSERT_EQ(hc_resolve_base(NULL, "http://env:2/", out, sizeof out, &err), 0);
    ASSERT_STREQ(out, "http://env:2");
    ASSERT_EQ(hc_resolve_base(NULL, NULL, out, sizeof out, &err), 0);
    ASSERT_STREQ(out, "http://127.0.0.1:8090");
    ASSERT_EQ(hc_resolve_base(NULL, "", out, sizeof out, &err), 0); /* empty env = unset */
    ASSERT_STREQ(out, "http://127.0.0.1:8090");
    ASSERT_EQ(hc_resolve_base("127.0.0.1:9000", "http://env:2", out, sizeof out, &err), 0);
    ASSERT_STREQ(out, "http://127.0.0.1:9000");
    ASSERT_EQ(hc_resolve_base("HTTPS://h/prefix//", NULL, out, sizeof out, &err), 0);
    ASSERT_STREQ(out, "HTTPS://h/prefix");

    ASSERT_EQ(hc_resolve_base("", "http://env:2", out, sizeof out, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "--server"));
    ASSERT_EQ(hc_resolve_base("ftp://h", NULL, out, sizeof out, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "want http:// or https://"));
    ASSERT_EQ(hc_resolve_base(NULL, "http://a b", out, sizeof out, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "HARK_SERVER"));
    ASSERT_EQ(hc_resolve_base("http://", NULL, out, sizeof out, &err), HARK_EINVAL);
    ASSERT_EQ(hc_resolve_base("http://h?x=1", NULL, out, sizeof out, &err), HARK_EINVAL);
    ASSERT_EQ(hc_resolve_base("http://0123456789", NULL, out, 12, &err), HARK_EINVAL);
}

/* ---- following events, job rows ------------------------------------- */

static void follow_tracks_phase_progress_and_end(void)
{
    follow_state f;
    follow_init(&f, NULL);
    ASSERT_STREQ(f.phase, "queued");
    ASSERT(!follow_apply(&f, "started", "{}", 2));
    ASSERT_STREQ(f.phase, "decoding");
    const char *d = "{\"n_chunks\": 4, \"duration_s\": 40}";
    ASSERT(!follow_apply(&f, "progress", d, strlen(d)));
    ASSERT_STREQ(f.phase, "transcribing");
    d = "{\"chunk\": 0, \"chunks_done\": 1, \"n_chunks\": 4, \"progress\": 0.25}";
    ASSERT(!follow_apply(&f, "chunk_committed", d, strlen(d)));
    ASSERT_NEAR(f.fraction, 0.25, 1e-9);
    d = "{\"chunks_done\": 3, \"n_chunks\": 4}"; /* no progress field: computed */
    ASSERT(!follow_apply(&f, "chunk_committed", d, strlen(d)));
    ASSERT_NEAR(f.fraction, 0.75, 1e-9);
    ASSERT(!follow_apply(&f, "preempted", "{}", 2));
    ASSERT_STREQ(f.phase, "preempted");
    ASSERT(!follow_apply(&f, "started", "not json", 8));
    ASSERT_STREQ(f.phase, "transcribing");
    ASSERT(!follow_apply(&f, "some_future_event", "{}", 2));
    /* A retried job's stream starts at "retried": queued again. */
    d = "{\"error\": \"chunk 3 failed 3 times\", \"chunks_done\": 3}";
    ASSERT(!follow_apply(&f, "retried", d, strlen(d)));
    ASSERT_STREQ(f.phase, "queued");
    ASSERT(!f.final);
    d = "{\"error\": \"chunk 3 of 'a.wav':\\nthe worker crashed\"}";
    ASSERT(follow_apply(&f, "failed", d, strlen(d)));
    ASSERT(f.final);
    ASSERT_STREQ(f.state, "failed");
    ASSERT_STREQ(f.error, "chunk 3 of 'a.wav': the worker crashed");

    json_t *job = json_pack("{s:s, s:i, s:f, s:n}", "state", "succeeded", "chunks", 4, "progress",
                            1.0, "error");
    follow_init(&f, job);
    ASSERT(f.final);
    ASSERT_STREQ(f.state, "succeeded");
    json_decref(job);
    job = json_pack("{s:s, s:n, s:f}", "state", "running", "chunks", "progress", 0.0);
    follow_init(&f, job);
    ASSERT(!f.final);
    ASSERT_STREQ(f.phase, "decoding");
    json_decref(job);
}

static void job_rows_and_durations(void)
{
    char d[32];
    jobfmt_duration(381.4, d, sizeof d);
    ASSERT_STREQ(d, "6:21");
    jobfmt_duration(3725, d, sizeof d);
    ASSERT_STREQ(d, "1:02:05");
    jobfmt_duration(-1, d, sizeof d);
    ASSERT_STREQ(d, "-");
    jobfmt_duration(0.4, d, sizeof d);
    ASSERT_STREQ(d, "0:00");

    json_t *job = json_pack("{s:s, s:s, s:s, s:s, s:f, s:i, s:f}", "id", "j1f2e3d4c5b6a7980",
                            "state", "running", "priority", "normal", "source", "meet\ning.mp3",
                            "duration", 381.4, "chunks", 40, "progress", 0.3);
    buf b;
    buf_init(&b, 4096);
    ASSERT_EQ(jobfmt_row(job, &b), 0);
    ASSERT_STREQ(b.data, "j1f2e3d4c5b6a7980  running    normal     30%      6:21  meet?ing.mp3\n");
    ASSERT_EQ(strlen(jobfmt_header()) - strlen("SOURCE\n"), b.len - strlen("meet?ing.mp3\n"));
    buf_reset(&b);
    ASSERT_EQ(jobfmt_show(job, &b), 0);
    ASSERT(strstr(b.data, "state:     running\n"));
    ASSERT(strstr(b.data, "duration:  6:21 (381.4 s)\n"));
    ASSERT(strstr(b.data, "chunks:    0 of 40 done (30%)\n"));
    ASSERT(!strstr(b.data, "error:"));
    buf_release(&b);
    json_decref(job);
}

/* ---- HTTP against a scripted fake server ---------------------------- */

typedef struct fake_step {
    const char *request; /* the request line must start with this */
    const char *need;    /* and the request must contain this (or NULL) */
    const char *reply;   /* raw HTTP response; the connection is closed after it */
} fake_step;

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Read one request (headers and a Content-Length body) into b. */
static bool read_request(int fd, buf *b)
{
    char tmp[65536];
    size_t want = SIZE_MAX;
    bool continued = false;
    while (b->len < want) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0)
            return false;
        if (buf_append(b, tmp, (size_t)n))
            return false;
        char *end = memmem(b->data, b->len, "\r\n\r\n", 4);
        if (end && want == SIZE_MAX) {
            char *cl = strcasestr(b->data, "\r\ncontent-length:");
            want = (size_t)(end - b->data) + 4 + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (end && !continued && strcasestr(b->data, "\r\nexpect: 100-continue")) {
            continued = true;
            if (write(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 25)
                return false;
        }
    }
    return true;
}

/* The server child: serve the steps in order, one connection each, and
 * append every request to requests.log. Exits 0 when all went as
 * scripted; gives up after 20 s without a connection. */
static void fake_serve(int lfd, const fake_step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, 20000) != 1)
            _exit(10 + (int)i);
        int fd = accept(lfd, NULL, NULL);
        buf req;
        buf_init(&req, 1 << 22);
        if (fd < 0 || !read_request(fd, &req))
            _exit(40 + (int)i);
        FILE *log = fopen("requests.log", "ab");
        fwrite(req.data, 1, req.len, log);
        fputs("\n=====\n", log);
        fclose(log);
        bool ok =
            strncmp(req.data, steps[i].request, strlen(steps[i].request)) == 0 &&
            (!steps[i].need || memmem(req.data, req.len, steps[i].need, strlen(steps[i].need)));
        const char *reply = ok ? steps[i].reply
                               : "HTTP/1.1 418 Unexpected\r\nContent-Length: 0\r\n"
                                 "Connection: close\r\n\r\n";
        size_t len = strlen(reply);
        if (write(fd, reply, len) != (ssize_t)len)
            _exit(70 + (int)i);
        shutdown(fd, SHUT_WR);
        char drain[256];
        while (read(fd, drain, sizeof drain) > 0)
            ;
        close(fd);
        buf_release(&req);
        if (!ok)
            _exit(100 + (int)i);
    }
    _exit(0);
}

typedef struct fake {
    pid_t pid;
    char url[64];
} fake;

static fake fake_start(const fake_step *steps, size_t n)
{
    fake f;
    int port;
    int lfd = listen_loopback(&port);
    ASSERT_EQ(listen(lfd, 16), 0);
    snprintf(f.url, sizeof f.url, "http://127.0.0.1:%d", port);
    fflush(NULL);
    f.pid = fork();
    ASSERT(f.pid >= 0);
    if (f.pid == 0)
        fake_serve(lfd, steps, n);
    close(lfd);
    return f;
}

/* Wait for the fake server; it must have seen exactly its script. */
static void fake_finish(fake *f)
{
    int st = 0;
    ASSERT_EQ(waitpid(f->pid, &st, 0), f->pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        FILE *log = fopen("requests.log", "rb");
        char b[4096] = "";
        if (log) {
            size_t n = fread(b, 1, sizeof b - 1, log);
            b[n] = '\0';
            fclose(log);
        }
        TEST_FAIL_("fake server exit status %d; requests:\n%s", WEXITSTATUS(st), b);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ASSERT(f);
    buf b;
    buf_init(&b, 1 << 24);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        ASSERT_EQ(buf_append(&b, tmp, n), 0);
    fclose(f);
    return buf_steal(&b);
}

#define JSON_HDR "Content-Type: application/json\r\nConnection: close\r\n"
#define SSE_HDR "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"

/* A server that takes the connection and never answers: a transfer time
 * limit ends the request, and so does the abort hook from another thread's
 * flag (`hark dictate` stops its requests this way). */
static double abort_at;

static int abort_after(void *ctx)
{
    return clock_now_s() >= abort_at;
}

static void http_silent_server_time_limit_and_abort(void)
{
    int port;
    int fd = listen_loopback(&port);
    ASSERT_EQ(listen(fd, 16), 0); /* the kernel accepts; nobody answers */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    hc_client *c;
    hark_err err = {0};
    ASSERT_EQ(hc_open(url, &c, &err), 0);
    hc_set_transfer_timeout(c, 0.3);
    double t0 = clock_now_s();
    ASSERT_EQ(hc_get_json(c, "/healthz", NULL, &err), HARK_ETIMEDOUT);
    ASSERT_LE(clock_now_s() - t0, 2.0);
    ASSERT(strstr(err.msg, "stopped answering"));
    hc_set_transfer_timeout(c, 0);
    hc_set_abort(c, abort_after, NULL);
    abort_at = clock_now_s() + 0.3;
    t0 = clock_now_s();
    static const char audio[] = {0, 1, 2, 3};
    ASSERT_EQ(hc_post_bytes(c, "/v1/live/j1/audio", audio, sizeof audio, "application/octet-stream",
                            NULL, &err),
              HARK_ECANCELED);
    ASSERT_LE(clock_now_s() - t0, 2.0);
    ASSERT(strstr(err.msg, "stopped"));
    /* The event stream stops too, without reconnecting. */
    abort_at = clock_now_s() + 0.3;
    t0 = clock_now_s();
    ASSERT_EQ(hc_events(c, "/v1/jobs/j1/events", NULL, collect, NULL, &err), HARK_ECANCELED);
    ASSERT_LE(clock_now_s() - t0, 2.0);
    hc_close(c);
    close(fd);
}

/* A body of bytes goes as it is, with its type. */
static void http_post_bytes_sends_the_body(void)
{
    static const fake_step steps[] = {
        {"POST /v1/live/j1/audio ", "Content-Type: application/octet-stream",
         "HTTP/1.1 200 OK\r\n" JSON_HDR "Content-Length: 24\r\n\r\n{\"id\": \"j1\", \"bytes\": 6}"},
    };
    fake f = fake_start(steps, 1);
    hc_client *c;
    hark_err err = {0};
    ASSERT_EQ(hc_open(f.url, &c, &err), 0);
    static const char audio[] = {'a', 0, 'b', 0, 'c', 0};
    json_t *ans = NULL;
    ASSERT_EQ(hc_post_bytes(c, "/v1/live/j1/audio", audio, sizeof audio, "application/octet-stream",
                            &ans, &err),
              0);
    ASSERT_EQ(json_integer_value(json_object_get(ans, "bytes")), 6);
    json_decref(ans);
    hc_close(c);
    fake_finish(&f);
    char *log = slurp("requests.log");
    ASSERT(memmem(log, strlen(log), "Content-Length: 6", 17));
    free(log);
}

static void http_refused_connection_says_so(void)
{
    int port;
    int fd = listen_loopback(&port); /* bound, never listening: connections are refused */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    hc_client *c;
    hark_err err = {0};
    ASSERT_EQ(hc_open(url, &c, &err), 0);
    json_t *j = NULL;
    ASSERT_EQ(hc_get_json(c, "/healthz", &j, &err), HARK_EIO);
    char want[160];
    snprintf(want, sizeof want, "cannot reach hark server at %s (is `hark serve` running?)", url);
    ASSERT_STREQ(err.msg, want);
    ASSERT(hc_unreachable(c));
    /* The event stream does not retry a server that was never there. */
    hc_set_reconnect(c, 3, 0);
    ASSERT_EQ(hc_events(c, "/v1/jobs/j1/events", NULL, collect, NULL, &err), HARK_EIO);
    ASSERT_STREQ(err.msg, want);
    hc_close(c);
    close(fd);
}

static void http_error_status_carries_the_server_message(void)
{
    static const fake_step steps[] = {
        {"GET /v1/jobs/jnope ", "Accept: application/json",
         "HTTP/1.1 404 Not Found\r\n" JSON_HDR "\r\n"
         "{\"error\": {\"message\": \"job jnope not found\", \"type\": \"not_found_error\"}}"},
        {"POST /v1/jobs/j1/pause ", "Content-Length: 0",
         "HTTP/1.1 409 Conflict\r\n" JSON_HDR "\r\n"
         "{\"error\": {\"message\": \"cannot pause job j1: it is succeeded\"}}"},
        {"GET /v1/jobs/j1/events ", NULL,
         "HTTP/1.1 404 Not Found\r\n" JSON_HDR "\r\n"
         "{\"error\": {\"message\": \"job j1 not found\"}}"},
    };
    fake f = fake_start(steps, 3);
    hc_client *c;
    hark_err err = {0};
    ASSERT_EQ(hc_open(f.url, &c, &err), 0);
    json_t *j = NULL;
    ASSERT_EQ(hc_get_json(c, "/v1/jobs/jnope", &j, &err), HARK_ENOENT);
    ASSERT_STREQ(err.msg, "job jnope not found");
    ASSERT_EQ(hc_post_json(c, "/v1/jobs/j1/pause", NULL, &j, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot pause job j1: it is succeeded");
    ASSERT_EQ(j, NULL);
    ASSERT_EQ(hc_events(c, "/v1/jobs/j1/events", NULL, collect, NULL, &err), HARK_ENOENT);
    ASSERT_STREQ(err.msg, "job j1 not found");
    hc_close(c);
    fake_finish(&f);
}

static int stop_on_final(void *ctx, const sse_event *ev)
{
    collect(ctx, ev);
    return strcmp(ev->type, "succeeded") == 0;
}

static void http_events_reconnect_with_last_event_id(void)
{
    static const fake_step steps[] = {
        {"GET /v1/jobs/j1/events ", "Accept: text/event-stream",
         SSE_HDR "id: 1\nevent: started\ndata: {}\n\n: keepalive\n\n"
                 "id: 2\nevent: chunk_committed\ndata: {\"progress\": 0.5}\n\n"
                 "id: 3\nevent: chunk_comm"},                             /* dropped mid-event */
        {"GET /v1/jobs/j1/events ", "\r\nLast-Event-ID: 2\r\n", SSE_HDR}, /* ends at once */
        {"GET /v1/jobs/j1/events ", "\r\nLast-Event-ID: 2\r\n",
         SSE_HDR "id: 3\r\nevent: chunk_committed\r\ndata: {\"progress\": 1}\r\n\r\n"
                 "id: 4\r\nevent: succeeded\r\ndata: {}\r\n\r\n"},
    };
    fake f = fake_start(steps, 3);
    hc_client *c;
    hark_err err = {0};
    ASSERT_EQ(hc_open(f.url, &c, &err), 0);
    hc_set_reconnect(c, 2, 0);
    collected got = {0};
    buf_init(&got.log, 1 << 16);
    if (hc_events(c, "/v1/jobs/j1/events", NULL, stop_on_final, &got, &err) != 0)
        TEST_FAIL_("hc_events: %s", err.msg);
    ASSERT_STREQ(got.log.data, "started|1|{}\n--\nchunk_committed|2|{\"progress\": 0.5}\n--\n"
                               "chunk_committed|3|{\"progress\": 1}\n--\nsucceeded|4|{}");
    buf_release(&got.log);
    hc_close(c);
    fake_finish(&f);
}

static void http_events_give_up_after_the_tries(void)
{
    static const fake_step steps[] = {
        {"GET /v1/jobs/j1/events ", "\r\nLast-Event-ID: 9\r\n", SSE_HDR ": keepalive\n\n"},
        {"GET /v1/jobs/j1/events ", "\r\nLast-Event-ID: 9\r\n", SSE_HDR},
    };
    fake f = fake_start(steps, 2);
    hc_client *c;
    hark_err err = {0};
    ASSERT_EQ(hc_open(f.url, &c, &err), 0);
    hc_set_reconnect(c, 1, 0);
    collected got = {0};
    buf_init(&got.log, 1 << 16);
    ASSERT_EQ(hc_events(c, "/v1/jobs/j1/events", "9", stop_on_final, &got, &err), HARK_EIO);
    ASSERT(strstr(err.msg, "lost the event stream at http://127.0.0.1:"));
    ASSERT(strstr(err.msg, "closed the stream before the job finished"));
    ASSERT_EQ(got.n, 0);
    buf_release(&got.log);
    hc_close(c);
    fake_finish(&f);
}

static void http_upload_streams_file_and_fields(void)
{
    static const fake_step steps[] = {
        {"POST /v1/jobs ", "name=\"file\"; filename=\"talk.wav\"",
         "HTTP/1.1 201 Created\r\n" JSON_HDR "Location: /v1/jobs/j1\r\n\r\n"
         "{\"id\": \"j1\", \"object\": \"job\", \"state\": \"queued\"}"},
    };
    FILE *w = fopen("talk.wav", "wb");
    ASSERT(w);
    for (int i = 0; i < 300000; i++) /* > 256 KiB: several reads, Expect: 100-continue */
        fputc('a' + i % 26, w);
    ASSERT_EQ(fclose(w), 0);
    fake f = fake_start(steps, 1);
    hc_client *c;
    hark_err err = {0};
    ASSERT_EQ(hc_open(f.url, &c, &err), 0);
    hc_field fields[] = {{"priority", "high"}, {"timeout", "600"}};
    json_t *job = NULL;
    ASSERT_EQ(hc_upload_file(c, "/v1/jobs", "talk.wav", fields, 2, &job, &err), 0);
    ASSERT_STREQ(json_string_value(json_object_get(job, "id")), "j1");
    json_decref(job);
    ASSERT_EQ(hc_upload_file(c, "/v1/jobs", "missing.wav", NULL, 0, &job, &err), HARK_ENOENT);
    ASSERT_STREQ(err.msg, "cannot open 'missing.wav': No such file or directory");
    ASSERT_EQ(hc_upload_file(c, "/v1/jobs", ".", NULL, 0, &job, &err), HARK_EINVAL);
    ASSERT_STREQ(err.msg, "cannot upload '.': it is a directory");
    hc_close(c);
    fake_finish(&f);

    char *log = slurp("requests.log");
    ASSERT(strstr(log, "Content-Type: multipart/form-data; boundary="));
    ASSERT(strstr(log, "name=\"priority\"\r\n\r\nhigh\r\n"));
    ASSERT(strstr(log, "name=\"timeout\"\r\n\r\n600\r\n"));
    char *body = strstr(log, "filename=\"talk.wav\"");
    ASSERT(body);
    body = strstr(body, "\r\n\r\n");
    ASSERT(body);
    body += 4;
    for (int i = 0; i < 300000; i++)
        if (body[i] != 'a' + i % 26)
            TEST_FAIL_("uploaded byte %d differs", i);
    ASSERT(strncmp(body + 300000, "\r\n--", 4) == 0);
    free(log);
}

/* ---- the commands, end to end against the fake ---------------------- */

/* Run client_main with stdout and stderr into files; returns the status. */
static int run_client(int argc, char **argv, char **out, char **errtext)
{
    fflush(NULL);
    int so = dup(1), se = dup(2);
    int fo = open("stdout.txt", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open("stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT(so >= 0 && se >= 0 && fo >= 0 && fe >= 0);
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = client_main(argc, argv);
    fflush(NULL);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    close(fo);
    close(fe);
    *out = slurp("stdout.txt");
    *errtext = slurp("stderr.txt");
    return rc;
}

static void cmd_bad_usage_exits_2(void)
{
    char *out, *err;
    char *a1[] = {"submit", NULL};
    ASSERT_EQ(run_client(1, a1, &out, &err), 2);
    ASSERT(strstr(err, "hark: submit needs at least one FILE or URL\nusage: hark submit "));
    free(out);
    free(err);
    char *a2[] = {"submit", "--priority", "urgent", "a.wav", NULL};
    ASSERT_EQ(run_client(4, a2, &out, &err), 2);
    ASSERT(strstr(err, "bad priority 'urgent'"));
    free(out);
    free(err);
    char *a3[] = {"show", "../etc", NULL};
    ASSERT_EQ(run_client(2, a3, &out, &err), 2);
    ASSERT(strstr(err, "'../etc' is not a job ID"));
    free(out);
    free(err);
    char *a4[] = {"ls", "--bogus", NULL};
    ASSERT_EQ(run_client(2, a4, &out, &err), 2);
    ASSERT(strstr(err, "usage: hark ls"));
    free(out);
    free(err);
    char *a5[] = {"result", "-f", "docx", "j1", NULL};
    ASSERT_EQ(run_client(4, a5, &out, &err), 2);
    free(out);
    free(err);
    char *a6[] = {"cancel", "--server", "ftp://x", "j1", NULL};
    ASSERT_EQ(run_client(4, a6, &out, &err), 2);
    ASSERT(strstr(err, "want http:// or https://"));
    free(out);
    free(err);
    char *a7[] = {"wait", "--help", NULL};
    ASSERT_EQ(run_client(2, a7, &out, &err), 0);
    ASSERT(strncmp(out, "usage: hark wait ", 17) == 0);
    ASSERT(strstr(out, "--server URL"));
    free(out);
    free(err);
    char *a8[] = {"nosuch", NULL};
    ASSERT_EQ(run_client(1, a8, &out, &err), 2);
    free(out);
    free(err);
    ASSERT(client_is_command("ptt"));
    ASSERT(!client_is_command("transcribe"));
}

static void cmd_submit_reports_each_file(void)
{
    static const fake_step steps[] = {
        {"POST /v1/jobs ", "filename=\"a.wav\"",
         "HTTP/1.1 201 Created\r\n" JSON_HDR "\r\n{\"id\": \"ja\", \"state\": \"queued\"}"},
        {"POST /v1/jobs ", "\"path\":\"/abs/b.wav\"",
         "HTTP/1.1 400 Bad Request\r\n" JSON_HDR "\r\n"
         "{\"error\": {\"message\": \"path '/abs/b.wav' does not exist\"}}"},
    };
    fake f = fake_start(steps, 2);
    FILE *w = fopen("a.wav", "wb");
    ASSERT(w && fputs("RIFF", w) >= 0 && fclose(w) == 0);
    char *out, *err;
    char *a1[] = {"submit", "--server", f.url, "-p", "low", "a.wav", "missing.wav", NULL};
    ASSERT_EQ(run_client(7, a1, &out, &err), 1);
    ASSERT_STREQ(out, "ja\n");
    ASSERT_STREQ(err, "hark: cannot open 'missing.wav': No such file or directory\n"
                      "hark: 1 of 2 files not submitted\n");
    free(out);
    free(err);
    char *a2[] = {"submit", "--server", f.url, "--path", "/abs/b.wav", NULL};
    ASSERT_EQ(run_client(5, a2, &out, &err), 1);
    ASSERT_STREQ(out, "");
    ASSERT_STREQ(err, "hark: path '/abs/b.wav' does not exist\n");
    free(out);
    free(err);
    fake_finish(&f);
    char *log = slurp("requests.log");
    ASSERT(strstr(log, "name=\"priority\"\r\n\r\nlow\r\n"));
    free(log);

    /* No server at all: one line per file, the first says why. */
    int port;
    int fd = listen_loopback(&port);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    char *a3[] = {"submit", "--server", url, "a.wav", "a.wav", NULL};
    ASSERT_EQ(run_client(5, a3, &out, &err), 1);
    ASSERT(strstr(err, "hark: a.wav: cannot reach hark server at http://127.0.0.1:"));
    ASSERT(strstr(err, "(is `hark serve` running?)\nhark: a.wav: not submitted\n"));
    free(out);
    free(err);
    close(fd);
}

static void cmd_ls_follows_cursors(void)
{
    static const fake_step steps[] = {
        {"GET /v1/jobs?order=desc&limit=1000&state=running ", NULL,
         "HTTP/1.1 200 OK\r\n" JSON_HDR "\r\n{\"object\": \"list\", \"data\": [{\"id\": \"ja\", "
         "\"state\": \"running\", \"priority\": \"high\", \"source\": \"a.mp3\", \"duration\": "
         "61, \"chunks\": 10, \"progress\": 0.5}], \"next_after\": 7}"},
        {"GET /v1/jobs?order=desc&limit=1000&state=running&after=7 ", NULL,
         "HTTP/1.1 200 OK\r\n" JSON_HDR "\r\n{\"object\": \"list\", \"data\": [{\"id\": \"jb\", "
         "\"state\": \"running\", \"priority\": \"low\", \"source\": \"b.mp3\", \"duration\": "
         "null, \"chunks\": null, \"progress\": 0}], \"next_after\": null}"},
    };
    fake f = fake_start(steps, 2);
    char *out, *err;
    char *a[] = {"ls", "--state", "running", "--limit", "0", "--server", f.url, NULL};
    ASSERT_EQ(run_client(7, a, &out, &err), 0);
    fake_finish(&f);
    buf want;
    buf_init(&want, 4096);
    ASSERT_EQ(buf_printf(&want, "%s%s%s", jobfmt_header(),
                         "ja                 running    high       50%      1:01  a.mp3\n",
                         "jb                 running    low          -         -  b.mp3\n"),
              0);
    ASSERT_STREQ(out, want.data);
    ASSERT_STREQ(err, "");
    buf_release(&want);
    free(out);
    free(err);
}

#define LIST_PAGE(ids_json, next)                                                                  \
    "HTTP/1.1 200 OK\r\n" JSON_HDR "\r\n{\"object\": \"list\", \"data\": [" ids_json               \
    "], \"next_after\": " next "}"
#define ROW(id) "{\"id\": \"" id "\", \"state\": \"succeeded\", \"source\": \"" id ".wav\"}"

static void cmd_ls_newest_first_up_to_the_limit(void)
{
    static const fake_step steps[] = {
        /* By default the 50 most recent. */
        {"GET /v1/jobs?order=desc&limit=50 ", NULL, LIST_PAGE(ROW("jc") "," ROW("jb"), "null")},
        /* --limit 3 over pages (a server may send fewer than asked) of what
         * is left to show, and not a job more. */
        {"GET /v1/jobs?order=desc&limit=3 ", NULL, LIST_PAGE(ROW("jc") "," ROW("jb"), "41")},
        {"GET /v1/jobs?order=desc&limit=1&after=41 ", NULL, LIST_PAGE(ROW("ja"), "40")},
        /* --json -n 1 */
        {"GET /v1/jobs?order=desc&limit=1 ", NULL, LIST_PAGE(ROW("jc"), "42")},
    };
    fake f = fake_start(steps, 4);
    char *out, *err;
    char *a1[] = {"ls", "--server", f.url, NULL};
    ASSERT_EQ(run_client(3, a1, &out, &err), 0);
    ASSERT(strstr(out, "jc ") && strstr(out, "jb "));
    ASSERT(strstr(out, "jc ") < strstr(out, "jb "));
    ASSERT_STREQ(err, "");
    free(out);
    free(err);
    char *a2[] = {"ls", "--limit", "3", "--server", f.url, NULL};
    ASSERT_EQ(run_client(5, a2, &out, &err), 0);
    ASSERT(strstr(out, "jb ") < strstr(out, "ja "));
    ASSERT(strstr(out, "ja.wav\n"));
    free(out);
    free(err);
    char *a3[] = {"ls", "--json", "-n", "1", "--server", f.url, NULL};
    ASSERT_EQ(run_client(6, a3, &out, &err), 0);
    json_t *j = json_loads(out, 0, NULL);
    ASSERT(json_is_array(j));
    ASSERT_EQ(json_array_size(j), 1);
    ASSERT_STREQ(json_string_value(json_object_get(json_array_get(j, 0), "id")), "jc");
    json_decref(j);
    free(out);
    free(err);
    fake_finish(&f);
    const char *bad[] = {"-1", "x", "1001x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *a[] = {"ls", "--limit", (char *)bad[i], NULL};
        ASSERT_EQ(run_client(3, a, &out, &err), 2);
        ASSERT(strstr(err, "--limit wants"));
        free(out);
        free(err);
    }
}

/* A 503 with a Retry-After (the server's store is down) is sent again
 * after it when the client allows it, the upload whole again; without
 * the allowance, or without a Retry-After, it is the server's error. */
static void http_unavailable_is_retried_after_its_delay(void)
{
    static const fake_step steps[] = {
        {"POST /v1/jobs ", "filename=\"talk.wav\"",
         "HTTP/1.1 503 Service Unavailable\r\n" JSON_HDR "Retry-After: 1\r\n\r\n"
         "{\"error\": {\"message\": \"store 'x' is unavailable: down\", \"code\": "
         "\"store_unavailable\"}}"},
        {"POST /v1/jobs ", "filename=\"talk.wav\"",
         "HTTP/1.1 201 Created\r\n" JSON_HDR "\r\n{\"id\": \"j1\", \"state\": \"queued\"}"},
        {"POST /v1/jobs ", "filename=\"talk.wav\"",
         "HTTP/1.1 503 Service Unavailable\r\n" JSON_HDR "Retry-After: 1\r\n\r\n"
         "{\"error\": {\"message\": \"store 'x' is unavailable: down\"}}"},
        {"POST /v1/jobs ", "filename=\"talk.wav\"",
         "HTTP/1.1 503 Service Unavailable\r\n" JSON_HDR "\r\n"
         "{\"error\": {\"message\": \"not now\"}}"},
    };
    FILE *w = fopen("talk.wav", "wb");
    ASSERT(w);
    for (int i = 0; i < 1000; i++)
        fputc('a' + i % 26, w);
    ASSERT_EQ(fclose(w), 0);
    fake f = fake_start(steps, 4);
    hc_client *c;
    hark_err err = {0};
    ASSERT_EQ(hc_open(f.url, &c, &err), 0);
    hc_set_unavailable_retry(c, 10);
    json_t *job = NULL;
    ASSERT_EQ(hc_upload_file(c, "/v1/jobs", "talk.wav", NULL, 0, &job, &err), 0);
    ASSERT_STREQ(json_string_value(json_object_get(job, "id")), "j1");
    json_decref(job);
    hc_set_unavailable_retry(c, 0);
    ASSERT_EQ(hc_upload_file(c, "/v1/jobs", "talk.wav", NULL, 0, &job, &err), HARK_EIO);
    ASSERT_STREQ(err.msg, "store 'x' is unavailable: down");
    hc_set_unavailable_retry(c, 10); /* no Retry-After: not retried */
    ASSERT_EQ(hc_upload_file(c, "/v1/jobs", "talk.wav", NULL, 0, &job, &err), HARK_EIO);
    ASSERT_STREQ(err.msg, "not now");
    hc_close(c);
    fake_finish(&f);
    /* The second request carried the whole file again. */
    char *log = slurp("requests.log");
    char *second = strstr(strstr(log, "filename=\"talk.wav\"") + 1, "filename=\"talk.wav\"");
    ASSERT(second);
    char *body = strstr(second, "\r\n\r\n");
    ASSERT(body);
    body += 4;
    for (int i = 0; i < 1000; i++)
        if (body[i] != 'a' + i % 26)
            TEST_FAIL_("resent byte %d differs", i);
    ASSERT(strncmp(body + 1000, "\r\n--", 4) == 0);
    free(log);
}

/* The other kinds of request are sent again after a 503 with a
 * Retry-After as well: a result's body, a download to a file (nothing of
 * the 503 reaches it) and an event stream. */
static void http_unavailable_reads_are_retried(void)
{
#define DOWN                                                                                       \
    "HTTP/1.1 503 Service Unavailable\r\n" JSON_HDR "Retry-After: 1\r\n\r\n"                       \
    "{\"error\": {\"message\": \"store 'x' is unavailable: down\", \"code\": "                     \
    "\"store_unavailable\"}}"
    static const fake_step steps[] = {
        {"GET /v1/jobs/j1/result ", "", DOWN},
        {"GET /v1/jobs/j1/result ", "",
         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
         "Connection: close\r\n\r\nhello there"},
        {"GET /v1/jobs/j1/artifacts/a.mp3 ", "", DOWN},
        {"GET /v1/jobs/j1/artifacts/a.mp3 ", "",
         "HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\n"
         "Connection: close\r\n\r\nID3xyz"},
        {"GET /v1/jobs/j1/events ", "Accept: text/event-stream", DOWN},
        {"GET /v1/jobs/j1/events ", "Accept: text/event-stream",
         SSE_HDR "id: 1\nevent: succeeded\ndata: {}\n\n"},
    };
#undef DOWN
    fake f = fake_start(steps, 6);
    hc_client *c;
    hark_err err = {0};
    ASSERT_EQ(hc_open(f.url, &c, &err), 0);
    hc_set_unavailable_retry(c, 10);
    buf b;
    ASSERT_EQ(hc_get_body(c, "/v1/jobs/j1/result", 1 << 16, &b, &err), 0);
    ASSERT_EQ(b.len, 11);
    ASSERT(memcmp(b.data, "hello there", 11) == 0);
    buf_release(&b);
    int fd = open("a.mp3", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT(fd >= 0);
    int64_t n = 0;
    ASSERT_EQ(hc_download(c, "/v1/jobs/j1/artifacts/a.mp3", fd, "a.mp3", &n, &err), 0);
    close(fd);
    ASSERT_EQ(n, 6);
    char *got = slurp("a.mp3");
    ASSERT_STREQ(got, "ID3xyz");
    free(got);
    collected ev = {0};
    buf_init(&ev.log, 1 << 16);
    if (hc_events(c, "/v1/jobs/j1/events", NULL, stop_on_final, &ev, &err) != 0)
        TEST_FAIL_("hc_events: %s", err.msg);
    ASSERT_STREQ(ev.log.data, "succeeded|1|{}");
    buf_release(&ev.log);
    hc_close(c);
    fake_finish(&f);
}

static void cmd_retry_and_delete(void)
{
    static const fake_step steps[] = {
        {"POST /v1/jobs/ja/retry ", "Content-Length: 0",
         "HTTP/1.1 200 OK\r\n" JSON_HDR "\r\n{\"id\": \"ja\", \"state\": \"queued\"}"},
        {"POST /v1/jobs/jb/retry ", NULL,
         "HTTP/1.1 409 Conflict\r\n" JSON_HDR "\r\n"
         "{\"error\": {\"message\": \"cannot retry job jb: it is succeeded\"}}"},
        {"DELETE /v1/jobs/ja ", NULL,
         "HTTP/1.1 200 OK\r\n" JSON_HDR "\r\n"
         "{\"id\": \"ja\", \"object\": \"job.deleted\", \"deleted\": true}"},
        {"DELETE /v1/jobs/jb ", NULL,
         "HTTP/1.1 409 Conflict\r\n" JSON_HDR "\r\n"
         "{\"error\": {\"message\": \"job jb is running: cancel it before deleting it\"}}"},
    };
    fake f = fake_start(steps, 4);
    char *out, *err;
    char *a1[] = {"retry", "--server", f.url, "ja", NULL};
    ASSERT_EQ(run_client(4, a1, &out, &err), 0);
    ASSERT_STREQ(out, "queued\n");
    ASSERT_STREQ(err, "");
    free(out);
    free(err);
    char *a2[] = {"retry", "--server", f.url, "jb", NULL};
    ASSERT_EQ(run_client(4, a2, &out, &err), 1);
    ASSERT_STREQ(out, "");
    ASSERT_STREQ(err, "hark: cannot retry job jb: it is succeeded\n");
    free(out);
    free(err);
    char *a3[] = {"delete", "--server", f.url, "ja", NULL};
    ASSERT_EQ(run_client(4, a3, &out, &err), 0);
    ASSERT_STREQ(out, "deleted\n");
    ASSERT_STREQ(err, "");
    free(out);
    free(err);
    char *a4[] = {"delete", "--server", f.url, "jb", NULL};
    ASSERT_EQ(run_client(4, a4, &out, &err), 1);
    ASSERT_STREQ(err, "hark: job jb is running: cancel it before deleting it\n");
    free(out);
    free(err);
    fake_finish(&f);
    char *a5[] = {"delete", NULL};
    ASSERT_EQ(run_client(1, a5, &out, &err), 2);
    ASSERT(strstr(err, "hark: delete needs a job ID\nusage: hark delete "));
    free(out);
    free(err);
    ASSERT(client_is_command("retry"));
    ASSERT(client_is_command("delete"));
}

static void cmd_wait_reports_the_job_error(void)
{
    static const fake_step steps[] = {
        {"GET /v1/jobs/ja ", NULL,
         "HTTP/1.1 200 OK\r\n" JSON_HDR "\r\n{\"id\": \"ja\", \"state\": \"running\", "
         "\"source\": \"a.wav\", \"chunks\": 4, \"progress\": 0.25}"},
        {"GET /v1/jobs/ja/events ", NULL,
         SSE_HDR "id: 5\nevent: chunk_committed\ndata: {\"progress\": 0.5}\n\n"
                 "id: 6\nevent: failed\ndata: {\"error\": \"chunk 3 of 'a.wav': worker "
                 "crashed\"}\n\n"},
    };
    fake f = fake_start(steps, 2);
    char *out, *err;
    char *a[] = {"wait", "-q", "ja", "--server", f.url, NULL};
    ASSERT_EQ(run_client(5, a, &out, &err), 1);
    fake_finish(&f);
    ASSERT_STREQ(out, "failed\n");
    ASSERT_STREQ(err, "hark: job ja failed: chunk 3 of 'a.wav': worker crashed\n");
    free(out);
    free(err);
}

static void cmd_ptt_uploads_stdin_as_wav_and_prints_text(void)
{
    static const fake_step steps[] = {
        {"GET /healthz ", NULL, "HTTP/1.1 200 OK\r\n" JSON_HDR "\r\n{\"status\": \"ok\"}"},
        {"POST /v1/jobs ",
         "filename=\"ptt.wav\"\r\nContent-Type: application/octet-stream\r\n"
         "\r\nRIFF",
         "HTTP/1.1 201 Created\r\n" JSON_HDR "\r\n{\"id\": \"jp\", \"state\": \"queued\"}"},
        {"GET /v1/jobs/jp ", NULL,
         "HTTP/1.1 200 OK\r\n" JSON_HDR "\r\n{\"id\": \"jp\", \"state\": \"queued\"}"},
        {"GET /v1/jobs/jp/events ", NULL,
         SSE_HDR "id: 1\nevent: queued\ndata: {}\n\nid: 2\nevent: started\ndata: {}\n\n"
                 "id: 3\nevent: succeeded\ndata: {}\n\n"},
        {"GET /v1/jobs/jp/result?format=txt ", NULL,
         "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
         "\r\nhello world\n"},
    };
    fake f = fake_start(steps, 5);
    int fd = file_with("speech.raw", 32001);
    int saved = dup(0);
    dup2(fd, 0);
    close(fd);
    char *out, *err;
    char *a[] = {"ptt", "--server", f.url, "-", NULL};
    ASSERT_EQ(run_client(4, a, &out, &err), 0);
    dup2(saved, 0);
    close(saved);
    fake_finish(&f);
    ASSERT_STREQ(out, "hello world\n");
    ASSERT_STREQ(err, "");
    char *log = slurp("requests.log");
    ASSERT(strstr(log, "name=\"priority\"\r\n\r\nrealtime\r\n"));
    const char *riff = strstr(log, "\r\n\r\nRIFF");
    ASSERT(riff);
    check_wav((const uint8_t *)riff + 4, 44 + 32000, 32000);
    free(log);
    free(out);
    free(err);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(sse_every_split_every_line_ending);
    RUN(sse_byte_at_a_time);
    RUN(sse_callback_stops_the_feed);
    RUN(sse_caps_lines_and_events);
    RUN(sse_reset_keeps_the_last_id);
    RUN(wav_header_fields);
    RUN(wav_wraps_stdin_pcm);
    RUN(wav_caps_and_empty_input);
    RUN(server_error_json_to_one_line);
    RUN(server_url_precedence);
    RUN(follow_tracks_phase_progress_and_end);
    RUN(job_rows_and_durations);
    RUN(http_refused_connection_says_so);
    RUN(http_error_status_carries_the_server_message);
    RUN(http_events_reconnect_with_last_event_id);
    RUN(http_events_give_up_after_the_tries);
    RUN(http_upload_streams_file_and_fields);
    RUN(http_silent_server_time_limit_and_abort);
    RUN(http_post_bytes_sends_the_body);
    RUN(cmd_bad_usage_exits_2);
    RUN(cmd_submit_reports_each_file);
    RUN(cmd_ls_follows_cursors);
    RUN(cmd_ls_newest_first_up_to_the_limit);
    RUN(http_unavailable_is_retried_after_its_delay);
    RUN(http_unavailable_reads_are_retried);
    RUN(cmd_retry_and_delete);
    RUN(cmd_wait_reports_the_job_error);
    RUN(cmd_ptt_uploads_stdin_as_wav_and_prints_text);
    TEST_DONE();
}
