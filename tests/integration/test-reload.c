/* SPDX-License-Identifier: MIT */
/* SIGHUP: a broken file changes nothing; a good one is applied by a new
 * generation without a refused or reset connection. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "itest.h"

static void expect_same_pids(TestDaemon *d, const pid_t *before, int n) {
        _cleanup_free_ pid_t *now = NULL;
        int m = td_workers(d, &now);

        TD_ASSERT_MSG(d, m == n, "%d workers, expected %d", m, n);
        for (int i = 0; i < n; i++)
                TD_ASSERT_MSG(d, now[i] == before[i], "worker %d was replaced by %d", (int) before[i], (int) now[i]);
}

START_TEST(test_hup_broken_config) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_free_ char *good = NULL, *err = NULL, *err2 = NULL;
        uint16_t port;
        int n;

        start_echo(&d, 3, NULL, NULL, &port);
        n = TD_OK(d, td_wait_workers(d, 3, TD_TIMEOUT, &w));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 1, TD_TIMEOUT));

        /* Error on line 6 (workers) and line 8 (unknown key). */
        TD_OK(d, td_write_config(d,
                                 "services = (\n"
                                 "  {\n"
                                 "    name = \"echo\";\n"
                                 "    listen = [ \"127.0.0.1:0\" ];\n"
                                 "    handler = \"echo\";\n"
                                 "    workers = \"five\";\n"
                                 "    max_requests = 10;\n"
                                 "    colour = \"blue\";\n"
                                 "  }\n"
                                 ");\n"));
        td_log_mark(d);
        hup_and_wait(d);
        err = td_subst(d, "@DIR@/preforkd.conf:6: services.[0].workers: ");
        err2 = td_subst(d, "@DIR@/preforkd.conf:8: services.[0].colour: ");
        TD_OK(d, td_wait_log(d, err, TD_TIMEOUT, NULL));
        TD_ASSERT_MSG(d, td_log_contains(d, err2), "not every error was logged (%s)", err2);
        TD_OK(d, td_wait_log(d, "Reload failed", TD_TIMEOUT, NULL));

        /* Same pool, same port, still serving. */
        expect_same_pids(d, w, n);
        for (unsigned i = 0; i < 20; i++)
                TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 5000, i, TD_TIMEOUT));
        expect_same_pids(d, w, n);

        /* A syntax error is refused the same way. */
        TD_OK(d, td_write_config(d, "services = ( { name = \"echo\"\n"));
        hup_and_wait(d);
        TD_OK(d, td_wait_log(d, "Reload failed", TD_TIMEOUT, NULL));
        expect_same_pids(d, w, n);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 5000, 99, TD_TIMEOUT));

        /* And a good file afterwards is applied. */
        good = echo_config(2, NULL, NULL);
        TD_OK(d, td_write_config(d, good));
        hup_and_wait(d);
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 5000, 100, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* workers 2 → 5 → 1 while a client hammers the service. */
START_TEST(test_hup_workers_count_under_load) {
        static const unsigned counts[] = { 5, 1, 3 };
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        TdLoad *load = NULL;
        TdLoadStats st, st0;
        uint16_t port;
        int n;

        start_echo(&d, 2, NULL, NULL, &port);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));

        TD_OK(d, td_load_start_tcp("127.0.0.1", port, 512, 500000, TD_SEC(90), &load));
        TD_OK(d, td_load_wait_ok(load, 50, TD_TIMEOUT));

        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                _cleanup_free_ char *conf = echo_config(counts[i], NULL, NULL);
                _cleanup_free_ pid_t *now = NULL;
                int m;

                ck_assert_ptr_nonnull(conf);
                TD_OK(d, td_write_config(d, conf));
                hup_and_wait(d);
                m = TD_OK(d, td_wait_workers(d, counts[i], TD_TIMEOUT, &now));
                /* A new generation: none of the old pids. */
                for (int k = 0; k < n; k++)
                        TD_ASSERT_MSG(d, !pid_in(w[k], now, m), "worker %d survived the reload", (int) w[k]);
                free(w);
                w = TAKE_PTR(now);
                n = m;

                td_load_peek(load, &st0);
                TD_OK(d, td_load_wait_ok(load, st0.ok + 100, TD_TIMEOUT));
                TD_ASSERT_MSG(d, st0.failed == 0, "after reload %zu: %lu failed (%lu refused, %lu reset), first at %s: %s",
                              i, st0.failed, st0.refused, st0.reset, st0.first_error_what,
                              strerror(-st0.first_error));
        }
        td_load_stop(load, &st);
        TD_ASSERT_MSG(d, st.failed == 0, "%lu of %lu connections failed (%lu refused, %lu reset), first at %s: %s",
                      st.failed, st.ok + st.failed, st.refused, st.reset, st.first_error_what,
                      strerror(-st.first_error));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* An unchanged config reloaded many times in a row under load: each one a
 * new generation, never a refused connection. */
START_TEST(test_hup_repeated_under_load) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        TdLoad *load = NULL;
        TdLoadStats st;
        uint16_t port;

        start_echo(&d, 2, NULL, NULL, &port);
        TD_OK(d, td_load_start_tcp("127.0.0.1", port, 64, 500000, TD_SEC(90), &load));
        TD_OK(d, td_load_wait_ok(load, 20, TD_TIMEOUT));
        for (unsigned i = 0; i < 10; i++) {
                TdLoadStats s0;

                hup_and_wait(d);
                td_load_peek(load, &s0);
                TD_OK(d, td_load_wait_ok(load, s0.ok + 10, TD_TIMEOUT));
        }
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, NULL));
        td_load_stop(load, &st);
        TD_ASSERT_MSG(d, st.failed == 0, "%lu of %lu connections failed (%lu refused, %lu reset), first at %s: %s",
                      st.failed, st.ok + st.failed, st.refused, st.reset, st.first_error_what,
                      strerror(-st.first_error));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Listeners added and removed by a reload; a service added and one removed. */
START_TEST(test_hup_listeners) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *a_sock = NULL, *b_sock = NULL;
        uint16_t port, added;
        int fd;

        TD_OK(NULL, td_new(&d));
        a_sock = td_subst(d, "@DIR@/a.sock");
        b_sock = td_subst(d, "@DIR@/b.sock");
        TD_OK(d, td_write_config(d,
                                 "services = (\n"
                                 "  { name = \"echo\"; listen = [ \"127.0.0.1:0\", \"unix:@DIR@/a.sock\" ];\n"
                                 "    workers = 2; handler = \"echo\"; }\n"
                                 ");\n"));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, &port));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 1, TD_TIMEOUT));
        TD_OK(d, td_echo_roundtrip_unix(a_sock, 1000, 2, TD_TIMEOUT));

        /* Remove a.sock, add a second TCP listener, add a service "other"
         * on b.sock. The added listener is on port 0 as well, and the test
         * learns its port from the daemon: a port picked beforehand could
         * be taken by a parallel test before the daemon binds it. */
        TD_OK(d, td_write_config(d,
                                 "services = (\n"
                                 "  { name = \"echo\"; listen = [ \"127.0.0.1:0\", \"127.0.0.1:0\" ];\n"
                                 "    workers = 2; handler = \"echo\"; },\n"
                                 "  { name = \"other\"; listen = [ \"unix:@DIR@/b.sock\" ];\n"
                                 "    workers = 1; handler = \"echo\"; }\n"
                                 ");\n"));
        hup_and_wait(d);
        TD_OK(d, td_wait_log(d, "Reloaded", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_workers(d, 3, TD_TIMEOUT, NULL));
        /* echo's third "Listening on" line: the TCP listener and a.sock
         * were the first two, and the kept one is not logged again. */
        TD_OK(d, td_find_port(d, "echo", 2, &added));
        TD_ASSERT(d, added != port);

        /* The kept listener is the same socket: same port. */
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 3, TD_TIMEOUT));
        /* The new ones serve. */
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", added, 100000, 4, TD_TIMEOUT));
        TD_ASSERT(d, td_tcp_listener_holders(d, added) > 0);
        TD_OK(d, td_echo_roundtrip_unix(b_sock, 100000, 5, TD_TIMEOUT));
        /* The removed one refuses, and its file is gone. */
        fd = td_connect_unix(a_sock);
        TD_ASSERT_MSG(d, fd == -ENOENT || fd == -ECONNREFUSED, "removed listener %s: %s", a_sock,
                      fd >= 0 ? "still accepts" : strerror(-fd));
        TD_ASSERT(d, access(a_sock, F_OK) < 0);

        /* Back: drop the added listener and the other service. */
        TD_OK(d, td_write_config(d,
                                 "services = (\n"
                                 "  { name = \"echo\"; listen = [ \"127.0.0.1:0\" ];\n"
                                 "    workers = 2; handler = \"echo\"; }\n"
                                 ");\n"));
        hup_and_wait(d);
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 6, TD_TIMEOUT));
        expect_tcp_port_closed(d, added);
        fd = td_connect_unix(b_sock);
        TD_ASSERT_MSG(d, fd == -ENOENT || fd == -ECONNREFUSED, "removed service's %s: %s", b_sock,
                      fd >= 0 ? "still accepts" : strerror(-fd));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Settings change with a reload; a connection open across the reload stays
 * with its old worker, which serves it to its end and only then exits. */
START_TEST(test_hup_settings_and_inflight) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = NULL, *exited = NULL;
        _cleanup_close_ int a = -EBADF, b = -EBADF;
        _cleanup_free_ pid_t *old = NULL;
        pid_t old_owner = 0;
        uint16_t port;
        int r, n_old;

        start_echo(&d, 2, "idle_timeout = 600.0;", "shutdown_timeout = 60.0;", &port);
        a = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(a, "before", 6, TD_TIMEOUT));
        TD_OK(d, td_conn_owner(d, a, &old_owner));
        n_old = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &old));

        conf = echo_config(2, "idle_timeout = 0.5;", "shutdown_timeout = 60.0;");
        TD_OK(d, td_write_config(d, conf));
        hup_and_wait(d);
        TD_OK(d, td_wait_log(d, "Reloaded", TD_TIMEOUT, NULL));

        /* The new generation has the new idle_timeout. (Wait for the idle
         * old worker to leave first: until it has seen its SIGTERM it may
         * still take a connection, and serve it with the old settings.) */
        for (int i = 0; i < n_old; i++)
                if (old[i] != old_owner)
                        TD_OK(d, td_wait_pid_gone(old[i], TD_TIMEOUT));
        b = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(b, "new", 3, TD_TIMEOUT));
        r = td_wait_eof(b, TD_TIMEOUT);
        TD_ASSERT_MSG(d, r == 0 || r == -ECONNRESET, "new connection with idle_timeout 0.5s: %s", strerror(-r));

        /* The old connection has been quiet since before b was opened, so
         * by the daemon's clock longer than 0.5 s: still served, by the
         * same worker. */
        TD_ASSERT_MSG(d, td_pid_alive(old_owner), "the old worker %d did not wait for its connection", (int) old_owner);
        TD_OK(d, td_echo_exchange(a, "after the reload", 16, TD_TIMEOUT));
        {
                pid_t owner = 0;

                TD_OK(d, td_conn_owner(d, a, &owner));
                TD_ASSERT(d, owner == old_owner);
        }
        TD_ASSERT(d, shutdown(a, SHUT_WR) == 0);
        TD_OK(d, td_wait_eof(a, TD_TIMEOUT));
        TD_OK(d, td_wait_pid_gone(old_owner, TD_TIMEOUT));
        TD_ASSERT(d, asprintf(&exited, "worker %d of generation 1 exited with status 0", (int) old_owner) >= 0);
        TD_OK(d, td_wait_log(d, exited, TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, NULL));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* A reload whose new listener cannot be bound is refused as a whole: the
 * old generation keeps serving untouched. */
/* shutdown_timeout = 0: a reload does not wait for busy old workers, it
 * kills them once the new generation accepts. */
START_TEST(test_hup_zero_shutdown_timeout_kills_busy) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint16_t port;
        int r;

        start_echo(&d, 1, "idle_timeout = 600.0;", "shutdown_timeout = 0;", &port);
        TD_ASSERT(d, TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &w)) == 1);
        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(fd, "abc", 3, TD_TIMEOUT));

        TD_ASSERT(d, kill(td_pid(d), SIGHUP) == 0);
        TD_OK(d, td_wait_log(d, "Reloaded: generation 2", TD_TIMEOUT, NULL));
        TD_ASSERT_MSG(d, td_wait_pid_gone(w[0], TD_TIMEOUT) == 0, "busy old worker %d was not killed", (int) w[0]);
        TD_OK(d, td_wait_log(d, "still busy after the shutdown timeout", TD_TIMEOUT, NULL));
        r = td_wait_eof(fd, TD_TIMEOUT);
        TD_ASSERT_MSG(d, r == 0 || r == -ECONNRESET, "connection of the killed worker: %s", strerror(-r));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

START_TEST(test_hup_bind_failure) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_free_ char *conf = NULL;
        _cleanup_close_ int busy = -EBADF;
        uint16_t port, taken;
        int n;

        start_echo(&d, 2, NULL, NULL, &port);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        busy = TD_OK(d, td_listen_tcp(&taken));
        ck_assert_int_ge(asprintf(&conf,
                                  "services = (\n"
                                  "  { name = \"echo\"; listen = [ \"127.0.0.1:0\", \"127.0.0.1:%u\" ];\n"
                                  "    workers = 4; handler = \"echo\"; }\n"
                                  ");\n",
                                  taken),
                         0);
        TD_OK(d, td_write_config(d, conf));
        hup_and_wait(d);
        TD_OK(d, td_wait_log(d, "Reload failed", TD_TIMEOUT, NULL));
        TD_ASSERT(d, td_log_contains(d, "Address already in use"));
        /* Whatever the refused reload would still do is done by now. */
        TD_OK(d, td_barrier(d, TD_TIMEOUT));
        expect_same_pids(d, w, n);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 1, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

START_TEST(test_hup_keeps_queued_connections_port_zero) {
        _cleanup_(td_freep) TestDaemon *d = NULL;

        TD_OK(NULL, td_new(&d));
        queued_connections_survive_reload(d, "127.0.0.1:0", NULL);
}
END_TEST

START_TEST(test_hup_keeps_queued_connections_unix) {
        _cleanup_(td_freep) TestDaemon *d = NULL;

        TD_OK(NULL, td_new(&d));
        queued_connections_survive_reload(d, "unix:@DIR@/echo.sock", NULL);
}
END_TEST

static Suite *reload_suite(void) {
        Suite *s = suite_create("reload");

        TD_ADD_TEST(s, test_hup_broken_config);
        TD_ADD_TEST(s, test_hup_workers_count_under_load);
        TD_ADD_TEST(s, test_hup_repeated_under_load);
        TD_ADD_TEST(s, test_hup_listeners);
        TD_ADD_TEST(s, test_hup_settings_and_inflight);
        TD_ADD_TEST(s, test_hup_bind_failure);
        TD_ADD_TEST(s, test_hup_zero_shutdown_timeout_kills_busy);
        TD_ADD_TEST(s, test_hup_keeps_queued_connections_port_zero);
        TD_ADD_TEST(s, test_hup_keeps_queued_connections_unix);
        return s;
}

int main(void) {
        return td_run_suite(reload_suite());
}
