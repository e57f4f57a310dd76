/* fs_try: the filesystem probes of the escape suite (tests/escape/fs.rs).
 *
 *   fs_try open-w PATH          open(O_WRONLY|O_APPEND), close: never writes a byte
 *   fs_try open-r PATH          open(O_RDONLY), close
 *   fs_try access-w PATH        access(W_OK): EROFS on a read-only mount, changes nothing
 *   fs_try mknod PATH c|b MAJ MIN   mknod(2) mode 0666
 *   fs_try copy-suid SRC DST    copies SRC to DST and makes it setuid (chmod 4755)
 *   fs_try euid                 prints the effective uid (run as a setuid copy)
 *   fs_try rdonly PATH          whether the mount holding PATH is read-only (statvfs
 *                               ST_RDONLY): `rdonly PATH yes|no|absent`
 *   fs_try masked PATH          how PATH looks: absent, null (the /dev/null character
 *                               device reading empty), empty-ro-dir (an empty read-only
 *                               directory), or open (something readable: not masked)
 *
 * Each prints one line: `OP PATH ok`, `OP PATH refused ERRNONAME`, or for `masked`
 * `masked PATH WHAT`. Exit status 0 unless the arguments are wrong.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "probe.h"

static int result(const char *op, const char *path, int ok) {
    if (ok)
        printf("%s %s ok\n", op, path);
    else
        printf("%s %s refused %s\n", op, path, errname(errno));
    return 0;
}

static int copy_suid(const char *src, const char *dst) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return result("copy-suid", dst, 0);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (out < 0)
        return result("copy-suid", dst, 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, n) != n)
            return result("copy-suid", dst, 0);
    close(in);
    if (close(out) < 0 || n < 0)
        return result("copy-suid", dst, 0);
    return result("copy-suid", dst, chmod(dst, 04755) == 0);
}

static int masked(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) {
        printf("masked %s %s\n", path, errno == ENOENT ? "absent" : errname(errno));
        return 0;
    }
    if (S_ISCHR(st.st_mode)) {
        char c;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, &c, 1);
        int null = major(st.st_rdev) == 1 && minor(st.st_rdev) == 3;
        printf("masked %s %s\n", path, null && n == 0 ? "null" : "open");
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        struct statvfs vfs;
        DIR *d = opendir(path);
        int entries = 0;
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                entries++;
        if (d)
            closedir(d);
        int ro = statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
        printf("masked %s %s\n", path, d && entries == 0 && ro ? "empty-ro-dir" : "open");
        return 0;
    }
    printf("masked %s open\n", path);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "euid")) {
        printf("euid %d\n", (int)geteuid());
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "open-w")) {
        int fd = open(argv[2], O_WRONLY | O_APPEND | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0)
            close(fd);
        return result(argv[1], argv[2], fd >= 0);
    }
    if (argc == 3 && !strcmp(argv[1], "open-r")) {
        int fd = open(argv[2], O_RDONLY | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0)
            close(fd);
        return result(argv[1], argv[2], fd >= 0);
    }
    if (argc == 3 && !strcmp(argv[1], "access-w"))
        return result(argv[1], argv[2], access(argv[2], W_OK) == 0);
    if (argc == 3 && !strcmp(argv[1], "rdonly")) {
        struct statvfs vfs;
        if (statvfs(argv[2], &vfs) < 0)
            printf("rdonly %s %s\n", argv[2], errno == ENOENT ? "absent" : errname(errno));
        else
            printf("rdonly %s %s\n", argv[2], (vfs.f_flag & ST_RDONLY) ? "yes" : "no");
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "masked"))
        return masked(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "copy-suid"))
        return copy_suid(argv[2], argv[3]);
    if (argc == 6 && !strcmp(argv[1], "mknod")) {
        mode_t type = !strcmp(argv[3], "b") ? S_IFBLK : S_IFCHR;
        dev_t dev = makedev(atoi(argv[4]), atoi(argv[5]));
        return result(argv[1], argv[2], mknod(argv[2], type | 0666, dev) == 0);
    }
    fprintf(stderr, "usage: see the comment at the top of fs_try.c\n");
    return 2;
}
