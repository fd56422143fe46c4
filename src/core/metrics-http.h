/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "daemon-view.h"
#include "listen.h"
#include "macros.h"
#include "request-server.h"

/* metrics_listen: the master answers GET /metrics with metrics_format()'s
 * text, one request per connection (HTTP/1.0 and 1.1, Connection: close),
 * through a RequestServer: the request head is at most 4 KiB and must
 * arrive within 5 s, at most 16 connections are served at once. Only the
 * request line is looked at; the rest of the head is read and ignored. */
typedef struct MetricsHttp MetricsHttp;

/* Opens address (as a service's listen address, not "systemd:") and serves
 * it. Returns 0 or a negative errno (logged). */
int metrics_http_new(sd_event *e, const ListenAddress *address, DaemonView *view, Supervisor *supervisor,
                     MetricsHttp **ret);
/* Closes it (and removes a unix socket file). Accepts NULL. */
MetricsHttp *metrics_http_free(MetricsHttp *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(MetricsHttp *, metrics_http_free)

/* Parses the request line at the start of req (n bytes, the head): GET or
 * HEAD of /metrics (a query allowed) with HTTP/1.0 or HTTP/1.1. Returns 0
 * with *ret_head and *ret_status "200 OK"; else a negative errno with the
 * status line to answer in *ret_status (400, 404, 405). */
int metrics_http_parse_request_line(const char *req, size_t n, bool *ret_head, const char **ret_status);
