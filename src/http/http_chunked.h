/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An incremental decoder of the chunked transfer coding (RFC 9112 §7.1),
 * as strict as the head parser: it takes the body in pieces of any size,
 * allocates nothing and keeps no data, only counts it. Every deviation
 * from the grammar is an error, since a lenient chunk parser is what
 * request smuggling feeds on:
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-size   = 1*HEXDIG
 *   chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 *   chunk-ext-val = token / quoted-string
 *   trailer-section = *( field-line CRLF )
 *
 * Trailer fields are checked like header fields (a token, a colon, no
 * control character, no obsolete folding) and otherwise ignored. */
typedef struct HttpChunked {
        unsigned state;
        uint64_t chunk_left;     /* size being read, then data bytes left in the chunk */
        uint64_t fed;            /* bytes of the body consumed so far, framing included */
        uint64_t max;            /* limit on fed */
        uint64_t data;           /* chunk-data bytes so far */
} HttpChunked;

/* Starts decoding a body of at most max bytes on the wire (chunk lines,
 * extensions and trailers count: they are what an endless body would be
 * made of). */
void http_chunked_init(HttpChunked *d, uint64_t max);

/* Feeds the next n bytes of the body. Returns 0 when all of them were
 * consumed and more are needed, 1 when the body ended (*ret_used bytes of
 * buf were the end of it; what follows is the next request), or a
 * negative errno with a static explanation in *ret_why (if not NULL):
 * -EBADMSG for a malformed body (400), -EFBIG when it goes past max (413).
 * After an error or the end, the decoder takes nothing more. */
int http_chunked_feed(HttpChunked *d, const char *buf, size_t n, size_t *ret_used, const char **ret_why);

/* Whether the body ended: the connection reaching EOF before that is a
 * body without its last chunk. */
bool http_chunked_done(const HttpChunked *d);
