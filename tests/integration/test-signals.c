/* SPDX-License-Identifier: MIT */
/* Stopping: TERM/INT (graceful), QUIT (fast), the shutdown timeout, and
 * startup failures (bind → 71, leaving nothing behind). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>

#include "itest.h"

#define MiB ((size_t) 1024 * 1024)

/* During a graceful stop, the listener on port is closed soon (the workers
 * react to the signal asynchronously) and connecting is refused, while the
 * in-flight connection busy_fd keeps being served. */
static void expect_refused(TestDaemon *d, uint16_t port, int busy_fd) {
        expect_tcp_port_closed(d, port);
        TD_OK(d, td_echo_exchange(busy_fd, "still here", 10, TD_TIMEOUT));
}

/* TERM while an echo stream is in the middle: the stream completes (more
 * data flows after the signal), new connections are not accepted, and the
 * daemon exits 0 once the client is done. */
static void graceful_mid_stream(int sig) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ unsigned char *data = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t len = 2 * MiB;
        int code = -1, n;
        uint16_t port;

        start_echo(&d, 2, NULL, "shutdown_timeout = 60.0;", &port);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        data = malloc(len);
        ck_assert_ptr_nonnull(data);

        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        td_random_fill(data, len, 1);
        TD_OK(d, td_echo_exchange(fd, data, len, TD_TIMEOUT));

        TD_OK(d, td_kill(d, sig));
        TD_OK(d, td_wait_notify(d, "STOPPING=1", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "Stopping gracefully", TD_TIMEOUT, NULL));

        /* The stream goes on, in several pieces. */
        for (unsigned i = 0; i < 4; i++) {
                td_random_fill(data, len, 10 + i);
                TD_OK(d, td_echo_exchange(fd, data, len, TD_TIMEOUT));
                TD_ASSERT_MSG(d, td_running(d), "the master exited while a connection was still in flight");
        }

        /* Meanwhile new connections are refused: once the workers have
         * seen the signal, nothing holds the listener open. */
        expect_refused(d, port, fd);

        TD_ASSERT(d, shutdown(fd, SHUT_WR) == 0);
        TD_OK(d, td_wait_eof(fd, TD_TIMEOUT));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        TD_ASSERT_MSG(d, code == 0, "exit code %d", code);
        for (int i = 0; i < n; i++)
                TD_OK(d, td_wait_pid_gone(w[i], TD_TIMEOUT));
        TD_ASSERT(d, td_group_count(d) == 0);
        TD_ASSERT(d, !td_log_contains(d, "killing them"));
}

START_TEST(test_term_mid_stream) {
        graceful_mid_stream(SIGTERM);
}
END_TEST

START_TEST(test_int_mid_stream) {
        graceful_mid_stream(SIGINT);
}
END_TEST

/* Two services, one busy when TERM arrives: the idle service's listener is
 * closed at once too (no process may keep it open), so its clients are
 * refused rather than left hanging in a backlog nobody accepts from. */
START_TEST(test_term_other_service_refuses) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint16_t port, other;
        int code = -1;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d,
                                 "shutdown_timeout = 60.0;\n"
                                 "services = (\n"
                                 "  { name = \"echo\"; listen = [ \"127.0.0.1:0\" ]; workers = 1; handler = \"echo\"; },\n"
                                 "  { name = \"other\"; listen = [ \"127.0.0.1:0\" ]; workers = 1; handler = \"echo\"; }\n"
                                 ");\n"));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, &port));
        TD_OK(d, td_find_port(d, "other", 0, &other));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", other, 100, 1, TD_TIMEOUT));

        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(fd, "busy", 4, TD_TIMEOUT));
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_notify(d, "STOPPING=1", TD_TIMEOUT, NULL));
        /* "other" has no connection: its worker leaves at once. */
        TD_OK(d, td_wait_log(d, "other[slot 0]: worker", TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_exchange(fd, "still", 5, TD_TIMEOUT));

        expect_refused(d, other, fd);
        expect_refused(d, port, fd);

        TD_ASSERT(d, shutdown(fd, SHUT_WR) == 0);
        TD_OK(d, td_wait_eof(fd, TD_TIMEOUT));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        TD_ASSERT_MSG(d, code == 0, "exit code %d", code);
}
END_TEST

/* A connection that never ends is SIGKILLed after shutdown_timeout; the
 * exit is still 0. */
START_TEST(test_term_shutdown_timeout) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint16_t port;
        int r;

        start_echo(&d, 1, "idle_timeout = 600.0;", "shutdown_timeout = 0.3;", &port);
        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(fd, "abc", 3, TD_TIMEOUT));

        stop_and_expect(d, SIGTERM, 0);
        TD_ASSERT(d, td_log_contains(d, "still busy after the shutdown timeout"));
        r = td_wait_eof(fd, TD_TIMEOUT);
        TD_ASSERT_MSG(d, r == 0 || r == -ECONNRESET, "held connection: %s", strerror(-r));
}
END_TEST

/* QUIT: fast stop. With a 60 s shutdown_timeout and a busy idle connection,
 * only a fast stop can finish within the test's timeout. */
START_TEST(test_quit_fast_stop) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_close_ int fd = -EBADF;
        int n, r;
        uint16_t port;

        start_echo(&d, 3, "idle_timeout = 600.0;", "shutdown_timeout = 60.0;", &port);
        n = TD_OK(d, td_wait_workers(d, 3, TD_TIMEOUT, &w));
        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(fd, "abc", 3, TD_TIMEOUT));

        stop_and_expect(d, SIGQUIT, 0);
        for (int i = 0; i < n; i++)
                TD_OK(d, td_wait_pid_gone(w[i], 0));
        TD_OK(d, td_wait_notify(d, "STOPPING=1", 0, NULL));
        r = td_wait_eof(fd, TD_TIMEOUT);
        TD_ASSERT_MSG(d, r == 0 || r == -ECONNRESET, "held connection: %s", strerror(-r));
        TD_ASSERT(d, td_connect_tcp("127.0.0.1", port) == -ECONNREFUSED);
}
END_TEST

/* Signals with no meaning here (USR1/USR2, which other daemons take for
 * "reopen logs") are logged and ignored by the master and ignored by the
 * workers: nothing stops, nothing is respawned. */
START_TEST(test_usr_signals_ignored) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *before = NULL, *after = NULL;
        uint16_t port;
        int n;

        start_echo(&d, 2, NULL, NULL, &port);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &before));
        TD_ASSERT(d, kill(td_pid(d), SIGUSR1) == 0);
        TD_ASSERT(d, kill(td_pid(d), SIGUSR2) == 0);
        for (int i = 0; i < n; i++)
                TD_ASSERT(d, kill(before[i], SIGUSR1) == 0 && kill(before[i], SIGUSR2) == 0);
        TD_OK(d, td_wait_log(d, "Ignoring SIGUSR2", TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 1, TD_TIMEOUT));
        TD_ASSERT(d, td_running(d));
        TD_ASSERT(d, td_log_contains(d, "Ignoring SIGUSR1"));
        TD_ASSERT(d, TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &after)) == 2);
        for (int i = 0; i < n; i++)
                TD_ASSERT_MSG(d, before[i] == after[0] || before[i] == after[1], "worker %d died", (int) before[i]);
        TD_ASSERT(d, !td_log_contains(d, "killed by signal"));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Bind failure: a port the test holds. Exit 71, the address and the reason
 * in the log, no worker ever started, no READY=1, and the unix socket the
 * daemon had already created before the failing listener is gone. */
START_TEST(test_bind_failure) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = NULL, *sock = NULL, *msg = NULL;
        _cleanup_close_ int busy = -EBADF;
        uint16_t port;
        int code = -1;

        busy = TD_OK(NULL, td_listen_tcp(&port));
        TD_OK(NULL, td_new(&d));
        ck_assert_int_ge(asprintf(&conf,
                                  "log_level = \"debug\";\n"
                                  "services = (\n"
                                  "  { name = \"first\"; listen = [ \"unix:@DIR@/first.sock\", \"127.0.0.1:0\" ];\n"
                                  "    workers = 2; handler = \"echo\"; },\n"
                                  "  { name = \"second\"; listen = [ \"127.0.0.1:%u\" ];\n"
                                  "    workers = 2; handler = \"echo\"; }\n"
                                  ");\n",
                                  port),
                         0);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        TD_ASSERT_MSG(d, code == EX_OSERR, "exit code %d, expected %d", code, EX_OSERR);
        TD_OK(d, td_wait_output_closed(d, TD_TIMEOUT));
        TD_ASSERT(d, asprintf(&msg, "127.0.0.1:%u", port) >= 0);
        TD_OK(d, td_wait_log(d, msg, TD_TIMEOUT, NULL));
        TD_ASSERT(d, td_log_contains(d, "Address already in use"));
        TD_ASSERT(d, !td_log_contains(d, "started worker"));
        TD_ASSERT(d, td_wait_notify(d, "READY=1", 0, NULL) < 0);
        TD_ASSERT(d, td_group_count(d) == 0);
        sock = td_subst(d, "@DIR@/first.sock");
        TD_ASSERT_MSG(d, access(sock, F_OK) < 0, "%s was left behind", sock);
}
END_TEST

static Suite *signals_suite(void) {
        Suite *s = suite_create("signals");

        TD_ADD_TEST(s, test_term_mid_stream);
        TD_ADD_TEST(s, test_int_mid_stream);
        TD_ADD_TEST(s, test_term_other_service_refuses);
        TD_ADD_TEST(s, test_term_shutdown_timeout);
        TD_ADD_TEST(s, test_quit_fast_stop);
        TD_ADD_TEST(s, test_usr_signals_ignored);
        TD_ADD_TEST(s, test_bind_failure);
        return s;
}

int main(void) {
        return td_run_suite(signals_suite());
}
