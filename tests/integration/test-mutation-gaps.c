/* SPDX-License-Identifier: MIT */
/* Core behaviour that the mutation check (tests/mutation) found untested:
 * each test here fails with the mutation named above it. A refused reload
 * reported as refused in STATUS=, a stop that cancels a config load still
 * in progress, a worker's own journal record reaching journald, and a busy
 * worker SIGKILLed after shutdown_timeout. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "basic/journal-reader.h"
#include "itest.h"

/* Waits for a STATUS= line containing what. */
static void wait_status(TestDaemon *d, const char *what) {
        uint64_t deadline = td_now() + TD_TIMEOUT;

        for (;;) {
                _cleanup_free_ char *line = NULL;
                int r = td_wait_notify(d, "STATUS=", deadline > td_now() ? deadline - td_now() : 0, &line);

                TD_ASSERT_MSG(d, r >= 0, "no STATUS= with '%s': %s", what, strerror(-r));
                if (strstr(line, what))
                        return;
        }
}

/* mutation reload-refused-reported: STATUS= says how each reload ended,
 * which is what preforkd-reload (ExecReload=) waits for and turns into the
 * exit status of `systemctl reload`: a broken file is "refused", a good
 * one "applied". */
START_TEST(test_reload_outcome_in_status) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *good = echo_config(2, NULL, NULL);
        uint16_t port;

        ck_assert_ptr_nonnull(good);
        start_echo(&d, 1, NULL, NULL, &port);
        TD_OK(d, td_write_config(d, "services = 5;\n"));
        TD_OK(d, td_kill(d, SIGHUP));
        wait_status(d, "reload #1 refused");
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));

        TD_OK(d, td_write_config(d, good));
        TD_OK(d, td_kill(d, SIGHUP));
        wait_status(d, "reload #2 applied");
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* mutation loader-stop-cancels: a stop cancels a reload's config load, and
 * a load that ends during the stop (a worker still busy keeps the master
 * alive) is thrown away: no "Reload failed", no reload applied, exit 0.
 * The load is held up by a FIFO that the new config @includes: the loader
 * thread blocks opening it until the test writes the rest of the file. */
START_TEST(test_stop_cancels_config_load) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *fifo = NULL;
        _cleanup_close_ int busy = -EBADF, w = -EBADF;
        static const char rest[] = "services = 5;\n";
        uint16_t port;
        int code = -1;

        start_echo(&d, 1, NULL, "shutdown_timeout = 60.0;", &port);
        busy = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(busy, "busy", 4, TD_TIMEOUT));

        fifo = td_subst(d, "@DIR@/rest.conf");
        TD_ASSERT(d, fifo && mkfifo(fifo, 0600) == 0);
        TD_OK(d, td_write_config(d, "@include \"rest.conf\"\n"));
        TD_OK(d, td_kill(d, SIGHUP));
        TD_OK(d, td_wait_log(d, "Reloading configuration from", TD_TIMEOUT, NULL));
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_log(d, "Stopping gracefully", TD_TIMEOUT, NULL));

        /* The loader thread opens the FIFO for reading; once it does, the
         * test's open for writing succeeds (before that: ENXIO). */
        for (uint64_t deadline = td_now() + TD_TIMEOUT;;) {
                w = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
                if (w >= 0)
                        break;
                TD_ASSERT_MSG(d, errno == ENXIO, "open %s: %s", fifo, strerror(errno));
                TD_ASSERT_MSG(d, td_now() < deadline, "the config loader never opened %s", fifo);
                td_sleep(TD_MSEC(5));
        }
        TD_ASSERT(d, write(w, rest, sizeof rest - 1) == (ssize_t) sizeof rest - 1);
        w = safe_close(w);

        /* The load ends (its thread exits) while the master is still
         * stopping. */
        for (uint64_t deadline = td_now() + TD_TIMEOUT;;) {
                int n = td_proc_entries(td_pid(d), "task");

                TD_ASSERT_MSG(d, n > 0, "the master is gone: %s", strerror(-n));
                if (n == 1)
                        break;
                TD_ASSERT_MSG(d, td_now() < deadline, "the config loader thread never ended");
                td_sleep(TD_MSEC(5));
        }
        /* Two signals that the loop answers with a log line: by the second,
         * whatever the finished load left for the loop has been handled
         * (one event per iteration, older ones first). */
        for (unsigned i = 0; i < 2; i++) {
                TD_OK(d, td_kill(d, SIGHUP));
                TD_OK(d, td_wait_log(d, "Ignoring reload request: stopping", TD_TIMEOUT, NULL));
        }

        TD_OK(d, td_echo_exchange(busy, "still served", 12, TD_TIMEOUT));
        TD_ASSERT(d, shutdown(busy, SHUT_WR) == 0);
        TD_OK(d, td_wait_eof(busy, TD_TIMEOUT));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        TD_ASSERT_MSG(d, code == 0, "exit code %d", code);
        TD_OK(d, td_wait_output_closed(d, TD_TIMEOUT));
        TD_ASSERT_MSG(d, !td_log_contains(d, "Reload failed") && !td_log_contains(d, "Reloaded"),
                      "the cancelled load still reported back");
        assert_no_sanitizer_report(d);
}
END_TEST

/* mutation journal-forget-fds: a worker logs to journald through a socket
 * of its own. The master's journal socket is among the fds a new worker
 * closes; a worker that went on using that number would send its records
 * to whatever the number names later (/dev/null, its epoll fd, a client's
 * connection), or fall back to stderr. Here the worker's debug record of
 * its exit (max_requests = 1) must reach the journal socket the test binds. */
START_TEST(test_worker_record_reaches_journal) {
        static const char *const env[] = {
                "PREFORKD_LOG_TARGET=journal",
                "PREFORKD_JOURNAL_SOCKET=@DIR@/journal",
                NULL,
        };
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = echo_config(1, "max_requests = 1;", "log_level = \"debug\";"), *path = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_close_ int j = -EBADF;
        uint16_t port;
        bool found = false;

        ck_assert_ptr_nonnull(conf);
        TD_OK(NULL, td_new(&d));
        path = td_subst(d, "@DIR@/journal");
        TD_ASSERT(d, path);
        j = TD_OK(d, jr_bind(path));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, &(TdStartOptions) { .env = env }));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &w));
        /* The master's "Listening on" record names the port. */
        for (uint64_t deadline = td_now() + TD_TIMEOUT; !found;) {
                JrRecord r = { .n = 0 };
                const JrField *m;
                int k;

                TD_ASSERT_MSG(d, td_now() < deadline, "no \"Listening on\" record in the journal");
                k = jr_recv(j, deadline - td_now(), &r);
                if (k == -EAGAIN)
                        continue;
                TD_OK(d, k);
                m = jr_get(&r, "MESSAGE");
                found = m && sscanf(m->value, "Listening on 127.0.0.1:%hu (service echo)", &port) == 1;
                jr_record_done(&r);
        }
        /* Room in the socket's queue for what follows. */
        TD_OK(d, jr_drain(j));

        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        TD_OK(d, td_wait_pid_gone(w[0], TD_TIMEOUT));
        found = false;
        for (uint64_t deadline = td_now() + TD_TIMEOUT; !found;) {
                JrRecord r = { .n = 0 };
                const JrField *m;
                int k;

                TD_ASSERT_MSG(d, td_now() < deadline, "the worker's record of its exit never reached the journal");
                k = jr_recv(j, deadline - td_now(), &r);
                if (k == -EAGAIN)
                        continue;
                TD_OK(d, k);
                m = jr_get(&r, "MESSAGE");
                found = m && strstr(m->value, "echo[slot 0]: worker leaving after 1 connections");
                jr_record_done(&r);
        }
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* mutation stop-shutdown-timeout: a worker still busy with a connection
 * when shutdown_timeout has passed is SIGKILLed, and the daemon exits 0.
 * Busy means in the middle of sending: the client reads nothing and has
 * filled every buffer on the way (its sends are refused), so the worker
 * waits to write and cannot park the connection. The master's last resort
 * (exit 70 some seconds later) does not pass for this. */
START_TEST(test_busy_worker_killed_after_shutdown_timeout) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_close_ int fd = -EBADF;
        static char chunk[16384];
        int small = 4096, r;
        size_t sent = 0;
        uint16_t port;

        /* With a front stage, which a graceful stop ends first: the
         * workers' SIGKILL deadline is then set in a second step. */
        start_echo(&d, 1, "idle_timeout = 600.0; park = { enabled = true; };", "shutdown_timeout = 0.3;", &port);
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &w));
        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_ASSERT(d, setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
        for (uint64_t deadline = td_now() + TD_TIMEOUT;;) {
                ssize_t n = send(fd, chunk, sizeof chunk, MSG_DONTWAIT | MSG_NOSIGNAL);

                if (n < 0 && IN_SET(errno, EAGAIN, EWOULDBLOCK)) {
                        /* Full for now; full for good once the worker has
                         * stopped reading: wait for that with poll(). */
                        struct pollfd p = { .fd = fd, .events = POLLOUT };
                        if (poll(&p, 1, 200) == 0)
                                break;
                        continue;
                }
                TD_ASSERT_MSG(d, n > 0, "send: %s", strerror(errno));
                sent += (size_t) n;
                TD_ASSERT_MSG(d, td_now() < deadline, "the worker still reads after %zu bytes", sent);
        }

        stop_and_expect(d, SIGTERM, 0);
        TD_ASSERT(d, td_log_contains(d, "Generation 1: 1 worker still busy after the shutdown timeout, killing them"));
        r = td_wait_eof(fd, TD_TIMEOUT);
        TD_ASSERT_MSG(d, r == 0 || r == -ECONNRESET || r == -EPROTO, "held connection: %s", strerror(-r));
        TD_OK(d, td_wait_pid_gone(w[0], TD_TIMEOUT));
}
END_TEST

/* Workers of a service that parks die with their master too (a defect
 * found with the mutation gaps: when the master is SIGKILLed, its front
 * stage exits on PR_SET_PDEATHSIG first, and a worker woken by the park
 * channel's end read it over and over with TERM blocked). */
START_TEST(test_parking_workers_die_with_master) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        int code = -1, n;

        start_echo(&d, 3, "park = { enabled = true; };", NULL, NULL);
        n = TD_OK(d, td_wait_workers(d, 3, TD_TIMEOUT, &w));
        TD_OK(d, td_kill(d, SIGKILL));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        ck_assert_int_eq(code, 128 + SIGKILL);
        for (int i = 0; i < n; i++)
                TD_ASSERT_MSG(d, td_wait_pid_gone(w[i], TD_TIMEOUT) == 0, "worker %d survived its master", (int) w[i]);
        /* the front stage follows the master too, in its own time */
        TD_OK(d, td_wait_group_gone(d, TD_TIMEOUT));
}
END_TEST

static Suite *gaps_suite(void) {
        Suite *s = suite_create("mutation-gaps");

        TD_ADD_TEST(s, test_reload_outcome_in_status);
        TD_ADD_TEST(s, test_stop_cancels_config_load);
        TD_ADD_TEST(s, test_worker_record_reaches_journal);
        TD_ADD_TEST(s, test_busy_worker_killed_after_shutdown_timeout);
        TD_ADD_TEST(s, test_parking_workers_die_with_master);
        return s;
}

int main(void) {
        return td_run_suite(gaps_suite());
}
