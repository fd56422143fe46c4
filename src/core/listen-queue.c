/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "listen-queue.h"
#include "log.h"

static int tcp_queue(int fd, uint32_t *ret_queue, uint32_t *ret_backlog) {
        struct tcp_info ti = { 0 };
        socklen_t l = sizeof ti;

        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0)
                return negative_errno();
        if (ti.tcpi_state != TCP_LISTEN)
                return -EOPNOTSUPP;
        *ret_queue = ti.tcpi_unacked;
        *ret_backlog = ti.tcpi_sacked;
        return 0;
}

/* One sock_diag request for the socket with fd's inode. The kernel answers
 * an exact lookup within sendmsg(), so the answer is already queued when
 * it returns: it is read without waiting, and a missing one is an error
 * rather than a stall of the master. */
static int unix_queue(int fd, uint32_t *ret_queue, uint32_t *ret_backlog) {
        struct {
                struct nlmsghdr nlh;
                struct unix_diag_req req;
        } msg = {
                .nlh = {
                        .nlmsg_len = sizeof msg,
                        .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                        .nlmsg_flags = NLM_F_REQUEST,
                },
                .req = {
                        .sdiag_family = AF_UNIX,
                        .udiag_states = 1U << TCP_LISTEN,
                        .udiag_show = UDIAG_SHOW_RQLEN,
                        .udiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE },
                },
        };
        union {
                struct nlmsghdr nlh;
                char bytes[1024];
        } answer;
        _cleanup_close_ int nl = -EBADF;
        struct stat st;
        ssize_t n;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        msg.req.udiag_ino = (uint32_t) st.st_ino;
        nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
        if (nl < 0)
                return negative_errno();
        if (send(nl, &msg, sizeof msg, 0) < 0)
                return negative_errno();
        n = recv(nl, &answer, sizeof answer, MSG_DONTWAIT);
        if (n < 0)
                return negative_errno();
        for (struct nlmsghdr *h = &answer.nlh; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                const struct unix_diag_msg *m;
                int len;

                if (h->nlmsg_type == NLMSG_ERROR) {
                        const struct nlmsgerr *e = NLMSG_DATA(h);
                        return e->error < 0 ? e->error : -EIO;
                }
                if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof *m))
                        continue;
                m = NLMSG_DATA(h);
                len = (int) (h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
                for (struct rtattr *a = (struct rtattr *) (m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
                        const struct unix_diag_rqlen *q;

                        if (a->rta_type != UNIX_DIAG_RQLEN || RTA_PAYLOAD(a) < sizeof *q)
                                continue;
                        q = RTA_DATA(a);
                        *ret_queue = q->udiag_rqueue;
                        *ret_backlog = q->udiag_wqueue;
                        return 0;
                }
        }
        return -ENODATA;
}

int listen_queue_get(int fd, uint32_t *ret_queue, uint32_t *ret_backlog) {
        int domain = 0;
        socklen_t l = sizeof domain;

        assert(fd >= 0);
        assert(ret_queue);
        assert(ret_backlog);

        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) < 0)
                return negative_errno();
        switch (domain) {
        case AF_INET:
        case AF_INET6:
                return tcp_queue(fd, ret_queue, ret_backlog);
        case AF_UNIX:
                return unix_queue(fd, ret_queue, ret_backlog);
        default:
                return -EOPNOTSUPP;
        }
}

void listen_queue_sample(Supervisor *s) {
        static bool warned;

        assert(s);
        if (!s->current)
                return;
        for (size_t i = 0; i < s->current->n_pools; i++) {
                const Pool *p = &s->current->pools[i];
                Service *service = p->service;
                uint64_t queue = 0, backlog = 0;

                for (size_t k = 0; k < p->n_listen_fds; k++) {
                        uint32_t q, b;
                        int r = listen_queue_get(p->listen_fds[k], &q, &b);

                        if (r < 0) {
                                /* Once: it fails the same way every time
                                 * (a sandbox without AF_NETLINK). */
                                if (!warned)
                                        log_info_errno(r, "%s: cannot read the listen queue of listener %zu: %s",
                                                       service->name, k, STRERROR(r));
                                warned = true;
                                continue;
                        }
                        queue += q;
                        backlog += b;
                }
                service->listen_queue = queue;
                service->listen_backlog = backlog;
                service->listen_queue_peak = MAX(service->listen_queue_peak, queue);
        }
}
