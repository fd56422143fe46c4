/* SPDX-License-Identifier: MIT */
/* HTTP behaviour that the mutation check (tests/mutation) found untested:
 * each test here fails with the mutation named above it. A Range ending
 * exactly at the file's size, a request head and a request body that
 * trickle in slower than header_timeout allows, and a response in flight
 * when the worker is told to stop (TERM, or a reload retiring it), with a
 * pipelined request behind it. No test asserts on timing: the timeouts are
 * short and the tests wait (boundedly) for their effect. */
#include <check.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>

#include "http-client.h"

/* Larger than anything the kernel buffers on a loopback connection (a few
 * MiB of send buffer, and the client's receive buffer is made small): while
 * the client reads nothing, the worker is in the middle of sending it. */
#define HUGE_SIZE ((off_t) 32 * 1024 * 1024)

/* mutation http-range-clamp: "bytes=6-12" of a 12-byte file is its last
 * six bytes; the end one past the last byte is clamped like any later one. */
START_TEST(test_range_end_at_file_size) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Response r;

        start_web(&d, 1, NULL, NULL, &port);
        http_get(port, "GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=6-12\r\nConnection: close\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 206);
        ck_assert_str_eq(response_field(&r, "Content-Range"), "bytes 6-11/12");
        ck_assert_str_eq(response_field(&r, "Content-Length"), "6");
        ck_assert_str_eq(r.body, "world\n");
        response_done(&r);
        assert_clean_log(d);
}
END_TEST

/* The segments a TCP connection has taken in so far (tcp_info's
 * tcpi_segs_in, Linux 4.2). */
static uint32_t segments_in(int fd) {
        struct tcp_info ti = { 0 };
        socklen_t len = sizeof ti;

        ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
        return ti.tcpi_segs_in;
}

/* mutation http-close-corks-fin: the last response on a connection that
 * closes next goes out with the FIN, in one segment. After its request the
 * client takes in at most the acknowledgement of that request and that one
 * segment; an uncorked send makes the FIN a segment of its own. */
START_TEST(test_close_response_carries_fin) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint32_t before;
        uint16_t port;
        Client c;

        start_web(&d, 1, NULL, NULL, &port);
        for (int i = 0; i < 3; i++) {
                client_open(&c, port);
                before = segments_in(c.fd);
                client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                read_a_txt(&c);
                ck_assert(client_sees_eof(&c));
                ck_assert_uint_le(segments_in(c.fd) - before, 2);
                client_close(&c);
        }
        assert_clean_log(d);
}
END_TEST

/* mutation http-close-half-closes: a corked last response leaves with a
 * half-close before the worker closes the connection. A test build's
 * fault holds that close 150 ms, and the client sends more bytes after its
 * Connection: close request meanwhile, which the worker never reads: the
 * close then resets the connection, and a reset drops whatever was still
 * unsent. The response must have left before. (The pause only orders the
 * client's bytes after the worker's read; were they read with the request,
 * the worker would linger instead, and the test would pass either way.) */
START_TEST(test_close_response_survives_late_bytes) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Client c;

        start_web_with_fault(&d, "conn-close-late", NULL, &port);
        client_open(&c, port);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        (void) usleep(50 * 1000);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        read_a_txt(&c);
        client_close(&c);
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
}
END_TEST

/* A head that never completes is cut off with a 408 even though a byte
 * arrives every 100 ms, far less than header_timeout apart; a deadline that
 * moved with every byte would never expire. The trickle only ends when the
 * answer comes (or after TD_TIMEOUT, the bound of a hang). svc_extra turns
 * the front stage off, or leaves it on (NULL). */
static void head_trickle_is_cut_off(const char *svc_extra) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint64_t deadline;
        uint16_t port;
        bool answered = false;
        Response r;
        Client c;

        start_web(&d, 1, "header_timeout = 0.5;", svc_extra, &port);
        client_open(&c, port);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        deadline = td_now() + TD_TIMEOUT;
        while (!answered && td_now() < deadline) {
                struct pollfd p = { .fd = c.fd, .events = POLLIN };

                if (td_write_all(c.fd, "a", 1, TD_TIMEOUT) < 0)
                        break;
                /* The pace of the trickle, and the wait for the answer. */
                answered = poll(&p, 1, 100) > 0;
        }
        ck_assert_msg(answered, "a request head trickling in for %.0f s was never cut off", TD_TIMEOUT / 1e6);
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 408);
        ck_assert_str_eq(response_field(&r, "Connection"), "close");
        response_done(&r);
        client_close(&c);
        assert_clean_log(d);
}

/* mutation park-head-deadline-restarts: the slow head waits in the front
 * stage (the default). */
START_TEST(test_head_trickle_is_cut_off) {
        head_trickle_is_cut_off(NULL);
}
END_TEST

/* mutations http-header-timeout-restarts, http-header-timeout-408: the
 * same in the worker, which keeps the head itself when it cannot park it
 * (parking off, or park.max_parked reached). */
START_TEST(test_head_trickle_is_cut_off_unparked) {
        head_trickle_is_cut_off("park = { enabled = false; };");
}
END_TEST

/* mutation http-header-timeout-body-drain: the body of a request the
 * server answered without reading it (a GET with Content-Length) is
 * drained to keep the connection usable, but only for header_timeout: a
 * client that announces 100 bytes and sends 10 is dropped then. */
START_TEST(test_body_drain_is_bounded) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Response r;
        Client c;

        start_web(&d, 1, "header_timeout = 0.5;", NULL, &port);
        client_open(&c, port);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
        ck_assert_int_eq(client_read_response(&c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_ptr_null(response_field(&r, "Connection"));
        response_done(&r);
        /* The client's receive timeout (10 s) bounds this. */
        ck_assert_msg(client_sees_eof(&c), "the server still waits for the rest of the body");
        client_close(&c);
        assert_clean_log(d);
}
END_TEST

/* The worker is sending DIR/site/huge.bin to a client that reads nothing,
 * and a second request is already in its buffer behind the first when
 * signal arrives (TERM: a graceful stop; HUP: a reload, which retires the
 * worker with TERM). Returns the open client; the caller reads. */
static void busy_with_pipelined_request(TestDaemon **ret, int sig, uint16_t *ret_port, Client *ret_client) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        TestDaemon *d = NULL;
        int small = 4096;
        Client c;

        start_web(&d, 1, "keepalive_timeout = 3600; send_timeout = 60;", NULL, ret_port);
        *ret = d;
        path = td_subst(d, "@DIR@/site/huge.bin");
        ck_assert_ptr_nonnull(path);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, HUGE_SIZE), 0);

        c = (Client) { .fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) };
        ck_assert_int_ge(c.fd, 0);
        ck_assert_int_eq(setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(*ret_port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        ck_assert_int_eq(connect(c.fd, (struct sockaddr *) &sa, sizeof sa), 0);
        struct timeval tv = { .tv_sec = 10 };
        ck_assert_int_eq(setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
        /* Both requests in one write: the second is in the worker's buffer
         * before the first is answered. */
        client_send(&c, "GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        /* The first response has begun. */
        while (!c.buf || !strstr(c.buf, "\r\n\r\n"))
                ck_assert_int_gt(client_fill(&c), 0);

        TD_OK(d, td_kill(d, sig));
        if (sig == SIGHUP)
                TD_OK(d, td_wait_log(d, "Reloaded: generation 2", TD_TIMEOUT, NULL));
        else
                TD_OK(d, td_wait_log(d, "Stopping gracefully", TD_TIMEOUT, NULL));
        *ret_client = c;
}

/* The response in flight is finished, then the request already received
 * is answered (r holds that answer). */
static void expect_finished_then_answered(Client *c, Response *r) {
        ck_assert_int_eq(client_read_response(c, false, r), 0);
        ck_assert_uint_eq(r->status, 200);
        ck_assert_uint_eq(r->body_len, (size_t) HUGE_SIZE);
        response_done(r);
        ck_assert_int_eq(client_read_response(c, false, r), 0);
        ck_assert_uint_eq(r->status, 200);
        ck_assert_str_eq(r->body, "hello world\n");
}

/* mutations stop-http-response-inflight, stop-http-connection-close: TERM
 * while a response is being sent. The request behind it is answered with
 * Connection: close, and then the connection ends. */
START_TEST(test_term_finishes_response_and_closes) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Response r;
        Client c;
        int code = -1;

        busy_with_pipelined_request(&d, SIGTERM, &port, &c);
        expect_finished_then_answered(&c, &r);
        TD_ASSERT_MSG(d, response_field(&r, "Connection") && strcmp(response_field(&r, "Connection"), "close") == 0,
                      "the request received before the stop was answered without Connection: close:\n%s", r.head);
        response_done(&r);
        ck_assert(client_sees_eof(&c));
        client_close(&c);
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        ck_assert_int_eq(code, 0);
        TD_ASSERT(d, !td_log_contains(d, "killing them"));
        assert_clean_log(d);
}
END_TEST

/* mutation stop-http-response-inflight: the same when a reload retires the
 * busy worker, while the new generation serves. A retiring worker keeps
 * the connection (it parks it once idle, preforkd.conf(5), park), so the
 * next request on it is answered too, by the new generation. */
START_TEST(test_hup_finishes_response_and_keeps_connection) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        Response r;
        Client c;

        busy_with_pipelined_request(&d, SIGHUP, &port, &c);
        http_get(port, "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false, &r);
        ck_assert_uint_eq(r.status, 200);
        response_done(&r);
        expect_finished_then_answered(&c, &r);
        response_done(&r);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        read_a_txt(&c);
        ck_assert(client_sees_eof(&c));
        client_close(&c);
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
        TD_ASSERT(d, !td_log_contains(d, "killing them"));
        assert_clean_log(d);
}
END_TEST

int main(void) {
        Suite *s = suite_create("http-gaps");

        TD_ADD_TEST(s, test_range_end_at_file_size);
        TD_ADD_TEST(s, test_close_response_carries_fin);
        TD_ADD_TEST(s, test_close_response_survives_late_bytes);
        TD_ADD_TEST(s, test_head_trickle_is_cut_off);
        TD_ADD_TEST(s, test_head_trickle_is_cut_off_unparked);
        TD_ADD_TEST(s, test_body_drain_is_bounded);
        TD_ADD_TEST(s, test_term_finishes_response_and_closes);
        TD_ADD_TEST(s, test_hup_finishes_response_and_keeps_connection);
        return td_run_suite(s);
}
