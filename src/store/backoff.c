/* backoff.c - retry delays and limits (backoff.h). */
#include "store/backoff.h"

int64_t store_backoff_ms(const store_options *opt, bool resource, int prior)
{
    int64_t base = resource ? opt->resource_backoff_base_ms : opt->backoff_base_ms;
    int64_t max = resource ? opt->resource_backoff_max_ms : opt->backoff_max_ms;
    int shift = prior < 0 ? 0 : prior > 20 ? 20 : prior;
    int64_t d = base << shift;
    return d < max ? d : max;
}

bool store_gives_up(const store_options *opt, bool resource, int attempts, int resource_waits)
{
    return resource ? resource_waits >= opt->max_resource_waits : attempts >= opt->max_attempts;
}
