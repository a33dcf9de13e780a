/* client.h - the client subcommands of `hark serve` (docs/api.md):
 *
 *   submit  ls  show  wait  result  artifacts  cancel  pause  resume  retry
 *   delete  ptt
 *
 * Each talks HTTP to the server at --server URL, else $HARK_SERVER, else
 * http://127.0.0.1:8090, with $HARK_TOKEN as its bearer token when set (a
 * server with API tokens wants one). Exit statuses are cli/cli.h's: 0 done, 1 failed
 * (the server said no, could not be reached, or the job failed), 2 usage.
 */
#ifndef HARK_CLIENT_CLIENT_H
#define HARK_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stdio.h>

/* Run a client subcommand. argv[0] is its name ("submit", "ls", ...), the
 * rest its arguments. Returns the process exit status. */
int client_main(int argc, char **argv);

/* True when name is one of the client subcommands. */
bool client_is_command(const char *name);

/* One "  name ARGS   summary" line per subcommand, for `hark --help`. */
void client_print_commands(FILE *to);

#endif
