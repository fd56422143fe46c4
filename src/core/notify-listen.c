/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "macros.h"
#include "notify-listen.h"

static bool line_is(const char *line, size_t len, const char *what) {
        size_t l = strlen(what);
        return len == l && memcmp(line, what, l) == 0;
}

int notify_message_parse(const char *buf, size_t n, NotifyMessage *ret) {
        NotifyMessage m = { .ready = false };
        const char *p = buf, *end = buf + n;

        assert(buf || n == 0);
        assert(ret);

        if (n == 0 || memchr(buf, '\0', n))
                return -EBADMSG;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = (size_t) ((nl ? nl : end) - p);

                /* Empty lines (a trailing newline, "\n\n") are allowed. */
                if (len > 0) {
                        const char *eq = memchr(p, '=', len);

                        if (!eq || eq == p)
                                return -EBADMSG;
                        if (line_is(p, len, "READY=1"))
                                m.ready = true;
                        else if (line_is(p, len, "STOPPING=1"))
                                m.stopping = true;
                        else if (line_is(p, len, "WATCHDOG=1"))
                                m.watchdog = true;
                        else if (line_is(p, len, "WATCHDOG=trigger"))
                                m.watchdog_trigger = true;
                        else if (eq - p == 6 && memcmp(p, "STATUS", 6) == 0) {
                                m.status = eq + 1;
                                m.status_len = len - 7;
                        }
                }
                p += len + 1;
        }
        *ret = m;
        return 0;
}

int notify_listen_open(int *ret_fd, char *ret_address, size_t size) {
        const int one = 1;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t len = sizeof sa;
        _cleanup_close_ int fd = -EBADF;
        size_t name_len;

        assert(ret_fd);
        assert(ret_address);

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        /* Before the bind: no message may arrive without credentials. */
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                return negative_errno();
        /* An address of only the family asks the kernel for an unused
         * abstract name (unix(7), "autobind"). */
        if (bind(fd, (const struct sockaddr *) &sa, sizeof(sa_family_t)) < 0)
                return negative_errno();
        if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return negative_errno();
        if (len <= offsetof(struct sockaddr_un, sun_path) + 1 || sa.sun_path[0] != '\0')
                return -EADDRNOTAVAIL;
        name_len = len - offsetof(struct sockaddr_un, sun_path) - 1;
        /* Autobind names are five hex digits: no NUL inside. */
        if (memchr(sa.sun_path + 1, '\0', name_len) || name_len + 2 > size)
                return -ENAMETOOLONG;
        ret_address[0] = '@';
        memcpy(ret_address + 1, sa.sun_path + 1, name_len);
        ret_address[name_len + 1] = '\0';
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Closes every descriptor that came with a message: a program must not be
 * able to make the master hold its files (systemd does the same unless
 * FDSTORE=1, which this socket does not offer). */
static void close_passed_fds(struct msghdr *mh) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t i = 0; i < n; i++) {
                                int fd;
                                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                                safe_close(fd);
                        }
                }
}

int notify_listen_receive(int fd, char *buf, size_t size, size_t *ret_len, pid_t *ret_pid) {
        assert(buf);
        assert(size > 1);
        assert(ret_len);
        assert(ret_pid);

        for (;;) {
                union {
                        struct cmsghdr cmsg;
                        char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
                } control;
                struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = &control,
                        .msg_controllen = sizeof control,
                };
                const struct ucred *cred = NULL;
                bool had_fds = false;
                ssize_t n;

                n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (n < 0) {
                        if (IN_SET(errno, EAGAIN, EWOULDBLOCK))
                                return 0;
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                            c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                                cred = (const struct ucred *) CMSG_DATA(c);
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                                had_fds = true;
                }
                if (had_fds)
                        close_passed_fds(&mh);
                if (had_fds || !cred || cred->pid <= 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
                        continue;
                buf[n] = '\0';
                *ret_len = (size_t) n;
                *ret_pid = cred->pid;
                return 1;
        }
}
