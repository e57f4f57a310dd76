/* sc_tty: TIOCSTI into the caller's terminal (issue 11, item 2).
 *
 * Usage: sc_tty FD. Pushes "x\n" into the input of the terminal open on FD with
 * ioctl(FD, TIOCSTI) (tty_ioctl(4)): when that terminal is the caller's, the bytes
 * are read by the caller's shell as if typed. Also TIOCLINUX (virtual consoles) and
 * what /proc/self/stat says of our controlling terminal and session (proc(5): fields
 * 6 session and 7 tty_nr), and which device FD is (fstat(2): st_dev names the devpts
 * instance, st_rdev the terminal in it), so the test can tell whose terminal we have:
 * the container's own devpts numbers its terminals from 0 as the host's does, so the
 * number alone may be the caller's. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe.h"

int main(int argc, char **argv)
{
    int fd = argc > 1 ? atoi(argv[1]) : 0;
    FILE *f = fopen("/proc/self/stat", "r");
    char buf[1024] = "";
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = 0;
        fclose(f);
    }
    /* After the command name in parentheses: state ppid pgrp session tty_nr. */
    char *p = strrchr(buf, ')');
    int pgrp = 0, session = 0, tty_nr = 0;
    if (p)
        sscanf(p + 1, " %*c %*d %d %d %d", &pgrp, &session, &tty_nr);
    printf("isatty=%d\n", isatty(fd));
    printf("tty_nr=%d\n", tty_nr);
    printf("session=%d\n", session);
    struct stat st;
    if (fstat(fd, &st) == 0)
        printf("fd_dev=%llu\nfd_rdev=%llu\n", (unsigned long long)st.st_dev,
               (unsigned long long)st.st_rdev);
    fflush(stdout);
    char x = 'x', nl = '\n';
    long rc = ioctl(fd, TIOCSTI, &x);
    TRY("tiocsti", rc);
    if (rc == 0)
        ioctl(fd, TIOCSTI, &nl);
    /* TIOCLINUX subcode 6 (TIOCL_GETSHIFTSTATE) reads only; on a non-console tty the
     * kernel answers EINVAL or ENOTTY, the filter EPERM. */
    char sub = 6;
    TRY("tioclinux", ioctl(fd, TIOCLINUX, &sub));
    return 0;
}
