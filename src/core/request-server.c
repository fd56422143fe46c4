/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "request-server.h"
#include "time-util.h"

/* How many connections one wakeup of the listener accepts: a flood is
 * taken in bites, and the loop serves everything else in between. */
#define ACCEPT_BATCH 32

typedef enum RequestConnState {
        CONN_READING,
        CONN_WAITING,  /* handle() kept it: the answer comes later */
        CONN_WRITING,
} RequestConnState;

struct RequestConn {
        RequestServer *server;
        RequestConn *prev, *next;
        RequestConnState state;
        int fd;
        sd_event_source *io;
        sd_event_source *timer;
        struct ucred cred;
        bool have_cred;
        char *in;
        size_t n_in;
        char *out;
        size_t n_out, written;
};

struct RequestServer {
        sd_event *event;
        int fd;
        bool unix_socket;
        sd_event_source *listen_source;
        RequestServerOps ops;
        RequestServerLimits limits;
        void *userdata;
        RequestConn *conns;
        unsigned n_conns;
        bool warned_accept;
};

static void conn_free(RequestConn *c) {
        RequestServer *s;

        if (!c)
                return;
        s = c->server;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_conns--;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        safe_close(c->fd);
        free(c->in);
        free(c->out);
        free(c);
}

/* The answer is out: end the connection. Input the request left unread
 * (the rest of one that was too long, say) is read away first, since a
 * socket closed with unread input resets the connection, and the client
 * could lose the answer it has not read yet. Bounded: a client that keeps
 * sending gets its reset. */
static void conn_finish(RequestConn *c) {
        char buf[4096];

        (void) shutdown(c->fd, SHUT_WR);
        for (unsigned i = 0; i < 16; i++)
                if (recv(c->fd, buf, sizeof buf, MSG_DONTWAIT) <= 0)
                        break;
        conn_free(c);
}

static int conn_set_deadline(RequestConn *c, uint64_t usec) {
        if (usec == USEC_INFINITY)
                return sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_time(c->timer, now_usec() + usec);
        return sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

/* Writes what the socket takes. Returns 1 when everything is written, 0
 * when the rest must wait for EPOLLOUT, or a negative errno. */
static int conn_flush(RequestConn *c) {
        while (c->written < c->n_out) {
                ssize_t k = send(c->fd, c->out + c->written, c->n_out - c->written, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                c->written += (size_t) k;
        }
        return 1;
}

int request_conn_detach(RequestConn *c) {
        int fd, fl;

        assert(c);
        assert(c->state != CONN_WRITING);

        fd = TAKE_FD(c->fd);
        conn_free(c);
        fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
                (void) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        return fd;
}

void request_conn_reply(RequestConn *c, char *answer, size_t n) {
        int r;

        assert(c);
        assert(c->state != CONN_WRITING);

        if (!answer) {
                conn_free(c);
                return;
        }
        c->state = CONN_WRITING;
        c->out = answer;
        c->n_out = n;
        r = conn_flush(c);
        if (r > 0) {
                conn_finish(c);
                return;
        }
        if (r < 0) {
                /* The client is gone. */
                conn_free(c);
                return;
        }
        if (sd_event_source_set_io_events(c->io, EPOLLOUT) < 0 ||
            conn_set_deadline(c, c->server->limits.answer_timeout_usec) < 0)
                conn_free(c);
}

int request_conn_peer(const RequestConn *c, struct ucred *ret) {
        assert(c);
        assert(ret);
        if (!c->have_cred)
                return -ENODATA;
        *ret = c->cred;
        return 0;
}

unsigned request_server_connections(const RequestServer *s) {
        return s ? s->n_conns : 0;
}

/* The request is whole: from now on input is not read (the protocol has
 * one request per connection) but a hangup is still seen, since epoll
 * always reports it. */
static void conn_dispatch(RequestConn *c, size_t n) {
        RequestServer *s = c->server;

        c->state = CONN_WAITING;
        if (sd_event_source_set_io_events(c->io, 0) < 0) {
                conn_free(c);
                return;
        }
        (void) conn_set_deadline(c, USEC_INFINITY);
        /* Last: it may answer, and so free c. */
        s->ops.handle(c, c->in, n, s->userdata);
}

static void conn_bad_request(RequestConn *c, const char *why) {
        RequestServer *s = c->server;

        c->state = CONN_WAITING;
        (void) sd_event_source_set_io_events(c->io, 0);
        (void) conn_set_deadline(c, USEC_INFINITY);
        s->ops.bad_request(c, why, s->userdata);
        /* bad_request() must answer at once; a connection it left
         * waiting would never end. */
}

static void conn_read(RequestConn *c) {
        const RequestServerLimits *l = &c->server->limits;

        for (;;) {
                size_t end;
                ssize_t k;

                k = recv(c->fd, c->in + c->n_in, l->max_request - c->n_in, MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                conn_free(c);
                        return;
                }
                if (k == 0) {
                        conn_bad_request(c, "the request ended early");
                        return;
                }
                c->n_in += (size_t) k;
                end = c->server->ops.request_end(c->in, c->n_in);
                if (end > 0) {
                        conn_dispatch(c, end);
                        return;
                }
                if (c->n_in == l->max_request) {
                        conn_bad_request(c, "request too long");
                        return;
                }
        }
}

static int conn_on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        RequestConn *c = userdata;
        RequestServer *s = c->server;
        int r;

        switch (c->state) {
        case CONN_READING:
                conn_read(c);
                break;
        case CONN_WAITING:
                /* Only a hangup or an error wakes a waiting connection. */
                if (s->ops.abandoned)
                        s->ops.abandoned(c, s->userdata);
                conn_free(c);
                break;
        case CONN_WRITING:
                r = conn_flush(c);
                if (r > 0)
                        conn_finish(c);
                else if (r < 0)
                        conn_free(c);
                break;
        }
        return 0;
}

static int conn_on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        RequestConn *c = userdata;

        if (c->state == CONN_READING)
                conn_bad_request(c, "timed out waiting for the request");
        else
                conn_free(c);
        return 0;
}

static void server_refuse_busy(RequestServer *s, int fd) {
        const char *a = s->limits.busy_answer;

        if (a)
                (void) send(fd, a, strlen(a), MSG_NOSIGNAL | MSG_DONTWAIT);
        safe_close(fd);
}

static int conn_new(RequestServer *s, int fd) {
        _cleanup_close_ int cfd = fd;
        RequestConn *c;
        int r;

        c = calloc(1, sizeof(RequestConn));
        if (!c)
                return -ENOMEM;
        c->in = malloc(s->limits.max_request);
        if (!c->in) {
                free(c);
                return -ENOMEM;
        }
        c->server = s;
        c->fd = TAKE_FD(cfd);
        c->next = s->conns;
        if (s->conns)
                s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        if (s->unix_socket) {
                socklen_t l = sizeof c->cred;
                c->have_cred = getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &l) >= 0;
        }
        r = sd_event_add_io(s->event, &c->io, c->fd, EPOLLIN, conn_on_io, c);
        if (r >= 0)
                r = sd_event_add_time(s->event, &c->timer, CLOCK_MONOTONIC, USEC_INFINITY, 10 * USEC_PER_MSEC,
                                      conn_on_timer, c);
        if (r >= 0)
                r = conn_set_deadline(c, s->limits.request_timeout_usec);
        if (r < 0) {
                conn_free(c);
                return r;
        }
        return 0;
}

static int server_on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        RequestServer *s = userdata;

        for (unsigned i = 0; i < ACCEPT_BATCH; i++) {
                int cfd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                int r;

                if (cfd < 0) {
                        if (IN_SET(errno, EINTR, ECONNABORTED))
                                continue;
                        if (errno != EAGAIN && !s->warned_accept) {
                                /* Out of fds, say: logged once, retried on
                                 * the next wakeup. */
                                s->warned_accept = true;
                                log_warning_errno(errno, "Cannot accept a connection on the control or metrics "
                                                         "socket: %s", STRERROR(errno));
                        }
                        return 0;
                }
                if (s->n_conns >= s->limits.max_connections) {
                        server_refuse_busy(s, cfd);
                        continue;
                }
                r = conn_new(s, cfd);
                if (r < 0)
                        log_warning_errno(r, "Cannot serve a control or metrics connection: %s", STRERROR(r));
        }
        return 0;
}

int request_server_new(sd_event *e, int fd, const RequestServerOps *ops, const RequestServerLimits *limits,
                       void *userdata, RequestServer **ret) {
        _cleanup_close_ int lfd = fd;
        _cleanup_(request_server_freep) RequestServer *s = NULL;
        int domain = 0, flags, r;
        socklen_t l = sizeof domain;

        assert(e);
        assert(fd >= 0);
        assert(ops && ops->request_end && ops->handle && ops->bad_request);
        assert(limits && limits->max_request > 0 && limits->max_connections > 0);
        assert(ret);

        flags = fcntl(lfd, F_GETFL);
        if (flags < 0 || fcntl(lfd, F_SETFL, flags | O_NONBLOCK) < 0)
                return negative_errno();
        if (getsockopt(lfd, SOL_SOCKET, SO_DOMAIN, &domain, &l) < 0)
                return negative_errno();
        s = calloc(1, sizeof(RequestServer));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->fd = TAKE_FD(lfd);
        s->unix_socket = domain == AF_UNIX;
        s->ops = *ops;
        s->limits = *limits;
        s->userdata = userdata;
        r = sd_event_add_io(e, &s->listen_source, s->fd, EPOLLIN, server_on_accept, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

RequestServer *request_server_free(RequestServer *s) {
        if (!s)
                return NULL;
        while (s->conns)
                conn_free(s->conns);
        sd_event_source_disable_unref(s->listen_source);
        safe_close(s->fd);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}
