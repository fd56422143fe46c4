/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "macros.h"
#include "readiness.h"

typedef struct ReadinessMessage {
        uint32_t magic;
        uint32_t generation;
        uint32_t slot;
} ReadinessMessage;

#define READINESS_MAGIC UINT32_C(0x70666b72) /* "pfkr" */

int readiness_open(int *ret_master_fd, int *ret_worker_fd) {
        const int one = 1;
        int fds[2];

        assert(ret_master_fd);
        assert(ret_worker_fd);

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
                return negative_errno();
        /* SO_PASSCRED before any worker exists, so that every message
         * already carries its sender's credentials. */
        if (setsockopt(fds[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 ||
            fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(fds[1], F_SETFL, O_NONBLOCK) < 0) {
                int r = negative_errno();
                safe_close(fds[0]);
                safe_close(fds[1]);
                return r;
        }
        *ret_master_fd = fds[0];
        *ret_worker_fd = fds[1];
        return 0;
}

int readiness_receive(int fd, ReadinessReport *ret) {
        assert(ret);

        for (;;) {
                ReadinessMessage msg;
                union {
                        struct cmsghdr cmsg;
                        char buf[CMSG_SPACE(sizeof(struct ucred))];
                } control;
                struct iovec iov = { .iov_base = &msg, .iov_len = sizeof msg };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = &control,
                        .msg_controllen = sizeof control,
                };
                const struct ucred *cred = NULL;
                ssize_t n;

                n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (n < 0) {
                        if (IN_SET(errno, EAGAIN, EWOULDBLOCK))
                                return 0;
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                            c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                                cred = (const struct ucred *) CMSG_DATA(c);
                if (n != (ssize_t) sizeof msg || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !cred ||
                    msg.magic != READINESS_MAGIC)
                        continue;
                *ret = (ReadinessReport) { .pid = cred->pid, .generation = msg.generation, .slot = msg.slot };
                return 1;
        }
}

int readiness_send(int fd, unsigned generation, unsigned slot) {
        ReadinessMessage msg = { .magic = READINESS_MAGIC, .generation = generation, .slot = slot };

        /* Ten tries a tenth of a second apart: a master that cannot take
         * a report for a second is busy, and the worker serves anyway (the
         * worst outcome is a reload that times out). */
        for (unsigned i = 0; i < 10; i++) {
                struct pollfd p = { .fd = fd, .events = POLLOUT };

                if (send(fd, &msg, sizeof msg, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t) sizeof msg)
                        return 0;
                if (!IN_SET(errno, EAGAIN, EWOULDBLOCK, EINTR))
                        return negative_errno();
                (void) poll(&p, 1, 100);
        }
        return -EAGAIN;
}
