/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The metrics endpoint's strict, tiny HTTP request parsing (pure, for the
 * fuzzer): only the request line matters, and only one is served. */

/* The length of the request head (up to and including its empty line
 * "\r\n\r\n") when buf holds a whole one, else 0. */
size_t metrics_http_request_end(const char *buf, size_t n);

/* Parses the request line at the start of req (n bytes, the head): GET or
 * HEAD of /metrics (a query allowed) with HTTP/1.0 or HTTP/1.1, printable
 * ASCII, single spaces. Returns 0 with *ret_head and *ret_status "200 OK";
 * else a negative errno with the status line to answer in *ret_status
 * ("400 Bad Request", "404 Not Found", "405 Method Not Allowed"). */
int metrics_http_parse_request_line(const char *req, size_t n, bool *ret_head, const char **ret_status);
