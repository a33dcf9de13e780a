#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>

int err_set(hark_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void err_clear(hark_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *err_code_name(int code)
{
    switch (code) {
    case HARK_OK:
        return "ok";
    case HARK_EIO:
        return "io";
    case HARK_ENOMEM:
        return "nomem";
    case HARK_EINVAL:
        return "invalid";
    case HARK_EMEDIA:
        return "media";
    case HARK_ETOOLONG:
        return "too-long";
    case HARK_ETIMEDOUT:
        return "timeout";
    case HARK_ECANCELED:
        return "canceled";
    case HARK_EENGINE:
        return "engine";
    case HARK_ENOENT:
        return "not-found";
    case HARK_EFULL:
        return "full";
    case HARK_ESTALE:
        return "stale";
    case HARK_ENOSPC:
        return "no-space";
    case HARK_EUNAVAIL:
        return "unavailable";
    default:
        return "unknown";
    }
}
