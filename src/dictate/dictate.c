/* dictate.c - `hark dictate` in hark-engine: every form. */
#include "dictate/dictate.h"

#include "cli/cli.h"

#include <stdio.h>

int dictate_main(int argc, char **argv)
{
    dictate_opts o;
    char msg[256];
    if (dictate_parse(argc, argv, &o, msg, sizeof msg) != 0) {
        fprintf(stderr, "hark: dictate: %s\n", msg);
        dictate_usage(stderr);
        return EXIT_USAGE;
    }
    if (o.help) {
        dictate_usage(stdout);
        return EXIT_ALL_OK;
    }
    if (o.action == DICTATE_STOP || o.action == DICTATE_CANCEL)
        return dictate_control(&o);
    return dictate_record(&o);
}
