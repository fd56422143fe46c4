/* SPDX-License-Identifier: MIT */
/* The http handler through real sockets: every status code it sends and
 * the fields that go with it, files, directories, symlinks, preconditions
 * and ranges. Connection handling is in test-http-conn.c. */
#include <check.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>

#include "build-config.h"
#include "http-client.h"
#include "http_cond.h"
#include "http_conn.h"
#include "http_date.h"
#include "time-util.h"
#include "open-watch.h"

/* A daemon with default settings, started for each test of the "default"
 * case (a checked fixture: it runs in the forked test process, which owns
 * the daemon). */
static TestDaemon *shared;
static uint16_t shared_port;

static void shared_setup(void) {
        start_web(&shared, 2, "autoindex = false;", NULL, &shared_port);
}

static void shared_teardown(void) {
        assert_clean_log(shared);
        shared = td_free(shared);
}

static void get(const char *request, bool head, Response *ret) {
        http_get(shared_port, request, head, ret);
}

#define ASSERT_FIELD(r, name, want)                                                                     \
        do {                                                                                            \
                const char *_v = response_field((r), (name));                                           \
                ck_assert_msg(_v && strcmp(_v, (want)) == 0, "%s is \"%s\", want \"%s\"\n%s", (name),   \
                              _v ? _v : "(none)", (want), (r)->head);                                   \
        } while (0)

START_TEST(test_get_200) {
        Response r;
        time_t t;

        get("GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello world\n");
        ASSERT_FIELD(&r, "Content-Type", "text/plain");
        ASSERT_FIELD(&r, "Content-Length", "12");
        ASSERT_FIELD(&r, "Accept-Ranges", "bytes");
        ASSERT_FIELD(&r, "Connection", "close");
        ck_assert_str_eq(response_field(&r, "Server"), "preforkd/" PACKAGE_VERSION);
        const char *date = response_field(&r, "Date");
        ck_assert_ptr_nonnull(date);
        ck_assert_int_eq(http_date_parse(date, strlen(date), &t), 0);
        const char *lm = response_field(&r, "Last-Modified");
        ck_assert_ptr_nonnull(lm);
        ck_assert_int_eq(http_date_parse(lm, strlen(lm), &t), 0);
        const char *etag = response_field(&r, "ETag");
        ck_assert_ptr_nonnull(etag);
        ck_assert(etag[0] == '"' && etag[strlen(etag) - 1] == '"');
        response_done(&r);

        get("GET /style.css HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ASSERT_FIELD(&r, "Content-Type", "text/css");
        response_done(&r);
        get("GET /data.unknownext HTTP/1.0\r\n\r\n", false, &r);
        ASSERT_FIELD(&r, "Content-Type", "application/octet-stream");
        response_done(&r);
        get("GET /empty.txt HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ASSERT_FIELD(&r, "Content-Length", "0");
        response_done(&r);
        /* The query does not take part in the lookup. */
        get("GET /a.txt?x=1 HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
        /* Absolute-form. */
        get("GET http://example.com/a.txt HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello world\n");
        response_done(&r);
        /* Percent-encoded names. */
        get("GET /%61.txt HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
}
END_TEST

START_TEST(test_big_file) {
        Response r;
        char *want = malloc(BIG_SIZE);

        ck_assert_ptr_nonnull(want);
        td_random_fill(want, BIG_SIZE, 42);
        get("GET /big.bin HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_uint_eq(r.body_len, BIG_SIZE);
        ck_assert(memcmp(r.body, want, BIG_SIZE) == 0);
        response_done(&r);
        free(want);
}
END_TEST

START_TEST(test_head) {
        Client c;
        Response r;

        client_open(&c, shared_port);
        /* HEAD then GET on one connection: HEAD must send no body bytes,
         * or the GET's response would be read wrong. */
        client_send(&c, "HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, true, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        ASSERT_FIELD(&r, "Content-Length", "12");
        ck_assert_ptr_nonnull(response_field(&r, "ETag"));
        response_done(&r);
        client_send(&c, "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, true, &r), 0);
        ck_assert_uint_eq(r.status, 404);
        response_done(&r);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello world\n");
        response_done(&r);
        client_close(&c);
}
END_TEST

START_TEST(test_404_403) {
        Response r;
        get("GET /nope.txt HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 404);
        ASSERT_FIELD(&r, "Content-Type", "text/html");
        ck_assert_ptr_nonnull(strstr(r.body, "404 Not Found"));
        response_done(&r);
        get("GET /a.txt/x HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 404);
        response_done(&r);
        /* Dotfiles are denied by default; .well-known is not one. */
        get("GET /.secret HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 403);
        response_done(&r);
        get("GET /%2esecret HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 403);
        response_done(&r);
        get("GET /.well-known/acme.txt HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
        /* A directory without index: 403 unless autoindex. */
        get("GET /noindex/ HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 403);
        response_done(&r);
}
END_TEST

START_TEST(test_traversal) {
        static const char *const refused[] = {
                "/../outside.txt", "/%2e%2e/outside.txt", "/dir/../../outside.txt", "/%2E%2E%2Foutside.txt",
                "/a%2ftxt",        "/a.txt%00.html",     "/..%5coutside.txt",      "/dir\\..\\..\\outside.txt",
                "/%",
        };
        Response r;
        char req[256];

        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", refused[i]);
                get(req, false, &r);
                ck_assert_msg(r.status == 400, "%s: %u", refused[i], r.status);
                ck_assert(!strstr(r.body, "outside"));
                response_done(&r);
        }
        /* Double encoding is a literal name, not a traversal. */
        get("GET /%252e%252e/outside.txt HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 404);
        response_done(&r);
        /* Symlinks: inside followed, outside refused. */
        get("GET /link_in HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello world\n");
        response_done(&r);
        get("GET /link_out HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 403);
        ck_assert(!strstr(r.body, "outside"));
        response_done(&r);
        /* Dot-segments inside the root are resolved. */
        get("GET /dir/../a.txt HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
}
END_TEST

START_TEST(test_directories) {
        Response r;
        get("GET /dir HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 301);
        ASSERT_FIELD(&r, "Location", "/dir/");
        response_done(&r);
        get("GET /dir?a=b HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 301);
        ASSERT_FIELD(&r, "Location", "/dir/?a=b");
        response_done(&r);
        /* "//evil.com" must not redirect to another host. */
        get("GET //evil.com HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 301);
        ASSERT_FIELD(&r, "Location", "/evil.com/");
        response_done(&r);
        get("GET /dir/ HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "<html>dir</html>\n");
        ASSERT_FIELD(&r, "Content-Type", "text/html");
        response_done(&r);
        get("GET / HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "<html>home</html>\n");
        response_done(&r);
}
END_TEST

START_TEST(test_405) {
        Client c;
        Response r;

        client_open(&c, shared_port);
        /* A refused method with a small body: the body is skipped and the
         * connection stays in sync. */
        client_send(&c, "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                        "DELETE /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                        "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        for (int i = 0; i < 2; i++) {
                ck_assert_int_eq(client_read_response(&c, false, &r), 0);
                ck_assert_uint_eq(r.status, 405);
                ASSERT_FIELD(&r, "Allow", "GET, HEAD, OPTIONS");
                ck_assert(!response_field(&r, "Connection"));
                response_done(&r);
        }
        for (int i = 0; i < 2; i++) {
                ck_assert_int_eq(client_read_response(&c, false, &r), 0);
                ck_assert_uint_eq(r.status, 200);
                ck_assert_str_eq(r.body, "hello world\n");
                response_done(&r);
        }
        ck_assert(client_sees_eof(&c));
        client_close(&c);
}
END_TEST

/* OPTIONS, for the server (asterisk-form) or any path, lists the methods:
 * 204 with Allow, as lighttpd does, and the connection goes on. */
START_TEST(test_options) {
        Client c;
        Response r;

        client_open(&c, shared_port);
        client_send(&c, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"
                        "OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n"
                        "OPTIONS /nonexistent HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"
                        "OPTIONS http://x/a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                        "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        for (int i = 0; i < 4; i++) {
                ck_assert_int_eq(client_read_response(&c, false, &r), 0);
                ck_assert_msg(r.status == 204, "request %d: %u", i, r.status);
                ASSERT_FIELD(&r, "Allow", "GET, HEAD, OPTIONS");
                /* A 204 has no content and no Content-Length (RFC 9110 §8.6). */
                ck_assert(!response_field(&r, "Content-Length"));
                ck_assert(!response_field(&r, "Content-Type"));
                ck_assert_uint_eq(r.body_len, 0);
                if (i < 3)
                        ck_assert(!response_field(&r, "Connection"));
                else
                        ASSERT_FIELD(&r, "Connection", "keep-alive");
                response_done(&r);
        }
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello world\n");
        response_done(&r);
        ck_assert(client_sees_eof(&c));
        client_close(&c);
}
END_TEST

/* Requests that break the framing or the grammar: an error, then the
 * connection closes (its stream can no longer be trusted). */
START_TEST(test_malformed) {
        static const struct {
                const char *request;
                unsigned status;
        } cases[] = {
                { "GET / HTTP/1.1\r\n\r\n", 400 },                                     /* no Host */
                { "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
                { "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400 },                         /* empty Host */
                { "GET / HTTP/1.1\r\nHost: \r\n\r\n", 400 },
                { "GET / HTTP/1.1\nHost: x\n\n", 400 },                                /* bare LF */
                { "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400 },                /* bare CR */
                { "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400 },             /* obs-fold */
                { "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400 },
                { "G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },                          /* invalid token */
                { "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nab", 400 },
                { "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
                { "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400 },
                { "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: rot13, chunked\r\n\r\n", 501 },
                { "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505 },
                { "GET / HTTP/0.9\r\n\r\n", 505 },
                { "GET /\r\n\r\n", 400 },
                { "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 400 },               /* TLS hello */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Client c;
                Response r;

                client_open(&c, shared_port);
                client_send(&c, cases[i].request);
                ck_assert_int_eq(client_read_response(&c, false, &r), 0);
                ck_assert_msg(r.status == cases[i].status, "case %zu: %u, want %u", i, r.status, cases[i].status);
                ASSERT_FIELD(&r, "Connection", "close");
                ck_assert(client_sees_eof(&c));
                response_done(&r);
                client_close(&c);
        }
}
END_TEST

START_TEST(test_limits) {
        Response r;
        Client c;
        char *req = malloc(40000);

        ck_assert_ptr_nonnull(req);
        /* A 7,900-byte target is served: RFC 9112 §3 recommends request
         * lines of at least 8,000 octets. */
        strcpy(req, "GET /a.txt?");
        memset(req + 11, 'q', 4 + 7900 - 11);
        strcpy(req + 4 + 7900, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        get(req, false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello world\n");
        response_done(&r);

        /* 414: a target over max_target_size (8192). */
        strcpy(req, "GET /");
        memset(req + 5, 'a', 9000);
        strcpy(req + 9005, " HTTP/1.1\r\nHost: x\r\n\r\n");
        get(req, false, &r);
        ck_assert_uint_eq(r.status, 414);
        ASSERT_FIELD(&r, "Connection", "close");
        response_done(&r);

        /* 431: a head over max_header_size (16384). */
        strcpy(req, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
        size_t l = strlen(req);
        memset(req + l, 'b', 17000);
        strcpy(req + l + 17000, "\r\n\r\n");
        client_open(&c, shared_port);
        /* The server may answer and close before all is sent. */
        (void) td_write_all(c.fd, req, strlen(req), TD_TIMEOUT);
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 431);
        response_done(&r);
        client_close(&c);
        free(req);
}
END_TEST

START_TEST(test_417) {
        Response r;
        get("GET /a.txt HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nConnection: close\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 417);
        response_done(&r);
        /* 100-continue on a GET without body is simply answered. */
        get("GET /a.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
}
END_TEST

static char *request_with(const char *path, const char *fields) {
        char *s;
        ck_assert_int_ge(asprintf(&s, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n", path, fields), 0);
        return s;
}

START_TEST(test_conditional) {
        Response r;
        char etag[1024], lm[1024], fields[2200];

        get("GET /a.txt HTTP/1.0\r\n\r\n", false, &r);
        snprintf(etag, sizeof(etag), "%s", response_field(&r, "ETag"));
        snprintf(lm, sizeof(lm), "%s", response_field(&r, "Last-Modified"));
        response_done(&r);

        _cleanup_free_ char *q1 = NULL, *q2 = NULL, *q3 = NULL, *q4 = NULL, *q5 = NULL, *q6 = NULL;
        snprintf(fields, sizeof(fields), "If-None-Match: \"zzz\", %s\r\n", etag);
        get(q1 = request_with("/a.txt", fields), false, &r);
        ck_assert_uint_eq(r.status, 304);
        ck_assert_uint_eq(r.body_len, 0);
        ASSERT_FIELD(&r, "ETag", etag);
        ck_assert(!response_field(&r, "Content-Length"));
        response_done(&r);

        snprintf(fields, sizeof(fields), "If-Modified-Since: %s\r\n", lm);
        get(q2 = request_with("/a.txt", fields), false, &r);
        ck_assert_uint_eq(r.status, 304);
        response_done(&r);

        get(q3 = request_with("/a.txt", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"), false, &r);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);

        get(q4 = request_with("/a.txt", "If-None-Match: \"other\"\r\n"), false, &r);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);

        get(q5 = request_with("/a.txt", "If-Match: \"other\"\r\n"), false, &r);
        ck_assert_uint_eq(r.status, 412);
        response_done(&r);

        get(q6 = request_with("/a.txt", "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"), false, &r);
        ck_assert_uint_eq(r.status, 412);
        response_done(&r);
}
END_TEST

START_TEST(test_range) {
        Response r;
        char etag[1024], fields[2200];

        get("GET /a.txt HTTP/1.0\r\n\r\n", false, &r);
        snprintf(etag, sizeof(etag), "%s", response_field(&r, "ETag"));
        response_done(&r);

        _cleanup_free_ char *q1 = NULL, *q2 = NULL, *q3 = NULL, *q4 = NULL, *q5 = NULL, *q6 = NULL, *q7 = NULL;
        get(q1 = request_with("/a.txt", "Range: bytes=0-4\r\n"), false, &r);
        ck_assert_uint_eq(r.status, 206);
        ck_assert_str_eq(r.body, "hello");
        ASSERT_FIELD(&r, "Content-Range", "bytes 0-4/12");
        ASSERT_FIELD(&r, "Content-Length", "5");
        response_done(&r);

        get(q2 = request_with("/a.txt", "Range: bytes=-6\r\n"), false, &r);
        ck_assert_uint_eq(r.status, 206);
        ck_assert_str_eq(r.body, "world\n");
        ASSERT_FIELD(&r, "Content-Range", "bytes 6-11/12");
        response_done(&r);

        get(q3 = request_with("/a.txt", "Range: bytes=12-\r\n"), false, &r);
        ck_assert_uint_eq(r.status, 416);
        ASSERT_FIELD(&r, "Content-Range", "bytes */12");
        response_done(&r);

        get(q4 = request_with("/a.txt", "Range: bytes=0-1,4-5\r\n"), false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello world\n");
        response_done(&r);

        snprintf(fields, sizeof(fields), "Range: bytes=6-\r\nIf-Range: %s\r\n", etag);
        get(q5 = request_with("/a.txt", fields), false, &r);
        ck_assert_uint_eq(r.status, 206);
        ck_assert_str_eq(r.body, "world\n");
        response_done(&r);

        get(q6 = request_with("/a.txt", "Range: bytes=6-\r\nIf-Range: \"stale\"\r\n"), false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello world\n");
        response_done(&r);

        /* HEAD ignores Range (RFC 9110 §14.2: only GET has range handling). */
        http_get(shared_port, "HEAD /a.txt HTTP/1.0\r\nRange: bytes=0-1\r\n\r\n", true, &r);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);

        /* A range of the big file comes from the right offset. */
        get(q7 = request_with("/big.bin", "Range: bytes=1000000-1000009\r\n"), false, &r);
        ck_assert_uint_eq(r.status, 206);
        ck_assert_uint_eq(r.body_len, 10);
        char *big = malloc(BIG_SIZE);
        ck_assert_ptr_nonnull(big);
        td_random_fill(big, BIG_SIZE, 42);
        ck_assert(memcmp(r.body, big + 1000000, 10) == 0);
        free(big);
        response_done(&r);
}
END_TEST

START_TEST(test_autoindex) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Response r;

        start_web(&d, 1, "autoindex = true;", NULL, &port);
        http_get(port, "GET /noindex/ HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(response_field(&r, "Content-Type"), "text/html; charset=utf-8");
        /* Names are HTML-escaped, links percent-encoded, dotfiles hidden. */
        ck_assert_ptr_nonnull(strstr(r.body, "&lt;b&gt;&amp;&quot;x&#39;.txt"));
        ck_assert_ptr_nonnull(strstr(r.body, "href=\"./%3Cb%3E&amp;%22x&#39;.txt\""));
        ck_assert_ptr_null(strstr(r.body, "<b>&"));
        ck_assert_ptr_null(strstr(r.body, ".hidden"));
        ck_assert_ptr_nonnull(strstr(r.body, "sub/"));
        ck_assert_ptr_nonnull(strstr(r.body, "href=\"../\""));
        response_done(&r);
        /* A directory with an index still serves the index. */
        http_get(port, "GET /dir/ HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_str_eq(r.body, "<html>dir</html>\n");
        response_done(&r);
        assert_clean_log(d);
}
END_TEST

START_TEST(test_settings) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Response r;

        start_web(&d, 1,
                  "server_tokens = false; etag = false; dotfiles = \"hide\"; follow_symlinks = false;"
                  "charset = \"utf-8\"; cache_control = \"max-age=60\"; default_type = \"text/plain\";"
                  "index = [ \"missing.html\", \"a.txt\" ];",
                  NULL, &port);
        http_get(port, "GET / HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello world\n");
        ASSERT_FIELD(&r, "Server", "preforkd");
        ASSERT_FIELD(&r, "Content-Type", "text/plain; charset=utf-8");
        ASSERT_FIELD(&r, "Cache-Control", "max-age=60");
        ck_assert(!response_field(&r, "ETag"));
        response_done(&r);
        http_get(port, "GET /data.unknownext HTTP/1.0\r\n\r\n", false, &r);
        ASSERT_FIELD(&r, "Content-Type", "text/plain; charset=utf-8");
        response_done(&r);
        http_get(port, "GET /.secret HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 404);
        response_done(&r);
        http_get(port, "GET /link_in HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 403);
        response_done(&r);
        assert_clean_log(d);
}
END_TEST

START_TEST(test_precompressed_and_headers) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Response r;

        start_web(&d, 1, "precompressed = true; headers = [ \"X-Content-Type-Options: nosniff\" ];", NULL, &port);
        site_file(d, "site/style.css.gz", "GZ");
        site_file(d, "site/style.css.br", "BR");
        site_file(d, "site/a.txt.gz", "AGZ");
        http_get(port, "GET /style.css HTTP/1.0\r\nAccept-Encoding: gzip, br\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "BR");
        ASSERT_FIELD(&r, "Content-Encoding", "br");
        ASSERT_FIELD(&r, "Content-Type", "text/css");
        ASSERT_FIELD(&r, "Vary", "Accept-Encoding");
        ASSERT_FIELD(&r, "X-Content-Type-Options", "nosniff");
        response_done(&r);
        http_get(port, "GET /style.css HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n", false, &r);
        ck_assert_str_eq(r.body, "GZ");
        ASSERT_FIELD(&r, "Content-Encoding", "gzip");
        response_done(&r);
        http_get(port, "GET /style.css HTTP/1.0\r\nAccept-Encoding: gzip;q=0, identity\r\n\r\n", false, &r);
        ck_assert_str_eq(r.body, "body{}\n");
        ck_assert(!response_field(&r, "Content-Encoding"));
        ASSERT_FIELD(&r, "Vary", "Accept-Encoding");
        response_done(&r);
        http_get(port, "GET /style.css HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_str_eq(r.body, "body{}\n");
        response_done(&r);
        /* Also through an index name and for HEAD. */
        site_file(d, "site/index.html.gz", "IGZ");
        http_get(port, "HEAD / HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n", true, &r);
        ASSERT_FIELD(&r, "Content-Encoding", "gzip");
        ASSERT_FIELD(&r, "Content-Length", "3");
        ASSERT_FIELD(&r, "Content-Type", "text/html");
        response_done(&r);
        assert_clean_log(d);
}
END_TEST

/* The dotfiles rule holds for what a path resolves to, not only for what
 * was asked: symlinks inside the root that lead to a dotfile, into a dot
 * directory, from an index name or from a precompressed variant are refused
 * like the dotfile itself (403 with "deny", the default; as if missing with
 * "hide"), while a symlink to /.well-known/ or through a dot directory back
 * out of it still works. Before the fix each of these dotfiles was served. */
static void site_dot_links(TestDaemon *d) {
        site_file(d, "site/.env", "ENV\n");
        site_symlink(d, ".env", "site/link_env");
        site_symlink(d, "../.secret", "site/dir/link_secret");
        site_mkdir(d, "site/.git");
        site_file(d, "site/.git/config", "GIT\n");
        site_symlink(d, ".git", "site/link_git");
        site_symlink(d, "./sub/../../.git/config", "site/noindex/link_git_config");
        site_mkdir(d, "site/idx");
        site_symlink(d, "../.env", "site/idx/index.html");
        site_file(d, "site/.style.css.gz", "GZSECRET");
        site_symlink(d, ".style.css.gz", "site/style.css.gz");
        site_symlink(d, ".well-known/acme.txt", "site/link_acme");
        site_symlink(d, ".git/../a.txt", "site/link_through");
}

/* GETs path and returns the status, asserting that no dotfile's content
 * came with it. */
static unsigned get_status(uint16_t port, const char *path) {
        static const char *const secrets[] = { "ENV\n", "GIT\n", "secret\n", "GZSECRET" };
        char req[256];
        Response r;

        snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
        http_get(port, req, false, &r);
        unsigned status = r.status;
        for (size_t i = 0; i < ELEMENTSOF(secrets); i++)
                ck_assert_msg(!strstr(r.body, secrets[i]), "%s: %u %s", path, status, r.body);
        response_done(&r);
        return status;
}

START_TEST(test_dotfiles_resolved) {
        static const char *const refused[] = {
                "/link_env", "/dir/link_secret", "/link_git/config", "/noindex/link_git_config",
        };
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Response r;

        start_web(&d, 1, "precompressed = true;", NULL, &port);
        site_dot_links(d);
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                unsigned status = get_status(port, refused[i]);
                ck_assert_msg(status == 403, "%s: %u", refused[i], status);
        }
        /* An index name that leads to a dotfile is refused like it. */
        ck_assert_uint_eq(get_status(port, "/idx/"), 403);
        /* A precompressed variant that is a dotfile is not used. */
        http_get(port, "GET /style.css HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "body{}\n");
        ck_assert(!response_field(&r, "Content-Encoding"));
        response_done(&r);
        /* Not dotfiles where they end up. */
        http_get(port, "GET /link_acme HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "token\n");
        response_done(&r);
        http_get(port, "GET /link_through HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello world\n");
        response_done(&r);
        http_get(port, "GET /link_in HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
        assert_clean_log(d);
}
END_TEST

START_TEST(test_dotfiles_resolved_hide) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Response r;

        start_web(&d, 1, "dotfiles = \"hide\"; autoindex = true;", NULL, &port);
        site_dot_links(d);
        ck_assert_uint_eq(get_status(port, "/link_env"), 404);
        ck_assert_uint_eq(get_status(port, "/dir/link_secret"), 404);
        ck_assert_uint_eq(get_status(port, "/link_git/config"), 404);
        /* A hidden index is as good as none: the listing is shown. */
        http_get(port, "GET /idx/ HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_ptr_nonnull(strstr(r.body, "Index of /idx/"));
        ck_assert(!strstr(r.body, "ENV"));
        response_done(&r);
        assert_clean_log(d);
}
END_TEST

START_TEST(test_dotfiles_allow) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Response r;

        start_web(&d, 1, "dotfiles = \"allow\";", NULL, &port);
        http_get(port, "GET /.secret HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "secret\n");
        response_done(&r);
        site_dot_links(d);
        http_get(port, "GET /link_env HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "ENV\n");
        response_done(&r);
        http_get(port, "GET /noindex/link_git_config HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "GIT\n");
        response_done(&r);
}
END_TEST

/* What is neither a regular file nor a directory is refused (403) without
 * the worker ever opening it for reading: a FIFO (whose open for reading
 * would wake a waiting writer, and without O_NONBLOCK wait for one), a unix
 * socket, a device node (created only where the test may: its open runs
 * the driver), also as an index file and as a precompressed variant. The
 * one worker then answers a request on another connection. Before the fix
 * every one of them was opened O_RDONLY before its type was checked. */
START_TEST(test_special_files) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int watch = open_watch_new();
        char path[4096];
        uint16_t port;
        Response r;

        start_web(&d, 1, "precompressed = true; autoindex = false;", NULL, &port);
        site_mkdir(d, "site/fifodir");
        static const char *const fifos[] = { "site/fifo", "site/fifodir/index.html", "site/a.txt.gz" };
        for (size_t i = 0; i < ELEMENTSOF(fifos); i++) {
                snprintf(path, sizeof(path), "%s/%s", td_dir(d), fifos[i]);
                ck_assert_int_eq(mkfifo(path, 0644), 0);
                open_watch_add(watch, path);
        }
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        ck_assert_int_lt(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/site/sock", td_dir(d)), sizeof(sa.sun_path));
        _cleanup_close_ int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(sock, 0);
        ck_assert_int_eq(bind(sock, (struct sockaddr *) &sa, sizeof(sa)), 0);
        snprintf(path, sizeof(path), "%s/site/null", td_dir(d));
        bool have_device = mknod(path, S_IFCHR | 0666, makedev(1, 3)) == 0;
        if (have_device)
                open_watch_add(watch, path);

        static const char *const refused[] = { "/fifo", "/sock", "/null" };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                if (strcmp(refused[i], "/null") == 0 && !have_device)
                        continue;
                char req[128];
                snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", refused[i]);
                http_get(port, req, false, &r);
                ck_assert_msg(r.status == 403, "%s: %u", refused[i], r.status);
                response_done(&r);
        }
        /* An index that is a FIFO is passed over like a missing one. */
        http_get(port, "GET /fifodir/ HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 403);
        response_done(&r);
        /* So is a precompressed variant: the file itself is sent. */
        http_get(port, "GET /a.txt HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello world\n");
        ck_assert(!response_field(&r, "Content-Encoding"));
        response_done(&r);

        /* Every response is in, so every open would be queued by now. */
        unsigned opens = open_watch_count(watch);
        TD_ASSERT_MSG(d, opens == 0, "the worker opened a FIFO or device %u times", opens);

        http_get(port, "GET /a.txt HTTP/1.0\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
        assert_clean_log(d);
}
END_TEST

/* Sleeps until the open-file cache's validity window (valid_usec, counted
 * from now) has passed for sure: the test waits by the clock, the server's
 * timing is not asserted. */
static void wait_window(uint64_t valid_usec) {
        uint64_t end = now_usec() + valid_usec + 50 * USEC_PER_MSEC;
        while (now_usec() < end)
                (void) usleep(10000);
}

static void expect(Client *c, const char *path, unsigned status, const char *body) {
        char req[256];
        Response r;

        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
        client_send(c, req);
        ck_assert_int_eq(client_read_response(c, false, &r), 0);
        ck_assert_msg(r.status == status, "%s: %u, want %u", path, r.status, status);
        if (body) {
                ck_assert_str_eq(r.body, body);
                char len[32];
                snprintf(len, sizeof(len), "%zu", strlen(body));
                ASSERT_FIELD(&r, "Content-Length", len);
        }
        response_done(&r);
}

/* A file modified, replaced by a rename, removed, made unreadable and
 * turned into a symlink out of the root while a keep-alive client keeps
 * asking for it: once open_file_cache_valid has passed, every response is
 * the file as it is now. The worker runs as nobody (when the test runs as
 * root), for whom a mode 000 file is unreadable. */
START_TEST(test_cache_fresh) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        const uint64_t valid = 200 * USEC_PER_MSEC;
        char path[4096], path2[4096];
        uint16_t port;
        Client c;

        TD_OK(NULL, td_new(&d));
        site_create(d);
        ck_assert_int_eq(chmod(td_dir(d), 0755), 0);
        TD_OK(d, td_write_config(d, geteuid() == 0 ? "user = \"nobody\";\n"
                                                      "services = ( { name = \"web\"; listen = [ \"127.0.0.1:0\" ];\n"
                                                      "  workers = 1; handler = \"http\";\n"
                                                      "  http = { root = \"site\"; access_log = false;\n"
                                                      "           open_file_cache_valid = 0.2; }; } );\n"
                                                    : "services = ( { name = \"web\"; listen = [ \"127.0.0.1:0\" ];\n"
                                                      "  workers = 1; handler = \"http\";\n"
                                                      "  http = { root = \"site\"; access_log = false;\n"
                                                      "           open_file_cache_valid = 0.2; }; } );\n"));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "web", 0, &port));

        client_open(&c, port);
        expect(&c, "/a.txt", 200, "hello world\n");
        expect(&c, "/a.txt", 200, "hello world\n");

        /* Modified in place: the same inode, a new size. */
        site_file(d, "site/a.txt", "modified in place\n");
        wait_window(valid);
        expect(&c, "/a.txt", 200, "modified in place\n");

        /* Replaced by a rename, as a deployment does. */
        site_file(d, "site/a.txt.tmp", "renamed over\n");
        snprintf(path, sizeof(path), "%s/site/a.txt.tmp", td_dir(d));
        snprintf(path2, sizeof(path2), "%s/site/a.txt", td_dir(d));
        ck_assert_int_eq(rename(path, path2), 0);
        wait_window(valid);
        expect(&c, "/a.txt", 200, "renamed over\n");

        /* Made unreadable: 403 as without the cache. */
        ck_assert_int_eq(chmod(path2, 0), 0);
        wait_window(valid);
        expect(&c, "/a.txt", 403, NULL);
        ck_assert_int_eq(chmod(path2, 0644), 0);
        wait_window(valid);
        expect(&c, "/a.txt", 200, "renamed over\n");

        /* Turned into a symlink out of the root. */
        ck_assert_int_eq(unlink(path2), 0);
        ck_assert_int_eq(symlink("../outside.txt", path2), 0);
        wait_window(valid);
        expect(&c, "/a.txt", 403, NULL);

        /* Removed. */
        ck_assert_int_eq(unlink(path2), 0);
        wait_window(valid);
        expect(&c, "/a.txt", 404, NULL);
        site_file(d, "site/a.txt", "back\n");
        expect(&c, "/a.txt", 200, "back\n"); /* a miss: nothing was cached */

        /* Once the file is more than a second old, the cache keeps its
         * contents (http_cache.h); changed in place to as many bytes, it
         * is still served as it is now once the window has passed. */
        wait_window(USEC_PER_SEC);
        expect(&c, "/a.txt", 200, "back\n");
        expect(&c, "/a.txt", 200, "back\n");
        site_file(d, "site/a.txt", "BACK\n");
        wait_window(valid);
        expect(&c, "/a.txt", 200, "BACK\n");
        client_close(&c);
        assert_clean_log(d);
}
END_TEST

static void site_random(TestDaemon *d, const char *name, char *buf, size_t size, unsigned seed) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", td_dir(d), name);
        td_random_fill(buf, size, seed);
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fwrite(buf, 1, size, f), size);
        ck_assert_int_eq(fclose(f), 0);
}

/* A file at the small-file threshold (sent with its head in one write)
 * and one a byte above it (sendfile), on one keep-alive connection: the
 * bytes, HEAD, a range and 304 of each. */
START_TEST(test_small_file_threshold) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        static char small[HTTP_SMALL_FILE_MAX], above[HTTP_SMALL_FILE_MAX + 1];
        const struct {
                const char *name;
                const char *buf;
                size_t size;
        } files[] = { { "/small.bin", small, sizeof(small) }, { "/above.bin", above, sizeof(above) } };
        uint16_t port;
        char req[2048], etag[1024];
        Response r;
        Client c;

        start_web(&d, 1, NULL, NULL, &port);
        site_random(d, "site/small.bin", small, sizeof(small), 7);
        site_random(d, "site/above.bin", above, sizeof(above), 8);
        client_open(&c, port);
        for (unsigned round = 0; round < 2; round++) /* looked up, then from the cache */
                for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", files[i].name);
                        client_send(&c, req);
                        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
                        ck_assert_uint_eq(r.status, 200);
                        ck_assert_uint_eq(r.body_len, files[i].size);
                        ck_assert(memcmp(r.body, files[i].buf, files[i].size) == 0);
                        snprintf(etag, sizeof(etag), "%s", response_field(&r, "ETag"));
                        response_done(&r);

                        snprintf(req, sizeof(req), "HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n", files[i].name);
                        client_send(&c, req);
                        ck_assert_int_eq(client_read_response(&c, true, &r), 0);
                        ck_assert_uint_eq(r.status, 200);
                        ck_assert_uint_eq(strtoul(response_field(&r, "Content-Length"), NULL, 10), files[i].size);
                        response_done(&r);

                        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nRange: bytes=100-16384\r\n\r\n",
                                 files[i].name);
                        client_send(&c, req);
                        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
                        ck_assert_uint_eq(r.status, 206);
                        size_t n = MIN(files[i].size, (size_t) 16385) - 100;
                        ck_assert_uint_eq(r.body_len, n);
                        ck_assert(memcmp(r.body, files[i].buf + 100, n) == 0);
                        response_done(&r);

                        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n",
                                 files[i].name, etag);
                        client_send(&c, req);
                        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
                        ck_assert_uint_eq(r.status, 304);
                        ck_assert_uint_eq(r.body_len, 0);
                        response_done(&r);
                }
        client_close(&c);
        assert_clean_log(d);
}
END_TEST

int main(void) {
        Suite *s = suite_create("http-integration");
        TCase *tc = tcase_create("default");

        tcase_add_checked_fixture(tc, shared_setup, shared_teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_get_200);
        tcase_add_test(tc, test_big_file);
        tcase_add_test(tc, test_head);
        tcase_add_test(tc, test_404_403);
        tcase_add_test(tc, test_traversal);
        tcase_add_test(tc, test_directories);
        tcase_add_test(tc, test_405);
        tcase_add_test(tc, test_options);
        tcase_add_test(tc, test_malformed);
        tcase_add_test(tc, test_limits);
        tcase_add_test(tc, test_417);
        tcase_add_test(tc, test_conditional);
        tcase_add_test(tc, test_range);
        suite_add_tcase(s, tc);

        TD_ADD_TEST(s, test_autoindex);
        TD_ADD_TEST(s, test_settings);
        TD_ADD_TEST(s, test_dotfiles_resolved);
        TD_ADD_TEST(s, test_dotfiles_resolved_hide);
        TD_ADD_TEST(s, test_dotfiles_allow);
        TD_ADD_TEST(s, test_precompressed_and_headers);
        TD_ADD_TEST(s, test_special_files);
        TD_ADD_TEST(s, test_cache_fresh);
        TD_ADD_TEST(s, test_small_file_threshold);
        return td_run_suite(s);
}
