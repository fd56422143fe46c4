/* SPDX-License-Identifier: MIT */
/* The PROXY protocol on a service's listeners (proxy_protocol,
 * proxy_from, proxy_timeout) and HAProxy's agent check (agent_listen),
 * through the real binary: the client a header names replaces the peer
 * in the access log, fresh or after parking; the bytes after the header
 * reach the handler; malformed, slow or unauthorized headers are closed
 * and logged with the peer, and a slow one does not pin a worker. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "itest.h"

#define GET "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
#define GET_KEEP "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"

/* A TCP client of 127.0.0.1:port whose own address is src (any of
 * 127.0.0.0/8), with the testlib's 10 s timeouts. */
static int connect_from(const char *src, uint16_t port) {
        struct sockaddr_in a = { .sin_family = AF_INET }, b = { .sin_family = AF_INET, .sin_port = htons(port) };
        struct timeval tv = { .tv_sec = 10 };
        int fd, r;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        inet_pton(AF_INET, src, &a.sin_addr);
        inet_pton(AF_INET, "127.0.0.1", &b.sin_addr);
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
            bind(fd, (struct sockaddr *) &a, sizeof a) < 0 || connect(fd, (struct sockaddr *) &b, sizeof b) < 0) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        return fd;
}

static const uint8_t v2_sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };

/* A v2 header: ver_cmd, fam and an address block of len bytes. */
static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *block, size_t len) {
        memcpy(out, v2_sig, 12);
        out[12] = ver_cmd;
        out[13] = fam;
        out[14] = (uint8_t) (len >> 8);
        out[15] = (uint8_t) len;
        if (len > 0)
                memcpy(out + 16, block, len);
        return 16 + len;
}

/* v2 PROXY TCP over IPv4 or IPv6: src:sport -> dst:dport. */
static size_t v2_tcp(uint8_t *out, const char *src, uint16_t sport, const char *dst, uint16_t dport) {
        uint8_t block[36];
        size_t alen;

        if (inet_pton(AF_INET, src, block) == 1) {
                inet_pton(AF_INET, dst, block + 4);
                alen = 4;
        } else {
                inet_pton(AF_INET6, src, block);
                inet_pton(AF_INET6, dst, block + 16);
                alen = 16;
        }
        block[2 * alen] = (uint8_t) (sport >> 8);
        block[2 * alen + 1] = (uint8_t) sport;
        block[2 * alen + 2] = (uint8_t) (dport >> 8);
        block[2 * alen + 3] = (uint8_t) dport;
        return v2(out, 0x21, alen == 4 ? 0x11 : 0x21, block, 2 * alen + 4);
}

static void send_all(TestDaemon *d, int fd, const void *p, size_t n) {
        TD_OK(d, td_write_all(fd, p, n, TD_TIMEOUT));
}

static void send_str(TestDaemon *d, int fd, const char *s) {
        send_all(d, fd, s, strlen(s));
}

/* Waits until the server side of fd is held by the front stage: the
 * connection was parked, and no worker has it. */
static void wait_held_by_front_stage(TestDaemon *d, int fd) {
        uint64_t deadline = td_now() + TD_TIMEOUT;

        for (;;) {
                _cleanup_free_ pid_t *front = NULL;
                pid_t owner;

                if (td_front_stages(d, &front) == 1 && td_conn_holder(d, fd, &owner) == 0 && owner == front[0])
                        return;
                TD_ASSERT_MSG(d, td_now() < deadline, "the connection was not parked");
                td_poll_pause();
        }
}

/* Sends what, reads the whole response up to the server's close, and
 * checks that it is a 200 with the file. */
static void expect_hello(TestDaemon *d, int fd) {
        _cleanup_free_ char *resp = NULL;
        size_t len;

        TD_OK(d, td_read_all(fd, 65536, TD_TIMEOUT, &resp, &len));
        TD_ASSERT_MSG(d, strncmp(resp, "HTTP/1.1 200 ", 13) == 0 && strstr(resp, "hello\n"), "response: %s", resp);
}

/* The server ends the connection without answering: EOF, or a reset when
 * it closed with our bytes unread. */
static void expect_closed(TestDaemon *d, int fd) {
        int r = td_wait_eof(fd, TD_TIMEOUT);
        TD_ASSERT_MSG(d, r == 0 || r == -ECONNRESET, "connection not closed: %s", strerror(-r));
}

static void start_web(TestDaemon **ret, const char *svc_extra, uint16_t *ret_port) {
        _cleanup_free_ char *conf = NULL;
        TestDaemon *d = NULL;

        TD_OK(NULL, td_new(&d));
        *ret = d;
        TD_OK(d, td_write_file(d, "hello.txt", "hello\n"));
        TD_ASSERT(d, asprintf(&conf,
                              "log_level = \"debug\";\n"
                              "services = ( { name = \"web\"; listen = [ \"127.0.0.1:0\" ]; handler = \"http\";\n"
                              "  http = { root = \".\"; access_log = true; };\n"
                              "  %s } );\n",
                              svc_extra) >= 0);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "web", 0, ret_port));
}

/* v1 and v2 (IPv4, IPv6, LOCAL): the access log names the header's
 * client, or for LOCAL the real peer. */
START_TEST(test_client_in_access_log) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *line = NULL;
        uint8_t h[128];
        uint16_t port;
        size_t n;
        int fd;

        start_web(&d, "workers = 2; proxy_protocol = \"any\";", &port);

        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        send_str(d, fd, "PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n" GET);
        expect_hello(d, fd);
        safe_close(fd);
        TD_OK(d, td_wait_log(d, "203.0.113.7:5555 - - [", TD_TIMEOUT, NULL));

        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        n = v2_tcp(h, "2001:db8::7", 6000, "2001:db8::1", 80);
        memcpy(h + n, GET, strlen(GET));
        send_all(d, fd, h, n + strlen(GET));
        expect_hello(d, fd);
        safe_close(fd);
        TD_OK(d, td_wait_log(d, "[2001:db8::7]:6000 - - [", TD_TIMEOUT, NULL));

        /* LOCAL, as HAProxy's health checks send it: the real endpoints. */
        fd = TD_OK(d, connect_from("127.0.0.9", port));
        n = v2(h, 0x20, 0x00, NULL, 0);
        memcpy(h + n, GET, strlen(GET));
        send_all(d, fd, h, n + strlen(GET));
        expect_hello(d, fd);
        safe_close(fd);
        TD_OK(d, td_wait_log(d, " 127.0.0.9:", TD_TIMEOUT, &line));
        TD_ASSERT_MSG(d, strstr(line, " - - [") && strstr(line, "GET /hello.txt"), "not an access log line: %s", line);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* A header that arrives in pieces is gathered by the front stage (the
 * worker parks the connection), and the client it names travels with the
 * connection: through the header's parking, and through an idle
 * keep-alive parking between two requests. */
START_TEST(test_client_travels_with_parked_connection) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint8_t h[128];
        char buf[4096];
        uint16_t port;
        size_t n;

        start_web(&d, "workers = 1; proxy_protocol = \"v2\";", &port);
        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        n = v2_tcp(h, "198.51.100.20", 4444, "192.0.2.1", 80);
        send_all(d, fd, h, 5);
        wait_held_by_front_stage(d, fd);
        send_all(d, fd, h + 5, 15);
        td_sleep(TD_MSEC(50));
        send_all(d, fd, h + 20, n - 20);
        send_str(d, fd, GET_KEEP);
        TD_OK(d, td_wait_log(d, "198.51.100.20:4444 - - [", TD_TIMEOUT, NULL));
        TD_ASSERT(d, recv(fd, buf, sizeof buf, 0) > 0);
        /* Idle: parked again, then the next request. */
        wait_held_by_front_stage(d, fd);
        send_str(d, fd, GET);
        TD_OK(d, td_wait_log(d, "198.51.100.20:4444 - - [", TD_TIMEOUT, NULL));
        TD_ASSERT_MSG(d, td_log_count(d, "198.51.100.20:4444 - - [") == 2, "two requests logged with the client");
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* The bytes after the header are the handler's: echo returns exactly
 * them, with and without a front stage. */
START_TEST(test_bytes_after_header_stay) {
        for (unsigned park = 0; park < 2; park++) {
                _cleanup_(td_freep) TestDaemon *d = NULL;
                _cleanup_close_ int fd = -EBADF;
                char got[16] = "";
                uint8_t h[128];
                uint16_t port;
                size_t n;

                start_echo(&d, 1, park ? "proxy_protocol = \"v2\"; park = { enabled = true; };" : "proxy_protocol = \"v2\";",
                           "log_level = \"debug\";", &port);
                fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
                n = v2_tcp(h, "192.0.2.33", 33, "192.0.2.1", 7);
                memcpy(h + n, "payload", 7);
                send_all(d, fd, h, n + 7);
                TD_OK(d, td_read_exact(fd, got, 7, TD_TIMEOUT));
                TD_ASSERT_MSG(d, memcmp(got, "payload", 7) == 0, "echoed %.7s", got);
                /* A header in two pieces, the payload with the second. */
                safe_close(fd);
                fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
                send_all(d, fd, h, 10);
                td_sleep(TD_MSEC(50));
                send_all(d, fd, h + 10, n - 10 + 7);
                TD_OK(d, td_read_exact(fd, got, 7, TD_TIMEOUT));
                TD_ASSERT_MSG(d, memcmp(got, "payload", 7) == 0, "echoed %.7s", got);
                TD_ASSERT(d, shutdown(fd, SHUT_WR) == 0);
                TD_OK(d, td_wait_eof(fd, TD_TIMEOUT));
                stop_and_expect(d, SIGTERM, 0);
        }
}
END_TEST

/* proxy_from: a peer outside it is closed before anything is read; one
 * inside is served. */
START_TEST(test_proxy_from) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        int fd;

        start_web(&d, "workers = 1; proxy_protocol = \"v1\"; proxy_from = [ \"127.0.1.0/24\", \"::1\" ];", &port);
        fd = TD_OK(d, connect_from("127.0.0.1", port));
        send_str(d, fd, "PROXY TCP4 203.0.113.8 10.0.0.1 5555 80\r\n" GET);
        expect_closed(d, fd);
        safe_close(fd);
        TD_OK(d, td_wait_log(d, "web[slot 0]: closing the connection from 127.0.0.1:", TD_TIMEOUT, NULL));
        TD_ASSERT(d, td_log_contains(d, ": not in proxy_from"));
        TD_ASSERT(d, !td_log_contains(d, "203.0.113.8"));

        fd = TD_OK(d, connect_from("127.0.1.1", port));
        send_str(d, fd, "PROXY TCP4 203.0.113.9 10.0.0.1 5555 80\r\n" GET);
        expect_hello(d, fd);
        safe_close(fd);
        TD_OK(d, td_wait_log(d, "203.0.113.9:5555 - - [", TD_TIMEOUT, NULL));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Malformed headers: each closed, none answered, each logged at debug
 * with the peer and what was wrong. */
START_TEST(test_bad_headers) {
        static const uint8_t lie[] = {
                /* v2 PROXY TCP4 announcing 32 bytes but sending 12: the
                 * request after them is read as TLVs that do not fit. */
                0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 0x20,
                192, 0, 2, 1, 192, 0, 2, 2, 0x00, 0x50, 0x00, 0x50,
        };
        static const uint8_t wrong_version[] = {
                0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x11, 0x11, 0x00, 0x0C,
        };
        char too_long[160];
        struct {
                const char *src;
                const void *bytes;
                size_t len;
                bool then_close;
                const char *why;
        } cases[] = {
                { "127.0.2.1", "PROXY TCP4 203.0.113.1 10.0.0.1 5", 33, true, "closed in the middle of the PROXY header" },
                { "127.0.2.2", too_long, 0, false, "no CRLF within the first 107 bytes" },
                { "127.0.2.3", wrong_version, sizeof wrong_version, false, "wrong version" },
                { "127.0.2.4", NULL, 0, false, "TLV is longer" },
                { "127.0.2.5", "PROXY TCP4 1.2.3.4 5.6.7.8 80 80\n", 33, false, "LF without CR" },
                { "127.0.2.6", GET, strlen(GET), false, "no PROXY header" },
        };
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint8_t lie_and_request[sizeof lie + sizeof GET];
        uint16_t port;

        memcpy(lie_and_request, lie, sizeof lie);
        memcpy(lie_and_request + sizeof lie, GET, strlen(GET));
        cases[3].bytes = lie_and_request;
        cases[3].len = sizeof lie + strlen(GET);
        snprintf(too_long, sizeof too_long, "PROXY UNKNOWN %0120d\r\n", 0);
        cases[1].len = strlen(too_long);

        start_web(&d, "workers = 1; proxy_protocol = \"any\";", &port);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char want[256];
                int fd = TD_OK(d, connect_from(cases[i].src, port));

                send_all(d, fd, cases[i].bytes, cases[i].len);
                if (cases[i].then_close)
                        TD_ASSERT(d, shutdown(fd, SHUT_WR) == 0);
                expect_closed(d, fd);
                safe_close(fd);
                snprintf(want, sizeof want, "closing the connection from %s:", cases[i].src);
                TD_OK(d, td_wait_log(d, want, TD_TIMEOUT, NULL));
                TD_ASSERT_MSG(d, td_log_contains(d, cases[i].why), "case %zu: no \"%s\" logged", i, cases[i].why);
        }
        stop_and_expect(d, SIGTERM, 0);
        TD_ASSERT_MSG(d, !td_log_contains(d, "\" 200 "), "a malformed header was answered");
}
END_TEST

/* Sends a v1 header (15 bytes) one byte a second until the server closes;
 * returns how many bytes it took. With a front stage, once the connection is
 * parked, a complete request from another client is served by the only
 * worker while the trickle goes on. */
static size_t trickle(TestDaemon *d, uint16_t port, bool front_stage) {
        static const char hdr[] = "PROXY UNKNOWN\r\n";
        _cleanup_close_ int fd = TD_OK(d, connect_from("127.0.3.1", port));
        size_t i;

        for (i = 0; i < strlen(hdr); i++) {
                if (send(fd, hdr + i, 1, MSG_NOSIGNAL) != 1)
                        break;
                if (i == 1 && front_stage) {
                        char c;
                        int other;

                        wait_held_by_front_stage(d, fd);
                        other = TD_OK(d, td_connect_tcp("127.0.0.1", port));
                        send_str(d, other, "PROXY TCP4 203.0.113.51 10.0.0.1 5555 80\r\n" GET);
                        expect_hello(d, other);
                        safe_close(other);
                        TD_ASSERT_MSG(d, recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN,
                                      "the trickling connection ended before the other was served");
                }
                if (td_log_contains(d, "PROXY header not complete within proxy_timeout"))
                        break;
                td_sleep(TD_SEC(1));
        }
        expect_closed(d, fd);
        return i;
}

/* A header trickled a byte a second (slowloris) is closed at
 * proxy_timeout; with a front stage it never holds the only worker. */
START_TEST(test_trickle) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        size_t sent;

        start_web(&d, "workers = 1; proxy_protocol = \"v1\"; proxy_timeout = 3;", &port);
        sent = trickle(d, port, true);
        TD_ASSERT_MSG(d, sent < 15, "the whole header went through");
        TD_OK(d, td_wait_log(d, "web front stage: closing the connection from 127.0.3.1:", TD_TIMEOUT, NULL));
        TD_ASSERT(d, td_log_contains(d, "PROXY header not complete within proxy_timeout"));
        TD_ASSERT(d, td_log_contains(d, "203.0.113.51:5555 - - ["));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Without a front stage the worker waits for the header, but not past
 * proxy_timeout; then it serves the next client. */
START_TEST(test_trickle_without_front_stage) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;
        size_t sent;
        int fd;

        start_web(&d, "workers = 1; proxy_protocol = \"v1\"; proxy_timeout = 3; park = { enabled = false; };", &port);
        sent = trickle(d, port, false);
        TD_ASSERT_MSG(d, sent < 15, "the whole header went through");
        TD_OK(d, td_wait_log(d, "web[slot 0]: closing the connection from 127.0.3.1:", TD_TIMEOUT, NULL));
        TD_ASSERT(d, td_log_contains(d, "PROXY header not complete within proxy_timeout"));
        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        send_str(d, fd, "PROXY TCP4 203.0.113.52 10.0.0.1 5555 80\r\n" GET);
        expect_hello(d, fd);
        safe_close(fd);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* What an agent check on port reads. */
static char *agent_read(TestDaemon *d, uint16_t port) {
        _cleanup_close_ int fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        char *line = NULL;
        size_t len;

        TD_OK(d, td_read_all(fd, 256, TD_TIMEOUT, &line, &len));
        return line;
}

static void expect_agent(TestDaemon *d, uint16_t port, const char *want) {
        _cleanup_free_ char *got = agent_read(d, port);
        TD_ASSERT_MSG(d, strcmp(got, want) == 0, "agent said \"%s\", expected \"%s\"", got, want);
}

/* agent_listen: "up ready N%" with N the idle share of the pool (busy
 * workers hold echo connections: no front stage here), "drain" while
 * drained by preforkctl, the same port across a
 * reload, and "down" while stopping. */
/* preforkctl from the build (PREFORKCTL_BINARY): the suite always has it. */
static const char *preforkctl(void) {
        const char *p = getenv("PREFORKCTL_BINARY");
        ck_assert_msg(p && *p, "PREFORKCTL_BINARY is not set");
        return p;
}

/* preforkctl -s DIR/control COMMAND echo. */
static void ctl(TestDaemon *d, const char *command) {
        char sock[512];
        int status;
        pid_t pid;

        snprintf(sock, sizeof sock, "%s/control", td_dir(d));
        pid = fork();
        TD_ASSERT(d, pid >= 0);
        if (pid == 0) {
                execl(preforkctl(), preforkctl(), "-s", sock, command, "echo", (char *) NULL);
                _exit(127);
        }
        TD_ASSERT(d, waitpid(pid, &status, 0) == pid);
        TD_ASSERT_MSG(d, WIFEXITED(status) && WEXITSTATUS(status) == 0, "preforkctl %s echo failed", command);
}

START_TEST(test_agent) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = NULL;
        int held[2];
        uint16_t port, aport, aport2;

        start_echo(&d, 2, "agent_listen = \"127.0.0.1:0\"; idle_timeout = 600.0;",
                   "control_socket = \"@DIR@/control\";", &port);
        TD_OK(d, td_find_port(d, "echo agent check", 0, &aport));
        expect_agent(d, aport, "up ready 100%\n");
        /* Drained by the operator, then back. */
        ctl(d, "drain");
        expect_agent(d, aport, "drain\n");
        ctl(d, "undrain");
        expect_agent(d, aport, "up ready 100%\n");
        for (unsigned i = 0; i < 2; i++) {
                held[i] = TD_OK(d, td_connect_tcp("127.0.0.1", port));
                TD_OK(d, td_echo_exchange(held[i], "busy", 4, TD_TIMEOUT));
                expect_agent(d, aport, i == 0 ? "up ready 50%\n" : "up ready 1%\n");
        }

        /* A reload keeps the port; the new pool is idle. */
        hup_expect_applied(d, 2);
        TD_ASSERT(d, td_find_port(d, "echo agent check", 1, &aport2) == -ENOENT);
        expect_agent(d, aport, "up ready 100%\n");

        /* A graceful stop waits for the held connections; meanwhile the
         * agent says "down". */
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_notify(d, "STOPPING=1", TD_TIMEOUT, NULL));
        expect_agent(d, aport, "down\n");
        for (unsigned i = 0; i < 2; i++) {
                TD_ASSERT(d, shutdown(held[i], SHUT_WR) == 0);
                TD_OK(d, td_wait_eof(held[i], TD_TIMEOUT));
                safe_close(held[i]);
        }
        stop_and_expect(d, 0, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("proxy");

        TD_ADD_TEST(s, test_client_in_access_log);
        TD_ADD_TEST(s, test_client_travels_with_parked_connection);
        TD_ADD_TEST(s, test_bytes_after_header_stay);
        TD_ADD_TEST(s, test_proxy_from);
        TD_ADD_TEST(s, test_bad_headers);
        TD_ADD_TEST(s, test_trickle);
        TD_ADD_TEST(s, test_trickle_without_front_stage);
        TD_ADD_TEST(s, test_agent);
        return td_run_suite(s);
}
