/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <poll.h>
#include <string.h>

#include "cidr.h"
#include "log.h"
#include "proxy-read.h"
#include "worker.h"

/* The header read so far; a header can be PROXY_HEADER_MAX long.
 * Allocated with the first connection that has one, not static: a 64 KiB
 * static array would lie among the variables every worker writes and
 * spread them over more pages, private memory of each worker even in
 * services without PROXY headers. */
static uint8_t *proxy_buf;

static const char *peer_string(const Conn *c, char *buf, size_t size) {
        ScorePeer p = { .sa.sa_family = AF_UNSPEC };

        if (c->peer && c->peer_len <= sizeof p)
                memcpy(&p, c->peer, c->peer_len);
        score_peer_format(&p, buf, size);
        return buf;
}

static int worker_proxy_close(const WorkerSpawn *sp, const Conn *c, const char *why) {
        char peer[64];

        log_debug("%s[slot %u]: closing the connection from %s: %s", sp->svc->name, sp->slot,
                  peer_string(c, peer, sizeof peer), why);
        return 0;
}

static int worker_proxy_park(const Conn *c, ProxyMode mode, size_t n, uint64_t deadline) {
        ParkState st = {
                .kind = PARK_PROXY,
                .gather_max = (uint32_t) MAX(n, (size_t) PROXY_V1_MAX),
                .deadline_usec = deadline,
                .proxy_mode = mode,
        };

        if (n > PARK_BYTES_MAX)
                return -EMSGSIZE;
        if (c->peer && c->peer_len <= sizeof st.peer) {
                memcpy(&st.peer, c->peer, c->peer_len);
                st.peer_len = c->peer_len;
        }
        return worker_park(c->fd, -EBADF, &st, proxy_buf, n);
}

int worker_proxy_take(const WorkerSpawn *sp, Conn *c, struct sockaddr_storage *client) {
        const ServiceConfig *svc = sp->svc;
        bool resumed = c->parked && c->parked->kind == PARK_PROXY, may_park = true;
        ProxyMode mode = resumed ? (ProxyMode) c->parked->proxy_mode : svc->proxy.mode;
        uint64_t deadline;
        size_t n = 0;

        assert(c);
        assert(client);

        if (c->parked && !resumed)
                return 1;
        if (mode == PROXY_OFF)
                return 1;
        if (!IN_SET(mode, PROXY_V1, PROXY_V2, PROXY_ANY))
                return worker_proxy_close(sp, c, "parked with an unknown PROXY mode");
        if (!proxy_buf) {
                proxy_buf = malloc(PROXY_HEADER_MAX);
                if (!proxy_buf)
                        return worker_proxy_close(sp, c, "out of memory for its PROXY header");
        }

        if (resumed) {
                n = MIN((size_t) c->parked->n_bytes, (size_t) PROXY_HEADER_MAX);
                memcpy(proxy_buf, c->bytes, n);
                deadline = c->parked->deadline_usec;
        } else {
                /* Who may speak for a client is checked before a byte is
                 * read. A unix socket's peers are whom its file's mode lets
                 * in. */
                if (svc->proxy.n_from > 0 && c->peer && IN_SET(c->peer->sa_family, AF_INET, AF_INET6) &&
                    !cidr_match_any(svc->proxy.from, svc->proxy.n_from, c->peer, c->peer_len))
                        return worker_proxy_close(sp, c, "not in proxy_from");
                deadline = now_usec() + svc->proxy.timeout_usec;
        }

        for (;;) {
                const char *why = NULL;
                ProxyHeader hdr;
                uint64_t now;
                int r;

                r = proxy_read(c->fd, mode, proxy_buf, PROXY_HEADER_MAX, &n, &hdr, &why);
                if (r > 0) {
                        /* LOCAL (a balancer's own health check): the real
                         * endpoints stay. */
                        if (!hdr.local) {
                                memcpy(client, &hdr.source, hdr.source_len);
                                c->peer = (const struct sockaddr *) client;
                                c->peer_len = hdr.source_len;
                                score_begin_connection(sp->score, c->peer, c->peer_len);
                        }
                        c->parked = NULL;
                        c->bytes = NULL;
                        return 1;
                }
                if (r < 0)
                        return worker_proxy_close(sp, c, why ? why : STRERROR(r));

                now = now_usec();
                if (now >= deadline)
                        return worker_proxy_close(sp, c, "PROXY header not complete within proxy_timeout");
                /* As for a request head (http): a header that does not come
                 * at once is gathered by the front stage, which has room
                 * for thousands. */
                if (may_park && worker_park_possible()) {
                        r = worker_wait(c->fd, POLLIN, MIN(svc->park_delay_usec, deadline - now), false);
                        if (r > 0)
                                continue;
                        if (r == 0 && worker_proxy_park(c, mode, n, deadline) >= 0)
                                return 0;
                        /* The front stage is gone or its channel full:
                         * wait here. */
                        may_park = false;
                        now = now_usec();
                } else if (may_park && worker_park_full()) {
                        /* Nor is it waited for by a worker while the front
                         * stage is full. */
                        r = worker_wait(c->fd, POLLIN, MIN(svc->park_delay_usec, deadline - now), false);
                        if (r > 0)
                                continue;
                        return worker_proxy_close(sp, c, "PROXY header not complete and the front stage is full");
                }
                r = now < deadline ? worker_wait(c->fd, POLLIN, deadline - now, false) : 0;
                if (r == 0)
                        return worker_proxy_close(sp, c, "PROXY header not complete within proxy_timeout");
                if (r < 0)
                        return worker_proxy_close(sp, c, STRERROR(r));
        }
}
