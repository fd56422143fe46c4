/* SPDX-License-Identifier: MIT */
/* Unit tests of the HTTP/1.1 request parser: every accepted form and every
 * rejection the handler promises (RFC 9112 framing, limits, smuggling
 * vectors). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include "testlib.h"

static const HttpParseLimits limits = { .max_head = 1024, .max_target = 128 };

/* Parses a complete head given as a C string. */
static int parse(const char *s, HttpRequest *req) {
        const char *why = NULL;
        size_t len = strlen(s);

        memset(req, 0xaa, sizeof(*req));
        size_t end = http_parse_find_head_end(s, len, 0);
        if (end == 0)
                return -EAGAIN;
        return http_parse_request(s, end, &limits, req, &why);
}

static unsigned status_of(const char *s) {
        HttpRequest req;
        int r = parse(s, &req);
        ck_assert_int_ne(r, -EAGAIN);
        return r < 0 ? http_parse_error_status(r) : 200;
}

static bool span_is(HttpSpan s, const char *want) {
        return s.p && s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

#define ASSERT_SPAN(s, want) ck_assert_msg(span_is((s), (want)), "span is \"%.*s\", expected \"%s\"", \
                                           (int) (s).n, (s).p ? (s).p : "", (want))

START_TEST(test_simple_get) {
        HttpRequest req;
        ck_assert_int_eq(parse("GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n", &req), 0);
        ck_assert_int_eq(req.method, HTTP_METHOD_GET);
        ASSERT_SPAN(req.method_name, "GET");
        ASSERT_SPAN(req.target, "/index.html");
        ASSERT_SPAN(req.path, "/index.html");
        ck_assert_ptr_null(req.query.p);
        ck_assert_uint_eq(req.version, 11);
        ASSERT_SPAN(req.host, "example.com");
        ck_assert(!req.conn_close);
        ck_assert(!req.has_content_length);
        ck_assert(!req.chunked);
        ck_assert_uint_eq(req.head_len, strlen("GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n"));
}
END_TEST

START_TEST(test_head_and_versions) {
        HttpRequest req;
        ck_assert_int_eq(parse("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", &req), 0);
        ck_assert_int_eq(req.method, HTTP_METHOD_HEAD);

        /* HTTP/1.0 needs no Host. */
        ck_assert_int_eq(parse("GET / HTTP/1.0\r\n\r\n", &req), 0);
        ck_assert_uint_eq(req.version, 10);
        ck_assert_ptr_null(req.host.p);

        /* A higher minor version is answered as 1.1 (RFC 9110 §6.2). */
        ck_assert_int_eq(parse("GET / HTTP/1.2\r\nHost: h\r\n\r\n", &req), 0);
        ck_assert_uint_eq(req.version, 11);
        ck_assert_int_eq(parse("GET / HTTP/1.9\r\nHost: h\r\n\r\n", &req), 0);
        ck_assert_uint_eq(req.version, 11);
}
END_TEST

START_TEST(test_other_methods) {
        HttpRequest req;
        ck_assert_int_eq(parse("POST /x HTTP/1.1\r\nHost: h\r\n\r\n", &req), 0);
        ck_assert_int_eq(req.method, HTTP_METHOD_OTHER);
        ASSERT_SPAN(req.method_name, "POST");
        /* Methods are case-sensitive: "get" is not GET. */
        ck_assert_int_eq(parse("get / HTTP/1.1\r\nHost: h\r\n\r\n", &req), 0);
        ck_assert_int_eq(req.method, HTTP_METHOD_OTHER);
        ck_assert_int_eq(parse("M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n", &req), -EBADMSG);
        ck_assert_int_eq(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &req), 0);
        ck_assert_int_eq(req.method, HTTP_METHOD_OPTIONS);
        ck_assert_uint_eq(req.path.n, 0);
        ck_assert_int_eq(parse("OPTIONS /a HTTP/1.1\r\nHost: h\r\n\r\n", &req), 0);
        ck_assert_int_eq(req.method, HTTP_METHOD_OPTIONS);
        ck_assert_int_eq(parse("options * HTTP/1.1\r\nHost: h\r\n\r\n", &req), -EBADMSG);
        ck_assert_int_eq(parse("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", &req), 0);
        ck_assert_int_eq(req.method, HTTP_METHOD_OTHER);
}
END_TEST

START_TEST(test_query) {
        HttpRequest req;
        ck_assert_int_eq(parse("GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: h\r\n\r\n", &req), 0);
        ASSERT_SPAN(req.path, "/a/b");
        ASSERT_SPAN(req.query, "x=1&y=%20");
        ck_assert_int_eq(parse("GET /? HTTP/1.1\r\nHost: h\r\n\r\n", &req), 0);
        ASSERT_SPAN(req.path, "/");
        ck_assert_ptr_nonnull(req.query.p);
        ck_assert_uint_eq(req.query.n, 0);
}
END_TEST

START_TEST(test_absolute_form) {
        HttpRequest req;
        ck_assert_int_eq(parse("GET http://example.com/a?b HTTP/1.1\r\nHost: other\r\n\r\n", &req), 0);
        ASSERT_SPAN(req.path, "/a");
        ASSERT_SPAN(req.query, "b");
        ck_assert_int_eq(parse("GET HTTPS://example.com:8443/x/y HTTP/1.1\r\nHost: h\r\n\r\n", &req), 0);
        ASSERT_SPAN(req.path, "/x/y");
        ck_assert_int_eq(parse("GET http://example.com HTTP/1.1\r\nHost: h\r\n\r\n", &req), 0);
        ASSERT_SPAN(req.path, "/");
        ck_assert_int_eq(parse("GET http://example.com?q HTTP/1.1\r\nHost: h\r\n\r\n", &req), 0);
        ASSERT_SPAN(req.path, "/");
        ASSERT_SPAN(req.query, "q");
        ck_assert_int_eq(parse("GET http://[::1]:80/ HTTP/1.1\r\nHost: h\r\n\r\n", &req), 0);
        ASSERT_SPAN(req.path, "/");
        /* Host is still required with absolute-form (RFC 9112 §3.2). */
        ck_assert_int_eq(parse("GET http://example.com/ HTTP/1.1\r\n\r\n", &req), -EBADMSG);
        ck_assert_int_eq(parse("GET http://user@example.com/ HTTP/1.1\r\nHost: h\r\n\r\n", &req), -EBADMSG);
        ck_assert_int_eq(parse("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", &req), -EBADMSG);
        ck_assert_int_eq(parse("GET ftp://example.com/ HTTP/1.1\r\nHost: h\r\n\r\n", &req), -EBADMSG);
        ck_assert_int_eq(parse("GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n", &req), -EBADMSG);
        ck_assert_int_eq(parse("GET * HTTP/1.1\r\nHost: h\r\n\r\n", &req), -EBADMSG);
}
END_TEST

START_TEST(test_leading_empty_lines) {
        HttpRequest req;
        const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
        ck_assert_int_eq(parse(s, &req), 0);
        ck_assert_uint_eq(req.head_len, strlen(s));
        ASSERT_SPAN(req.target, "/");
}
END_TEST

START_TEST(test_fields) {
        HttpRequest req;
        ck_assert_int_eq(parse("GET / HTTP/1.1\r\n"
                               "hOsT:   example.com:8080 \t\r\n"
                               "Connection: Keep-Alive, Upgrade\r\n"
                               "Content-Length: 0\r\n"
                               "If-None-Match: \"a\", W/\"b\"\r\n"
                               "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                               "Range: bytes=0-1\r\n"
                               "If-Range: \"a\"\r\n"
                               "User-Agent: test/1.0 \xc3\xa9\r\n"
                               "Referer: http://x/\r\n"
                               "X-Empty:\r\n"
                               "\r\n",
                               &req),
                         0);
        ASSERT_SPAN(req.host, "example.com:8080");
        ck_assert(req.conn_keep_alive);
        ck_assert(!req.conn_close);
        ck_assert(req.has_content_length);
        ck_assert_uint_eq(req.content_length, 0);
        ASSERT_SPAN(req.if_none_match, "\"a\", W/\"b\"");
        ck_assert_uint_eq(req.n_if_none_match, 1);
        ASSERT_SPAN(req.if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT");
        ASSERT_SPAN(req.range, "bytes=0-1");
        ASSERT_SPAN(req.if_range, "\"a\"");
        ASSERT_SPAN(req.user_agent, "test/1.0 \xc3\xa9");
        ASSERT_SPAN(req.referer, "http://x/");

        ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", &req), 0);
        ck_assert(req.conn_close);
}
END_TEST

START_TEST(test_duplicate_fields) {
        HttpRequest req;
        const char *s = "GET / HTTP/1.1\r\nHost: h\r\n"
                        "If-None-Match: \"a\"\r\n"
                        "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                        "If-Modified-Since: Sun, 06 Nov 1994 08:49:38 GMT\r\n"
                        "Range: bytes=0-1\r\nRange: bytes=2-3\r\n"
                        "if-none-match: \"b\"\r\n\r\n";
        ck_assert_int_eq(parse(s, &req), 0);
        /* Invalid single-valued preconditions and Range are ignored. */
        ck_assert_ptr_null(req.if_modified_since.p);
        ck_assert_ptr_null(req.range.p);
        /* A list field over two lines: both are found. */
        ck_assert_uint_eq(req.n_if_none_match, 2);
        size_t state = 0;
        HttpSpan v;
        ck_assert(http_parse_next_field(req.head, req.head_len, "if-none-match", &state, &v));
        ASSERT_SPAN(v, "\"a\"");
        ck_assert(http_parse_next_field(req.head, req.head_len, "if-none-match", &state, &v));
        ASSERT_SPAN(v, "\"b\"");
        ck_assert(!http_parse_next_field(req.head, req.head_len, "if-none-match", &state, &v));
}
END_TEST

START_TEST(test_body_framing) {
        HttpRequest req;
        ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 12345\r\n\r\n", &req), 0);
        ck_assert(req.has_content_length);
        ck_assert_uint_eq(req.content_length, 12345);
        ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", &req), 0);
        ck_assert(req.chunked);
        ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", &req), 0);
        ck_assert(req.chunked);
        ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n",
                               &req),
                         0);
        ck_assert(req.chunked);
}
END_TEST

START_TEST(test_expect) {
        HttpRequest req;
        ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n\r\n", &req), 0);
        ck_assert(req.expect_continue);
        ck_assert(!req.expect_unknown);
        ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n", &req), 0);
        ck_assert(req.expect_unknown);
        /* HTTP/1.0 has no expectations: ignored. */
        ck_assert_int_eq(parse("GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &req), 0);
        ck_assert(!req.expect_continue);
}
END_TEST

/* Each of these must be refused with 400. */
static const char *const bad_requests[] = {
        "get / http/1.1\r\nHost: h\r\n\r\n",                      /* version is case-sensitive */
        "GET /\r\n\r\n",                                          /* HTTP/0.9 */
        "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",                     /* two spaces */
        "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",                     /* trailing space */
        "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n",                     /* tab separator */
        " GET / HTTP/1.1\r\nHost: h\r\n\r\n",                     /* leading space */
        "GE(T / HTTP/1.1\r\nHost: h\r\n\r\n",                     /* not a token */
        "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n",                 /* control in target */
        "GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",              /* raw non-ASCII in target */
        "GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n",                /* fragment */
        "GET index.html HTTP/1.1\r\nHost: h\r\n\r\n",             /* not origin-form */
        "GET / HTTP/1.1\nHost: h\r\n\r\n",                        /* bare LF after request line */
        "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",                /* bare LF in fields */
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",           /* bare CR */
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  folded\r\n\r\n",  /* obs-fold */
        "GET / HTTP/1.1\r\n Host: h\r\n\r\n",                     /* space before first field */
        "GET / HTTP/1.1\r\nHost : h\r\n\r\n",                     /* space before colon */
        "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n",               /* empty field name */
        "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n",           /* no colon */
        "GET / HTTP/1.1\r\nBad(Name): v\r\nHost: h\r\n\r\n",      /* name not a token */
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n",         /* control in value */
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fz\r\n\r\n",         /* DEL in value */
        "GET / HTTP/1.1\r\n\r\n",                                 /* 1.1 without Host */
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",           /* two Hosts */
        "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",                    /* invalid Host */
        "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost:\r\n\r\n",                        /* empty Host */
        "GET / HTTP/1.1\r\nHost:  \t \r\n\r\n",
        "GET / HTTP/1.0\r\nHost:\r\n\r\n",
        "GET http://h/ HTTP/1.1\r\nHost:\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n",
        "GET / HTTP/1.10\r\nHost: h\r\n\r\n",                     /* two-digit minor */
        "GET / HTTP/1\r\nHost: h\r\n\r\n",
        "GET / HTTPS/1.1\r\nHost: h\r\n\r\n",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ / HTTP/1.1\r\nHost: h\r\n\r\n", /* method too long */
        NULL,
};

START_TEST(test_bad_requests) {
        for (size_t i = 0; bad_requests[i]; i++) {
                HttpRequest req;
                const char *s = bad_requests[i];
                size_t len = strlen(s);
                size_t end = http_parse_find_head_end(s, len, 0);
                int r = end > 0 ? http_parse_request(s, end, &limits, &req, NULL)
                                : http_parse_check_partial(s, len, &limits, NULL);
                if (end == 0 && r == 0)
                        r = -EAGAIN; /* would wait for more: not refused */
                ck_assert_msg(r == -EBADMSG, "request %zu (%s) gave %d, not 400", i, s, r);
        }
}
END_TEST

START_TEST(test_nul_in_field) {
        static const char s[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0z\r\n\r\n";
        HttpRequest req;
        size_t end = http_parse_find_head_end(s, sizeof(s) - 1, 0);
        ck_assert_uint_eq(end, sizeof(s) - 1);
        ck_assert_int_eq(http_parse_request(s, end, &limits, &req, NULL), -EBADMSG);
        static const char t[] = "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n";
        ck_assert_int_eq(http_parse_check_partial(t, sizeof(t) - 1, &limits, NULL), -EBADMSG);
}
END_TEST

START_TEST(test_not_implemented_and_version) {
        ck_assert_uint_eq(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo, chunked\r\n\r\n"), 501);
        ck_assert_uint_eq(status_of("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
        ck_assert_uint_eq(status_of("GET / HTTP/3.0\r\nHost: h\r\n\r\n"), 505);
        ck_assert_uint_eq(status_of("GET / HTTP/0.9\r\n\r\n"), 505);
        /* A version is judged as soon as the request line is complete. */
        const char *s = "GET / HTTP/2.0\r\nHost";
        ck_assert_int_eq(http_parse_check_partial(s, strlen(s), &limits, NULL), -EPROTONOSUPPORT);
}
END_TEST

START_TEST(test_limits) {
        char buf[4096];
        HttpRequest req;

        /* Target exactly at the limit is fine; one more byte is 414. */
        int n = snprintf(buf, sizeof(buf), "GET /%0*d HTTP/1.1\r\nHost: h\r\n\r\n", (int) limits.max_target - 1, 0);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(parse(buf, &req), 0);
        ck_assert_uint_eq(req.target.n, limits.max_target);
        snprintf(buf, sizeof(buf), "GET /%0*d HTTP/1.1\r\nHost: h\r\n\r\n", (int) limits.max_target, 0);
        ck_assert_uint_eq(status_of(buf), 414);

        /* Partial: a target that is already too long is 414 at once. */
        snprintf(buf, sizeof(buf), "GET /%0*d", (int) limits.max_target + 10, 0);
        ck_assert_int_eq(http_parse_check_partial(buf, strlen(buf), &limits, NULL), -ENAMETOOLONG);

        /* A head that fills max_head without ending is 431. */
        memset(buf, 0, sizeof(buf));
        strcpy(buf, "GET / HTTP/1.1\r\nHost: h\r\nX-Long: ");
        size_t l = strlen(buf);
        memset(buf + l, 'a', limits.max_head - l);
        ck_assert_int_eq(http_parse_check_partial(buf, limits.max_head - 1, &limits, NULL), 0);
        ck_assert_int_eq(http_parse_check_partial(buf, limits.max_head, &limits, NULL), -EMSGSIZE);
        ck_assert_uint_eq(http_parse_error_status(-EMSGSIZE), 431);

        /* A complete head over the limit is 431 too. */
        memcpy(buf + limits.max_head, "\r\n\r\n", 4);
        size_t end = http_parse_find_head_end(buf, limits.max_head + 4, 0);
        ck_assert_uint_eq(end, limits.max_head + 4);
        ck_assert_int_eq(http_parse_request(buf, end, &limits, &req, NULL), -EMSGSIZE);
}
END_TEST

START_TEST(test_partial) {
        const char *ok[] = { "G", "GET", "GET ", "GET /x", "GET /x ", "GET /x HTTP/1.", "GET /x HTTP/1.1\r",
                             "GET /x HTTP/1.1\r\nHost: h", "\r\n", "\r", "\r\nGE", NULL };
        for (size_t i = 0; ok[i]; i++)
                ck_assert_msg(http_parse_check_partial(ok[i], strlen(ok[i]), &limits, NULL) == 0, "prefix %zu", i);

        /* A TLS ClientHello, an SSH banner on the HTTP port: refused at once. */
        const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
        ck_assert_int_eq(http_parse_check_partial(tls, sizeof(tls) - 1, &limits, NULL), -EBADMSG);
        ck_assert_int_eq(http_parse_check_partial("SSH-2.0-x\r\n", 11, &limits, NULL), -EBADMSG);
        ck_assert_int_eq(http_parse_check_partial("GET /x HTTP/1.1\n", 16, &limits, NULL), -EBADMSG);
        ck_assert_int_eq(http_parse_check_partial("GET /x HTTX", 11, &limits, NULL), -EBADMSG);
}
END_TEST

START_TEST(test_find_head_end) {
        const char *s = "GET / HTTP/1.1\r\nHost: h\r\n\r\nNEXT";
        size_t len = strlen(s), want = len - 4;

        ck_assert_uint_eq(http_parse_find_head_end(s, len, 0), want);
        /* Fed one byte at a time, the end is found exactly when it arrives. */
        size_t prev = 0, found = 0;
        for (size_t n = 1; n <= len && found == 0; n++) {
                found = http_parse_find_head_end(s, n, prev);
                ck_assert_uint_eq(found, n == want ? want : 0);
                prev = n;
        }
        ck_assert_uint_eq(found, want);
        /* Leading empty lines are not an end. */
        ck_assert_uint_eq(http_parse_find_head_end("\r\n\r\n\r\n", 6, 0), 0);
        ck_assert_uint_eq(http_parse_find_head_end("\r\n\r\nG\r\n\r\n", 9, 0), 9);
}
END_TEST

START_TEST(test_list_next) {
        HttpSpan list = { .p = " a , \"b,c\" ,, W/\"d\\\"e\",", .n = 0 };
        HttpSpan e;
        size_t state = 0;

        list.n = strlen(list.p);
        ck_assert(http_list_next(list, &state, &e));
        ASSERT_SPAN(e, "a");
        ck_assert(http_list_next(list, &state, &e));
        ASSERT_SPAN(e, "\"b,c\"");
        ck_assert(http_list_next(list, &state, &e));
        ASSERT_SPAN(e, "W/\"d\\\"e\"");
        ck_assert(!http_list_next(list, &state, &e));
}
END_TEST

START_TEST(test_error_status) {
        ck_assert_uint_eq(http_parse_error_status(-EBADMSG), 400);
        ck_assert_uint_eq(http_parse_error_status(-ENAMETOOLONG), 414);
        ck_assert_uint_eq(http_parse_error_status(-EMSGSIZE), 431);
        ck_assert_uint_eq(http_parse_error_status(-EOPNOTSUPP), 501);
        ck_assert_uint_eq(http_parse_error_status(-EPROTONOSUPPORT), 505);
}
END_TEST

int main(void) {
        Suite *s = suite_create("http-parse");

        TD_ADD_TEST(s, test_simple_get);
        TD_ADD_TEST(s, test_head_and_versions);
        TD_ADD_TEST(s, test_other_methods);
        TD_ADD_TEST(s, test_query);
        TD_ADD_TEST(s, test_absolute_form);
        TD_ADD_TEST(s, test_leading_empty_lines);
        TD_ADD_TEST(s, test_fields);
        TD_ADD_TEST(s, test_duplicate_fields);
        TD_ADD_TEST(s, test_body_framing);
        TD_ADD_TEST(s, test_expect);
        TD_ADD_TEST(s, test_bad_requests);
        TD_ADD_TEST(s, test_nul_in_field);
        TD_ADD_TEST(s, test_not_implemented_and_version);
        TD_ADD_TEST(s, test_limits);
        TD_ADD_TEST(s, test_partial);
        TD_ADD_TEST(s, test_find_head_end);
        TD_ADD_TEST(s, test_list_next);
        TD_ADD_TEST(s, test_error_status);
        return td_run_suite(s);
}
