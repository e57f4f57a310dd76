/* iso_reach: reach the host's System V message queue and the host's processes from
 * inside (the IPC and PID lessons say the container cannot; ipc_namespaces(7),
 * pid_namespaces(7)).
 *
 * Usage: iso_reach QUEUE_ID QUEUE_KEY HOST_PID. Prints one line each:
 *   msgctl   msgctl(QUEUE_ID, IPC_STAT): the queue by its id
 *   msgget   msgget(QUEUE_KEY, 0): the queue by its key
 *   kill     kill(HOST_PID, 0): a host process, signal 0 (existence and permission)
 *   proc     access("/proc/HOST_PID"): the host process in /proc
 * `ok` means reached. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include "probe.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: iso_reach QUEUE_ID QUEUE_KEY HOST_PID\n");
        return 2;
    }
    int id = atoi(argv[1]);
    key_t key = (key_t)strtol(argv[2], NULL, 0);
    pid_t pid = (pid_t)atoi(argv[3]);
    char path[64];
    struct msqid_ds ds;
    TRY("msgctl", msgctl(id, IPC_STAT, &ds));
    TRY("msgget", msgget(key, 0));
    TRY("kill", kill(pid, 0));
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    TRY("proc", access(path, F_OK));
    return 0;
}
