/* SPDX-License-Identifier: MIT */
/* RFC 862 echo over TCP: every byte comes back until the client closes. */
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "handler.h"
#include "log.h"
#include "worker.h"

/* One chunk at a time: a many-MiB stream is never held whole, and the
 * buffer is small enough to keep the worker's private memory low. */
static char echo_buf[16384];

/* Hands the quiet connection to the front stage, which hands it back
 * unread once the client sends again, or closes it at its idle deadline.
 * Not inlined: its ParkState would grow every connection's stack frame,
 * and a worker's private memory with it, for the few that park. */
_noinline_ static int echo_park(const Conn *c, uint64_t deadline) {
        ParkState st = {
                .kind = PARK_IDLE,
                .gather_max = 0,
                .deadline_usec = deadline,
        };

        if (c->peer && c->peer_len <= sizeof st.peer) {
                memcpy(&st.peer, c->peer, c->peer_len);
                st.peer_len = c->peer_len;
        }
        return worker_park(c->fd, -EBADF, &st, NULL, 0);
}

static int echo_serve(const ServiceConfig *svc, const Conn *c) {
        /* Echo answers what it reads, so the idle time counts from the
         * last byte received (or the connection's arrival). */
        uint64_t deadline = now_usec() + svc->idle_timeout_usec;
        int fd = c->fd;

        for (;;) {
                ssize_t n = recv(fd, echo_buf, sizeof echo_buf, MSG_DONTWAIT);
                uint64_t now;
                int r;

                if (n > 0) {
                        score_add_bytes(worker_score(), (uint64_t) n, (uint64_t) n);
                        /* A client that stops reading is as idle as one
                         * that stops sending. */
                        r = worker_send_all(fd, echo_buf, (size_t) n, 0, svc->idle_timeout_usec);
                        if (r < 0)
                                return log_debug_errno(r, "%s: echo connection ended: %s", svc->name, STRERROR(r));
                        deadline = now_usec() + svc->idle_timeout_usec;
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

                now = now_usec();
                if (now < deadline && worker_park_possible()) {
                        r = worker_stop_requested() ? 0
                                                    : worker_wait(fd, POLLIN, MIN(svc->park_delay_usec, deadline - now), false);
                        if (r > 0)
                                continue;
                        if (r == 0 && echo_park(c, deadline) >= 0)
                                return 0;
                        now = now_usec();
                }
                r = now < deadline ? worker_wait(fd, POLLIN, deadline - now, false) : 0;
                if (r == 0)
                        return log_debug_errno(ETIMEDOUT, "%s: closing idle echo connection: %s", svc->name, STRERROR(ETIMEDOUT));
                if (r < 0)
                        return r;
        }
}

/* Front stage: an echo connection never gathers bytes (gather_max is 0),
 * so this is only asked when a hand-back is due anyway. */
static int echo_park_ready(const char *buf, size_t n, size_t scanned, size_t max) {
        return 1;
}

const HandlerVTable handler_echo = {
        .name = "echo",
        .uses_idle_timeout = true,
        .serve = echo_serve,
        .park_ready = echo_park_ready,
        /* Longer than http's: an echo client's next bytes (or its FIN)
         * usually come within a few hundred microseconds, and a wait
         * shorter than one scheduler tick (4 ms at HZ=250) arms its CPU's
         * earliest timer, which costs two reprogrammings of the CPU's
         * timer per connection, exits to the hypervisor in a virtual
         * machine: measured 4 us more CPU per connection at 2 ms. */
        .park_delay_default = 0.005,
};
