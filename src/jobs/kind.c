/* kind.c - the table of job kinds (see kind.h). */
#include "jobs/kind.h"

#include <stdio.h>
#include <string.h>

static const job_kind *const kinds[] = {
    &job_kind_transcribe,
    &job_kind_highlights,
    &job_kind_live,
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

const job_kind *job_kind_find(const char *name)
{
    for (size_t i = 0; name && i < N_KINDS; i++)
        if (strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}

const job_kind *job_kind_of(const store_job *job)
{
    return job->kind[0] ? job_kind_find(job->kind) : &job_kind_transcribe;
}

void job_kind_names(char *out, size_t n)
{
    size_t at = 0;
    if (n)
        out[0] = 0;
    for (size_t i = 0; i < N_KINDS && at < n; i++) {
        int w = snprintf(out + at, n - at, "%s%s", i ? ", " : "", kinds[i]->name);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}

int job_kind_format(const job_kind *k, const char *format)
{
    for (int i = 0; format && k->formats[i]; i++)
        if (strcmp(k->formats[i], format) == 0)
            return i;
    return -1;
}

void job_kind_format_list(const job_kind *k, char *out, size_t n)
{
    size_t at = 0;
    if (n)
        out[0] = 0;
    for (int i = 0; k->formats[i] && at < n; i++) {
        int w = snprintf(out + at, n - at, "%s%s", i ? ", " : "", k->formats[i]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}
