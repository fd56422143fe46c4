/* SPDX-License-Identifier: MIT */
/* The "http" handler: HTTP/1.1 static files, one connection at a time per
 * worker. This file owns the connection: reading request heads under the
 * header and keep-alive timeouts, deciding keep-alive, skipping request
 * bodies, and closing gently. http_serve.c answers each request. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "build-config.h"
#include "handler.h"
#include "http_chunked.h"
#include "http_config.h"
#include "http_conn.h"
#include "http_log.h"
#include "http_path.h"
#include "http_response.h"
#include "http_serve.h"
#include "log.h"
#include "worker.h"

/* A request body (which no static resource takes) up to this size is read
 * and thrown away so that the connection stays usable; a bigger one gets
 * 413 and the connection is closed. For a chunked body, the framing counts
 * too. */
#define BODY_DRAIN_MAX (1024U * 1024U)

/* When a connection is closed while the client may still be sending (a
 * rejected request, an unread body), its data is read and discarded for a
 * moment after our FIN, so that the kernel does not answer it with a RST
 * that could destroy the response before the client has read it. */
#define LINGER_USEC (2 * USEC_PER_SEC)
#define LINGER_BYTES (256U * 1024U)

/* read_request()/wait_next_request(): the connection went to the front
 * stage; the worker is done with it. */
#define HTTP_PARKED 2

/* Room for one access log record with its longest quoted pieces. */
#define LOG_BUFFER_SIZE (64U * 1024U)

static HttpWorker worker = { .root_fd = -EBADF };

/* The open-file cache's entries, at most: its fds count against the
 * worker's RLIMIT_NOFILE, and half of that stays for connections, the
 * listeners, parking and the files of uncached lookups. */
static size_t open_file_cache_entries(const ServiceConfig *svc, size_t wanted) {
        struct rlimit rl;

        if (wanted == 0 || getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
            rl.rlim_cur / 2 >= wanted)
                return wanted;
        log_info("%s: http.open_file_cache = %zu is more than half of the file descriptor limit (%ju): "
                 "at most %ju files are kept open", svc->name, wanted, (uintmax_t) rl.rlim_cur,
                 (uintmax_t) (rl.rlim_cur / 2));
        return (size_t) (rl.rlim_cur / 2);
}

static int http_init(const ServiceConfig *svc) {
        const HttpConfig *cfg = svc->handler_config;
        HttpWorker *w = &worker;
        int r;

        w->svc = svc;
        w->cfg = cfg;

        w->root_fd = open(cfg->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (w->root_fd < 0)
                return log_error_errno(errno, "%s: cannot open document root %s: %s", svc->name, cfg->root,
                                       STRERROR(errno));
        r = http_path_probe_openat2(w->root_fd);
        if (r < 0)
                return log_error_errno(r, "%s: cannot use document root %s: %s", svc->name, cfg->root,
                                       STRERROR(r));
        if (r == 0)
                log_warning("%s: openat2() is not available (kernel before 5.6, or a seccomp filter); paths are "
                            "resolved one component at a time and no symlink below %s is followed",
                            svc->name, cfg->root);

        r = http_cache_new(open_file_cache_entries(svc, cfg->open_file_cache), cfg->open_file_cache_valid_usec,
                           &w->cache);
        if (r < 0)
                return log_error_errno(r, "%s: cannot set up the open-file cache: %s", svc->name, STRERROR(r));

        w->index_max = 0;
        for (char **i = cfg->index; *i; i++)
                w->index_max = MAX(w->index_max, strlen(*i));

        w->limits = (HttpParseLimits) { .max_head = cfg->max_header_size, .max_target = cfg->max_target_size };
        w->in_size = cfg->max_header_size;
        /* The normalized target (at most max_target + 2 with its NUL),
         * an index name, and a ".gz"/".br" suffix. */
        w->path_size = cfg->max_target_size + 2 + w->index_max + 4;
        w->scratch_size = 3 * cfg->max_target_size + 64;
        w->out_size = w->scratch_size + 2048 + strlen(cfg->default_type) +
                      (cfg->charset ? strlen(cfg->charset) : 0) +
                      (cfg->cache_control ? strlen(cfg->cache_control) : 0) + cfg->extra_headers_len +
                      HTTP_SMALL_FILE_MAX;
        w->log_size = cfg->access_log ? LOG_BUFFER_SIZE : 0;

        w->in = malloc(w->in_size);
        w->path = malloc(w->path_size);
        w->scratch = malloc(w->scratch_size);
        w->out = malloc(w->out_size);
        w->log = w->log_size > 0 ? malloc(w->log_size) : NULL;
        if (!w->in || !w->path || !w->scratch || !w->out || (w->log_size > 0 && !w->log))
                return log_error_errno(ENOMEM, "%s: cannot allocate connection buffers", svc->name);

        int n = snprintf(w->server_field, sizeof(w->server_field), "Server: preforkd%s%s\r\n",
                         cfg->server_tokens ? "/" : "", cfg->server_tokens ? PACKAGE_VERSION : "");
        w->server_field_len = n > 0 && (size_t) n < sizeof(w->server_field) ? (size_t) n : 0;
        return 0;
}

/* Sockets must be non-blocking so that every wait goes through
 * worker_wait() with its timeouts. Whether accept() already hands them out
 * that way is the same for every connection of a worker, so it is asked
 * once. */
static int make_nonblocking(int fd) {
        static int accepted_nonblocking = -1;

        if (accepted_nonblocking < 0) {
                int fl = fcntl(fd, F_GETFL);
                if (fl < 0)
                        return -errno;
                accepted_nonblocking = !!(fl & O_NONBLOCK);
        }
        if (accepted_nonblocking)
                return 0;
        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

static void log_request(HttpConn *c, const HttpRequest *req) {
        score_end_request(worker_score(), (int) c->status, c->body_bytes);
        if (c->w->cfg->access_log)
                http_log_access(c, req, now_usec() - c->start_usec);
}

/* Answers a head that cannot be parsed (or a timeout) with an error and
 * gives up on the connection: its byte stream can no longer be trusted. */
static void reject(HttpConn *c, unsigned status, const char *why) {
        log_debug("%s: %s: %u %s: %s", c->w->svc->name, c->remote, status, http_status_reason(status),
                  why ? why : "");
        c->keep_alive = false;
        c->linger = true;
        c->body_bytes = 0;
        (void) http_send_error(c, status, false, 11, NULL, 0);
        log_request(c, NULL);
}

/* Answers a parsed request whose body is not taken (too large, malformed,
 * late) with an error, and ends the connection: where the next request
 * would start is unknown, or not worth finding out. */
static void refuse_body(HttpConn *c, const HttpRequest *req, unsigned status, const char *why) {
        log_debug("%s: %s: %u %s: %s", c->w->svc->name, c->remote, status, http_status_reason(status), why);
        c->keep_alive = false;
        c->linger = true;
        c->body_bytes = 0;
        (void) http_send_error(c, status, req->method == HTTP_METHOD_HEAD, req->version, NULL, 0);
        c->n_requests++;
        log_request(c, req);
}

/* Hands the connection to the front stage, with the bytes of the next
 * request read so far, to be handed back once its head is complete. */
static int http_park(HttpConn *c, ParkKind kind, uint64_t deadline) {
        HttpWorker *w = c->w;
        ParkState st = {
                .kind = kind,
                .gather_max = (uint32_t) MIN(w->in_size, (size_t) PARK_BYTES_MAX),
                .deadline_usec = deadline,
                .head_timeout_usec = w->cfg->header_timeout_usec,
                .requests = c->n_requests,
        };

        if (c->in_len > st.gather_max)
                return -EMSGSIZE;
        if (c->peer && c->peer_len <= sizeof st.peer) {
                memcpy(&st.peer, c->peer, c->peer_len);
                st.peer_len = c->peer_len;
        }
        return worker_park(c->fd, -EBADF, &st, w->in, c->in_len);
}

/* Reads until w->in holds a complete head and parses it. The whole head
 * must arrive before deadline (header_timeout), however slowly it trickles
 * in. Returns 1 with *ret filled, or 0 when the connection is to end (the
 * client closed, timed out, or sent garbage, which was answered). */
/* Names the request in the scoreboard (what preforkctl status shows, and
 * what a request_timeout kill reports): its request line as received. */
static void score_request(const HttpRequest *req, uint64_t body) {
        WorkerScore *score = worker_score();
        const char *line, *end;

        if (!score)
                return;
        line = req->method_name.p;
        end = memchr(line, '\n', (size_t) (req->head + req->head_len - line));
        if (!end)
                end = req->head + req->head_len;
        if (end > line && end[-1] == '\r')
                end--;
        score_begin_request(score, line, (size_t) (end - line));
        score_add_bytes(score, req->head_len + body, 0);
        score_set_state(score, WORKER_WRITING);
}

static int read_request(HttpConn *c, HttpRequest *ret, uint64_t deadline) {
        HttpWorker *w = c->w;
        size_t scanned = 0;
        const char *why = NULL;
        bool may_park = true;
        int r;

        score_set_state(worker_score(), WORKER_READING);
        for (;;) {
                if (c->in_len > 0) {
                        size_t end = http_parse_find_head_end(w->in, c->in_len, scanned);
                        if (end > 0) {
                                r = http_parse_request(w->in, end, &w->limits, ret, &why);
                                if (r < 0) {
                                        reject(c, http_parse_error_status(r), why);
                                        return 0;
                                }
                                return 1;
                        }
                        r = http_parse_check_partial(w->in, c->in_len, &w->limits, &why);
                        if (r < 0) {
                                reject(c, http_parse_error_status(r), why);
                                return 0;
                        }
                        scanned = c->in_len;
                }

                ssize_t n = recv(c->fd, w->in + c->in_len, w->in_size - c->in_len, MSG_DONTWAIT);
                if (n > 0) {
                        c->in_len += (size_t) n;
                        continue;
                }
                if (n == 0)
                        return 0;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK) {
                        log_debug_errno(errno, "%s: %s: receive failed: %s", w->svc->name, c->remote,
                                        STRERROR(errno));
                        return 0;
                }

                uint64_t now = now_usec();
                /* A head that does not arrive at once (a slow client, an
                 * idle connect) is gathered by the front stage. */
                if (may_park && now < deadline && worker_park_possible()) {
                        r = worker_wait(c->fd, POLLIN, MIN(w->svc->park_delay_usec, deadline - now), false);
                        if (r > 0)
                                continue;
                        if (r == 0 && http_park(c, PARK_HEAD, deadline) >= 0)
                                return HTTP_PARKED;
                        /* The front stage is gone, or its channel full:
                         * wait here. */
                        may_park = false;
                        now = now_usec();
                } else if (may_park && worker_park_full()) {
                        /* The front stage holds park.max_parked already: a
                         * head that is not here at once is not waited for
                         * by a worker either. */
                        r = worker_wait(c->fd, POLLIN, MIN(w->svc->park_delay_usec, deadline - now), false);
                        if (r > 0)
                                continue;
                        if (c->in_len > 0)
                                reject(c, 408, "request head not complete and the front stage is full");
                        return 0;
                }
                r = now < deadline ? worker_wait(c->fd, POLLIN, deadline - now, false) : 0;
                if (r == 0) {
                        /* A connection that never sent a byte is just
                         * closed; one stuck in the middle of a head hears
                         * why. */
                        if (c->in_len > 0)
                                reject(c, 408, "request head not complete within header_timeout");
                        return 0;
                }
                if (r < 0)
                        return 0;
        }
}

/* Reads and discards n body bytes following a head of head_len bytes, so
 * that the next request starts where it should. */
static int drain_body(HttpConn *c, size_t head_len, uint64_t n) {
        HttpWorker *w = c->w;
        size_t avail = c->in_len - head_len;

        if (avail >= n) {
                c->in_len -= head_len + (size_t) n;
                memmove(w->in, w->in + head_len + n, c->in_len);
                return 0;
        }
        n -= avail;
        c->in_len = 0;

        uint64_t deadline = now_usec() + w->cfg->header_timeout_usec;
        while (n > 0) {
                ssize_t k = recv(c->fd, w->in, (size_t) MIN(n, (uint64_t) w->in_size), MSG_DONTWAIT);
                if (k > 0) {
                        n -= (uint64_t) k;
                        continue;
                }
                if (k == 0)
                        return -ECONNRESET;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                        return -errno;
                uint64_t now = now_usec();
                int r = now < deadline ? worker_wait(c->fd, POLLIN, deadline - now, false) : 0;
                if (r == 0)
                        return -ETIMEDOUT;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Takes n bytes that a peek showed to be there. */
static int discard_peeked(HttpConn *c, size_t n) {
        while (n > 0) {
                ssize_t k = recv(c->fd, c->w->out, MIN(n, c->w->out_size), MSG_DONTWAIT);
                if (k > 0) {
                        n -= (size_t) k;
                        continue;
                }
                if (k < 0 && errno == EINTR)
                        continue;
                return k == 0 ? -ECONNRESET : -errno;
        }
        return 0;
}

/* Decodes a chunked request body to its end before the request is
 * answered, so that a malformed one gets 400 rather than the method's
 * answer (RFC 9112 §7.1), and a well-formed one leaves the connection in
 * step for the next request. The body's first bytes may already follow
 * the head in w->in; the rest is peeked at from the socket (into w->out,
 * unused until the response) and only what belongs to the body is taken,
 * so that a pipelined request stays queued in the kernel. The whole body
 * must arrive within header_timeout. Returns 0 with the body gone from
 * w->in (the head and what followed the body stay), or -EBADMSG (400),
 * -ENODATA (EOF before the last chunk, 400), -EFBIG (413), -ETIMEDOUT
 * (408), or the socket's error. */
static int read_chunked_body(HttpConn *c, const HttpRequest *req, const char **ret_why) {
        HttpWorker *w = c->w;
        HttpChunked d;
        size_t used;
        int r;

        http_chunked_init(&d, BODY_DRAIN_MAX);
        r = http_chunked_feed(&d, w->in + req->head_len, c->in_len - req->head_len, &used, ret_why);
        if (r < 0)
                return r;
        if (r > 0) {
                size_t rest = c->in_len - req->head_len - used;
                memmove(w->in + req->head_len, w->in + req->head_len + used, rest);
                c->in_len = req->head_len + rest;
                return 0;
        }
        c->in_len = req->head_len;

        uint64_t deadline = now_usec() + w->cfg->header_timeout_usec;
        for (;;) {
                ssize_t n = recv(c->fd, w->out, w->out_size, MSG_PEEK | MSG_DONTWAIT);
                if (n > 0) {
                        r = http_chunked_feed(&d, w->out, (size_t) n, &used, ret_why);
                        if (r < 0)
                                return r;
                        int k = discard_peeked(c, used);
                        if (k < 0)
                                return k;
                        if (r > 0)
                                return 0;
                        continue;
                }
                if (n == 0) {
                        *ret_why = "connection closed before the last chunk";
                        return -ENODATA;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                        return -errno;
                uint64_t now = now_usec();
                r = now < deadline ? worker_wait(c->fd, POLLIN, deadline - now, false) : 0;
                if (r == 0) {
                        *ret_why = "request body not complete within header_timeout";
                        return -ETIMEDOUT;
                }
                if (r < 0)
                        return r;
        }
}

/* The status for an error of read_chunked_body(), or 0 when the
 * connection is just dropped (the client is gone). */
static unsigned chunked_error_status(int error) {
        switch (error) {
        case -EBADMSG:
        case -ENODATA:
                return 400;
        case -EFBIG:
                return 413;
        case -ETIMEDOUT:
                return 408;
        default:
                return 0;
        }
}

/* Whether a client waits for our answer before it sends its body: then
 * the body is not read, and the connection cannot go on. */
static bool body_awaits_answer(const HttpRequest *req) {
        return req->expect_continue || req->expect_unknown;
}

/* Whether the response to req may leave the connection open. */
static bool decide_keep_alive(const HttpConn *c, const HttpRequest *req) {
        const HttpConfig *cfg = c->w->cfg;
        uint64_t body = req->has_content_length ? req->content_length : 0;

        if (cfg->keepalive_timeout_usec == 0 || c->n_requests + 1 >= cfg->keepalive_requests)
                return false;
        /* "close" wins over "keep-alive"; HTTP/1.0 must ask for it. */
        if (req->conn_close || (req->version == 10 && !req->conn_keep_alive))
                return false;
        /* A stop closes idle connections; a reload parks them, so that the
         * new generation serves their next request. */
        if (worker_stop_requested() && !worker_park_possible())
                return false;
        /* No room to park it once idle: close it after this response. */
        if (worker_park_full())
                return false;
        /* A client that expects 100-continue may never send its body once
         * it sees the final status. */
        if ((req->chunked || body > 0) && body_awaits_answer(req))
                return false;
        return true;
}

/* Answers one request. Returns 1 when the connection goes on, 0 when it
 * is to be closed, HTTP_PARKED when the front stage finishes the
 * response. */
static int handle_request(HttpConn *c, const HttpRequest *req) {
        HttpWorker *w = c->w;
        uint64_t body = req->has_content_length ? req->content_length : 0;
        int r;

        c->status = 0;
        c->body_bytes = 0;
        score_request(req, body);
        /* A body beyond what is drained is refused whatever the method:
         * serving the request and then dropping the connection would leave
         * the client sending into a closed socket, and 413 tells it why
         * (RFC 9110 §15.5.14). */
        if (body > BODY_DRAIN_MAX) {
                refuse_body(c, req, 413, "request body larger than what is drained");
                return 0;
        }
        bool chunked_pending = req->chunked;
        if (req->chunked && !body_awaits_answer(req)) {
                const char *why = NULL;
                r = read_chunked_body(c, req, &why);
                if (r < 0) {
                        unsigned status = chunked_error_status(r);
                        if (status > 0)
                                refuse_body(c, req, status, why);
                        else
                                log_debug_errno(r, "%s: %s: request body not received: %s", w->svc->name,
                                                c->remote, STRERROR(r));
                        return 0;
                }
                chunked_pending = false;
        }
        c->keep_alive = decide_keep_alive(c, req);
        if (c->keep_alive && !c->nodelay && c->is_tcp) {
                /* Responses are whole (MSG_MORE for the head, then the
                 * body), so Nagle would only delay the last segment. */
                int one = 1;
                (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                c->nodelay = true;
        }

        /* The rest of a file may be finished by the front stage when
         * nothing else is pending on the connection. */
        c->park_send = c->in_len == req->head_len && body == 0 && !chunked_pending;
        r = http_serve_request(c, req);
        c->n_requests++;
        log_request(c, req);
        if (r == -EINPROGRESS)
                return HTTP_PARKED;
        if (r < 0) {
                log_debug_errno(r, "%s: %s: response not completed: %s", w->svc->name, c->remote, STRERROR(r));
                return 0;
        }

        if (!c->keep_alive) {
                c->linger = c->in_len > req->head_len || body > 0 || chunked_pending;
                return 0;
        }

        if (body > 0) {
                r = drain_body(c, req->head_len, body);
                if (r < 0) {
                        log_debug_errno(r, "%s: %s: request body not received: %s", w->svc->name, c->remote,
                                        STRERROR(r));
                        return 0;
                }
        } else {
                c->in_len -= req->head_len;
                if (c->in_len > 0)
                        memmove(w->in, w->in + req->head_len, c->in_len);
        }
        return 1;
}

/* Whether a hot connection should let its worker go now, between two
 * requests: it has held the worker for park.slice and another
 * client waits. Nobody waiting: asked again a slice later, not at every
 * request. */
static bool slice_over(HttpConn *c, uint64_t now) {
        if (now - c->held_since_usec < c->w->svc->park_slice_usec)
                return false;
        if (worker_others_waiting())
                return true;
        c->held_since_usec = now;
        return false;
}

/* Between requests: returns 1 once the next request has begun to arrive
 * (or is already buffered, pipelined), HTTP_PARKED when the idle
 * connection went to the front stage, 0 when it stays idle for
 * keepalive_timeout or the worker is asked to stop and cannot park it.
 *
 * When to park: a connection whose next request comes within park.delay
 * stays on its worker (a hot keep-alive: a hand-off per request would
 * cost more than the request), one that goes quiet longer is parked, so
 * that an idle client never holds a worker. A hot connection that has
 * held its worker for a time slice is parked between two requests as soon
 * as another client waits for a worker, whether or not its next request
 * is already here (the front stage hands it back at once then, behind the
 * others), so that hot clients cannot starve the others. */
static int wait_next_request(HttpConn *c) {
        HttpWorker *w = c->w;
        uint64_t now = now_usec(), end = now + w->cfg->keepalive_timeout_usec;
        int r;

        if (c->in_len > 0)
                return 1;
        score_end_work(worker_score());
        score_set_state(worker_score(), WORKER_KEEPALIVE);
        if (worker_park_possible() && slice_over(c, now) && http_park(c, PARK_IDLE, end) >= 0)
                return HTTP_PARKED;
        /* Reading the next request before waiting for it saves the wait
         * when a client sends it at once (a pipelining or fast client);
         * others send it after the answer arrives, and then the read is
         * one system call in vain. Which one happens depends on the client
         * and the machine's load, so the worker learns it. */
        if (hunch_try_first(&w->read_first)) {
                ssize_t n = recv(c->fd, w->in, w->in_size, MSG_DONTWAIT);
                if (n > 0) {
                        hunch_learn(&w->read_first, true);
                        c->in_len = (size_t) n;
                        return 1;
                }
                if (n == 0 || !IN_SET(errno, EAGAIN, EWOULDBLOCK, EINTR))
                        return 0;
                hunch_learn(&w->read_first, false);
        }
        if (worker_park_possible()) {
                /* A retiring worker parks at once. */
                r = worker_stop_requested() ? 0 : worker_wait(c->fd, POLLIN, w->svc->park_delay_usec, true);
                if (r > 0)
                        return 1;
                if (IN_SET(r, 0, -ECANCELED) && http_park(c, PARK_IDLE, end) >= 0)
                        return HTTP_PARKED;
        }
        now = now_usec();
        r = now < end ? worker_wait(c->fd, POLLIN, end - now, true) : 0;
        if (r == -ECANCELED && worker_park_possible() && http_park(c, PARK_IDLE, end) >= 0)
                return HTTP_PARKED;
        /* Closed for a stop, maybe right after the last answer was sent: a
         * request that crosses the close would meet a closed socket, and
         * the kernel's reset would destroy the end of that answer before
         * the client has read it. linger_close() reads and drops it. */
        if (r == -ECANCELED)
                c->linger = true;
        return r > 0;
}

static void linger_close(HttpConn *c) {
        HttpWorker *w = c->w;
        uint64_t deadline = now_usec() + MIN(LINGER_USEC, w->cfg->header_timeout_usec);
        size_t total = 0;

        if (shutdown(c->fd, SHUT_WR) < 0)
                return;
        while (total < LINGER_BYTES) {
                ssize_t n = recv(c->fd, w->in, w->in_size, MSG_DONTWAIT);
                if (n > 0) {
                        total += (size_t) n;
                        continue;
                }
                if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                        return;
                uint64_t now = now_usec();
                if (now >= deadline || worker_wait(c->fd, POLLIN, deadline - now, false) <= 0)
                        return;
        }
}

static int http_serve(const ServiceConfig *svc, const Conn *conn) {
        HttpConn c = {
                .w = &worker,
                .fd = conn->fd,
                .keep_alive = true,
                .remote = "-",
                .peer = conn->peer,
                .peer_len = conn->peer_len,
        };
        const struct sockaddr *peer = conn->peer;
        int r;

        r = make_nonblocking(c.fd);
        if (r < 0)
                return log_debug_errno(r, "%s: cannot make the connection non-blocking: %s", svc->name,
                                       STRERROR(r));
        c.is_tcp = peer && (peer->sa_family == AF_INET || peer->sa_family == AF_INET6);
        if (worker.cfg->access_log || log_get_max_level() >= LOG_DEBUG)
                http_log_format_remote(peer, conn->peer_len, c.remote, sizeof(c.remote));

        c.start_usec = c.held_since_usec = now_usec();
        uint64_t deadline = c.start_usec + worker.cfg->header_timeout_usec;
        if (conn->parked) {
                /* Back from the front stage: the head it gathered, and the
                 * deadline that has run since the head began. */
                c.n_requests = conn->parked->requests;
                c.in_len = MIN((size_t) conn->parked->n_bytes, worker.in_size);
                memcpy(worker.in, conn->bytes, c.in_len);
                if (conn->parked->kind == PARK_HEAD)
                        deadline = conn->parked->deadline_usec;
        }
        for (;;) {
                HttpRequest req;

                r = read_request(&c, &req, deadline);
                if (r == HTTP_PARKED)
                        return 0;
                if (r <= 0)
                        break;
                r = handle_request(&c, &req);
                if (r == HTTP_PARKED)
                        return 0;
                if (r <= 0)
                        break;
                r = wait_next_request(&c);
                if (r == HTTP_PARKED)
                        return 0;
                if (r <= 0)
                        break;
                c.start_usec = now_usec();
                deadline = c.start_usec + worker.cfg->header_timeout_usec;
                score_begin_work(worker_score());
        }

        /* A corked last response leaves with the FIN here, before the
         * worker's close(): bytes the client sends after its request (a
         * pipelined one the worker did not read) would make close() reset
         * the connection, and a reset drops what is still unsent, the
         * whole corked response. A half-close sends it first. */
        if (c.linger)
                linger_close(&c);
        else if (c.corked)
                (void) shutdown(c.fd, SHUT_WR);
        return 0;
}

static int http_config_parse_group(ConfigParser *p, const config_setting_t *service, const config_setting_t *group,
                                   void **ret) {
        HttpConfig *c = NULL;
        int r = http_config_parse(p, service, group, &c);

        if (r < 0)
                return r;
        *ret = c;
        return 0;
}

static void http_config_free_group(void *c) {
        http_config_free(c);
}

/* Front stage: a parked connection has work once its head is complete, or
 * once as much as a head may hold has arrived (the worker answers 431). */
static int http_park_ready(const char *buf, size_t n, size_t scanned, size_t max) {
        /* Only the grammar is judged here (lengths by max): a head that is
         * already broken goes back at once, for the worker's 400, instead
         * of waiting for header_timeout and a 408. */
        const HttpParseLimits lim = { .max_head = max, .max_target = max };
        const char *why;

        return n >= max || http_parse_find_head_end(buf, n, scanned) > 0 || http_parse_check_partial(buf, n, &lim, &why) < 0;
}

static size_t http_park_timeout_answer(char *buf, size_t size) {
        static const char answer[] = "HTTP/1.1 408 Request Timeout\r\n"
                                     "Connection: close\r\n"
                                     "Content-Type: text/plain\r\n"
                                     "Content-Length: 16\r\n"
                                     "\r\n"
                                     "Request Timeout\n";

        if (size < sizeof answer - 1)
                return 0;
        memcpy(buf, answer, sizeof answer - 1);
        return sizeof answer - 1;
}

const HandlerVTable handler_http = {
        .name = "http",
        .config_group = "http",
        .uses_idle_timeout = false,
        .idle_timeout_hint = "set http.header_timeout, http.keepalive_timeout and http.send_timeout instead",
        .defer_accept_default = true,
        .config_parse = http_config_parse_group,
        .config_free = http_config_free_group,
        .init = http_init,
        .serve = http_serve,
        .park_ready = http_park_ready,
        .park_timeout_answer = http_park_timeout_answer,
        .park_idle_closes_on_stop = true,
        /* 2 ms, measured against 5 (bench/README.md): 1 KiB keep-alive at
         * C = W with one wrk thread went 0.96x the pre-redesign build's
         * rate at 2 ms and 0.82x at 5 ms; with two wrk threads 5 ms was
         * ahead (1.17x) and cost less CPU per request. */
        .park_delay_default = 0.002,
};
