/* probe.h: what the escape suite's probes (the .c files here) share. Included
 * as #include "probe.h": gcc looks for a quoted include in the directory of the file
 * that includes it first, so both tests/escape/probe.rs and vm/run.sh find it.
 * Include it after the system headers and after _GNU_SOURCE (strerrorname_np). */
#ifndef UNDERHOOD_PROBE_H
#define UNDERHOOD_PROBE_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The errno's name (EPERM, ENOSYS, ...), or "E?" for one glibc has no name for. */
static inline const char *errname(int err)
{
    const char *name = strerrorname_np(err);
    return name ? name : "E?";
}

/* One `key=ok` or `key=ERRNO` line, flushed at once: a probe may be killed next. */
static inline void report(const char *key, long rc, int err)
{
    if (rc >= 0)
        printf("%s=ok\n", key);
    else
        printf("%s=%s\n", key, errname(err));
    fflush(stdout);
}

/* Calls first, reads errno after: argument evaluation order is unspecified. */
#define TRY(key, call)                 \
    do {                               \
        long rc_ = (long)(call);       \
        int err_ = errno;              \
        report((key), rc_, err_);      \
    } while (0)

#endif
