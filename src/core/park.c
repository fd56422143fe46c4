/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include "macros.h"
#include "park.h"

int park_socketpair(int ret_fds[2]) {
        int fds[2];

        assert(ret_fds);

        struct timeval tv = {
                .tv_sec = PARK_SEND_TIMEOUT_USEC / USEC_PER_SEC,
                .tv_usec = PARK_SEND_TIMEOUT_USEC % USEC_PER_SEC,
        };

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
                return negative_errno();
        if (setsockopt(fds[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
                int r = negative_errno();
                safe_close(fds[0]);
                safe_close(fds[1]);
                return r;
        }
        ret_fds[0] = fds[0];
        ret_fds[1] = fds[1];
        return 0;
}

int park_send(int channel, int fd, int file_fd, const ParkState *st, const void *bytes, size_t n, bool wait) {
        int fds[2] = { fd, file_fd };
        size_t n_fds = st->kind == PARK_SENDING ? 2 : 1;
        union {
                struct cmsghdr cmsg;
                char buf[CMSG_SPACE(2 * sizeof(int))];
        } control = { 0 };
        ParkState hdr = *st;
        struct iovec iov[2] = {
                { .iov_base = &hdr, .iov_len = sizeof hdr },
                { .iov_base = (void *) bytes, .iov_len = n },
        };
        struct msghdr mh = {
                .msg_iov = iov,
                .msg_iovlen = n > 0 ? 2 : 1,
                .msg_control = &control,
                .msg_controllen = CMSG_SPACE(n_fds * sizeof(int)),
        };
        struct cmsghdr *c;

        assert(st);
        if (n > PARK_BYTES_MAX)
                return -EMSGSIZE;
        if (st->kind == PARK_SENDING && file_fd < 0)
                return -EBADF;
        hdr.magic = PARK_MAGIC;
        hdr.version = PARK_VERSION;
        hdr.n_bytes = (uint32_t) n;

        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));

        for (;;) {
                if (sendmsg(channel, &mh, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT)) >= 0)
                        return 0;
                if (errno == EINTR)
                        continue;
                /* ETOOMANYREFS: fds in flight count against the sender's
                 * RLIMIT_NOFILE; treat it like a full channel. */
                if (IN_SET(errno, EAGAIN, EWOULDBLOCK, ENOBUFS, ETOOMANYREFS))
                        return -EAGAIN;
                return negative_errno();
        }
}

int park_hand_back(int channel, _Atomic int64_t *queued, int fd, const ParkState *st, const void *bytes, size_t n) {
        int r;

        assert(queued);
        atomic_fetch_add_explicit(queued, 1, memory_order_relaxed);
        r = park_send(channel, fd, -EBADF, st, bytes, n, false);
        if (r < 0)
                atomic_fetch_sub_explicit(queued, 1, memory_order_relaxed);
        return r;
}

static void close_fds(const int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                safe_close(fds[i]);
}

int park_receive(int channel, int *ret_fd, int *ret_file_fd, ParkState *ret_state, void *buf, size_t buf_size) {
        assert(ret_fd);
        assert(ret_file_fd);
        assert(ret_state);
        assert(buf_size >= PARK_BYTES_MAX);

        for (;;) {
                union {
                        struct cmsghdr cmsg;
                        char buf[CMSG_SPACE(2 * sizeof(int))];
                } control;
                ParkState st;
                struct iovec iov[2] = {
                        { .iov_base = &st, .iov_len = sizeof st },
                        { .iov_base = buf, .iov_len = buf_size },
                };
                struct msghdr mh = {
                        .msg_iov = iov,
                        .msg_iovlen = 2,
                        .msg_control = &control,
                        .msg_controllen = sizeof control,
                };
                int fds[2] = { -EBADF, -EBADF };
                size_t n_fds = 0;
                ssize_t n;

                n = recvmsg(channel, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (n < 0) {
                        if (IN_SET(errno, EAGAIN, EWOULDBLOCK))
                                return 0;
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                /* End of file: every holder of the other end is gone (the
                 * master died, and the front stage with it). Retrying would
                 * spin. */
                if (n == 0 && !(mh.msg_flags & MSG_CTRUNC) && !CMSG_FIRSTHDR(&mh))
                        return -ECONNRESET;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && n_fds == 0 &&
                            c->cmsg_len >= CMSG_LEN(sizeof(int)) && c->cmsg_len <= CMSG_LEN(2 * sizeof(int))) {
                                n_fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                                memcpy(fds, CMSG_DATA(c), n_fds * sizeof(int));
                        }
                if (n_fds == 0)
                        continue;
                if ((size_t) n < sizeof st || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || st.magic != PARK_MAGIC ||
                    st.version != PARK_VERSION || st.n_bytes != (size_t) n - sizeof st ||
                    st.peer_len > sizeof st.peer || st.kind >= _PARK_KIND_MAX ||
                    n_fds != (st.kind == PARK_SENDING ? 2U : 1U)) {
                        close_fds(fds, n_fds);
                        continue;
                }
                *ret_fd = fds[0];
                *ret_file_fd = fds[1];
                *ret_state = st;
                return 1;
        }
}
