/* SPDX-License-Identifier: MIT */
/* Stopping: TERM/INT (graceful), QUIT (fast), the shutdown timeout, signals
 * during a stop and during the start, and startup failures (bind → 71,
 * leaving nothing behind). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>

#include "itest.h"
#include "upgrade-test.h"

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

/* Starts an echo daemon with one worker busy on the returned connection
 * and sends it SIGTERM: a graceful stop is under way, waiting for that
 * connection (shutdown_timeout is a minute). */
static int start_stopping(TestDaemon **ret, uint16_t *ret_port) {
        _cleanup_close_ int fd = -EBADF;

        start_echo(ret, 2, "idle_timeout = 600.0;", "shutdown_timeout = 60.0;", ret_port);
        fd = TD_OK(*ret, td_connect_tcp("127.0.0.1", *ret_port));
        TD_OK(*ret, td_echo_exchange(fd, "busy", 4, TD_TIMEOUT));
        TD_OK(*ret, td_kill(*ret, SIGTERM));
        TD_OK(*ret, td_wait_log(*ret, "Stopping gracefully", TD_TIMEOUT, NULL));
        return TAKE_FD(fd);
}

/* The client ends its connection; the stop completes with exit 0. */
static void finish_stopping(TestDaemon *d, int fd) {
        TD_OK(d, td_echo_exchange(fd, "last", 4, TD_TIMEOUT));
        TD_ASSERT(d, shutdown(fd, SHUT_WR) == 0);
        TD_OK(d, td_wait_eof(fd, TD_TIMEOUT));
        stop_and_expect(d, 0, 0);
}

/* A second TERM during a graceful stop changes nothing: the connection is
 * still served to its end, nobody is killed, one STOPPING=1. */
START_TEST(test_second_term) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint16_t port;

        fd = start_stopping(&d, &port);
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_log(d, "Already stopping", TD_TIMEOUT, NULL));
        TD_ASSERT(d, td_running(d));
        TD_OK(d, td_echo_exchange(fd, "still", 5, TD_TIMEOUT));
        finish_stopping(d, TAKE_FD(fd));
        TD_ASSERT(d, td_log_count(d, "Stopping gracefully") == 1);
        TD_ASSERT(d, !td_log_contains(d, "killed by signal") && !td_log_contains(d, "killing them"));
        TD_ASSERT(d, td_log_count(d, "Received SIGTERM") == 2);
        {
                _cleanup_strv_free_ char **l = NULL;
                unsigned n = 0;

                TD_OK(d, td_notify_lines(d, &l, NULL));
                for (char **i = l; *i; i++)
                        n += strcmp(*i, "STOPPING=1") == 0;
                TD_ASSERT_MSG(d, n == 1, "%u STOPPING=1", n);
        }
}
END_TEST

/* QUIT during a graceful stop turns it into a fast one: the busy worker
 * leaves at once and the master exits 0 while the client still holds its
 * connection open (a graceful stop would wait for it for a minute). */
START_TEST(test_quit_during_graceful_stop) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint16_t port;
        int r;

        fd = start_stopping(&d, &port);
        TD_OK(d, td_echo_exchange(fd, "still", 5, TD_TIMEOUT));
        stop_and_expect(d, SIGQUIT, 0);
        TD_ASSERT(d, td_log_contains(d, "Fast stop"));
        r = td_wait_eof(fd, TD_TIMEOUT);
        TD_ASSERT_MSG(d, r == 0 || r == -ECONNRESET, "held connection: %s", strerror(-r));
}
END_TEST

/* HUP during a stop is ignored: no reload starts, no RELOADING=1, the
 * stop goes on as before. */
START_TEST(test_hup_during_stop) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint16_t port;

        fd = start_stopping(&d, &port);
        TD_OK(d, td_kill(d, SIGHUP));
        TD_OK(d, td_wait_log(d, "Ignoring reload request: stopping", TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_exchange(fd, "still", 5, TD_TIMEOUT));
        finish_stopping(d, TAKE_FD(fd));
        TD_ASSERT(d, !td_log_contains(d, "Reloading configuration"));
        td_notify_set_cursor(d, 0);
        TD_ASSERT(d, td_wait_notify(d, "RELOADING=1", 0, NULL) < 0);
}
END_TEST

/* HUP while the first generation is still starting is queued and follows
 * once every worker is up: READY=1, then RELOADING=1 and READY=1 again, a
 * generation 2. The window is from the master's first fork to its handling
 * of the last worker's readiness report. With the ordinary binary it lasts a
 * few milliseconds, and a fast machine closed it before the signal came in
 * thirty tries out of thirty; so the test runs the fault-injecting build
 * (tests/upgrade/meson.build), whose workers report ready 500 ms late, and
 * sends the signal when the first listener is logged, just before the forks.
 * The master logs which way it took the HUP; a test process delayed past
 * the whole window would see an ordinary reload, and then tries again. */
START_TEST(test_hup_queued_during_startup) {
        static const char conf[] = "log_level = \"debug\";\n"
                                   "services = ( { name = \"echo\"; listen = [ \"127.0.0.1:0\" ]; workers = 4;\n"
                                   "               handler = \"echo\"; } );\n";
        const char *const env[] = { "PREFORKD_TEST_FAULT=ready-late", NULL };
        const TdStartOptions opts = { .env = env, .binary = td_binary_variant("b") };
        unsigned attempt;

        for (attempt = 0; attempt < 3; attempt++) {
                _cleanup_(td_freep) TestDaemon *d = NULL;
                uint16_t port;

                TD_OK(NULL, td_new(&d));
                TD_OK(d, td_write_config(d, conf));
                TD_OK(d, td_start(d, &opts));
                /* Signals are handled from before the listeners are opened. */
                TD_OK(d, td_wait_log(d, "Listening on", TD_TIMEOUT, NULL));
                TD_OK(d, td_kill(d, SIGHUP));
                TD_OK(d, td_wait_log(d, "Received SIGHUP", TD_TIMEOUT, NULL));
                TD_OK(d, td_wait_notify(d, "READY=1", TD_TIMEOUT, NULL));
                if (!td_log_contains(d, "Reload requested while workers are starting; it will follow")) {
                        fprintf(stderr, "attempt %u: the HUP came after the start; again\n", attempt + 1);
                        TD_OK(d, td_wait_notify(d, "RELOADING=1", TD_TIMEOUT, NULL));
                        TD_OK(d, td_wait_notify(d, "READY=1", TD_TIMEOUT, NULL));
                        stop_and_expect(d, SIGTERM, 0);
                        continue;
                }
                /* The first READY=1 is the start's; the reload follows. */
                TD_OK(d, td_wait_notify(d, "RELOADING=1", TD_TIMEOUT, NULL));
                TD_OK(d, td_wait_notify(d, "READY=1", TD_TIMEOUT, NULL));
                TD_ASSERT(d, td_log_contains(d, "Reloaded: generation 2,"));
                TD_OK(d, td_find_port(d, "echo", 0, &port));
                TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
                stop_and_expect(d, SIGTERM, 0);
                TD_ASSERT(d, td_log_count(d, "Reloading configuration") == 1);
                return;
        }
        ck_abort_msg("the HUP never came while the workers were starting (%u attempts)", attempt);
}
END_TEST

/* Signals with no meaning here (USR1, which other daemons take for
 * "reopen logs") are logged and ignored by the master, and USR1 and USR2
 * (the master's upgrade, test-upgrade.c) are ignored by the workers:
 * nothing stops, nothing is respawned. */
START_TEST(test_usr_signals_ignored) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *before = NULL, *after = NULL;
        uint16_t port;
        int n;

        start_echo(&d, 2, NULL, NULL, &port);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &before));
        TD_ASSERT(d, kill(td_pid(d), SIGUSR1) == 0);
        for (int i = 0; i < n; i++)
                TD_ASSERT(d, kill(before[i], SIGUSR1) == 0 && kill(before[i], SIGUSR2) == 0);
        TD_OK(d, td_wait_log(d, "Ignoring SIGUSR1", TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 1, TD_TIMEOUT));
        TD_ASSERT(d, td_running(d));
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
        TD_ADD_TEST(s, test_second_term);
        TD_ADD_TEST(s, test_quit_during_graceful_stop);
        TD_ADD_TEST(s, test_hup_during_stop);
        TD_ADD_TEST(s, test_hup_queued_during_startup);
        TD_ADD_TEST(s, test_usr_signals_ignored);
        TD_ADD_TEST(s, test_bind_failure);
        return s;
}

int main(void) {
        return td_run_suite(signals_suite());
}
