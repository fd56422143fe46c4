/* SPDX-License-Identifier: MIT */
#pragma once

/* What the regression suites (test-regressions*.c) read about the daemon's
 * processes from /proc, and a way to run the daemon through the test
 * binary itself, for what td_start() cannot set up: the test executable,
 * started as PREFORKD_BINARY with WRAPPER_ARG first, prepares the process
 * (a credential change, sockets passed the systemd way) and then executes
 * the real daemon in place. */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"

/* What an fd of a daemon process is, as far as the tests care. */
typedef enum FdKind {
        FD_DEVNULL,
        FD_EPOLL,
        FD_TCP_LISTEN,     /* a listening TCP socket (IPv4 or IPv6) */
        FD_UNIX_SEQPACKET, /* an AF_UNIX SOCK_SEQPACKET socket */
        FD_OTHER,          /* anything else: target says what */
} FdKind;

typedef struct ProcFd {
        int fd;
        FdKind kind;
        char target[128];  /* readlink() of /proc/PID/fd/FD */
        unsigned long inode;
        uint16_t port;     /* FD_TCP_LISTEN: the local port */
        unsigned flags;    /* the "flags:" of /proc/PID/fdinfo/FD (octal there) */
} ProcFd;

static inline char *read_text_file(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char *s = NULL;

        if (fd < 0 || td_read_all(fd, 16u << 20, TD_TIMEOUT, &s, NULL) < 0)
                return NULL;
        return s;
}

/* The local port of the listening TCP socket with this inode (from
 * /proc/net/tcp and tcp6, state 0A), or 0 if there is none. */
static inline uint16_t tcp_listen_port_of_inode(unsigned long inode) {
        static const char *const tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };

        for (size_t t = 0; t < ELEMENTSOF(tables); t++) {
                _cleanup_free_ char *all = read_text_file(tables[t]);
                char *line, *save = NULL;

                if (!all)
                        continue;
                /* "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode" */
                for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                        char local[64];
                        unsigned st, port;
                        unsigned long ino;
                        char *colon;

                        if (sscanf(line, " %*u: %63s %*s %x %*s %*s %*s %*u %*u %lu", local, &st, &ino) != 3)
                                continue;
                        colon = strrchr(local, ':');
                        if (st != 0x0A || ino != inode || !colon || sscanf(colon + 1, "%x", &port) != 1)
                                continue;
                        return (uint16_t) port;
                }
        }
        return 0;
}

/* True if the AF_UNIX socket with this inode is SOCK_SEQPACKET (type 0005
 * in /proc/net/unix). */
static inline bool unix_inode_is_seqpacket(unsigned long inode) {
        _cleanup_free_ char *all = read_text_file("/proc/net/unix");
        char *line, *save = NULL;

        if (!all)
                return false;
        /* "Num RefCount Protocol Flags Type St Inode Path" */
        for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                unsigned type;
                unsigned long ino;

                if (sscanf(line, "%*s %*x %*x %*x %x %*x %lu", &type, &ino) == 2 && ino == inode)
                        return type == 5;
        }
        return false;
}

/* Every fd of pid, classified, in ascending order. Returns the number of
 * entries (*ret is malloc'ed) or a negative errno. */
static inline int proc_fds(pid_t pid, ProcFd **ret) {
        _cleanup_free_ ProcFd *l = NULL;
        char path[64];
        size_t n = 0;

        for (int fd = 0; fd < 4096; fd++) {
                char target[128], info_path[80];
                _cleanup_free_ char *info = NULL;
                const char *fl;
                ProcFd *e;
                ssize_t k;

                snprintf(path, sizeof path, "/proc/%d/fd/%d", (int) pid, fd);
                k = readlink(path, target, sizeof target - 1);
                if (k < 0) {
                        if (errno == ENOENT)
                                continue;
                        return -errno;
                }
                target[k] = 0;
                e = realloc(l, (n + 1) * sizeof *l);
                if (!e)
                        return -ENOMEM;
                l = e;
                e = &l[n++];
                *e = (ProcFd) { .fd = fd, .kind = FD_OTHER };
                strcpy(e->target, target);
                snprintf(info_path, sizeof info_path, "/proc/%d/fdinfo/%d", (int) pid, fd);
                info = read_text_file(info_path);
                fl = info ? strstr(info, "flags:") : NULL;
                if (!fl || sscanf(fl, "flags: %o", &e->flags) != 1)
                        return -EIO;

                if (strcmp(target, "/dev/null") == 0)
                        e->kind = FD_DEVNULL;
                else if (strcmp(target, "anon_inode:[eventpoll]") == 0)
                        e->kind = FD_EPOLL;
                else if (sscanf(target, "socket:[%lu]", &e->inode) == 1) {
                        e->port = tcp_listen_port_of_inode(e->inode);
                        if (e->port > 0)
                                e->kind = FD_TCP_LISTEN;
                        else if (unix_inode_is_seqpacket(e->inode))
                                e->kind = FD_UNIX_SEQPACKET;
                }
        }
        *ret = TAKE_PTR(l);
        return (int) n;
}

static inline size_t count_kind(const ProcFd *l, int n, FdKind kind) {
        size_t c = 0;

        for (int i = 0; i < n; i++)
                c += l[i].kind == kind;
        return c;
}

/* The fd of pid's only AF_UNIX SOCK_SEQPACKET socket (a worker's end of the
 * readiness socket), -ENOENT if it has none, -ENOTUNIQ if several. */
static inline int readiness_fd_of(pid_t pid) {
        _cleanup_free_ ProcFd *l = NULL;
        int n = proc_fds(pid, &l), found = -ENOENT;

        for (int i = 0; i < n; i++)
                if (l[i].kind == FD_UNIX_SEQPACKET) {
                        if (found >= 0)
                                return -ENOTUNIQ;
                        found = l[i].fd;
                }
        return n < 0 ? n : found;
}

/* The one-letter state of /proc/PID/stat ('R', 'S', 'T', ...), 0 if the
 * process is gone. */
static inline char proc_state(pid_t pid) {
        _cleanup_free_ char *stat = NULL;
        char path[64], *p;

        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        stat = read_text_file(path);
        p = stat ? strrchr(stat, ')') : NULL;
        return p && p[1] == ' ' ? p[2] : 0;
}

/* Waits until pid is in state want. */
static inline int wait_proc_state(pid_t pid, char want, uint64_t timeout) {
        for (uint64_t deadline = td_now() + timeout;; td_sleep(TD_MSEC(2))) {
                char s = proc_state(pid);

                if (s == want)
                        return 0;
                if (s == 0)
                        return -ESRCH;
                if (td_now() >= deadline)
                        return -ETIMEDOUT;
        }
}

/* ---- the wrapper ---- */

#define WRAPPER_ARG "--regress-exec-daemon"

/* Starts the daemon as "TEST_BINARY WRAPPER_ARG mode DAEMON -c CONFIG"
 * through td_start(): the test's main() hands such an invocation to the
 * suite's wrapper, which prepares the process for mode and executes
 * DAEMON in place, so that the daemon keeps the pid td_start() knows and
 * everything else td_start() arranges (output capture, notify socket,
 * process group, cleanup). */
static inline int td_start_wrapped(TestDaemon *d, const char *mode) {
        char self[4096];
        _cleanup_free_ char *daemon = strdup(td_binary());
        const char *args[] = { WRAPPER_ARG, mode, daemon, "-c", td_config_path(d), NULL };
        TdStartOptions opts = { .args = args };
        ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
        int r;

        if (!daemon)
                return -ENOMEM;
        if (k < 0)
                return -errno;
        self[k] = 0;
        if (setenv("PREFORKD_BINARY", self, 1) < 0)
                return -errno;
        r = td_start(d, &opts);
        if (setenv("PREFORKD_BINARY", daemon, 1) < 0 && r >= 0)
                r = -errno;
        return r;
}

/* In the wrapper: says why it gives up, on the daemon's captured stderr. */
_noreturn_ static inline void wrapper_fail(const char *what) {
        fprintf(stderr, "regress wrapper: %s: %s\n", what, strerror(errno));
        _exit(127);
}

/* First thing in main(): when the test binary was started as the wrapper
 * ("TEST WRAPPER_ARG MODE DAEMON ARGS..."), runs the suite's wrapper for
 * mode, which executes the daemon and does not return. */
static inline void wrapper_main(int argc, char *argv[], const char *mode, void (*run)(char **daemon_argv)) {
        if (argc <= 3 || strcmp(argv[1], WRAPPER_ARG) != 0)
                return;
        if (strcmp(argv[2], mode) != 0) {
                errno = EINVAL;
                wrapper_fail(argv[2]);
        }
        run(argv + 3);
        wrapper_fail("the wrapper returned");
}
