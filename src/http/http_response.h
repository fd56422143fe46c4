/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_conn.h"

/* A response head built in the worker's out buffer: one buffer, one send.
 * Appending past the end sets overflow instead of writing; the caller
 * checks it once, before sending. */
typedef struct HttpHead {
        char *buf;
        size_t size;
        size_t len;
        bool overflow;
} HttpHead;

const char *http_status_reason(unsigned status);

/* Starts a head: status line, Server and Date. */
void http_head_start(HttpHead *h, const HttpConn *c, unsigned status);
void http_head_add(HttpHead *h, const char *s, size_t n);
void http_head_add_str(HttpHead *h, const char *s);
void http_head_add_u64(HttpHead *h, uint64_t v);
/* Adds "Name: value\r\n". */
void http_head_field(HttpHead *h, const char *name, const char *value);
void http_head_field_u64(HttpHead *h, const char *name, uint64_t value);
/* Adds the Connection field the keep-alive decision calls for (version is
 * the request's, 10 or 11) and the empty line. Returns 0, or -ENOBUFS when
 * the head did not fit. */
int http_head_finish(HttpHead *h, const HttpConn *c, unsigned version);

/* Sends all of buf, waiting up to send_timeout each time the client does
 * not take more. more: a body follows at once, so the kernel should hold
 * this back and fill whole packets (MSG_MORE). Returns 0, -ETIMEDOUT, or
 * the socket's error. */
int http_send_all(HttpConn *c, const char *buf, size_t len, bool more);

/* Sends len bytes of file_fd from offset with sendfile(2), under the same
 * timeout rule. A file that shrank meanwhile cannot deliver the promised
 * length: -ENODATA, and the connection must be dropped. */
int http_send_file(HttpConn *c, int file_fd, uint64_t offset, uint64_t len);

/* Sends a complete error (or redirect) response with a small HTML body
 * (none for HEAD): status line, Server, Date, the given extra fields
 * (each "Name: value\r\n", may be NULL), Content-Type, Content-Length,
 * Connection. Records the status for the access log. */
int http_send_error(HttpConn *c, unsigned status, bool head_only, unsigned version, const char *extra,
                    size_t extra_len);
