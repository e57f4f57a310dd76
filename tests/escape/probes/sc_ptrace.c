/* sc_ptrace: the container's command takes hold of its PID 1 (issue 11, item 15).
 *
 * PID 1 is our init: it holds the control socket to the controller on the host.
 * Everything here needs ptrace access to it (ptrace(2), "Ptrace access mode
 * checking"): readlink of /proc/1/fd/N, opening /proc/1/mem, and PTRACE_ATTACH from a
 * child. When the attach works that child keeps PID 1 stopped and outlives the probe
 * (the command): PID 1 can then never report the command's end, and `run` waits for
 * it forever. Prints one `key=ok|ERRNO` line each. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

int main(void)
{
    char target[256];
    TRY("readlink_fd", readlink("/proc/1/fd/0", target, sizeof target));
    int fd = open("/proc/1/mem", O_RDONLY);
    TRY("open_mem", fd);
    if (fd >= 0)
        close(fd);
    /* The tracer is a child that outlives us: while it holds PID 1 stopped, PID 1
     * cannot tell the controller that we, the command, ended. */
    int done[2];
    if (pipe(done) < 0)
        return 1;
    pid_t tracer = fork();
    if (tracer == 0) {
        close(done[0]);
        long rc = ptrace(PTRACE_ATTACH, 1, NULL, NULL);
        TRY("attach", rc);
        if (rc == 0)
            waitpid(1, NULL, __WALL);
        close(done[1]);
        if (rc == 0) {
            /* Keep PID 1 stopped, quietly: our stdout is the caller's pipe. */
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            dup2(null, 2);
            sleep(3600);
        }
        _exit(0);
    }
    close(done[1]);
    char byte;
    while (read(done[0], &byte, 1) > 0) {
    }
    return 0;
}
