/* job_id.c - random job ids (job_id.h). */
#include "store/job_id.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

int store_new_job_id(char id[STORE_ID_SIZE], hark_err *err)
{
    unsigned char r[8];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return err_set(err, HARK_EIO, "cannot make a job id: getrandom: %s", strerror(errno));
        got += (size_t)n;
    }
    id[0] = 'j';
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(id + 1 + 2 * i, 3, "%02x", r[i]);
    return 0;
}
