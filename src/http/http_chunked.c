/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "http_chunked.h"
#include "http_parse.h"
#include "macros.h"

enum {
        ST_SIZE_FIRST,      /* the first hex digit of a chunk-size */
        ST_SIZE,            /* more hex digits */
        ST_SIZE_WS,         /* BWS after the size: only ";" may follow */
        ST_EXT_NAME_FIRST,  /* after ";": BWS, then a token */
        ST_EXT_NAME,
        ST_EXT_NAME_WS,     /* BWS after a name: "=" or ";" must follow */
        ST_EXT_VAL_FIRST,   /* after "=": BWS, then a token or a quoted-string */
        ST_EXT_TOKEN,
        ST_EXT_QUOTED,
        ST_EXT_QUOTED_PAIR, /* after a backslash inside quotes */
        ST_EXT_QUOTED_END,  /* just after the closing quote */
        ST_EXT_VAL_WS,      /* BWS after a value: only ";" may follow */
        ST_LINE_LF,         /* CR of a chunk line seen */
        ST_DATA,
        ST_DATA_CR,         /* the CRLF that ends chunk-data */
        ST_DATA_LF,
        ST_TRAILER_FIRST,   /* start of a trailer field line, or the final CRLF */
        ST_TRAILER_NAME,
        ST_TRAILER_VALUE,
        ST_TRAILER_LF,
        ST_END_LF,          /* CR of the final empty line seen */
        ST_DONE,
        ST_FAILED,
};

void http_chunked_init(HttpChunked *d, uint64_t max) {
        *d = (HttpChunked) { .state = ST_SIZE_FIRST, .max = max };
}

bool http_chunked_done(const HttpChunked *d) {
        return d->state == ST_DONE;
}

static bool is_ws(char c) {
        return c == ' ' || c == '\t';
}

/* HTAB, SP, VCHAR and obs-text: what a field value may hold, and what
 * quoted-strings are made of (RFC 9110 §5.5, §5.6.4; the quote and the
 * backslash are handled by the caller). */
static bool is_text(unsigned char c) {
        return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* One byte of everything but chunk-data. Returns 0 or -EBADMSG. */
static int step(HttpChunked *d, char ch, const char **why) {
        unsigned char c = (unsigned char) ch;
        int v;

        switch (d->state) {
        case ST_SIZE_FIRST:
                v = http_unhex(ch);
                if (v < 0) {
                        /* Whitespace, a sign, "_", ";" without a size, an
                         * empty line: none is a chunk-size. */
                        *why = "chunk size is not a hexadecimal number";
                        return -EBADMSG;
                }
                d->chunk_left = (uint64_t) v;
                d->state = ST_SIZE;
                return 0;
        case ST_SIZE:
                v = http_unhex(ch);
                if (v >= 0) {
                        if (d->chunk_left > (UINT64_MAX >> 4)) {
                                *why = "chunk size overflows";
                                return -EBADMSG;
                        }
                        d->chunk_left = d->chunk_left << 4 | (uint64_t) v;
                        return 0;
                }
                if (ch == ';')
                        d->state = ST_EXT_NAME_FIRST;
                else if (is_ws(ch))
                        d->state = ST_SIZE_WS;
                else if (ch == '\r')
                        d->state = ST_LINE_LF;
                else {
                        /* "0x10", "1_000", "5,": the size ends at the
                         * first byte that is no hex digit. */
                        *why = "invalid character after chunk size";
                        return -EBADMSG;
                }
                return 0;
        case ST_SIZE_WS:
                if (ch == ';')
                        d->state = ST_EXT_NAME_FIRST;
                else if (!is_ws(ch)) {
                        /* BWS belongs to a following extension only. */
                        *why = "whitespace after chunk size";
                        return -EBADMSG;
                }
                return 0;
        case ST_EXT_NAME_FIRST:
                if (http_is_tchar(c))
                        d->state = ST_EXT_NAME;
                else if (!is_ws(ch)) {
                        *why = "chunk extension without a valid name";
                        return -EBADMSG;
                }
                return 0;
        case ST_EXT_NAME:
                if (http_is_tchar(c))
                        return 0;
                if (ch == ';')
                        d->state = ST_EXT_NAME_FIRST;
                else if (ch == '=')
                        d->state = ST_EXT_VAL_FIRST;
                else if (is_ws(ch))
                        d->state = ST_EXT_NAME_WS;
                else if (ch == '\r')
                        d->state = ST_LINE_LF;
                else {
                        *why = "invalid character in chunk extension name";
                        return -EBADMSG;
                }
                return 0;
        case ST_EXT_NAME_WS:
                if (ch == ';')
                        d->state = ST_EXT_NAME_FIRST;
                else if (ch == '=')
                        d->state = ST_EXT_VAL_FIRST;
                else if (!is_ws(ch)) {
                        *why = "invalid character after chunk extension name";
                        return -EBADMSG;
                }
                return 0;
        case ST_EXT_VAL_FIRST:
                if (ch == '"')
                        d->state = ST_EXT_QUOTED;
                else if (http_is_tchar(c))
                        d->state = ST_EXT_TOKEN;
                else if (!is_ws(ch)) {
                        *why = "invalid chunk extension value";
                        return -EBADMSG;
                }
                return 0;
        case ST_EXT_TOKEN:
                if (http_is_tchar(c))
                        return 0;
                if (ch == ';')
                        d->state = ST_EXT_NAME_FIRST;
                else if (is_ws(ch))
                        d->state = ST_EXT_VAL_WS;
                else if (ch == '\r')
                        d->state = ST_LINE_LF;
                else {
                        *why = "invalid character in chunk extension value";
                        return -EBADMSG;
                }
                return 0;
        case ST_EXT_QUOTED:
                if (ch == '"')
                        d->state = ST_EXT_QUOTED_END;
                else if (ch == '\\')
                        d->state = ST_EXT_QUOTED_PAIR;
                else if (!is_text(c)) {
                        *why = "control character in quoted chunk extension";
                        return -EBADMSG;
                }
                return 0;
        case ST_EXT_QUOTED_PAIR:
                if (!is_text(c)) {
                        *why = "control character in quoted chunk extension";
                        return -EBADMSG;
                }
                d->state = ST_EXT_QUOTED;
                return 0;
        case ST_EXT_QUOTED_END:
                if (ch == ';')
                        d->state = ST_EXT_NAME_FIRST;
                else if (is_ws(ch))
                        d->state = ST_EXT_VAL_WS;
                else if (ch == '\r')
                        d->state = ST_LINE_LF;
                else {
                        *why = "invalid character after quoted chunk extension";
                        return -EBADMSG;
                }
                return 0;
        case ST_EXT_VAL_WS:
                if (ch == ';')
                        d->state = ST_EXT_NAME_FIRST;
                else if (!is_ws(ch)) {
                        /* Trailing whitespace before CRLF included: the
                         * grammar has BWS only before ";" and "=". */
                        *why = "whitespace at the end of a chunk extension";
                        return -EBADMSG;
                }
                return 0;
        case ST_LINE_LF:
                if (ch != '\n') {
                        *why = "chunk line not terminated by CRLF";
                        return -EBADMSG;
                }
                d->state = d->chunk_left == 0 ? ST_TRAILER_FIRST : ST_DATA;
                return 0;
        case ST_DATA_CR:
                if (ch != '\r') {
                        *why = "chunk data longer than its size";
                        return -EBADMSG;
                }
                d->state = ST_DATA_LF;
                return 0;
        case ST_DATA_LF:
                if (ch != '\n') {
                        *why = "chunk data not terminated by CRLF";
                        return -EBADMSG;
                }
                d->state = ST_SIZE_FIRST;
                return 0;
        case ST_TRAILER_FIRST:
                if (ch == '\r')
                        d->state = ST_END_LF;
                else if (http_is_tchar(c))
                        d->state = ST_TRAILER_NAME;
                else {
                        *why = is_ws(ch) ? "obsolete line folding or whitespace before a trailer field"
                                         : "malformed trailer field name";
                        return -EBADMSG;
                }
                return 0;
        case ST_TRAILER_NAME:
                if (ch == ':')
                        d->state = ST_TRAILER_VALUE;
                else if (!http_is_tchar(c)) {
                        *why = "malformed trailer field name";
                        return -EBADMSG;
                }
                return 0;
        case ST_TRAILER_VALUE:
                if (ch == '\r')
                        d->state = ST_TRAILER_LF;
                else if (!is_text(c)) {
                        *why = "control character in trailer field value";
                        return -EBADMSG;
                }
                return 0;
        case ST_TRAILER_LF:
                if (ch != '\n') {
                        *why = "bare CR in trailer field";
                        return -EBADMSG;
                }
                d->state = ST_TRAILER_FIRST;
                return 0;
        case ST_END_LF:
                if (ch != '\n') {
                        *why = "chunked body not terminated by CRLF";
                        return -EBADMSG;
                }
                d->state = ST_DONE;
                return 0;
        default:
                assert_not_reached();
        }
}

int http_chunked_feed(HttpChunked *d, const char *buf, size_t n, size_t *ret_used, const char **ret_why) {
        const char *why = NULL;
        size_t i = 0;
        int r = 0;

        if (d->state == ST_DONE) {
                *ret_used = 0;
                return 1;
        }
        if (d->state == ST_FAILED) {
                why = "chunked body already refused";
                r = -EBADMSG;
                goto fail;
        }

        /* Never look at more than the limit leaves: the rest would only be
         * refused anyway. */
        assert(d->fed <= d->max);
        size_t allowed = (size_t) MIN((uint64_t) n, d->max - d->fed);
        while (i < allowed) {
                if (d->state == ST_DATA) {
                        size_t k = (size_t) MIN(d->chunk_left, (uint64_t) (allowed - i));
                        i += k;
                        d->chunk_left -= k;
                        d->data += k;
                        if (d->chunk_left == 0)
                                d->state = ST_DATA_CR;
                        continue;
                }
                r = step(d, buf[i++], &why);
                if (r < 0)
                        goto fail;
                /* A chunk that cannot fit is refused at its size line
                 * instead of being read up to the limit first. */
                if (d->state == ST_DATA && d->chunk_left > d->max - d->fed - i) {
                        why = "chunk larger than the body limit";
                        r = -EFBIG;
                        goto fail;
                }
                if (d->state == ST_DONE) {
                        d->fed += i;
                        *ret_used = i;
                        return 1;
                }
        }
        if (i < n) {
                why = "chunked body larger than the limit";
                r = -EFBIG;
                goto fail;
        }
        d->fed += i;
        *ret_used = i;
        return 0;

fail:
        d->fed += i;
        d->state = ST_FAILED;
        if (ret_why)
                *ret_why = why;
        *ret_used = i;
        return r;
}
