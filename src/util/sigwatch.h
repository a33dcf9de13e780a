/* sigwatch.h - the one place signals enter hark (DESIGN.md invariant 1).
 *
 * INT and TERM are blocked and delivered through a signalfd that loops poll
 * or check non-blockingly; no handler ever runs on an arbitrary thread, and
 * no timeout anywhere uses a signal. Block them before starting threads so
 * every thread inherits the mask.
 */
#ifndef HARK_UTIL_SIGWATCH_H
#define HARK_UTIL_SIGWATCH_H

/* Block SIGINT and SIGTERM and return a non-blocking signalfd for them, or
 * -1 (errno set). */
int sigwatch_open(void);

/* The number of a pending watched signal (consuming it), or 0 if none. */
int sigwatch_pending(int fd);

/* Close the fd and unblock the signals. */
void sigwatch_close(int fd);

#endif
