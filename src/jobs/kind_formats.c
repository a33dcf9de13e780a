/* kind_formats.c - see kind_formats.h. Data only: nothing here may call
 * into a kind. */
#include "jobs/kind_formats.h"

#include <string.h>

const char *const transcription_formats[] = {"txt", "json",         "srt", "vtt",
                                             "tsv", "verbose_json", NULL};
const char *const transcription_mimes[] = {"text/plain; charset=utf-8",
                                           "application/json",
                                           "application/x-subrip; charset=utf-8",
                                           "text/vtt; charset=utf-8",
                                           "text/tab-separated-values; charset=utf-8",
                                           "application/json",
                                           NULL};

const char *const highlights_formats[] = {
    "highlights", "chapters", "chapters_json", "edl",          "txt", "json",
    "srt",        "vtt",      "tsv",           "verbose_json", NULL};
const char *const highlights_mimes[] = {"application/json",
                                        "text/plain; charset=utf-8",
                                        "application/json+chapters",
                                        "text/plain; charset=utf-8",
                                        "text/plain; charset=utf-8",
                                        "application/json",
                                        "application/x-subrip; charset=utf-8",
                                        "text/vtt; charset=utf-8",
                                        "text/tab-separated-values; charset=utf-8",
                                        "application/json",
                                        NULL};

bool kind_formats_known(const char *format)
{
    const char *const *lists[] = {transcription_formats, highlights_formats};
    for (size_t l = 0; format && l < sizeof lists / sizeof lists[0]; l++)
        for (size_t i = 0; lists[l][i]; i++)
            if (strcmp(lists[l][i], format) == 0)
                return true;
    return false;
}
