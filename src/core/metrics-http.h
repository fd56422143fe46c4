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
