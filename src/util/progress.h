/* progress.h - progress on stderr: a bar with percent and ETA on a terminal,
 * plain lines (one per 10%) otherwise, nothing when quiet. */
#ifndef HARK_UTIL_PROGRESS_H
#define HARK_UTIL_PROGRESS_H

#include <stdbool.h>

typedef struct progress {
    char label[96]; /* what is being worked on, e.g. the file name */
    char phase[24]; /* "decoding", "transcribing" */
    bool tty;       /* draw a bar (stderr is a terminal) */
    bool quiet;     /* print nothing */
    double started; /* monotonic seconds when the phase began */
    double last_draw;
    int last_tenth; /* last 10% step printed in line mode */
    int width;      /* characters the bar line used, to clear it */
} progress;

/* Start a phase. tty: draw a bar; quiet: stay silent. */
void progress_begin(progress *p, const char *label, const char *phase, bool tty, bool quiet);

/* Report the fraction done, in [0, 1]. Rate-limited; cheap to call often. */
void progress_update(progress *p, double fraction);

/* End the phase: clear the bar on a terminal. */
void progress_end(progress *p);

#endif
