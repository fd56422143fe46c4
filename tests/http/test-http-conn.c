/* SPDX-License-Identifier: MIT */
/* Connection handling of the http handler through real sockets:
 * persistent connections and their limits, pipelining, HTTP/1.0, request
 * bodies, the header/keep-alive/send timeouts against slow clients,
 * graceful stop, and the access log. No test asserts on timing: timeouts
 * are set short and the tests only wait (boundedly) for their effect. */
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>

#include "http-client.h"

START_TEST(test_keepalive_and_pipelining) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client c;
        Response r;

        start_web(&d, 1, NULL, NULL, &port);
        client_open(&c, port);
        /* Three requests in one write, answered in order. */
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                        "HEAD /style.css HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /dir/ HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello world\n");
        ck_assert(!response_field(&r, "Connection"));
        response_done(&r);
        ck_assert_int_eq(client_read_response(&c, true, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(response_field(&r, "Content-Type"), "text/css");
        response_done(&r);
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_str_eq(r.body, "<html>dir</html>\n");
        response_done(&r);
        /* The connection stays usable. */
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
        /* A request split into pieces is put together. */
        client_send(&c, "GET /a.t");
        td_sleep(TD_MSEC(20));
        client_send(&c, "xt HTTP/1.1\r\nHo");
        td_sleep(TD_MSEC(20));
        client_send(&c, "st: x\r\n\r");
        td_sleep(TD_MSEC(20));
        client_send(&c, "\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_str_eq(r.body, "hello world\n");
        response_done(&r);
        /* Connection: close is honoured. */
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_str_eq(response_field(&r, "Connection"), "close");
        response_done(&r);
        ck_assert(client_sees_eof(&c));
        client_close(&c);
        assert_clean_log(d);
}
END_TEST

START_TEST(test_pipelined_after_close) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client c;
        Response r;

        start_web(&d, 1, NULL, NULL, &port);
        client_open(&c, port);
        /* Requests after a Connection: close are not answered, and the
         * response before them arrives whole (no reset). */
        client_send(&c, "GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                        "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_uint_eq(r.body_len, BIG_SIZE);
        response_done(&r);
        ck_assert(client_sees_eof(&c));
        client_close(&c);
}
END_TEST

START_TEST(test_http10) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client c;
        Response r;

        start_web(&d, 1, NULL, NULL, &port);
        /* HTTP/1.0 closes by default... */
        client_open(&c, port);
        client_send(&c, "GET /a.txt HTTP/1.0\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_str_eq(response_field(&r, "Connection"), "close");
        response_done(&r);
        ck_assert(client_sees_eof(&c));
        client_close(&c);
        /* ...and keeps alive when asked. */
        client_open(&c, port);
        client_send(&c, "GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_str_eq(response_field(&r, "Connection"), "keep-alive");
        response_done(&r);
        client_send(&c, "GET /a.txt HTTP/1.0\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
        ck_assert(client_sees_eof(&c));
        client_close(&c);
}
END_TEST

START_TEST(test_keepalive_requests) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client c;
        Response r;

        start_web(&d, 1, "keepalive_requests = 3;", NULL, &port);
        client_open(&c, port);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        for (int i = 0; i < 3; i++) {
                ck_assert_int_eq(client_read_response(&c, false, &r), 0);
                ck_assert_uint_eq(r.status, 200);
                if (i < 2)
                        ck_assert(!response_field(&r, "Connection"));
                else
                        ck_assert_str_eq(response_field(&r, "Connection"), "close");
                response_done(&r);
        }
        ck_assert(client_sees_eof(&c));
        client_close(&c);
}
END_TEST

START_TEST(test_keepalive_off) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Response r;
        Client c;

        start_web(&d, 1, "keepalive_timeout = 0;", NULL, &port);
        client_open(&c, port);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_str_eq(response_field(&r, "Connection"), "close");
        response_done(&r);
        ck_assert(client_sees_eof(&c));
        client_close(&c);
}
END_TEST

/* An idle keep-alive connection is closed after keepalive_timeout, which
 * frees the only worker for the next client. */
START_TEST(test_keepalive_timeout) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client a, b;
        Response r;

        start_web(&d, 1, "keepalive_timeout = 0.2;", NULL, &port);
        client_open(&a, port);
        client_send(&a, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(client_read_response(&a, false, &r), 0);
        response_done(&r);
        /* b waits in the backlog until a is dropped. */
        client_open(&b, port);
        client_send(&b, "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        ck_assert(client_sees_eof(&a));
        ck_assert_int_eq(client_read_response(&b, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
        client_close(&a);
        client_close(&b);
}
END_TEST

/* Slowloris: a head trickling in is cut off after header_timeout with a
 * 408, however long each pause; a connection that sends nothing is closed
 * without a word. Either way the worker is free again. */
START_TEST(test_header_timeout) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client a, b, c;
        Response r;

        start_web(&d, 1, "header_timeout = 0.3;", NULL, &port);
        client_open(&a, port);
        client_send(&a, "GET /a.txt HTTP/1.1\r\nHo");
        ck_assert_int_eq(client_read_response(&a, false, &r), 0);
        ck_assert_uint_eq(r.status, 408);
        ck_assert_str_eq(response_field(&r, "Connection"), "close");
        response_done(&r);
        ck_assert(client_sees_eof(&a));
        client_close(&a);

        /* Trickling a byte at a time does not extend the deadline. */
        client_open(&b, port);
        const char *slow = "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        int status = 0;
        for (size_t i = 0; slow[i]; i++) {
                if (td_write_all(b.fd, slow + i, 1, TD_TIMEOUT) < 0)
                        break;
                td_sleep(TD_MSEC(50));
                struct pollfd pfd = { .fd = b.fd, .events = POLLIN };
                if (poll(&pfd, 1, 0) > 0)
                        break;
        }
        ck_assert_int_eq(client_read_response(&b, false, &r), 0);
        status = (int) r.status;
        ck_assert_int_eq(status, 408);
        response_done(&r);
        client_close(&b);

        client_open(&c, port);
        ck_assert(client_sees_eof(&c));
        client_close(&c);

        Client e;
        client_open(&e, port);
        client_send(&e, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(client_read_response(&e, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
        client_close(&e);
}
END_TEST

/* A client that stops reading a big response is dropped after
 * send_timeout, and the worker serves the next one. */
START_TEST(test_send_timeout) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client a, b;
        Response r;
        int small = 4096;

        start_web(&d, 1, "send_timeout = 0.3;", NULL, &port);
        a = (Client) { .fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) };
        ck_assert_int_ge(a.fd, 0);
        /* A small receive window, so that the server's send blocks soon. */
        ck_assert_int_eq(setsockopt(a.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        ck_assert_int_eq(connect(a.fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        for (int i = 0; i < 8; i++)
                client_send(&a, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");

        client_open(&b, port);
        client_send(&b, "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        ck_assert_int_eq(client_read_response(&b, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
        client_close(&b);
        client_close(&a);
}
END_TEST

START_TEST(test_request_bodies) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client c;
        Response r;

        start_web(&d, 1, NULL, NULL, &port);
        /* A GET with a body sent after a pause: still skipped exactly. */
        client_open(&c, port);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
        td_sleep(TD_MSEC(20));
        client_send(&c, "56789GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "body{}\n");
        response_done(&r);
        client_close(&c);

        /* A chunked body is decoded and skipped, and the connection goes
         * on: here with the body and the next request in one write... */
        client_open(&c, port);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5;ext=\"v\"\r\nhello\r\n0\r\nTrailer: t\r\n\r\nGET /style.css HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        ck_assert(!response_field(&r, "Connection"));
        response_done(&r);
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "body{}\n");
        response_done(&r);
        /* ...and with a refused method, the body arriving in pieces after
         * the head and the next request right behind its end. */
        client_send(&c, "POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab");
        td_sleep(TD_MSEC(20));
        client_send(&c, "c\r\n");
        td_sleep(TD_MSEC(20));
        client_send(&c, "0\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 405);
        ck_assert(!response_field(&r, "Connection"));
        response_done(&r);
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello world\n");
        response_done(&r);
        ck_assert(client_sees_eof(&c));
        client_close(&c);

        /* A malformed chunked body gets 400 instead of the method's
         * answer, and the connection closes. */
        static const char *const bad_chunked[] = {
                ";\r\n\r\n",                          /* bare ";" */
                "5;a@b\r\nhello\r\n0\r\n\r\n",       /* invalid extension token */
                "_5\r\nhello\r\n0\r\n\r\n",
                "0x5\r\nhello\r\n0\r\n\r\n",
                "+5\r\nhello\r\n0\r\n\r\n",
                "-5\r\nhello\r\n0\r\n\r\n",
                " 5\r\nhello\r\n0\r\n\r\n",
                "5 \r\nhello\r\n0\r\n\r\n",
                "10000000000000000\r\n",                 /* overflows */
                "5\r\nhello\r\n0\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", /* no final CRLF */
                "5\r\nhelloXX\r\n0\r\n\r\n",         /* spills past the chunk */
                "5;a=\"x\ry\"\r\nhello\r\n0\r\n\r\n",  /* CR in an extension */
                "5;a=\x01\r\nhello\r\n0\r\n\r\n",
                "5\rhello\r\n0\r\n\r\n",              /* bare CR */
                "0\r\nX : y\r\n\r\n",                   /* trailer like a field */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_chunked); i++) {
                char *req;
                ck_assert_int_ge(asprintf(&req, "POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%s",
                                          bad_chunked[i]),
                                 0);
                client_open(&c, port);
                client_send(&c, req);
                free(req);
                ck_assert_int_eq(client_read_response(&c, false, &r), 0);
                ck_assert_msg(r.status == 400, "case %zu: %u", i, r.status);
                ck_assert_str_eq(response_field(&r, "Connection"), "close");
                response_done(&r);
                ck_assert(client_sees_eof(&c));
                client_close(&c);
        }

        /* No final chunk: at EOF, 400 (the client may still read). */
        client_open(&c, port);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
        ck_assert_int_eq(shutdown(c.fd, SHUT_WR), 0);
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 400);
        response_done(&r);
        client_close(&c);

        /* A chunk beyond the drain limit: 413 at its size line. */
        client_open(&c, port);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "100000\r\nxxxx");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 413);
        ck_assert_str_eq(response_field(&r, "Connection"), "close");
        response_done(&r);
        ck_assert(client_sees_eof(&c));
        client_close(&c);

        /* A body beyond what is drained gets 413 on any method (RFC 9110
         * §15.5.14), then the connection closes: it is never read. */
        static const char *const too_big[] = {
                "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nxxxx",
                "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\nxxxx",
                "HEAD /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n",
                "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\nExpect: 100-continue\r\n\r\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(too_big); i++) {
                client_open(&c, port);
                client_send(&c, too_big[i]);
                ck_assert_int_eq(client_read_response(&c, i == 2, &r), 0);
                ck_assert_msg(r.status == 413, "case %zu: %u", i, r.status);
                ck_assert_str_eq(response_field(&r, "Connection"), "close");
                response_done(&r);
                ck_assert(client_sees_eof(&c));
                client_close(&c);
        }

        /* At the limit, the body is still drained and the connection goes
         * on. */
        client_open(&c, port);
        client_send(&c, "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 405);
        ck_assert(!response_field(&r, "Connection"));
        response_done(&r);
        {
                char *zeros = calloc(1, 1048576);
                ck_assert_ptr_nonnull(zeros);
                ck_assert_int_ge(td_write_all(c.fd, zeros, 1048576, TD_TIMEOUT), 0);
                free(zeros);
        }
        client_send(&c, "GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "body{}\n");
        response_done(&r);
        client_close(&c);

        /* 100-continue with a body: the final answer comes at once and the
         * connection closes, since the client may not send the body now. */
        client_open(&c, port);
        client_send(&c, "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 405);
        ck_assert_str_eq(response_field(&r, "Connection"), "close");
        response_done(&r);
        client_close(&c);
}
END_TEST

/* A graceful stop closes idle keep-alive connections instead of waiting for
 * keepalive_timeout, and finishes the response in flight. */
START_TEST(test_graceful_stop) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client c;
        Response r;
        int code;

        start_web(&d, 1, "keepalive_timeout = 3600;", NULL, &port);
        client_open(&c, port);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        response_done(&r);
        TD_OK(d, td_kill(d, SIGTERM));
        ck_assert(client_sees_eof(&c));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        ck_assert_int_eq(code, 0);
        client_close(&c);
}
END_TEST

START_TEST(test_access_log) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Response r;

        start_web(&d, 1, "access_log = true;", NULL, &port);
        http_get(port, "GET /a.txt?q=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: tester \"1\"\r\nReferer: http://r/\r\n"
                       "Connection: close\r\n\r\n",
                 false, &r);
        response_done(&r);
        http_get(port, "GET /nope HTTP/1.0\r\n\r\n", false, &r);
        response_done(&r);
        http_get(port, "BAD\x01 / HTTP/1.1\r\n\r\n", false, &r);
        response_done(&r);

        TD_OK(d, td_wait_log(d, "\"GET /a.txt?q=1 HTTP/1.1\" 200 12 \"http://r/\" \"tester \\x221\\x22\"", TD_TIMEOUT,
                             NULL));
        TD_OK(d, td_wait_log(d, "\"GET /nope HTTP/1.0\" 404 ", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "\"BAD\\x01 / HTTP/1.1\" 400 ", TD_TIMEOUT, NULL));
        ck_assert(td_log_contains(d, "127.0.0.1:"));
        assert_clean_log(d);
}
END_TEST

int main(void) {
        Suite *s = suite_create("http-conn");

        TD_ADD_TEST(s, test_keepalive_and_pipelining);
        TD_ADD_TEST(s, test_pipelined_after_close);
        TD_ADD_TEST(s, test_http10);
        TD_ADD_TEST(s, test_keepalive_requests);
        TD_ADD_TEST(s, test_keepalive_off);
        TD_ADD_TEST(s, test_keepalive_timeout);
        TD_ADD_TEST(s, test_header_timeout);
        TD_ADD_TEST(s, test_send_timeout);
        TD_ADD_TEST(s, test_request_bodies);
        TD_ADD_TEST(s, test_graceful_stop);
        TD_ADD_TEST(s, test_access_log);
        return td_run_suite(s);
}
