/* status.h - what `hark dictate` shows on stderr while it records: the
 * partial text as it comes. On a terminal one status line is rewritten in
 * place (its tail, cut to the terminal's width); otherwise each new text is
 * a plain line ("partial: ..."). Messages go through here too, so a
 * message never lands in the middle of the status line. Thread-safe: the
 * event stream's thread shows text, the main thread says things.
 */
#ifndef HARK_DICTATE_STATUS_H
#define HARK_DICTATE_STATUS_H

#include <stdbool.h>
#include <stddef.h>

/* The tail of text that fits in width columns (a column per character,
 * UTF-8 aware; control characters shown as spaces), starting with "…" when
 * it was cut, into out (n bytes). Pure. */
void status_fit(const char *text, int width, char *out, size_t n);

/* Start: tty says whether stderr is a terminal; quiet shows no text. */
void status_init(bool tty, bool quiet);

/* Show text as the partial text (nothing when it is the same as shown). */
void status_text(const char *text);

/* Say a message line ("hark: " is prefixed), above the status line. */
void status_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Clear the status line (on a terminal) before the final output. */
void status_end(void);

#endif
