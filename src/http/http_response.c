/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "http_date.h"
#include "http_response.h"
#include "worker.h"

/* sendfile() at most this much per call, so that one call never holds the
 * worker for long and the send timeout is checked regularly. */
#define SENDFILE_CHUNK (1U << 21)

const char *http_status_reason(unsigned status) {
        switch (status) {
        case 200: return "OK";
        case 204: return "No Content";
        case 206: return "Partial Content";
        case 301: return "Moved Permanently";
        case 304: return "Not Modified";
        case 400: return "Bad Request";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 412: return "Precondition Failed";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 416: return "Range Not Satisfiable";
        case 417: return "Expectation Failed";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
        }
}

void http_head_add(HttpHead *h, const char *s, size_t n) {
        if (h->overflow || n > h->size - h->len) {
                h->overflow = true;
                return;
        }
        memcpy(h->buf + h->len, s, n);
        h->len += n;
}

void http_head_add_str(HttpHead *h, const char *s) {
        http_head_add(h, s, strlen(s));
}

void http_head_add_u64(HttpHead *h, uint64_t v) {
        char tmp[20];
        size_t i = sizeof(tmp);

        do {
                tmp[--i] = (char) ('0' + v % 10);
                v /= 10;
        } while (v > 0);
        http_head_add(h, tmp + i, sizeof(tmp) - i);
}

void http_head_field(HttpHead *h, const char *name, const char *value) {
        http_head_add_str(h, name);
        http_head_add(h, ": ", 2);
        http_head_add_str(h, value);
        http_head_add(h, "\r\n", 2);
}

void http_head_field_u64(HttpHead *h, const char *name, uint64_t value) {
        http_head_add_str(h, name);
        http_head_add(h, ": ", 2);
        http_head_add_u64(h, value);
        http_head_add(h, "\r\n", 2);
}

void http_head_start(HttpHead *h, const HttpConn *c, unsigned status) {
        *h = (HttpHead) { .buf = c->w->out, .size = c->w->out_size };

        http_head_add(h, "HTTP/1.1 ", 9);
        http_head_add_u64(h, status);
        http_head_add(h, " ", 1);
        http_head_add_str(h, http_status_reason(status));
        http_head_add(h, "\r\n", 2);
        http_head_add(h, c->w->server_field, c->w->server_field_len);
        http_head_add(h, "Date: ", 6);
        http_head_add(h, http_date_now(), HTTP_DATE_SIZE - 1);
        http_head_add(h, "\r\n", 2);
}

int http_head_finish(HttpHead *h, const HttpConn *c, unsigned version) {
        if (!c->keep_alive)
                http_head_add_str(h, "Connection: close\r\n");
        else if (version == 10)
                http_head_add_str(h, "Connection: keep-alive\r\n");
        http_head_add(h, "\r\n", 2);
        return h->overflow ? -ENOBUFS : 0;
}

/* Waits until the client takes more data, for at most send_timeout. A
 * response in flight is finished even when a graceful stop is requested. */
static int wait_writable(HttpConn *c) {
        int r = worker_wait(c->fd, POLLOUT, c->w->cfg->send_timeout_usec, false);
        if (r == 0)
                return -ETIMEDOUT;
        return r < 0 ? r : 0;
}

/* On a connection that closes after this response, the last bytes are
 * corked (MSG_MORE) too: the shutdown() that follows at once
 * (http_serve()) sends them and the FIN in one segment, where an
 * uncorked send would cost a segment of its own, one more for the
 * client's kernel to take in and acknowledge on every Connection: close
 * request. Nothing between this send and that shutdown waits for the
 * client. */
int http_send_all(HttpConn *c, const char *buf, size_t len, bool more) {
        if (!c->keep_alive) {
                more = true;
                c->corked = true;
        }
        return worker_send_all(c->fd, buf, len, more ? MSG_MORE : 0, c->w->cfg->send_timeout_usec);
}

/* Hands the rest of the file, and the connection, to the front stage: a
 * client that reads slowly must not hold a worker for the whole transfer.
 * The access log counts the whole body, as the front stage sends the rest
 * unless the client stalls for send_timeout. */
static int park_sending(HttpConn *c, int file_fd, uint64_t offset, uint64_t len) {
        const HttpConfig *cfg = c->w->cfg;
        ParkState st = {
                .kind = PARK_SENDING,
                .gather_max = (uint32_t) MIN(c->w->in_size, (size_t) PARK_BYTES_MAX),
                .deadline_usec = now_usec() + cfg->send_timeout_usec,
                .head_timeout_usec = cfg->header_timeout_usec,
                .requests = c->n_requests + 1,
                .file_offset = offset,
                .file_remaining = len,
                .send_timeout_usec = cfg->send_timeout_usec,
                .keepalive_usec = cfg->keepalive_timeout_usec,
                .keep_alive = c->keep_alive,
        };
        int r;

        if (c->peer && c->peer_len <= sizeof st.peer) {
                memcpy(&st.peer, c->peer, c->peer_len);
                st.peer_len = c->peer_len;
        }
        r = worker_park(c->fd, file_fd, &st, NULL, 0);
        if (r < 0)
                return r;
        c->body_bytes += len;
        return 0;
}

int http_send_file(HttpConn *c, int file_fd, uint64_t offset, uint64_t len) {
        off_t off = (off_t) offset;
        int r;

        while (len > 0) {
                ssize_t n = sendfile(c->fd, file_fd, &off, len > SENDFILE_CHUNK ? SENDFILE_CHUNK : (size_t) len);
                if (n > 0) {
                        len -= (uint64_t) n;
                        c->body_bytes += (uint64_t) n;
                        continue;
                }
                if (n == 0)
                        return -ENODATA;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                        return -errno;
                /* A client that does not take more within park.delay gets
                 * the rest from the front stage. */
                if (c->park_send && worker_park_possible()) {
                        r = worker_wait(c->fd, POLLOUT, c->w->svc->park_delay_usec, false);
                        if (r > 0)
                                continue;
                        if (r == 0 && park_sending(c, file_fd, (uint64_t) off, len) >= 0)
                                return -EINPROGRESS;
                        c->park_send = false;
                }
                r = wait_writable(c);
                if (r < 0)
                        return r;
        }
        return 0;
}

int http_send_error(HttpConn *c, unsigned status, bool head_only, unsigned version, const char *extra,
                    size_t extra_len) {
        char body[192];
        HttpHead h;
        int r;

        const char *reason = http_status_reason(status);
        int n = snprintf(body, sizeof(body),
                         "<html><head><title>%u %s</title></head><body><h1>%u %s</h1></body></html>\n", status,
                         reason, status, reason);
        size_t body_len = n > 0 && (size_t) n < sizeof(body) ? (size_t) n : 0;

        c->status = status;
        http_head_start(&h, c, status);
        if (extra)
                http_head_add(&h, extra, extra_len);
        http_head_add_str(&h, "Content-Type: text/html\r\n");
        http_head_field_u64(&h, "Content-Length", body_len);
        r = http_head_finish(&h, c, version);
        if (r < 0)
                return r;
        if (!head_only)
                http_head_add(&h, body, body_len);
        if (h.overflow)
                return -ENOBUFS;
        r = http_send_all(c, h.buf, h.len, false);
        if (r >= 0 && !head_only)
                c->body_bytes += body_len;
        return r;
}
