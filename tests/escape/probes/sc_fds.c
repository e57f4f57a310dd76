/* sc_fds: the file descriptors the container's command was started with (issue 11,
 * item 3). Prints `fd N -> TARGET` for each open descriptor below 1024, found with
 * fcntl(F_GETFD) before this program opens anything itself, then `fds=0,1,2,...`. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    int open_fds[1024], n = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            open_fds[n++] = fd;
    char list[8192] = "";
    for (int i = 0; i < n; i++) {
        char link[64], target[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", open_fds[i]);
        ssize_t len = readlink(link, target, sizeof target - 1);
        target[len > 0 ? len : 0] = 0;
        printf("fd %d -> %s\n", open_fds[i], target);
        char num[16];
        snprintf(num, sizeof num, "%s%d", i ? "," : "", open_fds[i]);
        strncat(list, num, sizeof list - strlen(list) - 1);
    }
    printf("fds=%s\n", list);
    return 0;
}
