/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http_parse.h"
#include "http_path.h"
#include "macros.h"

/* How many times a lookup is retried when openat2() reports that a rename
 * or mount raced with it (EAGAIN); the kernel only says "try again". */
#define OPENAT2_RETRIES 8

/* How a lookup opens what is not known to be a regular file: O_PATH runs
 * no driver's open, does not wait for a FIFO's writer and needs no read
 * permission. openat2() refuses any other flag next to O_PATH but these. */
#define PATH_FLAGS (O_PATH | O_CLOEXEC)

/* How a regular file is opened for reading. O_NONBLOCK: an open for reading
 * waits for the holder of a write lease to give it up (up to
 * lease-break-time, 45 s), which a worker must not; it fails with
 * EWOULDBLOCK instead. */
#define READ_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

/* The most symlinks one lookup follows, as the kernel's MAXSYMLINKS. */
#define MAX_SYMLINKS 40

/* Whether openat2() is usable; cleared once by http_path_probe_openat2(). */
static bool openat2_works = true;

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
                                int hi = i < raw_len ? http_unhex(raw[i]) : -1;
                                int lo = i + 1 < raw_len ? http_unhex(raw[i + 1]) : -1;
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

/* The lookup without openat2(): one component at a time, each opened
 * O_NOFOLLOW below the previous one, so that no symlink is followed at all
 * and, as no component is "..", nothing above root_fd is reached.
 * Intermediate components are opened O_PATH: they need search permission
 * only, as in a normal lookup. With O_PATH, a final symlink is opened as
 * itself rather than refused: the caller's fstat() sees it. */
static int walk(int root_fd, const char *path, int final_flags, int *ret_fd) {
        _cleanup_close_ int dir_fd = -EBADF;
        char name[NAME_MAX + 1];
        const char *p = path;

        final_flags |= O_NOFOLLOW;
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

static bool use_walk(HttpPathFlags flags) {
        return !openat2_works || (flags & HTTP_PATH_NO_OPENAT2);
}

/* Looks path up below root_fd and opens it with open_flags (PATH_FLAGS or
 * READ_FLAGS), by openat2() or by the walk. */
static int lookup(int root_fd, const char *path, HttpPathFlags flags, int open_flags, int *ret_fd) {
        if (use_walk(flags))
                return walk(root_fd, path, open_flags, ret_fd);

        const char *rel = path[0] == '/' ? path + 1 : path;
        if (*rel == '\0')
                rel = ".";

        struct open_how how = {
                .flags = (uint64_t) open_flags,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                           (flags & HTTP_PATH_FOLLOW_SYMLINKS ? 0 : RESOLVE_NO_SYMLINKS),
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

/* A lookup that follows symlinks itself, for when the path they lead to
 * must be known (the dotfiles rule): one component at a time, each opened
 * O_PATH | O_NOFOLLOW below the previous one. A symlink's target takes its
 * place in the components still to go. A ".." drops the last component of
 * the resolved path (which holds no symlink, so this is where the kernel's
 * ".." would lead too) and the walk goes down that path again from the
 * root: no ".." is ever looked up, and nothing above root_fd is reached.
 * Fails as openat2() with RESOLVE_BENEATH does: -EXDEV for an absolute
 * target or a ".." above the root, -ELOOP after MAX_SYMLINKS symlinks.
 *
 * Returns the O_PATH fd and, in resolved, the path it was found at: what is
 * actually opened, with no symlink and no dot-segment in it. */
static int chase(int root_fd, const char *path, char resolved[static PATH_MAX], int *ret_fd) {
        _cleanup_close_ int dir_fd = -EBADF; /* the directory at resolved; -EBADF: the root */
        char todo[PATH_MAX], target[PATH_MAX], name[NAME_MAX + 1];
        size_t len = 0, todo_len = strlen(path);
        unsigned links = 0;
        int r;

        if (todo_len >= sizeof(todo))
                return -ENAMETOOLONG;
        memcpy(todo, path, todo_len + 1);
        resolved[0] = '\0';

        for (const char *p = todo;;) {
                while (*p == '/')
                        p++;
                if (*p == '\0')
                        break;
                const char *end = strchrnul(p, '/');
                size_t n = (size_t) (end - p);

                if (n == 1 && p[0] == '.') {
                        p = end;
                        continue;
                }
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        if (len == 0)
                                return -EXDEV;
                        while (resolved[--len] != '/')
                                ;
                        resolved[len] = '\0';
                        dir_fd = safe_close(dir_fd);
                        if (len > 0) {
                                /* O_NOFOLLOW: a component swapped for a
                                 * symlink meanwhile fails the lookup. */
                                r = walk(root_fd, resolved, PATH_FLAGS | O_DIRECTORY, &dir_fd);
                                if (r < 0)
                                        return r;
                        }
                        p = end;
                        continue;
                }
                if (n > NAME_MAX)
                        return -ENAMETOOLONG;
                memcpy(name, p, n);
                name[n] = '\0';

                _cleanup_close_ int fd = openat(dir_fd >= 0 ? dir_fd : root_fd, name, PATH_FLAGS | O_NOFOLLOW);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0)
                        return -errno;

                if (S_ISLNK(st.st_mode)) {
                        if (++links > MAX_SYMLINKS)
                                return -ELOOP;
                        ssize_t k = readlinkat(fd, "", target, sizeof(target));
                        if (k < 0)
                                return -errno;
                        if (k == 0)
                                return -ENOENT;
                        if ((size_t) k >= sizeof(target))
                                return -ENAMETOOLONG;
                        if (target[0] == '/')
                                return -EXDEV;
                        size_t rest = strlen(end);
                        if ((size_t) k + rest >= sizeof(todo))
                                return -ENAMETOOLONG;
                        memmove(todo + k, end, rest + 1);
                        memcpy(todo, target, (size_t) k);
                        p = todo;
                        continue;
                }
                /* A name followed by '/' (more to go, or a trailing slash)
                 * must be a directory, as for the kernel. */
                if (*end == '/' && !S_ISDIR(st.st_mode))
                        return -ENOTDIR;
                if (len + 1 + n >= PATH_MAX)
                        return -ENAMETOOLONG;
                resolved[len++] = '/';
                memcpy(resolved + len, name, n + 1);
                len += n;
                safe_close(dir_fd);
                dir_fd = TAKE_FD(fd);
                p = end;
        }

        if (len == 0) {
                memcpy(resolved, "/", 2);
                int fd = openat(root_fd, ".", PATH_FLAGS | O_DIRECTORY);
                if (fd < 0)
                        return -errno;
                *ret_fd = fd;
                return 0;
        }
        *ret_fd = TAKE_FD(dir_fd);
        return 0;
}

/* Opens the file at path for reading, by the same lookup as an O_PATH one,
 * once a look at it found a regular file there. A rename may have put
 * something else there since: the open is O_NONBLOCK, so a FIFO's does not
 * wait, and what is not a regular file is closed again and refused. A
 * different regular file is fine: it is below the root, at a path that
 * passed every check, as after an atomic rename that deploys a new
 * version of the file. */
static int open_regular(int root_fd, const char *path, HttpPathFlags flags, int *ret_fd, struct stat *ret_st) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = lookup(root_fd, path, flags, READ_FLAGS, &fd);
        if (r < 0)
                return r;
        if (fstat(fd, ret_st) < 0)
                return -errno;
        if (!S_ISREG(ret_st->st_mode))
                return -EAGAIN;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Whether path looks like a regular file to fstatat(), which follows
 * symlinks as the lookup with flags will (the walk follows none). This
 * look is not held below the root, but it only reads metadata and only
 * decides how the path is opened next: every open is held below the root,
 * and whatever it says, the open's own result decides. */
static bool looks_regular(int root_fd, const char *path, HttpPathFlags flags) {
        const bool follow = (flags & HTTP_PATH_FOLLOW_SYMLINKS) && !use_walk(flags);
        const char *rel = path[0] == '/' ? path + 1 : path;
        struct stat st;

        return *rel != '\0' &&
               fstatat(root_fd, rel, &st, AT_NO_AUTOMOUNT | (follow ? 0 : AT_SYMLINK_NOFOLLOW)) >= 0 &&
               S_ISREG(st.st_mode);
}

/* Takes the O_PATH fd that a lookup of path returned: a directory is kept
 * as it is, a regular file is opened for reading, anything else refused
 * without having been opened. */
static int open_by_type(int root_fd, const char *path, HttpPathFlags flags, int path_fd, int *ret_fd,
                        struct stat *ret_st) {
        _cleanup_close_ int fd = path_fd;
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode)) {
                *ret_fd = TAKE_FD(fd);
                *ret_st = st;
                return 0;
        }
        if (S_ISLNK(st.st_mode))
                return -ELOOP; /* the walk's final component, opened as itself */
        if (!S_ISREG(st.st_mode))
                return -ENXIO;
        return open_regular(root_fd, path, flags, ret_fd, ret_st);
}

static int dotfile_error(HttpPathFlags flags) {
        return flags & HTTP_PATH_HIDE_DOTFILES ? -ENOENT : -EACCES;
}

int http_path_open(int root_fd, const char *path, HttpPathFlags flags, int *ret_fd, struct stat *ret_st) {
        const bool dotfiles_refused = flags & (HTTP_PATH_DENY_DOTFILES | HTTP_PATH_HIDE_DOTFILES);
        char resolved[PATH_MAX];
        int fd = -EBADF, r;

        if (dotfiles_refused && http_path_has_dotfile(path, strlen(path)))
                return dotfile_error(flags);

        /* Symlinks may lead to a dotfile under another name, so under the
         * rule it must hold for the path they lead to, which only a lookup
         * that follows them itself knows (chase()). Most paths hold none:
         * they are looked up without following any first, and are then
         * the path asked for. The walk follows none anyway. */
        const bool chase_symlinks = dotfiles_refused && (flags & HTTP_PATH_FOLLOW_SYMLINKS) && !use_walk(flags);
        if (chase_symlinks)
                flags &= ~HTTP_PATH_FOLLOW_SYMLINKS;

        /* A regular file, the common case, is opened for reading at once:
         * a look at its type costs less than an O_PATH lookup. */
        if (looks_regular(root_fd, path, flags)) {
                r = open_regular(root_fd, path, flags, ret_fd, ret_st);
        } else {
                r = lookup(root_fd, path, flags, PATH_FLAGS, &fd);
                if (r >= 0)
                        return open_by_type(root_fd, path, flags, fd, ret_fd, ret_st);
        }
        if (r != -ELOOP || !chase_symlinks)
                return r;

        r = chase(root_fd, path, resolved, &fd);
        if (r < 0)
                return r;
        if (http_path_has_dotfile(resolved, strlen(resolved))) {
                safe_close(fd);
                return dotfile_error(flags);
        }
        /* The resolved path holds no symlink: a regular file is opened for
         * reading along it, without following any. */
        return open_by_type(root_fd, resolved, flags, fd, ret_fd, ret_st);
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
