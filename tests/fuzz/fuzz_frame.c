/* fuzz_frame.c - libFuzzer harness over the frame decoder (runtime/frame.h).
 *
 * The first byte picks the reader's maximum payload (small maxima make
 * the oversize path common) and seeds the split generator; the rest is the
 * byte stream. The stream is decoded twice: in one slice, and in slices of
 * pseudo-random sizes (1..256 bytes), draining frames after every slice.
 * Both must yield the same frames (type, length, bytes) and end in the same
 * state; every frame must be within the maximum. Leaks are LeakSanitizer's.
 *     ./fuzz_frame -max_total_time=30
 */
#include "runtime/frame.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A running digest of the frames a reader produced. */
typedef struct trace {
    uint64_t hash;
    size_t frames;
    int end; /* 1 (need more) or the error */
} trace;

static void trace_frame(trace *t, uint16_t type, const void *payload, size_t len)
{
    const uint8_t *p = payload;
    uint64_t h = t->hash ^ ((uint64_t)type << 32 | len);
    h *= 0x100000001b3ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    t->hash = h;
    t->frames++;
}

static void drain(frame_reader *r, trace *t)
{
    uint16_t type;
    const void *payload;
    size_t len;
    int rc;
    while ((rc = frame_reader_next(r, &type, &payload, &len)) == 0) {
        if (len > r->max_payload || !payload)
            __builtin_trap();
        trace_frame(t, type, payload, len);
    }
    if (rc != 1 && rc != HARK_EINVAL)
        __builtin_trap();
    t->end = rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t maxima[] = {0, 1, 16, 255, 4096};
    size_t max = maxima[data[0] % 5];
    uint32_t seed = data[0] * 2654435761u + (uint32_t)size;
    data++;
    size--;

    trace whole = {0}, split = {0};
    frame_reader r;
    hark_err err;

    frame_reader_init(&r, max);
    int rc = frame_reader_feed(&r, data, size, &err);
    if (rc != 0 && (rc != HARK_EINVAL || strchr(err.msg, '\n') || err.msg[0] == '\0'))
        __builtin_trap();
    drain(&r, &whole);
    frame_reader_release(&r);

    frame_reader_init(&r, max);
    size_t off = 0;
    int failed = 0;
    while (off < size) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % 256;
        if (n > size - off)
            n = size - off;
        rc = frame_reader_feed(&r, data + off, n, NULL);
        if (rc != 0 && rc != HARK_EINVAL)
            __builtin_trap();
        if (failed && rc == 0) /* a failed reader stays failed */
            __builtin_trap();
        failed |= rc != 0;
        off += n;
        drain(&r, &split);
    }
    drain(&r, &split);
    frame_reader_release(&r);

    if (whole.hash != split.hash || whole.frames != split.frames || whole.end != split.end)
        __builtin_trap();
    return 0;
}
