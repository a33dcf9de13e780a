#include "util/clock.h"

#include <time.h>

int64_t clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

double clock_now_s(void)
{
    return (double)clock_now_ns() / 1e9;
}

deadline deadline_in(double seconds)
{
    deadline d = {0};
    if (seconds > 0)
        d.at_ns = clock_now_ns() + (int64_t)(seconds * 1e9);
    return d;
}

bool deadline_passed(deadline d)
{
    return d.at_ns != 0 && clock_now_ns() >= d.at_ns;
}

int deadline_remaining_ms(deadline d)
{
    if (d.at_ns == 0)
        return -1;
    int64_t left = (d.at_ns - clock_now_ns()) / 1000000;
    if (left < 0)
        return 0;
    if (left > INT32_MAX)
        return INT32_MAX;
    return (int)left;
}
