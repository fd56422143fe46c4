/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

#include "http_conn.h"

/* Formats the peer for logs: "192.0.2.1:1234", "[2001:db8::1]:80", or
 * "unix" for a local socket. */
void http_log_format_remote(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);

/* Sends one access log record for the request just answered (req is NULL
 * when the request could not be parsed; then the start of the received
 * bytes stands in for the request line). MESSAGE is in the combined log
 * format; the journal also gets PREFORKD_SERVICE, PREFORKD_REMOTE and the
 * PREFORKD_HTTP_{METHOD,TARGET,VERSION,STATUS,BYTES,DURATION_US,REFERER,
 * USER_AGENT} fields. */
void http_log_access(const HttpConn *c, const HttpRequest *req, uint64_t duration_usec);
