/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "listen-queue.h"
#include "log.h"
#include "metrics-http.h"
#include "metrics-parse.h"
#include "metrics.h"
#include "textbuf.h"

#define METRICS_MAX_REQUEST 4096U
#define METRICS_MAX_CONNECTIONS 16
#define METRICS_REQUEST_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define METRICS_ANSWER_TIMEOUT_USEC (10 * USEC_PER_SEC)

struct MetricsHttp {
        RequestServer *server;
        DaemonView *view;
        Supervisor *supervisor;
        ListenAddress address;
};

static void answer(RequestConn *c, const char *status, const char *content_type, const char *body, size_t n,
                   bool head) {
        TextBuf b = { 0 };
        size_t len = 0;
        char *a;

        textbuf_printf(&b,
                      "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                      status, content_type, n,
                      strncmp(status, "405", 3) == 0 ? "Allow: GET, HEAD\r\n" : "");
        if (!head)
                textbuf_append(&b, body, n);
        a = textbuf_steal(&b, &len);
        request_conn_reply(c, a, len);
}

static void answer_error(RequestConn *c, const char *status, const char *text) {
        answer(c, status, "text/plain; charset=utf-8", text, strlen(text), false);
}

static void metrics_handle(RequestConn *c, const char *req, size_t n, void *userdata) {
        MetricsHttp *m = userdata;
        _cleanup_free_ char *text = NULL;
        const char *status;
        TextBuf body = { 0 };
        size_t len = 0;
        bool head;

        if (metrics_http_parse_request_line(req, n, &head, &status) < 0) {
                answer_error(c, status, strncmp(status, "404", 3) == 0 ? "Only /metrics is served here.\n"
                                                                        : "Bad request.\n");
                return;
        }
        listen_queue_sample(m->supervisor);
        if (metrics_format(m->view, &body) < 0 || !(text = textbuf_steal(&body, &len))) {
                textbuf_done(&body);
                answer_error(c, "500 Internal Server Error", "Out of memory.\n");
                return;
        }
        answer(c, status, "text/plain; version=0.0.4; charset=utf-8", text, len, head);
}

static void metrics_bad_request(RequestConn *c, const char *why, void *userdata) {
        if (strstr(why, "too long"))
                answer_error(c, "431 Request Header Fields Too Large", "Request head too large.\n");
        else
                answer_error(c, "400 Bad Request", "Bad request.\n");
}

static const RequestServerOps metrics_server_ops = {
        .request_end = metrics_http_request_end,
        .handle = metrics_handle,
        .bad_request = metrics_bad_request,
};

int metrics_http_new(sd_event *e, const ListenAddress *address, DaemonView *view, Supervisor *supervisor,
                     MetricsHttp **ret) {
        static const RequestServerLimits limits = {
                .max_request = METRICS_MAX_REQUEST,
                .max_connections = METRICS_MAX_CONNECTIONS,
                .request_timeout_usec = METRICS_REQUEST_TIMEOUT_USEC,
                .answer_timeout_usec = METRICS_ANSWER_TIMEOUT_USEC,
                .busy_answer = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        };
        _cleanup_(metrics_http_freep) MetricsHttp *m = NULL;
        char bound[256];
        int fd, r;

        assert(e);
        assert(address);
        assert(ret);

        m = calloc(1, sizeof(MetricsHttp));
        if (!m)
                return -ENOMEM;
        m->view = view;
        m->supervisor = supervisor;
        m->address = *address;
        r = listen_open(address, 16, false, &fd);
        if (r < 0) {
                (void) listen_format(address, bound, sizeof bound);
                return log_error_errno(r, "metrics_listen: cannot listen on %s: %s", bound, STRERROR(r));
        }
        if (listen_format_fd(fd, bound, sizeof bound) < 0)
                (void) listen_format(address, bound, sizeof bound);
        r = request_server_new(e, fd, &metrics_server_ops, &limits, m, &m->server);
        if (r < 0) {
                listen_unlink(address);
                return r;
        }
        log_info("Metrics served on %s (GET /metrics)", bound);
        *ret = TAKE_PTR(m);
        return 0;
}

MetricsHttp *metrics_http_free(MetricsHttp *m) {
        if (!m)
                return NULL;
        if (m->server)
                listen_unlink(&m->address);
        request_server_free(m->server);
        free(m);
        return NULL;
}
