/* SPDX-License-Identifier: MIT */
/* Supervision: respawn after kill -9, crash-loop backoff without a fork
 * storm, workers following a dead master. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "itest.h"

/* Waits for the next "SERVICE[slot N]: started worker PID" line (debug
 * level) at or after the log cursor and returns PID: the master logs it
 * right after the fork, so a test learns of a new worker without looking
 * at /proc. */
static pid_t wait_started(TestDaemon *d, const char *service) {
        _cleanup_free_ char *what = NULL, *line = NULL;
        const char *p;
        int pid = 0;

        TD_ASSERT(d, asprintf(&what, "%s[slot ", service) >= 0);
        for (;;) {
                free(line);
                line = NULL;
                TD_OK(d, td_wait_log(d, "]: started worker ", TD_TIMEOUT, &line));
                if (strstr(line, what))
                        break;
        }
        p = strstr(line, "]: started worker ");
        TD_ASSERT_MSG(d, sscanf(p, "]: started worker %d", &pid) == 1 && pid > 0, "cannot parse '%s'", line);
        return (pid_t) pid;
}

/* kill -9 of a worker that has served: it is replaced at once, whatever
 * its uptime (no backoff: backoff_initial is a minute, longer than the
 * test waits, and there is no crash budget), and a client looping on
 * connect/echo/close meanwhile sees neither a refused nor a reset
 * connection. The killed worker is the one holding the test's own idle
 * connection, so that it has served and the load never runs on it.
 *
 * For contrast, a second service, "clock", has its only worker killed
 * before it served: without a crash budget (burst = 0) that is a crash,
 * and its slot waits out a backoff before it forks again. */
START_TEST(test_kill_worker_respawn) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *after = NULL;
        _cleanup_free_ char *msg = NULL;
        _cleanup_close_ int held = -EBADF;
        TdLoad *load = NULL;
        TdLoadStats st, st0;
        pid_t victim = 0, other, clock, pids[2];
        uint16_t port;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d,
                                 "log_level = \"debug\";\n"
                                 "services = (\n"
                                 "  { name = \"echo\"; listen = [ \"127.0.0.1:0\" ]; workers = 2; handler = \"echo\";\n"
                                 "    park = { enabled = false; };\n"
                                 "    respawn = { min_uptime = 30.0; backoff_initial = 60.0; backoff_max = 60.0; burst = 0; }; },\n"
                                 "  { name = \"clock\"; listen = [ \"127.0.0.1:0\" ]; workers = 1; handler = \"echo\";\n"
                                 "    park = { enabled = false; };\n"
                                 "    respawn = { min_uptime = 30.0; backoff_initial = 0.5; backoff_max = 0.5; burst = 0; }; }\n"
                                 ");\n"));
        TD_OK(d, td_start(d, NULL));
        pids[0] = wait_started(d, "echo");
        pids[1] = wait_started(d, "echo");
        clock = wait_started(d, "clock");
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, &port));

        held = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(held, "hold", 4, TD_TIMEOUT));
        TD_OK(d, td_conn_owner(d, held, &victim));
        TD_ASSERT(d, pid_in(victim, pids, 2));
        other = victim == pids[0] ? pids[1] : pids[0];

        TD_OK(d, td_load_start_tcp("127.0.0.1", port, 256, 200000, TD_SEC(60), &load));
        TD_OK(d, td_load_wait_ok(load, 50, TD_TIMEOUT));

        /* The clock: a crash before serving backs off. */
        TD_ASSERT(d, kill(clock, SIGKILL) == 0);
        TD_OK(d, td_wait_log(d, "clock[slot 0]: 1 quick crash in a row", TD_TIMEOUT, &msg));
        TD_ASSERT_MSG(d, strstr(msg, "respawning in 0.500s"), "%s", msg);
        wait_started(d, "clock");

        TD_ASSERT(d, kill(victim, SIGKILL) == 0);
        free(msg);
        TD_ASSERT(d, asprintf(&msg, "worker %d killed by signal KILL", (int) victim) >= 0);
        TD_OK(d, td_wait_log(d, msg, TD_TIMEOUT, NULL));

        /* The slot forks again at once: with a backoff it would wait a
         * minute. */
        TD_ASSERT(d, !pid_in(wait_started(d, "echo"), pids, 2));
        TD_OK(d, td_wait_workers_without(d, 3, &victim, 1, TD_TIMEOUT, &after));
        TD_ASSERT_MSG(d, pid_in(other, after, 3), "the other worker %d was replaced too", (int) other);
        TD_ASSERT_MSG(d, td_log_count(d, "quick crash") == 1,
                      "the kill of a worker that had served counted as a quick crash");
        TD_ASSERT(d, td_log_contains(d, "; exited after serving, replacing it at once"));
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

/* kill -9 of the only worker: while its slot waits out the crash backoff
 * nobody accepts, yet the listening socket stays open in the master, so
 * clients connecting meanwhile are queued, not refused, and the replacement
 * serves them. */
START_TEST(test_kill_only_worker_queues) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        int fds[5];
        uint16_t port;

        start_echo(&d, 1, "respawn = { min_uptime = 30.0; backoff_initial = 0.5; burst = 0; };", NULL, &port);
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

/* A worker that never survives: every new worker is SIGKILLed as soon as
 * the master logs its fork. The first BURST crashes spend the crash budget
 * and are replaced at once, each saying how much of it is spent; then the
 * master must back off exponentially, by its own decisions (the delay it
 * announces with every crash doubles up to backoff_max), and fork exactly
 * once per crash: no storm. The actual spacing of the forks is the
 * supervisor unit test's, with a fake clock. */
#define BURST 3
#define CRASHES 7
START_TEST(test_crash_loop_backoff) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        TdLine *lines = NULL;
        size_t n_lines = 0;
        pid_t seen[BURST + CRASHES + 1] = { 0 };
        double delays[CRASHES] = { 0 };
        uint16_t port;

        start_echo(&d, 1,
                   "respawn = { min_uptime = 30.0; backoff_initial = 0.02; backoff_max = 0.3; burst = 3; "
                   "interval = 600; };",
                   "log_level = \"debug\";", &port);

        for (unsigned i = 0; i < BURST + CRASHES; i++) {
                _cleanup_free_ char *crash = NULL;

                seen[i] = wait_started(d, "echo");
                TD_ASSERT_MSG(d, !pid_in(seen[i], seen, (int) i), "pid %d forked twice?", (int) seen[i]);
                TD_ASSERT(d, kill(seen[i], SIGKILL) == 0);
                /* The crash is logged with its verdict before the next fork. */
                if (i < BURST)
                        TD_ASSERT(d, asprintf(&crash, "crashed before serving (%u of 3 allowed in 600.0s), replacing "
                                                      "it at once", i + 1) >= 0);
                else
                        TD_ASSERT(d, asprintf(&crash, "echo[slot 0]: %u quick crash", i + 1 - BURST) >= 0);
                TD_OK(d, td_wait_log(d, crash, TD_TIMEOUT, NULL));
        }
        /* The slot's last fork; it is left alone. */
        seen[BURST + CRASHES] = wait_started(d, "echo");
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        /* Nothing of the master's is still under way. */
        TD_OK(d, td_barrier(d, TD_TIMEOUT));

        TD_OK(d, td_log_lines(d, "quick crash", &lines, &n_lines));
        TD_ASSERT_MSG(d, n_lines == CRASHES, "%zu backoff lines for %d crashes", n_lines, CRASHES);
        for (size_t i = 0; i < n_lines; i++) {
                const char *p = strstr(lines[i].text, "respawning in ");

                TD_ASSERT_MSG(d, p && sscanf(p, "respawning in %lfs", &delays[i]) == 1, "cannot parse '%s'",
                              lines[i].text);
        }
        /* The announced delays: backoff_initial, then doubling, capped at
         * backoff_max (0.02 0.04 0.08 0.16 0.3 0.3 0.3). */
        TD_ASSERT_MSG(d, delays[0] > 0.02 - 1e-6 && delays[0] < 0.02 + 1e-6, "first backoff %.3fs", delays[0]);
        for (size_t i = 1; i < n_lines; i++) {
                double want = MIN(delays[i - 1] * 2, 0.3);

                TD_ASSERT_MSG(d, delays[i] > want - 1e-6 && delays[i] < want + 1e-6,
                              "backoff %zu is %.3fs after %.3fs, expected %.3fs", i + 1, delays[i], delays[i - 1],
                              want);
        }

        /* One fork per crash plus the first and the last, one exit per
         * crash: no storm. */
        TD_ASSERT_MSG(d, td_log_count(d, "echo[slot 0]: started worker") == BURST + CRASHES + 1,
                      "%zu forks for %d crashes", td_log_count(d, "echo[slot 0]: started worker"), BURST + CRASHES);
        TD_ASSERT_MSG(d, td_log_count(d, "killed by signal KILL") == BURST + CRASHES, "%zu exits for %d crashes",
                      td_log_count(d, "killed by signal KILL"), BURST + CRASHES);
        TD_ASSERT(d, td_pid_alive(seen[BURST + CRASHES]));

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

/* A death after serving resets the backoff: after three crashes backed
 * off, a worker that served (a connection the daemon's idle_timeout
 * closed) and then died is respawned at once, and the next crash before
 * serving backs off from backoff_initial again. */
START_TEST(test_backoff_resets_after_stable_run) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *line = NULL;
        _cleanup_close_ int fd = -EBADF;
        pid_t w, owner = 0;
        uint16_t port;
        int r;

        start_echo(&d, 1,
                   "idle_timeout = 0.5; respawn = { min_uptime = 30; backoff_initial = 0.02; backoff_max = 1.0; "
                   "burst = 0; };",
                   "log_level = \"debug\";", &port);
        for (unsigned i = 0; i < 3; i++) {
                w = wait_started(d, "echo");
                TD_ASSERT(d, kill(w, SIGKILL) == 0);
                TD_OK(d, td_wait_log(d, "quick crash", TD_TIMEOUT, NULL));
        }
        w = wait_started(d, "echo");

        /* It serves, then dies. */
        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(fd, "idle", 4, TD_TIMEOUT));
        TD_OK(d, td_conn_owner(d, fd, &owner));
        TD_ASSERT(d, owner == w);
        r = td_wait_eof(fd, TD_TIMEOUT);
        TD_ASSERT_MSG(d, r == 0 || r == -ECONNRESET, "idle connection: %s", strerror(-r));
        TD_ASSERT(d, kill(w, SIGKILL) == 0);
        TD_ASSERT(d, asprintf(&line, "worker %d killed by signal KILL", (int) w) >= 0);
        TD_OK(d, td_wait_log(d, line, TD_TIMEOUT, NULL));
        /* Replaced at once: the next line is the fork, not a backoff. */
        w = wait_started(d, "echo");
        TD_ASSERT_MSG(d, td_log_count(d, "quick crash") == 3, "a death after serving backed off");
        /* The backoff starts over. */
        TD_ASSERT(d, kill(w, SIGKILL) == 0);
        TD_OK(d, td_wait_log(d, "echo[slot 0]: 1 quick crash in a row", TD_TIMEOUT, NULL));
        w = wait_started(d, "echo");
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

        start_echo(&d, 2, "respawn = { min_uptime = 30.0; backoff_initial = 60.0; backoff_max = 60.0; burst = 0; };",
                   "log_level = \"debug\";", &port);
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        TD_ASSERT(d, kill(w[0], SIGKILL) == 0);
        TD_OK(d, td_wait_log(d, "respawning in 60.000s", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, NULL));
        /* The other worker still serves. */
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 1, TD_TIMEOUT));
        td_log_mark(d);
        stop_and_expect(d, SIGTERM, 0);
        /* (logged at debug level, which this daemon runs at) */
        TD_ASSERT_MSG(d, td_wait_log(d, "started worker", 0, NULL) < 0, "a worker was started during the stop");
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
