/* SPDX-License-Identifier: MIT */
/* Connection handling of the http handler through real sockets:
 * persistent connections and their limits, pipelining, HTTP/1.0, request
 * bodies, the header/keep-alive/send timeouts against slow clients,
 * graceful stop and reload with requests in flight and under keep-alive
 * load, and the access log. No test asserts on timing: timeouts are set
 * short and the tests only wait (boundedly) for their effect; a slow
 * client is paced by waiting for the server's answer a little at a time. */
#include <check.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

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
        /* A request split into pieces is put together: each piece is read
         * by the worker before the next is sent. */
        static const char *const pieces[] = { "GET /a.t", "xt HTTP/1.1\r\nHo", "st: x\r\n\r", "\n" };
        for (size_t i = 0; i < ELEMENTSOF(pieces); i++) {
                client_send(&c, pieces[i]);
                if (i + 1 < ELEMENTSOF(pieces))
                        ck_assert_int_eq(td_wait_conn_read(c.fd, TD_TIMEOUT), 0);
        }
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
/* svc_extra: the service's settings (the front stage on or off); the
 * kernel's TCP_DEFER_ACCEPT, on for http by default, is off so that the
 * silent connection reaches the service. */
static void header_timeout_cases(const char *svc_extra) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client a, b, c;
        Response r;

        start_web(&d, 1, "header_timeout = 0.3;", svc_extra, &port);
        client_open(&a, port);
        client_send(&a, "GET /a.txt HTTP/1.1\r\nHo");
        ck_assert_int_eq(client_read_response(&a, false, &r), 0);
        ck_assert_uint_eq(r.status, 408);
        ck_assert_str_eq(response_field(&r, "Connection"), "close");
        response_done(&r);
        ck_assert(client_sees_eof(&a));
        client_close(&a);

        /* Trickling a byte at a time does not extend the deadline: however
         * long the head goes on, the 408 comes header_timeout after it
         * began. A byte comes every 20 ms, fifteen times as often as the
         * timeout, until the answer is there; a server that restarted the
         * timeout on every read would never answer, and after a thousand
         * bytes (20 s) the test takes that as the failure. */
        client_open(&b, port);
        client_send(&b, "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        size_t sent = 0;
        for (; sent < 1000; sent++) {
                struct pollfd pfd = { .fd = b.fd, .events = POLLIN };

                if (poll(&pfd, 1, 20) > 0)
                        break;
                if (td_write_all(b.fd, "a", 1, TD_TIMEOUT) < 0)
                        break;
        }
        ck_assert_msg(sent < 1000, "no answer to a head still trickling in after %zu bytes", sent);
        ck_assert_int_eq(client_read_response(&b, false, &r), 0);
        ck_assert_int_eq((int) r.status, 408);
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

/* A slow head goes to the front stage (park), which keeps the deadline... */
START_TEST(test_header_timeout) {
        header_timeout_cases("defer_accept = false;");
}
END_TEST

/* ...and without one the worker keeps it itself. */
START_TEST(test_header_timeout_without_park) {
        header_timeout_cases("defer_accept = false; park = { enabled = false; };");
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

        /* Without the front stage, which would otherwise take the rest of
         * the file over whenever the pipelined requests arrive after the
         * first read (it has a send_timeout test of its own): the worker's
         * own timeout is what is tested here. */
        start_web(&d, 1, "send_timeout = 0.3;", "park = { enabled = false; };", &port);
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
        /* The rest of the body comes after the answer, in another read. */
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
         * the head (each read by the daemon before the next is sent) and
         * the next request right behind its end. */
        client_send(&c, "POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab");
        ck_assert_int_eq(td_wait_conn_read(c.fd, TD_TIMEOUT), 0);
        client_send(&c, "c\r\n");
        ck_assert_int_eq(td_wait_conn_read(c.fd, TD_TIMEOUT), 0);
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

/* ---- a request in flight when the worker is told to stop ---- */

/* These tests are about what a worker does with a connection it cannot
 * hand on: without the front stage (park), which would take the idle
 * connection of a retiring worker instead (test-http-park.c). */
#define NO_PARK "park = { enabled = false; };"

#define HUGE_SIZE ((uint64_t) 64 * 1024 * 1024)

/* DIR/site/huge.bin: 64 MiB of zeros (sparse, so cheap), far more than the
 * socket buffers on both sides hold, so that its response is still being
 * sent while the client pauses. */
static void site_huge(TestDaemon *d) {
        char path[4096];
        _cleanup_close_ int fd = -EBADF;

        snprintf(path, sizeof(path), "%s/site/huge.bin", td_dir(d));
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, (off_t) HUGE_SIZE), 0);
}

/* Reads the rest of a body of size bytes of zeros, of which c holds the
 * first ones already; returns how many arrived before EOF or an error. (No
 * check assertion per byte: each one is a write to check's pipe.) */
static uint64_t read_zeros(Client *c, uint64_t size) {
        uint64_t got = 0;

        for (;;) {
                size_t take = (size_t) MIN((uint64_t) c->len, size - got), i = 0;

                while (i < take && c->buf[i] == 0)
                        i++;
                ck_assert_msg(i == take, "byte %" PRIu64 " of the body is not 0", got + i);
                got += take;
                c->len -= take;
                memmove(c->buf, c->buf + take, c->len);
                if (got == size || client_fill(c) <= 0)
                        return got;
        }
}

/* Reads the head of the huge answer and a little of its body, so that it
 * is in flight, and leaves the rest. */
static void read_into_huge(Client *c) {
        while (!strstr(c->buf ? c->buf : "", "\r\n\r\n") || c->len < 65536)
                ck_assert_int_gt(client_fill(c), 0);
}

/* GET /huge.bin with GET /a.txt pipelined behind it, in one write, and
 * waits until the worker has read both: the second one is then in its
 * buffer, received. Then read_into_huge(). */
static void start_huge_and_pipelined(Client *c, uint16_t port) {
        client_open(c, port);
        client_send(c, "GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(td_wait_conn_read(c->fd, TD_TIMEOUT), 0);
        read_into_huge(c);
}

/* The rest: all of the huge response, then the pipelined request answered
 * with Connection: close, then the end of the connection. */
static void finish_huge_and_pipelined(TestDaemon *d, Client *c) {
        char *end = strstr(c->buf, "\r\n\r\n");
        size_t head = (size_t) (end - c->buf) + 4;
        uint64_t got;
        Response r;

        TD_ASSERT_MSG(d, strncmp(c->buf, "HTTP/1.1 200 ", 13) == 0, "%.*s", (int) head, c->buf);
        TD_ASSERT_MSG(d, strstr(c->buf, "Content-Length: 67108864\r\n"), "%.*s", (int) head, c->buf);
        c->len -= head;
        memmove(c->buf, c->buf + head, c->len);
        got = read_zeros(c, HUGE_SIZE);
        TD_ASSERT_MSG(d, got == HUGE_SIZE, "the response in flight was cut after %" PRIu64 " of %" PRIu64 " bytes",
                      got, HUGE_SIZE);
        TD_ASSERT_MSG(d, client_read_response(c, false, &r) == 0, "the received request was not answered");
        TD_ASSERT(d, r.status == 200 && strcmp(r.body, "hello world\n") == 0);
        TD_ASSERT_MSG(d, response_field(&r, "Connection") && strcmp(response_field(&r, "Connection"), "close") == 0,
                      "the last answer of a stopping worker must say Connection: close:\n%s", r.head);
        response_done(&r);
        TD_ASSERT(d, client_sees_eof(c));
}

/* A graceful stop: the response in flight is finished, the request the
 * worker had already received is answered with Connection: close, and an
 * idle keep-alive connection is closed at once instead of after
 * keepalive_timeout. */
START_TEST(test_graceful_stop) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client c, idle;
        Response r;
        int code;

        start_web(&d, 2, "keepalive_timeout = 3600;", NO_PARK, &port);
        site_huge(d);
        client_open(&idle, port);
        client_send(&idle, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(client_read_response(&idle, false, &r), 0);
        response_done(&r);
        start_huge_and_pipelined(&c, port);

        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_log(d, "Stopping gracefully", TD_TIMEOUT, NULL));
        TD_ASSERT(d, client_sees_eof(&idle));
        finish_huge_and_pipelined(d, &c);
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        ck_assert_int_eq(code, 0);
        TD_ASSERT(d, !td_log_contains(d, "killing them"));
        client_close(&c);
        client_close(&idle);
}
END_TEST

/* The same when the second request reaches the server only after the
 * worker has read the first one and is busy sending its answer: it waits
 * in the socket, not in the worker's buffer, when the stop comes, and is
 * still answered (with Connection: close), and the end of the answer in
 * flight is not lost to a reset (a close() with unread data would send
 * one, and the kernel would drop what was still to be sent). */
START_TEST(test_graceful_stop_request_arrived_during_response) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client c;
        int code;

        start_web(&d, 1, "keepalive_timeout = 3600;", NO_PARK, &port);
        site_huge(d);
        client_open(&c, port);
        client_send(&c, "GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n");
        read_into_huge(&c);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");

        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_log(d, "Stopping gracefully", TD_TIMEOUT, NULL));
        finish_huge_and_pipelined(d, &c);
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        ck_assert_int_eq(code, 0);
        client_close(&c);
}
END_TEST

/* A reload: the old worker is told to stop once the new generation is up,
 * and does what it does on a stop, while the new one serves. */
START_TEST(test_reload_in_flight) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client c;
        Response r;

        start_web(&d, 1, "keepalive_timeout = 3600;", NO_PARK, &port);
        site_huge(d);
        start_huge_and_pipelined(&c, port);

        TD_OK(d, td_kill(d, SIGHUP));
        TD_OK(d, td_wait_log(d, "Reloaded: generation 2", TD_TIMEOUT, NULL));
        /* The new generation serves while the old worker is busy. */
        http_get(port, "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false, &r);
        TD_ASSERT(d, r.status == 200);
        response_done(&r);
        finish_huge_and_pipelined(d, &c);
        TD_OK(d, td_wait_log(d, "of generation 1 exited with status 0", TD_TIMEOUT, NULL));
        TD_ASSERT(d, !td_log_contains(d, "killing them"));
        client_close(&c);
}
END_TEST

/* ---- reloads under keep-alive load ---- */

typedef struct KaLoad {
        uint16_t port;
        atomic_bool stop;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        unsigned long ok, retried, failed;
        char first_error[128];
} KaLoad;

static void ka_count(KaLoad *l, unsigned long *what, const char *error) {
        pthread_mutex_lock(&l->lock);
        (*what)++;
        if (error && !l->first_error[0])
                snprintf(l->first_error, sizeof(l->first_error), "%s", error);
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->lock);
}

/* One keep-alive client: GET /a.txt again and again on one connection,
 * a new connection when the server said Connection: close. A request on a
 * reused connection that the server closed before it sent a byte of the
 * answer is sent again on a new connection, as HTTP/1.1 clients do (RFC
 * 9112, 9.3.1): a server may close an idle connection at any time, and
 * that request then crossed the close. Anything else is a failure. */
static void *ka_client(void *userdata) {
        static const char req[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
        KaLoad *l = userdata;
        int fd = -EBADF;
        unsigned reused = 0;
        char buf[4096];

        while (!atomic_load(&l->stop)) {
                size_t len = 0;
                char *end = NULL, err[96];
                unsigned status = 0;
                int r;

                if (fd < 0) {
                        fd = td_connect_tcp("127.0.0.1", l->port);
                        reused = 0;
                        if (fd < 0) {
                                snprintf(err, sizeof(err), "connect: %s", strerror(-fd));
                                ka_count(l, &l->failed, err);
                                continue;
                        }
                }
                r = td_write_all(fd, req, strlen(req), TD_TIMEOUT);
                while (r >= 0 && !(end = memmem(buf, len, "\r\n\r\n", 4)) && len < sizeof(buf)) {
                        ssize_t k = recv(fd, buf + len, sizeof(buf) - len, 0);

                        r = k > 0 ? 0 : k == 0 ? -EPIPE : -errno;
                        if (k > 0)
                                len += (size_t) k;
                }
                if (r < 0 && len == 0 && reused > 0 && IN_SET(r, -EPIPE, -ECONNRESET)) {
                        /* Closed while idle: send it again. */
                        fd = safe_close(fd);
                        ka_count(l, &l->retried, NULL);
                        continue;
                }
                if (r < 0 || !end || sscanf(buf, "HTTP/1.1 %u ", &status) != 1 || status != 200) {
                        snprintf(err, sizeof(err), "request %u on its connection: %s, %zu bytes", reused + 1,
                                 r < 0 ? strerror(-r) : "bad answer", len);
                        ka_count(l, &l->failed, err);
                        fd = safe_close(fd);
                        continue;
                }
                /* Content-Length: 12, "hello world\n". */
                while (len < (size_t) (end - buf) + 4 + 12) {
                        ssize_t k = recv(fd, buf + len, sizeof(buf) - len, 0);

                        if (k <= 0)
                                break;
                        len += (size_t) k;
                }
                if (len != (size_t) (end - buf) + 4 + 12 || memcmp(end + 4, "hello world\n", 12) != 0) {
                        ka_count(l, &l->failed, "body cut or wrong");
                        fd = safe_close(fd);
                        continue;
                }
                reused++;
                /* (the head with its last line's CRLF) */
                if (memmem(buf, (size_t) (end - buf) + 2, "\r\nConnection: close\r\n", 21)) {
                        if (td_wait_eof(fd, TD_TIMEOUT) < 0) {
                                ka_count(l, &l->failed, "no EOF after Connection: close");
                                fd = safe_close(fd);
                                continue;
                        }
                        fd = safe_close(fd);
                }
                ka_count(l, &l->ok, NULL);
        }
        safe_close(fd);
        return NULL;
}

static void ka_wait_ok(TestDaemon *d, KaLoad *l, unsigned long n) {
        uint64_t deadline = td_now() + TD_TIMEOUT;
        struct timespec ts = { .tv_sec = (time_t) (deadline / 1000000), .tv_nsec = (long) (deadline % 1000000) * 1000 };

        pthread_mutex_lock(&l->lock);
        while (l->ok < n && l->failed == 0)
                if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) == ETIMEDOUT)
                        break;
        pthread_mutex_unlock(&l->lock);
        TD_ASSERT_MSG(d, l->ok >= n, "only %lu requests answered (%lu failed: %s)", l->ok, l->failed, l->first_error);
}

/* Reloads while keep-alive clients keep asking: no request fails. A
 * request may cross the close of an idle connection by a retiring worker
 * and be sent again (see ka_client()); each old worker closes at most the
 * one connection it serves, so there can be no more such retries than old
 * workers. */
#define KA_CLIENTS 4
#define KA_WORKERS 2
#define KA_RELOADS 5
START_TEST(test_reload_under_keepalive_load) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        KaLoad l = { .lock = PTHREAD_MUTEX_INITIALIZER };
        pthread_t th[KA_CLIENTS];
        pthread_condattr_t ca;
        uint16_t port;

        start_web(&d, KA_WORKERS, "keepalive_timeout = 3600;", NULL, &port);
        l.port = port;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&l.cond, &ca);
        pthread_condattr_destroy(&ca);
        atomic_init(&l.stop, false);
        for (size_t i = 0; i < KA_CLIENTS; i++)
                ck_assert_int_eq(pthread_create(&th[i], NULL, ka_client, &l), 0);

        ka_wait_ok(d, &l, 100);
        for (unsigned i = 0; i < KA_RELOADS; i++) {
                char want[64];

                TD_OK(d, td_kill(d, SIGHUP));
                snprintf(want, sizeof(want), "Reloaded: generation %u,", i + 2);
                TD_OK(d, td_wait_log(d, want, TD_TIMEOUT, NULL));
                ka_wait_ok(d, &l, l.ok + 100);
        }
        atomic_store(&l.stop, true);
        for (size_t i = 0; i < KA_CLIENTS; i++)
                pthread_join(th[i], NULL);
        fprintf(stderr, "%lu requests answered, %lu sent again after an idle close, %lu failed\n", l.ok, l.retried,
                l.failed);
        TD_ASSERT_MSG(d, l.failed == 0, "%lu of %lu requests failed, the first: %s", l.failed, l.ok + l.failed,
                      l.first_error);
        TD_ASSERT_MSG(d, l.retried <= KA_RELOADS * KA_WORKERS, "%lu requests crossed an idle close, more than the %u "
                      "retiring workers could cause", l.retried, KA_RELOADS * KA_WORKERS);
        pthread_cond_destroy(&l.cond);
        assert_clean_log(d);
}
END_TEST

/* header_timeout also bounds the wait for a request body that is skipped
 * (a GET with a body, answered before the body is read): a body that
 * trickles in a byte at a time does not keep the worker, which closes the
 * connection header_timeout after it began to wait, and then serves the
 * next client. The bytes come fifteen times as often as the timeout; a
 * deadline restarted on every read would take the whole body (a thousand
 * bytes, 20 s), which the test takes as the failure. */
START_TEST(test_body_drain_timeout) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client c;
        Response r;
        size_t sent = 0;
        int k;

        start_web(&d, 1, "header_timeout = 0.3; keepalive_timeout = 3600;", NULL, &port);
        client_open(&c, port);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        ck_assert(!response_field(&r, "Connection"));
        response_done(&r);
        for (sent = 10; sent < 1000; sent++) {
                struct pollfd pfd = { .fd = c.fd, .events = POLLIN };

                if (poll(&pfd, 1, 20) > 0)
                        break;
                if (td_write_all(c.fd, "b", 1, TD_TIMEOUT) < 0)
                        break;
        }
        ck_assert_msg(sent < 1000, "the whole body trickled in and the connection is still open");
        k = td_wait_eof(c.fd, TD_TIMEOUT);
        ck_assert_msg(k == 0 || k == -ECONNRESET, "after the body timed out: %s", strerror(-k));
        client_close(&c);
        http_get(port, "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
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
        TD_ADD_TEST(s, test_header_timeout_without_park);
        TD_ADD_TEST(s, test_send_timeout);
        TD_ADD_TEST(s, test_request_bodies);
        TD_ADD_TEST(s, test_body_drain_timeout);
        TD_ADD_TEST(s, test_graceful_stop);
        TD_ADD_TEST(s, test_graceful_stop_request_arrived_during_response);
        TD_ADD_TEST(s, test_reload_in_flight);
        TD_ADD_TEST(s, test_reload_under_keepalive_load);
        TD_ADD_TEST(s, test_access_log);
        return td_run_suite(s);
}
