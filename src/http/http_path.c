/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http_path.h"
#include "macros.h"

/* How many times a lookup is retried when openat2() reports that a rename
 * or mount raced with it (EAGAIN); the kernel only says "try again". */
#define OPENAT2_RETRIES 8

/* Whether openat2() is usable; cleared once by http_path_probe_openat2(). */
static bool openat2_works = true;

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int http_path_normalize(const char *raw, size_t raw_len, char *out, size_t out_size, size_t *ret_len) {
        size_t i = 1, o = 1;

        if (raw_len == 0 || raw[0] != '/' || out_size < raw_len + 2)
                return -EINVAL;
        out[0] = '/';

        while (i < raw_len) {
                size_t seg = o;

                while (i < raw_len && raw[i] != '/') {
                        char c = raw[i++];
                        if (c == '%') {
                                int hi = i < raw_len ? unhex(raw[i]) : -1;
                                int lo = i + 1 < raw_len ? unhex(raw[i + 1]) : -1;
                                if (hi < 0 || lo < 0)
                                        return -EINVAL;
                                c = (char) (hi << 4 | lo);
                                i += 2;
                                /* An encoded slash would make one segment
                                 * look like two to whatever sees the
                                 * decoded path, so refuse it outright. */
                                if (c == '/' || c == '\0')
                                        return -EINVAL;
                        }
                        if (c == '\\')
                                return -EINVAL;
                        out[o++] = c;
                }
                bool slash = i < raw_len; /* raw[i] == '/' */
                if (slash)
                        i++;

                size_t n = o - seg;
                if (n == 0)
                        continue; /* "//" is merged */
                if (n == 1 && out[seg] == '.') {
                        o = seg;
                        continue;
                }
                if (n == 2 && out[seg] == '.' && out[seg + 1] == '.') {
                        if (seg == 1)
                                return -EINVAL;
                        /* Drop the previous segment: step over its '/'
                         * and back to the '/' before it. */
                        o = seg - 1;
                        while (out[o - 1] != '/')
                                o--;
                        continue;
                }
                if (slash)
                        out[o++] = '/';
        }

        out[o] = '\0';
        *ret_len = o;
        return 0;
}

bool http_path_has_dotfile(const char *path, size_t len) {
        static const char wk[] = "/.well-known";
        size_t i = 0;

        if (len >= sizeof(wk) - 1 && memcmp(path, wk, sizeof(wk) - 1) == 0 &&
            (len == sizeof(wk) - 1 || path[sizeof(wk) - 1] == '/'))
                i = sizeof(wk) - 1;

        for (; i + 1 < len; i++)
                if (path[i] == '/' && path[i + 1] == '.')
                        return true;
        return false;
}

int http_path_probe_openat2(int root_fd) {
        struct open_how how = {
                .flags = O_PATH | O_CLOEXEC | O_DIRECTORY,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };

        int fd = (int) syscall(SYS_openat2, root_fd, ".", &how, sizeof(how));
        if (fd >= 0) {
                safe_close(fd);
                openat2_works = true;
                return 1;
        }
        /* ENOSYS: kernel < 5.6. EPERM: a seccomp filter that predates
         * openat2 and refuses what it does not know. */
        if (errno == ENOSYS || errno == EPERM) {
                openat2_works = false;
                return 0;
        }
        return -errno;
}

int http_path_open_walk(int root_fd, const char *path, int *ret_fd) {
        const int final_flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW;
        _cleanup_close_ int dir_fd = -EBADF;
        char name[NAME_MAX + 1];
        const char *p = path;

        while (*p == '/')
                p++;
        if (*p == '\0') {
                int fd = openat(root_fd, ".", final_flags | O_DIRECTORY);
                if (fd < 0)
                        return -errno;
                *ret_fd = fd;
                return 0;
        }

        for (;;) {
                const char *slash = strchr(p, '/');
                size_t n = slash ? (size_t) (slash - p) : strlen(p);
                bool last = !slash || slash[1] == '\0';

                if (n > NAME_MAX)
                        return -ENAMETOOLONG;
                memcpy(name, p, n);
                name[n] = '\0';

                /* Intermediate components are opened O_PATH: no read
                 * permission needed, only search, as for a normal lookup. */
                int flags = last ? final_flags | (slash ? O_DIRECTORY : 0)
                                 : O_PATH | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW;
                int fd = openat(dir_fd >= 0 ? dir_fd : root_fd, name, flags);
                if (fd < 0)
                        return -errno;
                safe_close(dir_fd);
                dir_fd = fd;

                if (last)
                        break;
                p = slash + 1;
        }

        *ret_fd = TAKE_FD(dir_fd);
        return 0;
}

int http_path_open(int root_fd, const char *path, bool follow_symlinks, int *ret_fd) {
        if (!openat2_works)
                return http_path_open_walk(root_fd, path, ret_fd);

        const char *rel = path[0] == '/' ? path + 1 : path;
        if (*rel == '\0')
                rel = ".";

        struct open_how how = {
                .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (follow_symlinks ? 0 : RESOLVE_NO_SYMLINKS),
        };

        for (unsigned attempt = 0;; attempt++) {
                int fd = (int) syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
                if (fd >= 0) {
                        *ret_fd = fd;
                        return 0;
                }
                if ((errno == EAGAIN || errno == EINTR) && attempt < OPENAT2_RETRIES)
                        continue;
                return -errno;
        }
}

int http_path_encode(const char *path, size_t len, char *out, size_t size) {
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) path[i];
                bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                             (c != 0 && strchr("-._~!$&'()*+,;=:@/", c));
                if (o + (plain ? 1 : 3) >= size)
                        return -ENOBUFS;
                if (plain)
                        out[o++] = (char) c;
                else {
                        out[o++] = '%';
                        out[o++] = hex[c >> 4];
                        out[o++] = hex[c & 15];
                }
        }
        if (o >= size)
                return -ENOBUFS;
        out[o] = '\0';
        return (int) o;
}
