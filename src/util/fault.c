/* fault.c - see fault.h (test-only). */
#include "util/fault.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SUFFIXES 8

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool active;
static char spec[1024]; /* the suffixes, NUL-separated */
static const char *suffix[MAX_SUFFIXES];
static int n_suffixes;
static char while_path[1024]; /* "" = always */

static void load(void)
{
    const char *v = getenv("HARK_TEST_ENOSPC");
    if (!v || !*v || strlen(v) >= sizeof spec)
        return;
    memcpy(spec, v, strlen(v) + 1);
    for (char *p = spec; *p && n_suffixes < MAX_SUFFIXES;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p)
            suffix[n_suffixes++] = p;
        if (!comma)
            break;
        p = comma + 1;
    }
    const char *w = getenv("HARK_TEST_ENOSPC_WHILE");
    if (w && strlen(w) < sizeof while_path)
        memcpy(while_path, w, strlen(w) + 1);
    active = n_suffixes > 0;
}

int fault_write_errno(const char *path)
{
    pthread_once(&once, load);
    if (!active || !path)
        return 0;
    size_t n = strlen(path);
    for (int i = 0; i < n_suffixes; i++) {
        size_t k = strlen(suffix[i]);
        if (k <= n && memcmp(path + n - k, suffix[i], k) == 0)
            return !while_path[0] || access(while_path, F_OK) == 0 ? ENOSPC : 0;
    }
    return 0;
}
