/* SPDX-License-Identifier: MIT */
/* Supervision: respawn after kill -9, crash-loop backoff without a fork
 * storm, workers following a dead master. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "itest.h"

/* kill -9 of a worker: a new pid takes the slot, and a client looping on
 * connect/echo/close meanwhile sees neither a refused nor a reset
 * connection. The killed worker is the one holding the test's own idle
 * connection, so that the load never runs on it. */
START_TEST(test_kill_worker_respawn) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL, *after = NULL;
        _cleanup_free_ char *msg = NULL;
        _cleanup_close_ int held = -EBADF;
        TdLoad *load = NULL;
        TdLoadStats st, st0;
        pid_t victim = 0, other;
        uint16_t port;
        int n;

        start_echo(&d, 2, NULL, NULL, &port);
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));

        held = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(held, "hold", 4, TD_TIMEOUT));
        TD_OK(d, td_conn_owner(d, held, &victim));
        other = victim == w[0] ? w[1] : w[0];

        TD_OK(d, td_load_start_tcp("127.0.0.1", port, 256, 200000, TD_SEC(60), &load));
        TD_OK(d, td_load_wait_ok(load, 50, TD_TIMEOUT));

        TD_ASSERT(d, kill(victim, SIGKILL) == 0);
        TD_ASSERT(d, asprintf(&msg, "worker %d killed by signal KILL", (int) victim) >= 0);
        TD_OK(d, td_wait_log(d, msg, TD_TIMEOUT, NULL));

        /* The slot gets a new pid. */
        for (uint64_t deadline = td_now() + TD_TIMEOUT;;) {
                free(after);
                after = NULL;
                n = td_workers(d, &after);
                if (n == 2 && !pid_in(victim, after, n))
                        break;
                TD_ASSERT_MSG(d, td_now() < deadline, "no replacement for worker %d", (int) victim);
                td_sleep(TD_MSEC(2));
        }
        TD_ASSERT_MSG(d, pid_in(other, after, 2), "the other worker %d was replaced too", (int) other);
        TD_ASSERT(d, td_wait_eof(held, TD_TIMEOUT) != -ETIMEDOUT);

        /* The load goes on, now spread over both workers again. */
        td_load_peek(load, &st0);
        TD_OK(d, td_load_wait_ok(load, st0.ok + 200, TD_TIMEOUT));
        td_load_stop(load, &st);
        TD_ASSERT_MSG(d, st.failed == 0,
                      "%lu of %lu connections failed (%lu refused, %lu reset), first at %s: %s", st.failed,
                      st.ok + st.failed, st.refused, st.reset, st.first_error_what, strerror(-st.first_error));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Seconds since midnight of a stderr log line
 * ("2026-11-22T02:05:48.124 preforkd[123]: <info> ..."). */
static double log_time(TestDaemon *d, const char *line) {
        int h, m;
        double sec;

        TD_ASSERT_MSG(d, sscanf(line, "%*d-%*d-%*dT%d:%d:%lf ", &h, &m, &sec) == 3, "no timestamp in '%s'", line);
        return h * 3600.0 + m * 60.0 + sec;
}

/* kill -9 of the only worker: while its slot waits out the crash backoff
 * nobody accepts, yet the listening socket stays open in the master, so
 * clients connecting meanwhile are queued, not refused, and the replacement
 * serves them. */
START_TEST(test_kill_only_worker_queues) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        int fds[5];
        uint16_t port;

        start_echo(&d, 1, "respawn = { min_uptime = 30.0; backoff_initial = 0.5; };", NULL, &port);
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &w));
        TD_ASSERT(d, kill(w[0], SIGKILL) == 0);
        TD_OK(d, td_wait_log(d, "respawning in 0.500s", TD_TIMEOUT, NULL));

        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                fds[i] = td_connect_tcp("127.0.0.1", port);
                TD_ASSERT_MSG(d, fds[i] >= 0, "connect %zu while the slot backs off: %s", i, strerror(-fds[i]));
        }
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                char buf[32];
                int r;

                snprintf(buf, sizeof(buf), "queued %zu", i);
                r = td_echo_exchange(fds[i], buf, strlen(buf), TD_TIMEOUT);
                TD_ASSERT_MSG(d, r >= 0, "queued connection %zu: %s", i, strerror(-r));
                TD_ASSERT(d, shutdown(fds[i], SHUT_WR) == 0);
                TD_OK(d, td_wait_eof(fds[i], TD_TIMEOUT));
                safe_close(fds[i]);
        }
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* A worker that never survives: every new worker pid is SIGKILLed as soon
 * as it shows up. The master must back off exponentially (visible in its
 * log lines and in the spacing of the forks) and not fork-storm. */
#define CRASHES 7
START_TEST(test_crash_loop_backoff) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        TdLine *lines = NULL;
        size_t n_lines = 0, n_started;
        TdLine *started = NULL;
        pid_t seen[CRASHES + 1] = { 0 };
        double delays[CRASHES] = { 0 }, spacing[CRASHES] = { 0 };
        unsigned kills = 0;
        uint64_t deadline;
        uint16_t port;

        start_echo(&d, 1,
                   "respawn = { min_uptime = 30.0; backoff_initial = 0.02; backoff_max = 1.0; };",
                   "log_level = \"debug\";", &port);

        deadline = td_now() + TD_SEC(60);
        while (kills < CRASHES) {
                _cleanup_free_ pid_t *w = NULL;
                int n = td_workers(d, &w);

                TD_ASSERT_MSG(d, td_now() < deadline, "only %u crashes provoked", kills);
                TD_ASSERT_MSG(d, n <= 1, "%d workers for a pool of 1", n);
                if (n == 1 && !pid_in(w[0], seen, (int) kills)) {
                        seen[kills] = w[0];
                        (void) kill(w[0], SIGKILL);
                        kills++;
                        continue;
                }
                td_sleep(500);
        }

        /* Every kill was logged with the backoff the slot now waits. */
        for (uint64_t dl = td_now() + TD_TIMEOUT;;) {
                if (td_log_count(d, "quick crash") >= CRASHES)
                        break;
                TD_ASSERT_MSG(d, td_now() < dl, "only %zu backoff lines for %d crashes", td_log_count(d, "quick crash"),
                              CRASHES);
                td_sleep(TD_MSEC(5));
        }
        TD_OK(d, td_log_lines(d, "quick crash", &lines, &n_lines));
        TD_ASSERT_MSG(d, n_lines == CRASHES, "%zu backoff lines for %d crashes", n_lines, CRASHES);
        for (size_t i = 0; i < n_lines; i++) {
                const char *p = strstr(lines[i].text, "respawning in ");
                unsigned c = 0;

                TD_ASSERT_MSG(d, p && sscanf(p, "respawning in %lfs", &delays[i]) == 1, "cannot parse '%s'",
                              lines[i].text);
                p = strstr(lines[i].text, "echo[slot 0]: ");
                TD_ASSERT_MSG(d, p && sscanf(p, "echo[slot 0]: %u quick crash", &c) == 1 && c == i + 1,
                              "line %zu should count %zu crashes: '%s'", i, i + 1, lines[i].text);
        }
        /* The announced delays grow (doubling) up to backoff_max. */
        for (size_t i = 1; i < n_lines; i++) {
                TD_ASSERT_MSG(d, delays[i] >= delays[i - 1], "backoff shrank: %.3fs after %.3fs", delays[i],
                              delays[i - 1]);
                TD_ASSERT_MSG(d, delays[i] <= 1.0 + 1e-6, "backoff %.3fs over backoff_max", delays[i]);
        }
        TD_ASSERT_MSG(d, delays[0] >= 0.02 - 1e-6 && delays[0] < 0.04 + 1e-6, "first backoff %.3fs", delays[0]);
        TD_ASSERT_MSG(d, delays[n_lines - 1] >= 1.0 - 1e-6, "backoff never reached backoff_max: %.3fs",
                      delays[n_lines - 1]);
        TD_ASSERT_MSG(d, delays[1] > delays[0] && delays[n_lines - 1] > delays[1],
                      "backoff does not grow: %.3f %.3f ... %.3f", delays[0], delays[1], delays[n_lines - 1]);

        /* Exactly one fork per crash, plus the first and the final one: no
         * storm. Wait for the final worker, then count the forks. */
        for (uint64_t dl = td_now() + TD_TIMEOUT;;) {
                _cleanup_free_ pid_t *w = NULL;
                int n = td_workers(d, &w);

                if (n == 1 && !pid_in(w[0], seen, (int) kills))
                        break;
                TD_ASSERT_MSG(d, td_now() < dl, "no worker after the last crash");
                td_sleep(TD_MSEC(2));
        }
        for (uint64_t dl = td_now() + TD_TIMEOUT; td_log_count(d, "started worker") < CRASHES + 1 && td_now() < dl;)
                td_sleep(TD_MSEC(2));
        n_started = td_log_count(d, "started worker");
        TD_ASSERT_MSG(d, n_started == CRASHES + 1, "%zu forks for %d crashes", n_started, CRASHES);

        /* The spacing of the log lines, by the daemon's own timestamps (so
         * that the test's scheduling does not matter): from each crash line
         * to the next fork at least the announced delay, and growing. */
        TD_OK(d, td_log_lines(d, "started worker", &started, &n_started));
        ck_assert_uint_eq(n_started, CRASHES + 1);
        for (size_t i = 0; i < CRASHES; i++) {
                double t_crash = log_time(d, lines[i].text), t_fork = log_time(d, started[i + 1].text);

                spacing[i] = t_fork - t_crash;
                if (spacing[i] < 0)
                        spacing[i] += 86400; /* midnight */
                /* Slack: the daemon's timer counts from the start of its
                 * event loop iteration, a little before the line was logged. */
                TD_ASSERT_MSG(d, spacing[i] >= delays[i] * 0.8 - 0.005,
                              "worker forked %.3fs after crash %zu, the announced backoff was %.3fs", spacing[i],
                              i + 1, delays[i]);
        }
        TD_ASSERT_MSG(d, spacing[CRASHES - 1] > spacing[0] && spacing[CRASHES - 1] > spacing[1],
                      "respawn spacing did not grow: %.3fs, %.3fs ... %.3fs", spacing[0], spacing[1],
                      spacing[CRASHES - 1]);
        td_lines_free(started, n_started);

        /* STATUS= said so while the slot was waiting. */
        {
                _cleanup_strv_free_ char **notify = NULL;
                bool found = false;

                TD_OK(d, td_notify_lines(d, &notify, NULL));
                for (char **l = notify; *l; l++)
                        found = found || (strncmp(*l, "STATUS=", 7) == 0 && strstr(*l, "backing off"));
                TD_ASSERT_MSG(d, found, "no STATUS= mentioned the backoff");
        }

        td_lines_free(lines, n_lines);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* A stable run resets the crash counter: after the backoff, a worker that
 * lived past min_uptime and then died is respawned at once. */
START_TEST(test_backoff_resets_after_stable_run) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_free_ char *line = NULL;
        uint16_t port;

        start_echo(&d, 1, "respawn = { min_uptime = 2.0; backoff_initial = 0.02; backoff_max = 1.0; };", NULL,
                   &port);
        for (unsigned i = 0; i < 3; i++) {
                _cleanup_free_ pid_t *c = NULL;

                TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &c));
                TD_ASSERT(d, kill(c[0], SIGKILL) == 0);
                TD_OK(d, td_wait_pid_gone(c[0], TD_TIMEOUT));
                TD_OK(d, td_wait_log(d, "quick crash", TD_TIMEOUT, NULL));
                for (uint64_t dl = td_now() + TD_TIMEOUT;;) {
                        _cleanup_free_ pid_t *x = NULL;
                        int n = td_workers(d, &x);

                        if (n == 1 && x[0] != c[0])
                                break;
                        TD_ASSERT(d, td_now() < dl);
                        td_sleep(TD_MSEC(2));
                }
        }
        /* Stable run (longer than min_uptime), then a crash: no backoff
         * line for it. */
        td_sleep(TD_MSEC(2200));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &w));
        td_log_mark(d);
        TD_ASSERT(d, kill(w[0], SIGKILL) == 0);
        TD_OK(d, td_wait_log(d, "killed by signal KILL", TD_TIMEOUT, &line));
        for (uint64_t dl = td_now() + TD_TIMEOUT;;) {
                _cleanup_free_ pid_t *x = NULL;
                int n = td_workers(d, &x);

                if (n == 1 && x[0] != w[0])
                        break;
                TD_ASSERT(d, td_now() < dl);
                td_sleep(TD_MSEC(2));
        }
        TD_ASSERT_MSG(d, td_wait_log(d, "quick crash", 0, NULL) < 0, "a crash after a stable run backed off");
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 2, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* A stop while a slot waits out a long backoff: no waiting for the timer,
 * no respawn, exit 0 at once (the backoff is 60 s, the test's timeout is
 * shorter). */
START_TEST(test_term_during_backoff) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        uint16_t port;

        start_echo(&d, 2, "respawn = { min_uptime = 30.0; backoff_initial = 60.0; backoff_max = 60.0; };", NULL,
                   &port);
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        TD_ASSERT(d, kill(w[0], SIGKILL) == 0);
        TD_OK(d, td_wait_log(d, "respawning in 60.000s", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, NULL));
        /* The other worker still serves. */
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 1, TD_TIMEOUT));
        td_log_mark(d);
        stop_and_expect(d, SIGTERM, 0);
        TD_ASSERT(d, td_wait_log(d, "started worker", 0, NULL) < 0);
}
END_TEST

/* SIGKILL of the master: the workers follow (PR_SET_PDEATHSIG). */
START_TEST(test_workers_die_with_master) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        int code = -1, n;
        uint16_t port;

        start_echo(&d, 3, NULL, NULL, &port);
        n = TD_OK(d, td_wait_workers(d, 3, TD_TIMEOUT, &w));
        TD_OK(d, td_kill(d, SIGKILL));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        ck_assert_int_eq(code, 128 + SIGKILL);
        for (int i = 0; i < n; i++)
                TD_ASSERT_MSG(d, td_wait_pid_gone(w[i], TD_TIMEOUT) == 0, "worker %d survived its master",
                              (int) w[i]);
        TD_ASSERT(d, td_group_count(d) == 0);
        TD_ASSERT(d, td_connect_tcp("127.0.0.1", port) == -ECONNREFUSED);
}
END_TEST

/* A worker busy with a connection when its master is SIGKILLed gets
 * SIGTERM (PR_SET_PDEATHSIG) and finishes gracefully, but with no master
 * left to SIGKILL it, it must bound that itself: gone one second after
 * shutdown_timeout even though the client keeps the connection open. */
START_TEST(test_busy_worker_dies_with_master) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_close_ int fd = -EBADF;
        int code = -1, r;
        uint16_t port;

        start_echo(&d, 1, "idle_timeout = 600.0;", "shutdown_timeout = 1.0;", &port);
        TD_ASSERT(d, TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &w)) == 1);
        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(fd, "abc", 3, TD_TIMEOUT));

        TD_OK(d, td_kill(d, SIGKILL));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        ck_assert_int_eq(code, 128 + SIGKILL);
        TD_ASSERT_MSG(d, td_wait_pid_gone(w[0], TD_TIMEOUT) == 0, "busy worker %d outlived its master", (int) w[0]);
        r = td_wait_eof(fd, TD_TIMEOUT);
        TD_ASSERT_MSG(d, r == 0 || r == -ECONNRESET, "connection of the dead worker: %s", strerror(-r));
}
END_TEST

static Suite *supervise_suite(void) {
        Suite *s = suite_create("supervise");

        TD_ADD_TEST(s, test_kill_worker_respawn);
        TD_ADD_TEST(s, test_kill_only_worker_queues);
        TD_ADD_TEST(s, test_crash_loop_backoff);
        TD_ADD_TEST(s, test_backoff_resets_after_stable_run);
        TD_ADD_TEST(s, test_term_during_backoff);
        TD_ADD_TEST(s, test_workers_die_with_master);
        TD_ADD_TEST(s, test_busy_worker_dies_with_master);
        return s;
}

int main(void) {
        return td_run_suite(supervise_suite());
}
