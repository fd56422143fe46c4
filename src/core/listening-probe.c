/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "listening-probe.h"
#include "macros.h"

static bool inode_in(unsigned long long ino, const ino_t *inodes, size_t n) {
        for (size_t i = 0; i < n; i++)
                if ((unsigned long long) inodes[i] == ino)
                        return true;
        return false;
}

/* The inode of the socket that fd of pid is, or 0. */
static unsigned long long fd_socket_inode(pid_t pid, long fd) {
        char path[64], target[64];
        unsigned long long ino;
        ssize_t l;

        (void) snprintf(path, sizeof path, "/proc/%d/fd/%ld", (int) pid, fd);
        l = readlink(path, target, sizeof target - 1);
        if (l < 0)
                return 0;
        target[l] = '\0';
        return sscanf(target, "socket:[%llu]", &ino) == 1 ? ino : 0;
}

/* Whether a thread of pid is blocked in accept on one of the sockets. */
static bool blocked_in_accept(pid_t pid, const ino_t *inodes, size_t n) {
        char path[64];
        DIR *d;
        bool found = false;

        (void) snprintf(path, sizeof path, "/proc/%d/task", (int) pid);
        d = opendir(path);
        if (!d)
                return false;
        for (struct dirent *de; !found && (de = readdir(d));) {
                char sc[320], line[256];
                unsigned long fd;
                long nr;
                FILE *f;

                if (de->d_name[0] == '.')
                        continue;
                (void) snprintf(sc, sizeof sc, "/proc/%d/task/%s/syscall", (int) pid, de->d_name);
                f = fopen(sc, "re");
                if (!f)
                        continue;
                if (fgets(line, sizeof line, f) && sscanf(line, "%ld %lx", &nr, &fd) == 2 &&
                    (nr == SYS_accept4
#ifdef SYS_accept
                     || nr == SYS_accept
#endif
                     ))
                        found = fd <= INT32_MAX && inode_in(fd_socket_inode(pid, (long) fd), inodes, n);
                fclose(f);
        }
        closedir(d);
        return found;
}

/* Whether an epoll set of pid watches one of the sockets. */
static bool watched_by_epoll(pid_t pid, const ino_t *inodes, size_t n) {
        char path[64];
        DIR *d;
        bool found = false;

        (void) snprintf(path, sizeof path, "/proc/%d/fd", (int) pid);
        d = opendir(path);
        if (!d)
                return false;
        for (struct dirent *de; !found && (de = readdir(d));) {
                char link[320], target[64], info[320], line[256];
                ssize_t l;
                FILE *f;

                if (de->d_name[0] == '.')
                        continue;
                (void) snprintf(link, sizeof link, "/proc/%d/fd/%s", (int) pid, de->d_name);
                l = readlink(link, target, sizeof target - 1);
                if (l < 0)
                        continue;
                target[l] = '\0';
                if (strcmp(target, "anon_inode:[eventpoll]") != 0)
                        continue;
                (void) snprintf(info, sizeof info, "/proc/%d/fdinfo/%s", (int) pid, de->d_name);
                f = fopen(info, "re");
                if (!f)
                        continue;
                while (!found && fgets(line, sizeof line, f)) {
                        const char *ino = strncmp(line, "tfd:", 4) == 0 ? strstr(line, " ino:") : NULL;
                        unsigned long long v;

                        if (ino && sscanf(ino, " ino:%llx", &v) == 1)
                                found = inode_in(v, inodes, n);
                }
                fclose(f);
        }
        closedir(d);
        return found;
}

/* The process group of pid from /proc/PID/stat, or -1. The command name
 * in parentheses may hold anything, so parsing starts after its last ')'. */
static pid_t proc_pgid(const char *pid) {
        char path[64], buf[512];
        const char *p;
        int pgrp, ppid;
        char state;
        ssize_t l;
        int fd;

        (void) snprintf(path, sizeof path, "/proc/%s/stat", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        l = read(fd, buf, sizeof buf - 1);
        safe_close(fd);
        if (l <= 0)
                return -1;
        buf[l] = '\0';
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) != 3)
                return -1;
        return state == 'Z' ? -1 : (pid_t) pgrp;
}

int listening_probe(pid_t pgid, const ino_t *inodes, size_t n) {
        DIR *d;
        int r = 0;

        assert(pgid > 0);
        assert(inodes || n == 0);

        d = opendir("/proc");
        if (!d)
                return negative_errno();
        for (struct dirent *de; r == 0 && (de = readdir(d));) {
                char *end;
                long v = strtol(de->d_name, &end, 10);

                if (*end || v <= 0 || proc_pgid(de->d_name) != pgid)
                        continue;
                if (blocked_in_accept((pid_t) v, inodes, n) || watched_by_epoll((pid_t) v, inodes, n))
                        r = 1;
        }
        closedir(d);
        return r;
}
