/* opts.h - the command line of `hark dictate` (pure: parsed into a struct,
 * unit-tested in opts_test.c):
 *
 *   hark dictate [options] [-]     record now, in the foreground
 *   hark dictate start [options]   record in the background (for a hotkey)
 *   hark dictate stop [--to WHERE] [--json]
 *   hark dictate cancel
 */
#ifndef HARK_DICTATE_OPTS_H
#define HARK_DICTATE_OPTS_H

#include "dictate/deliver.h"

#include <stdbool.h>
#include <stdio.h>

#define DICTATE_DEFAULT_MAX_S 300
#define DICTATE_MAX_MAX_S 3600
#define DICTATE_DEFAULT_WAIT_S 30

typedef enum dictate_action {
    DICTATE_RUN,    /* hark dictate [-] */
    DICTATE_START,  /* hark dictate start */
    DICTATE_STOP,   /* hark dictate stop */
    DICTATE_CANCEL, /* hark dictate cancel */
} dictate_action;

typedef struct dictate_opts {
    dictate_action action;
    const char *server;   /* --server, NULL: $HARK_SERVER or the default */
    const char *input;    /* --input DEVICE, NULL: the default microphone */
    bool from_stdin;      /* the argument "-": raw s16le 16 kHz mono on stdin */
    deliver_mode to;      /* --to */
    bool to_given;        /* --to was on the command line (stop: overrides start's) */
    double max_s;         /* --max: the longest recording */
    double wait_s;        /* --wait: the longest wait for the final text after recording */
    const char *priority; /* --priority, NULL: the server's default (realtime) */
    const char *name;     /* --name, NULL: none */
    bool json;            /* --json: the final json result instead of the text */
    bool quiet;           /* --quiet: no partial text */
    bool help;            /* --help: print dictate_usage and exit 0 */
} dictate_opts;

/* Parse argv (argv[0] is "dictate"; a first argument start, stop or cancel
 * is the action). Uses getopt_long (resets optind). Returns 0, or -1 with
 * what is wrong in msg (n bytes): the caller prints it and the usage,
 * exit 2. */
int dictate_parse(int argc, char **argv, dictate_opts *o, char *msg, size_t n);

/* The usage and options, for --help and usage errors. */
void dictate_usage(FILE *to);

/* dictate_parse as both programs' entry points use it: -1 to go on with
 * *o, or the exit status when there is nothing more to do (the usage
 * printed for --help, or the error and the usage for a bad command line:
 * 0 or 2). */
int dictate_parse_or_exit(int argc, char **argv, dictate_opts *o);

/* True when argv (argv[0] "dictate") is stop or cancel: what the front end
 * `hark` runs itself (they need no FFmpeg). */
bool dictate_is_control(int argc, char **argv);

#endif
