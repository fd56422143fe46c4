/* SPDX-License-Identifier: MIT */
#pragma once

#include "http_conn.h"
#include "http_parse.h"

/* Answers one parsed request on c: maps the target to a file below the
 * root, evaluates preconditions and Range, and sends the response (head in
 * one send, body with sendfile). c->keep_alive must already be decided; it
 * goes into the Connection field. Records status and body bytes in c for
 * the access log. Returns 0 when the connection may go on, or a negative
 * errno when it must be dropped (client gone, send timeout, a file that
 * shrank while being sent). */
int http_serve_request(HttpConn *c, const HttpRequest *req);
