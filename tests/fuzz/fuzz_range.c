/* fuzz_range.c - libFuzzer harness over the Range header of an artifact
 * GET (server/range.h: http_range_parse, http_range_content_range).
 *
 * The first byte picks the body's size from a table (0, 1, 2, 100, a
 * clip's, the largest ones); the rest is the header (up to its first NUL;
 * no bytes at all: no header). Checks:
 *   - the answer is NONE, OK or UNSATISFIABLE, and the same twice;
 *   - OK: 0 <= first <= last < size, and a Content-Range that fits in
 *     HTTP_RANGE_CONTENT_RANGE_MAX and starts "bytes ";
 *     UNSATISFIABLE: the "bytes *" "/SIZE" form fits too;
 *   - whether a header is ignored (NONE) is syntax, not size: for any two
 *     sizes above 0 it is NONE for both or for neither;
 *   - a range that is OK stays OK for a larger body.
 *     ./fuzz_range -max_total_time=10
 */
#include "server/range.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int64_t sizes[] = {0, 1, 2, 100, 1048576, 9007199254740993, INT64_MAX - 1, INT64_MAX};
#define N_SIZES (sizeof sizes / sizeof sizes[0])

static int judge(const char *header, int64_t body)
{
    http_range r = {-1, -1}, again = {-1, -1};
    int v = http_range_parse(header, body, &r);
    if (http_range_parse(header, body, &again) != v)
        __builtin_trap();
    char buf[HTTP_RANGE_CONTENT_RANGE_MAX];
    switch (v) {
    case HTTP_RANGE_NONE:
        break;
    case HTTP_RANGE_OK:
        if (!(r.first >= 0 && r.first <= r.last && r.last < body) || r.first != again.first ||
            r.last != again.last)
            __builtin_trap();
        if (http_range_content_range(&r, body, buf, sizeof buf) <= 0 ||
            strncmp(buf, "bytes ", 6) != 0)
            __builtin_trap();
        break;
    case HTTP_RANGE_UNSATISFIABLE:
        if (http_range_content_range(NULL, body, buf, sizeof buf) <= 0)
            __builtin_trap();
        break;
    default:
        __builtin_trap();
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        if (judge(NULL, 100) != HTTP_RANGE_NONE)
            __builtin_trap();
        return 0;
    }
    int64_t body = sizes[data[0] % N_SIZES];
    char *header = malloc(size);
    if (!header)
        return 0;
    memcpy(header, data + 1, size - 1);
    header[size - 1] = '\0';

    int v = judge(header, body);
    /* NONE is decided by the syntax alone (any size above 0) */
    int at_one = judge(header, 1), at_max = judge(header, INT64_MAX);
    if ((at_one == HTTP_RANGE_NONE) != (at_max == HTTP_RANGE_NONE))
        __builtin_trap();
    if (body > 0 && (v == HTTP_RANGE_NONE) != (at_one == HTTP_RANGE_NONE))
        __builtin_trap();
    /* a larger body keeps an OK range OK */
    for (size_t i = 0; i < N_SIZES; i++)
        if (v == HTTP_RANGE_OK && sizes[i] > body && judge(header, sizes[i]) != HTTP_RANGE_OK)
            __builtin_trap();
    free(header);
    return 0;
}
