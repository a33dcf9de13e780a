/* failure_text.c - the store's failure messages (failure_text.h). */
#include "store/failure_text.h"

#include "store/store.h"

#include <stdio.h>

void store_task_failure_text(char *buf, size_t size, int idx, int64_t start, int64_t end,
                             const char *source, bool resource, int n, const char *cause)
{
    const char *what = resource ? "waited for a resource" : "failed";
    if (idx >= 0)
        snprintf(buf, size, "chunk %d (%.1f-%.1f s) %s %d time%s: %s", idx,
                 (double)start / STORE_SAMPLE_RATE, (double)end / STORE_SAMPLE_RATE, what, n,
                 n == 1 ? "" : "s", cause);
    else
        snprintf(buf, size, "prepare of '%s' %s %d time%s: %s", source, what, n, n == 1 ? "" : "s",
                 cause);
}

void store_timeout_text(char *buf, size_t size, double timeout_s)
{
    snprintf(buf, size, "timed out after %g s", timeout_s);
}
