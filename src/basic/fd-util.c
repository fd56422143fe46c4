/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "macros.h"

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return (x > y) - (x < y);
}

static bool fd_in(int fd, const int *keep, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (keep[i] == fd)
                        return true;
        return false;
}

/* Without close_range() (kernels before 5.9, or a seccomp filter that
 * refuses it): walk /proc/self/fd. The directory's own fd is skipped and
 * closed last. */
static int close_all_fds_by_proc(const int *keep, size_t n) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;

        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                char *end;
                long fd = strtol(de->d_name, &end, 10);

                if (*end || end == de->d_name || fd < 3 || fd == dirfd(d) || fd_in((int) fd, keep, n))
                        continue;
                (void) close((int) fd);
        }
        (void) closedir(d);
        return 0;
}

int close_all_fds_except(const int *keep, size_t n) {
        int sorted[64];
        size_t m = 0;
        unsigned from = 0;

        /* The keep-list of a worker is its listeners and a few fds more;
         * a longer one takes the slower path instead of allocating. */
        if (n > ELEMENTSOF(sorted))
                return close_all_fds_by_proc(keep, n);
        for (size_t i = 0; i < n; i++)
                if (keep[i] >= 0)
                        sorted[m++] = keep[i];
        qsort(sorted, m, sizeof(int), cmp_int);

        for (size_t i = 0; i <= m; i++) {
                unsigned to = i < m ? (unsigned) sorted[i] : UINT_MAX;

                if (to > from && syscall(SYS_close_range, from, to - 1, 0) < 0)
                        return close_all_fds_by_proc(keep, n);
                if (i < m)
                        from = (unsigned) sorted[i] + 1;
        }
        return 0;
}

int rlimit_nofile_raise(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return negative_errno();
        if (rl.rlim_cur == rl.rlim_max)
                return 0;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                return negative_errno();
        return 1;
}

int fd_read_all(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, alloc = 0;

        for (;;) {
                ssize_t n;

                if (alloc - size < 4096) {
                        char *b;

                        if (alloc > max)
                                return -EFBIG;
                        alloc = alloc * 2 + 8192;
                        b = realloc(buf, alloc + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                n = pread(fd, buf + size, alloc - size, (off_t) size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max)
                        return -EFBIG;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int memfd_new_with_data(const char *name, const void *data, size_t size, bool cloexec, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        size_t done = 0;

        fd = memfd_create(name, cloexec ? MFD_CLOEXEC : 0);
        if (fd < 0)
                return negative_errno();
        while (done < size) {
                ssize_t n = write(fd, (const char *) data + done, size - done);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                done += (size_t) n;
        }
        if (lseek(fd, 0, SEEK_SET) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int fd_set_cloexec(int fd, bool cloexec) {
        int fl = fcntl(fd, F_GETFD);

        if (fl < 0)
                return negative_errno();
        if (fcntl(fd, F_SETFD, cloexec ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC) < 0)
                return negative_errno();
        return 0;
}
