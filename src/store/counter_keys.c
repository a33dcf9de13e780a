/* counter_keys.c - see counter_keys.h. */
#include "store/counter_keys.h"

#include <stddef.h>
#include <string.h>

static const struct {
    const char *key;
    size_t off;
} KEYS[] = {
    {"refused_commits", offsetof(store_counters, refused_commits)},
    {"refused_renewals", offsetof(store_counters, refused_renewals)},
    {"expired_leases", offsetof(store_counters, expired_leases)},
    {"recovered_tasks", offsetof(store_counters, recovered_tasks)},
    {"last_token", offsetof(store_counters, last_token)},
    {"jobs_succeeded", offsetof(store_counters, jobs_succeeded)},
    {"jobs_failed", offsetof(store_counters, jobs_failed)},
    {"jobs_cancelled", offsetof(store_counters, jobs_cancelled)},
};

void store_counters_set(store_counters *out, const char *key, int64_t value)
{
    for (size_t i = 0; key && i < sizeof KEYS / sizeof KEYS[0]; i++)
        if (strcmp(key, KEYS[i].key) == 0)
            *(int64_t *)((char *)out + KEYS[i].off) = value;
}
