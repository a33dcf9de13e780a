/* cli.h - the subcommands. Each takes the arguments after its own name
 * (argv[0] is the subcommand) and returns the process exit status. */
#ifndef HARK_CLI_CLI_H
#define HARK_CLI_CLI_H

/* Exit statuses shared by the subcommands. */
enum {
    EXIT_ALL_OK = 0,
    EXIT_SOME_FAILED = 1, /* at least one input failed; the others are done */
    EXIT_USAGE = 2,       /* bad command line */
    EXIT_INTERRUPTED = 130,
};

int cli_transcribe(int argc, char **argv);
int cli_highlights(int argc, char **argv);
int cli_serve(int argc, char **argv);

/* Parse a non-negative number of seconds ("90", "1.5"); returns 0 or -1. */
int cli_parse_seconds(const char *s, double *out);

#endif
