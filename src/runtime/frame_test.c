#include "runtime/frame.h"

#include "util/buf.h"
#include "util/clock.h"
#include "util/test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

static void make_pair(int sv[2])
{
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    ASSERT(fl >= 0);
    ASSERT_EQ(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* Deterministic payload bytes: frame `seed`, byte i. */
static uint8_t pattern(size_t seed, size_t i)
{
    return (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

static uint8_t *make_payload(size_t seed, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    ASSERT(p);
    for (size_t i = 0; i < n; i++)
        p[i] = pattern(seed, i);
    return p;
}

static void check_payload(size_t seed, const void *payload, size_t n)
{
    const uint8_t *p = payload;
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern(seed, i))
            TEST_FAIL_("payload %zu differs at byte %zu", seed, i);
}

/* Append frame (type, seed pattern of n bytes) to an in-memory stream. */
static void append_frame(buf *s, uint16_t type, size_t seed, size_t n)
{
    uint8_t hdr[FRAME_HEADER_SIZE];
    frame_header_encode(hdr, type, (uint32_t)n);
    ASSERT_EQ(buf_append(s, hdr, sizeof hdr), 0);
    uint8_t *p = make_payload(seed, n);
    ASSERT_EQ(buf_append(s, p, n), 0);
    free(p);
}

struct writer_job {
    int fd;
    uint16_t type;
    size_t seed, len;
    double timeout;
    int rc;
    hark_err err;
};

static void *writer_thread(void *arg)
{
    struct writer_job *j = arg;
    uint8_t *p = make_payload(j->seed, j->len);
    j->rc = frame_write(j->fd, j->type, p, j->len, deadline_in(j->timeout), &j->err);
    free(p);
    return NULL;
}

static const size_t sizes[] = {0,   1,    2,    7,     8,     9,     255,
                               256, 4095, 4096, 65535, 65536, 65537, 1000003};

static void test_roundtrip_sizes(void)
{
    int sv[2];
    make_pair(sv);
    frame_reader r;
    frame_reader_init(&r, 0);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        struct writer_job j = {
            .fd = sv[0], .type = (uint16_t)(k + 1), .seed = k, .len = sizes[k], .timeout = 10};
        pthread_t t;
        ASSERT_EQ(pthread_create(&t, NULL, writer_thread, &j), 0);
        uint16_t type;
        const void *payload;
        size_t len;
        hark_err err;
        int rc = frame_read(&r, sv[1], deadline_in(10), &type, &payload, &len, &err);
        pthread_join(t, NULL);
        ASSERT_EQ(j.rc, 0);
        if (rc)
            TEST_FAIL_("frame_read: %s", err.msg);
        ASSERT_EQ(type, k + 1);
        ASSERT_EQ(len, sizes[k]);
        ASSERT(payload != NULL);
        check_payload(k, payload, len);
    }
    frame_reader_release(&r);
    close(sv[0]);
    close(sv[1]);
}

/* The largest allowed payload goes through; one byte more is refused by
 * the writer. */
static void test_roundtrip_max(void)
{
    int sv[2];
    make_pair(sv);
    frame_reader r;
    frame_reader_init(&r, 0);
    struct writer_job j = {
        .fd = sv[0], .type = 0xffff, .seed = 99, .len = FRAME_MAX_PAYLOAD, .timeout = 15};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, writer_thread, &j), 0);
    uint16_t type;
    const void *payload;
    size_t len;
    hark_err err;
    int rc = frame_read(&r, sv[1], deadline_in(15), &type, &payload, &len, &err);
    pthread_join(t, NULL);
    ASSERT_EQ(j.rc, 0);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(type, 0xffff);
    ASSERT_EQ(len, FRAME_MAX_PAYLOAD);
    check_payload(99, payload, len);
    /* Memory: one frame plus at most a read chunk, rounded up to a power of 2. */
    ASSERT_LE(r.cap, 2 * (FRAME_MAX_PAYLOAD + FRAME_HEADER_SIZE + FRAME_READ_CHUNK));
    frame_reader_release(&r);

    static const char one = 'x';
    rc = frame_write(sv[0], 1, &one, (size_t)FRAME_MAX_PAYLOAD + 1, deadline_in(1), &err);
    ASSERT_EQ(rc, HARK_EINVAL);
    ASSERT(strstr(err.msg, "exceeds the maximum"));
    close(sv[0]);
    close(sv[1]);
}

static void test_byte_by_byte(void)
{
    buf s;
    buf_init(&s, 1 << 24);
    static const size_t lens[] = {0, 1, 8, 300, 0, 5000};
    size_t nf = sizeof lens / sizeof lens[0];
    for (size_t k = 0; k < nf; k++)
        append_frame(&s, (uint16_t)(100 + k), k, lens[k]);
    frame_reader r;
    frame_reader_init(&r, 0);
    size_t got = 0;
    for (size_t i = 0; i < s.len; i++) {
        ASSERT_EQ(frame_reader_feed(&r, s.data + i, 1, NULL), 0);
        uint16_t type;
        const void *payload;
        size_t len;
        int rc;
        while ((rc = frame_reader_next(&r, &type, &payload, &len)) == 0) {
            ASSERT(got < nf);
            ASSERT_EQ(type, 100 + got);
            ASSERT_EQ(len, lens[got]);
            check_payload(got, payload, len);
            got++;
        }
        ASSERT_EQ(rc, 1);
    }
    ASSERT_EQ(got, nf);
    frame_reader_release(&r);
    buf_release(&s);
}

static void test_many_frames_one_buffer(void)
{
    buf s;
    buf_init(&s, 1 << 24);
    enum { N = 2000 };
    for (size_t k = 0; k < N; k++)
        append_frame(&s, (uint16_t)k, k, k % 37);
    /* A partial header of one more frame at the end. */
    uint8_t hdr[FRAME_HEADER_SIZE];
    frame_header_encode(hdr, 7, 3);
    ASSERT_EQ(buf_append(&s, hdr, 5), 0);

    frame_reader r;
    frame_reader_init(&r, 0);
    ASSERT_EQ(frame_reader_feed(&r, s.data, s.len, NULL), 0);
    uint16_t type;
    const void *payload;
    size_t len;
    for (size_t k = 0; k < N; k++) {
        ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), 0);
        ASSERT_EQ(type, (uint16_t)k);
        ASSERT_EQ(len, k % 37);
        check_payload(k, payload, len);
    }
    ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), 1);
    /* Finish the partial frame. */
    ASSERT_EQ(frame_reader_feed(&r, hdr + 5, 3, NULL), 0);
    ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), 1);
    ASSERT_EQ(frame_reader_feed(&r, "abc", 3, NULL), 0);
    ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), 0);
    ASSERT_EQ(type, 7);
    ASSERT_EQ(len, 3);
    ASSERT_EQ(memcmp(payload, "abc", 3), 0);
    ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), 1);
    frame_reader_release(&r);
    buf_release(&s);
}

/* A header declaring more than the maximum is refused as soon as its 8
 * bytes are in, without buffering (let alone allocating) the payload. */
static void test_oversize_refused(void)
{
    uint8_t hdr[FRAME_HEADER_SIZE];
    hark_err err;
    frame_reader r;

    frame_reader_init(&r, 0);
    frame_header_encode(hdr, 1, FRAME_MAX_PAYLOAD + 1);
    ASSERT_EQ(frame_reader_feed(&r, hdr, 4, NULL), 0);
    ASSERT_EQ(frame_reader_feed(&r, hdr + 4, 4, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "exceeds the maximum"));
    ASSERT_LE(r.cap, 4096);
    uint16_t type;
    const void *payload;
    size_t len;
    ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), HARK_EINVAL);
    /* Failed for good: no more bytes taken. */
    ASSERT_EQ(frame_reader_feed(&r, "x", 1, NULL), HARK_EINVAL);
    frame_reader_release(&r);

    frame_reader_init(&r, 0);
    frame_header_encode(hdr, 1, UINT32_MAX);
    ASSERT_EQ(frame_reader_feed(&r, hdr, 8, NULL), HARK_EINVAL);
    ASSERT_LE(r.cap, 4096);
    frame_reader_release(&r);

    /* A configured smaller maximum: exactly max passes, max + 1 does not,
     * and the good frame before the bad header is still delivered. */
    frame_reader_init(&r, 100);
    buf s;
    buf_init(&s, 1 << 20);
    append_frame(&s, 2, 5, 100);
    frame_header_encode(hdr, 3, 101);
    ASSERT_EQ(buf_append(&s, hdr, 8), 0);
    ASSERT_EQ(frame_reader_feed(&r, s.data, s.len, &err), HARK_EINVAL);
    ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), 0);
    ASSERT_EQ(type, 2);
    ASSERT_EQ(len, 100);
    check_payload(5, payload, len);
    ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), HARK_EINVAL);
    ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), HARK_EINVAL);
    frame_reader_release(&r);
    buf_release(&s);
}

static void test_garbage(void)
{
    frame_reader r;
    hark_err err;
    uint16_t type;
    const void *payload;
    size_t len;

    /* Reserved field not zero. */
    frame_reader_init(&r, 0);
    static const uint8_t bad[8] = {1, 0, 0, 0, 1, 0, 0, 1};
    ASSERT_EQ(frame_reader_feed(&r, bad, sizeof bad, &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "reserved"));
    ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), HARK_EINVAL);
    frame_reader_release(&r);

    /* Text where a header belongs, e.g. a peer speaking another protocol. */
    frame_reader_init(&r, 0);
    static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(frame_reader_feed(&r, http, sizeof http - 1, &err), HARK_EINVAL);
    ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), HARK_EINVAL);
    frame_reader_release(&r);

    /* Pseudo-random bytes in random slices: every outcome is a frame within
     * the maximum, "need more", or the sticky error. */
    uint32_t x = 12345;
    for (int round = 0; round < 200; round++) {
        frame_reader_init(&r, (size_t)(round % 3 == 0 ? 64 : 0));
        int failed = 0;
        for (int i = 0; i < 50; i++) {
            uint8_t chunk[97];
            size_t n = (x = x * 1103515245 + 12345) % sizeof chunk;
            for (size_t b = 0; b < n; b++) {
                x = x * 1103515245 + 12345;
                /* Mostly zeros, so short valid headers occur too. */
                chunk[b] = (x >> 16) % 4 == 0 ? (uint8_t)(x >> 24) : 0;
            }
            int rc = frame_reader_feed(&r, chunk, n, NULL);
            if (failed)
                ASSERT_EQ(rc, HARK_EINVAL);
            ASSERT(rc == 0 || rc == HARK_EINVAL);
            while ((rc = frame_reader_next(&r, &type, &payload, &len)) == 0)
                ASSERT_LE(len, r.max_payload);
            ASSERT(rc == 1 || rc == HARK_EINVAL);
            if (rc == HARK_EINVAL)
                failed = 1;
        }
        frame_reader_release(&r);
    }
}

static void test_eof(void)
{
    frame_reader r;
    hark_err err;
    uint16_t type;
    const void *payload;
    size_t len;
    int sv[2];
    uint8_t hdr[FRAME_HEADER_SIZE];

    /* Clean close at a frame boundary, after one frame. */
    make_pair(sv);
    ASSERT_EQ(frame_write(sv[0], 4, "hi", 2, deadline_in(1), NULL), 0);
    close(sv[0]);
    frame_reader_init(&r, 0);
    ASSERT_EQ(frame_reader_read_fd(&r, sv[1], NULL), 0);
    ASSERT_EQ(frame_reader_read_fd(&r, sv[1], NULL), FRAME_CLOSED);
    ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), 0);
    ASSERT_EQ(len, 2);
    ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), 1);
    ASSERT_EQ(frame_read(&r, sv[1], deadline_in(1), &type, &payload, &len, &err), HARK_EIO);
    ASSERT_STREQ(err.msg, "connection closed by peer");
    frame_reader_release(&r);
    close(sv[1]);

    /* Closed in the middle of a payload. */
    make_pair(sv);
    frame_header_encode(hdr, 4, 10);
    ASSERT_EQ(write(sv[0], hdr, sizeof hdr), (ssize_t)sizeof hdr);
    ASSERT_EQ(write(sv[0], "12345", 5), 5);
    close(sv[0]);
    frame_reader_init(&r, 0);
    ASSERT_EQ(frame_reader_read_fd(&r, sv[1], NULL), 0);
    ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), 1);
    ASSERT_EQ(frame_reader_read_fd(&r, sv[1], &err), HARK_EIO);
    ASSERT_STREQ(err.msg, "connection closed mid-frame: truncated payload (5 bytes missing)");
    ASSERT_EQ(frame_read(&r, sv[1], deadline_in(1), &type, &payload, &len, &err), HARK_EIO);
    ASSERT(strstr(err.msg, "truncated"));
    frame_reader_release(&r);
    close(sv[1]);

    /* Closed in the middle of a header, after a whole frame: the frame is
     * still delivered, then the truncation. */
    make_pair(sv);
    ASSERT_EQ(frame_write(sv[0], 5, "ok", 2, deadline_in(1), NULL), 0);
    ASSERT_EQ(write(sv[0], hdr, 3), 3);
    close(sv[0]);
    frame_reader_init(&r, 0);
    ASSERT_EQ(frame_read(&r, sv[1], deadline_in(1), &type, &payload, &len, &err), 0);
    ASSERT_EQ(type, 5);
    ASSERT_EQ(frame_read(&r, sv[1], deadline_in(1), &type, &payload, &len, &err), HARK_EIO);
    ASSERT_STREQ(err.msg, "connection closed mid-frame: truncated header (3 of 8 bytes)");
    frame_reader_release(&r);
    close(sv[1]);
}

/* A non-blocking reader with nothing to read gets 0 and no frame; a
 * blocking frame_read with a deadline gives up with HARK_ETIMEDOUT. */
static void test_read_nothing_available(void)
{
    int sv[2];
    make_pair(sv);
    set_nonblock(sv[1]);
    frame_reader r;
    frame_reader_init(&r, 0);
    uint16_t type;
    const void *payload;
    size_t len;
    hark_err err;
    ASSERT_EQ(frame_reader_read_fd(&r, sv[1], NULL), 0);
    ASSERT_EQ(frame_reader_next(&r, &type, &payload, &len), 1);
    double t0 = clock_now_s();
    ASSERT_EQ(frame_read(&r, sv[1], deadline_in(0.2), &type, &payload, &len, &err), HARK_ETIMEDOUT);
    double dt = clock_now_s() - t0;
    ASSERT(dt >= 0.19);
    ASSERT_LE(dt, 2.0);
    ASSERT_STREQ(err.msg, "cannot receive message: timed out");
    frame_reader_release(&r);
    close(sv[0]);
    close(sv[1]);
}

struct slow_reader {
    int fd;
    size_t seed, len;
    int ok;
};

/* Read one frame in small pieces, pausing between them, on a non-blocking fd. */
static void *slow_reader_thread(void *arg)
{
    struct slow_reader *s = arg;
    frame_reader r;
    frame_reader_init(&r, 0);
    uint8_t piece[4096];
    for (;;) {
        uint16_t type;
        const void *payload;
        size_t len;
        int rc = frame_reader_next(&r, &type, &payload, &len);
        if (rc == 0) {
            s->ok = type == 9 && len == s->len;
            for (size_t i = 0; s->ok && i < len; i++)
                s->ok = ((const uint8_t *)payload)[i] == pattern(s->seed, i);
            break;
        }
        if (rc < 0)
            break;
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 10000) != 1)
            break;
        ssize_t n = read(s->fd, piece, sizeof piece);
        if (n <= 0)
            break;
        if (frame_reader_feed(&r, piece, (size_t)n, NULL) != 0)
            break;
        struct timespec ts = {0, 200000}; /* drain slowly: 4 KiB per 0.2 ms */
        nanosleep(&ts, NULL);
    }
    frame_reader_release(&r);
    return NULL;
}

/* The writer fills a small socket buffer, waits for room with poll, and
 * still delivers the whole frame intact to a slow reader. */
static void test_write_full_buffer_slow_reader(void)
{
    int sv[2];
    make_pair(sv);
    int small = 4096;
    ASSERT_EQ(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    set_nonblock(sv[0]);
    set_nonblock(sv[1]);
    struct slow_reader s = {.fd = sv[1], .seed = 3, .len = 2u << 20};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, slow_reader_thread, &s), 0);
    uint8_t *p = make_payload(3, s.len);
    hark_err err;
    int rc = frame_write(sv[0], 9, p, s.len, deadline_in(15), &err);
    if (rc)
        TEST_FAIL_("frame_write: %s", err.msg);
    pthread_join(t, NULL);
    ASSERT(s.ok);
    free(p);
    close(sv[0]);
    close(sv[1]);
}

/* Writing to a closed peer is an error, not SIGPIPE (disposition default,
 * so a SIGPIPE would kill this test). */
static void test_peer_closed(void)
{
    signal(SIGPIPE, SIG_DFL);
    int sv[2];
    make_pair(sv);
    close(sv[1]);
    hark_err err;
    ASSERT_EQ(frame_write(sv[0], 1, "x", 1, deadline_in(1), &err), HARK_EIO);
    ASSERT_STREQ(err.msg, "cannot send message: peer closed the connection");
    close(sv[0]);

    /* The peer goes away while a large frame is half written. */
    make_pair(sv);
    struct writer_job j = {.fd = sv[0], .type = 1, .seed = 1, .len = 8u << 20, .timeout = 10};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, writer_thread, &j), 0);
    char piece[1024];
    ASSERT(read(sv[1], piece, sizeof piece) > 0);
    close(sv[1]);
    pthread_join(t, NULL);
    ASSERT_EQ(j.rc, HARK_EIO);
    ASSERT_STREQ(j.err.msg, "cannot send message: peer closed the connection");
    close(sv[0]);
}

/* The peer never reads: the writer gives up at its deadline. */
static void test_write_deadline(void)
{
    int sv[2];
    make_pair(sv);
    size_t n = 4u << 20;
    uint8_t *p = make_payload(0, n);
    hark_err err;
    double t0 = clock_now_s();
    ASSERT_EQ(frame_write(sv[0], 1, p, n, deadline_in(0.3), &err), HARK_ETIMEDOUT);
    double dt = clock_now_s() - t0;
    ASSERT(dt >= 0.29);
    ASSERT_LE(dt, 2.0);
    ASSERT_STREQ(err.msg, "cannot send message: timed out");
    free(p);
    close(sv[0]);
    close(sv[1]);
}

static void test_not_a_socket(void)
{
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    hark_err err;
    ASSERT_EQ(frame_write(fds[1], 1, "x", 1, deadline_in(1), &err), HARK_EINVAL);
    ASSERT(strstr(err.msg, "not a socket"));
    close(fds[0]);
    close(fds[1]);
}

static void test_json(void)
{
    int sv[2];
    make_pair(sv);
    json_t *o =
        json_pack("{s:i, s:s, s:[f, f]}", "token", 42, "input", "talk \"x\".mp3", "t", 1.5, 2.25);
    ASSERT(o);
    hark_err err;
    ASSERT_EQ(frame_write_json(sv[0], 3, o, deadline_in(1), &err), 0);
    frame_reader r;
    frame_reader_init(&r, 0);
    uint16_t type;
    json_t *got = NULL;
    ASSERT_EQ(frame_read_json(&r, sv[1], deadline_in(1), &type, &got, &err), 0);
    ASSERT_EQ(type, 3);
    ASSERT(json_equal(o, got));
    json_decref(got);
    json_decref(o);

    /* Not an object, not JSON, duplicate keys, empty. */
    static const char *bad[] = {"[1,2]", "{\"a\":", "{\"a\":1,\"a\":2}", "", "\"x\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_EQ(frame_write(sv[0], 3, bad[i], strlen(bad[i]), deadline_in(1), NULL), 0);
        got = (json_t *)1;
        ASSERT_EQ(frame_read_json(&r, sv[1], deadline_in(1), &type, &got, &err), HARK_EINVAL);
        ASSERT(got == NULL);
        ASSERT(strncmp(err.msg, "bad message: ", 13) == 0);
        ASSERT(!strchr(err.msg, '\n'));
    }
    ASSERT_EQ(frame_parse_json("{}", (size_t)FRAME_MAX_PAYLOAD + 1, &got, &err), HARK_EINVAL);
    frame_reader_release(&r);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    RUN(test_roundtrip_sizes);
    RUN(test_roundtrip_max);
    RUN(test_byte_by_byte);
    RUN(test_many_frames_one_buffer);
    RUN(test_oversize_refused);
    RUN(test_garbage);
    RUN(test_eof);
    RUN(test_read_nothing_available);
    RUN(test_write_full_buffer_slow_reader);
    RUN(test_peer_closed);
    RUN(test_write_deadline);
    RUN(test_not_a_socket);
    RUN(test_json);
    TEST_DONE();
}
