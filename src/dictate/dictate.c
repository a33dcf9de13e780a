/* dictate.c - `hark dictate` in hark-engine: every form. */
#include "dictate/dictate.h"

int dictate_main(int argc, char **argv)
{
    dictate_opts o;
    int status = dictate_parse_or_exit(argc, argv, &o);
    if (status >= 0)
        return status;
    if (o.action == DICTATE_STOP || o.action == DICTATE_CANCEL)
        return dictate_control(&o);
    return dictate_record(&o);
}
