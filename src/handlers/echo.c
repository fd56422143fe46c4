/* SPDX-License-Identifier: MIT */
/* RFC 862 echo over TCP: every byte comes back until the client closes. */
#include <poll.h>
#include <sys/socket.h>

#include "config.h"
#include "handler.h"
#include "log.h"
#include "worker.h"

/* One chunk at a time: a many-MiB stream is never held whole, and the
 * buffer is small enough to keep the worker's private memory low. */
static char echo_buf[16384];

static int echo_serve(const ServiceConfig *svc, int fd, const struct sockaddr *peer, socklen_t peer_len) {
        for (;;) {
                ssize_t n = recv(fd, echo_buf, sizeof echo_buf, MSG_DONTWAIT);
                int r;

                if (n > 0) {
                        /* A client that stops reading is as idle as one
                         * that stops sending. */
                        r = worker_send_all(fd, echo_buf, (size_t) n, 0, svc->idle_timeout_usec);
                        if (r < 0)
                                return log_debug_errno(r, "%s: echo connection ended: %s", svc->name, STRERROR(r));
                        continue;
                }
                if (n == 0)
                        /* Half-close: all that was read has been sent back,
                         * so the worker's close() answers the FIN with ours
                         * (nothing is left unread, so it is a FIN, not RST). */
                        return 0;
                if (errno == EINTR)
                        continue;
                if (!IN_SET(errno, EAGAIN, EWOULDBLOCK))
                        return log_debug_errno(errno, "%s: echo connection ended: %s", svc->name, STRERROR(errno));

                r = worker_wait(fd, POLLIN, svc->idle_timeout_usec, false);
                if (r == 0)
                        return log_debug_errno(ETIMEDOUT, "%s: closing idle echo connection: %s", svc->name, STRERROR(ETIMEDOUT));
                if (r < 0)
                        return r;
        }
}

const HandlerVTable handler_echo = {
        .name = "echo",
        .uses_idle_timeout = true,
        .serve = echo_serve,
};
