/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "proxy.h"

/* Takes the PROXY header off the connection fd without blocking, and
 * never a byte past it: what follows stays in the socket for the handler.
 * It looks ahead with MSG_PEEK and then reads exactly the bytes that
 * belong to the header; bytes of an incomplete header are read too (they
 * all belong to it, see proxy_parse()), so that a header trickling in does
 * not keep the socket readable.
 *
 * buf holds the *n bytes of the header taken by earlier calls, and has
 * room for size. Returns 1 with *ret filled once the header is complete
 * (*n is then its length); 0 when more must arrive first (*n updated);
 * -ENOBUFS when the header needs more room than size: call again with a
 * buffer of proxy_header_bound(buf, *n) bytes or more; -EBADMSG with
 * *ret_why set for a malformed header; -ECONNRESET with *ret_why set when
 * the peer closed before the header was complete; or another negative
 * errno of recv(). */
int proxy_read(int fd, ProxyMode mode, void *buf, size_t size, size_t *n, ProxyHeader *ret, const char **ret_why);
