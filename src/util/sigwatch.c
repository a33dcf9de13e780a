#include "util/sigwatch.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

int sigwatch_open(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int sigwatch_pending(int fd)
{
    if (fd < 0)
        return 0;
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
        return (int)si.ssi_signo;
    return 0;
}

void sigwatch_close(int fd)
{
    if (fd >= 0)
        close(fd);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}
