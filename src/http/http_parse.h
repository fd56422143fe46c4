/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A piece of the request buffer: not NUL-terminated, p == NULL when absent. */
typedef struct HttpSpan {
        const char *p;
        size_t n;
} HttpSpan;

static inline bool http_span_isset(HttpSpan s) {
        return s.p != NULL;
}

typedef enum HttpMethod {
        HTTP_METHOD_GET,
        HTTP_METHOD_HEAD,
        HTTP_METHOD_OPTIONS,
        HTTP_METHOD_OTHER,       /* any other valid token: answered with 405 */
        _HTTP_METHOD_MAX,
} HttpMethod;

/* Limits the parser enforces, from the http group of the config. */
typedef struct HttpParseLimits {
        size_t max_head;         /* whole head incl. the final CRLF CRLF: 431 beyond */
        size_t max_target;       /* request-target: 414 beyond */
} HttpParseLimits;

/* One parsed request head. Every span points into the caller's buffer, so
 * the request is only valid while that buffer is unchanged. Parsing
 * allocates nothing. */
typedef struct HttpRequest {
        const char *head;        /* the buffer the head starts in */
        size_t head_len;         /* bytes of the head, leading empty lines included */
        HttpMethod method;
        HttpSpan method_name;
        HttpSpan target;         /* as sent */
        HttpSpan path;           /* still percent-encoded; empty for "*" */
        HttpSpan query;          /* after '?', unset without one */
        unsigned version;        /* 10 or 11 (HTTP/1.2+ are answered as 1.1) */
        HttpSpan host;           /* the Host field value, never empty; unset without one */
        bool conn_close;         /* Connection: close */
        bool conn_keep_alive;    /* Connection: keep-alive */
        bool has_content_length;
        uint64_t content_length;
        bool chunked;            /* Transfer-Encoding with chunked last */
        bool expect_continue;    /* Expect: 100-continue */
        bool expect_unknown;     /* any other expectation: 417 */
        HttpSpan if_match, if_none_match;  /* first field line of each */
        unsigned n_if_match, n_if_none_match;
        HttpSpan if_modified_since, if_unmodified_since;
        HttpSpan range, if_range;
        HttpSpan accept_encoding;
        HttpSpan user_agent, referer;
} HttpRequest;

/* Finds the end of a request head: returns the offset just past the
 * CRLF CRLF, or 0 when it is not in buf yet. Scanning starts at from, so
 * that a slow client sending a byte at a time costs linear time overall;
 * pass the previous buffer length. Leading empty lines (which RFC 9112
 * says to ignore before a request-line) do not count as the end. */
size_t http_parse_find_head_end(const char *buf, size_t len, size_t from);

/* Judges an incomplete head (no CRLF CRLF in buf yet): returns 0 when more
 * input may still make it valid, or the negative errno that it already
 * earns: -EBADMSG for a malformed request-line, -ENAMETOOLONG for a target
 * over the limit, -EMSGSIZE when buf has reached max_head. This lets junk
 * (a TLS handshake, a binary probe) be refused without waiting for
 * header_timeout. */
int http_parse_check_partial(const char *buf, size_t len, const HttpParseLimits *lim, const char **ret_why);

/* Parses a complete head (buf[0..len) holds at least the CRLF CRLF, as
 * found by http_parse_find_head_end()). Returns 0 and fills *ret, or a
 * negative errno that http_parse_error_status() maps to a status, with a
 * static explanation in *ret_why (if not NULL) for logs:
 *   -EBADMSG 400, -ENAMETOOLONG 414, -EMSGSIZE 431, -EOPNOTSUPP 501,
 *   -EPROTONOSUPPORT 505. */
int http_parse_request(const char *buf, size_t len, const HttpParseLimits *lim, HttpRequest *ret,
                       const char **ret_why);

/* The status code for an error returned by the functions above. */
unsigned http_parse_error_status(int error);

/* Iterates over every field line named name (case-insensitive) in a head
 * that http_parse_request() accepted. *state starts at 0. Returns true and
 * sets *ret_value (trimmed) for each one. Used for the rare list fields
 * (If-None-Match, If-Match) that a client splits over several lines. */
bool http_parse_next_field(const char *head, size_t head_len, const char *name, size_t *state,
                           HttpSpan *ret_value);

/* Case-insensitive comparison of a span with a NUL-terminated ASCII word. */
bool http_span_equal_nocase(HttpSpan s, const char *word);

/* Splits a comma-separated list (RFC 9110 §5.6.1): returns true and the
 * next non-empty element, trimmed of whitespace, advancing *state (start
 * at 0). Quoted strings are kept whole, so that commas inside entity tags
 * do not split them. */
bool http_list_next(HttpSpan list, size_t *state, HttpSpan *ret_element);

/* True for the token characters of RFC 9110 §5.6.2. */
bool http_is_tchar(unsigned char c);

/* The value of a hexadecimal digit (either case), or -1: for
 * percent-encoding and chunk sizes alike. */
static inline int http_unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}
