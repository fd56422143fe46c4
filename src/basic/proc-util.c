/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "macros.h"
#include "proc-util.h"

int proc_parse_private_memory(const char *text, uint64_t *ret) {
        static const char *const keys[] = { "Private_Clean:", "Private_Dirty:" };
        uint64_t total = 0;

        assert(text);
        assert(ret);

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *p = text;
                unsigned long long kb;
                char *end;

                /* Each key at the start of a line. */
                for (;;) {
                        p = strstr(p, keys[i]);
                        if (!p)
                                return -EBADMSG;
                        if (p == text || p[-1] == '\n')
                                break;
                        p++;
                }
                p += strlen(keys[i]);
                errno = 0;
                kb = strtoull(p, &end, 10);
                if (errno != 0 || end == p || strncmp(end + strspn(end, " "), "kB", 2) != 0 ||
                    kb > UINT64_MAX / 1024 - total / 1024)
                        return -EBADMSG;
                total += (uint64_t) kb * 1024;
        }
        *ret = total;
        return 0;
}

int proc_private_memory(pid_t pid, uint64_t *ret) {
        char path[64], buf[4096];
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0;

        assert(pid > 0);
        assert(ret);

        (void) snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        /* A few hundred bytes; read to the end all the same. */
        for (;;) {
                ssize_t k = read(fd, buf + n, sizeof buf - 1 - n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0 || (n += (size_t) k) == sizeof buf - 1)
                        break;
        }
        buf[n] = 0;
        return proc_parse_private_memory(buf, ret);
}
