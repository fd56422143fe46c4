/* SPDX-License-Identifier: MIT */
/* Listeners in systemd's fd store (FDSTORE= set): every listener the
 * master binds goes to the store; a restart that gets them back takes them
 * by name, so no connection is refused across it; a reload that drops one
 * takes it out of the store. The test plays the service manager: its
 * notify socket keeps what FDSTORE=1 sends (td_fdstore()), and it passes
 * that back to the next daemon as systemd does, with LISTEN_FDNAMES. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

static const char *const store_env[] = { "FDSTORE=16", NULL };

static char *two_listeners(const char *dir) {
        char *s;

        if (asprintf(&s,
                     "services = ( { name = \"echo\"; listen = [ \"127.0.0.1:0\", \"unix:%s/echo.sock\" ];\n"
                     "               workers = 2; handler = \"echo\"; park = { enabled = false; }; } );\n",
                     dir) < 0)
                return NULL;
        return s;
}

static void expect_store(TestDaemon *d, size_t n, const char *const *names) {
        _cleanup_strv_free_ char **got = NULL;
        _cleanup_free_ int *fds = NULL;
        int m = TD_OK(d, td_fdstore(d, &fds, &got));

        for (int i = 0; i < m; i++)
                safe_close(fds[i]);
        TD_ASSERT_MSG(d, (size_t) m == n, "%d fds in the store, expected %zu", m, n);
        for (size_t i = 0; i < n; i++) {
                bool found = false;

                for (int k = 0; k < m; k++)
                        found = found || strcmp(got[k], names[i]) == 0;
                TD_ASSERT_MSG(d, found, "%s is not in the store (%s%s)", names[i], m > 0 ? got[0] : "empty",
                              m > 1 ? ", ..." : "");
        }
}

/* A stop and a start that gets the stored listeners back: the same port,
 * and not one connection of a TCP and a unix load refused or reset. */
START_TEST(test_fdstore_restart_refuses_nothing) {
        _cleanup_(td_freep) TestDaemon *d = NULL, *d2 = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ int *fds = NULL;
        _cleanup_free_ char *conf = NULL, *sock = NULL, *tcp_name = NULL, *unix_name = NULL;
        TdStartOptions opts = { .env = store_env };
        TdLoad *tcp = NULL, *un = NULL;
        TdLoadStats st;
        uint16_t port, port2;
        int n;

        TD_OK(NULL, td_new(&d));
        conf = two_listeners(td_dir(d));
        sock = td_subst(d, "@DIR@/echo.sock");
        TD_ASSERT(d, conf && sock);
        TD_ASSERT(d, asprintf(&tcp_name, "preforkd-listen.127.0.0.1%%3A0#echo/0") > 0);
        TD_ASSERT(d, asprintf(&unix_name, "preforkd-listen.unix%%3A%s", sock) > 0);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, &opts));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, &port));
        expect_store(d, 2, (const char *const[]) { tcp_name, unix_name });

        TD_OK(d, td_load_start_tcp("127.0.0.1", port, 64, 500000, TD_SEC(90), &tcp));
        TD_OK(d, td_load_start_unix(sock, 64, 500000, TD_SEC(90), &un));
        TD_OK(d, td_load_wait_ok(tcp, 20, TD_TIMEOUT));
        TD_OK(d, td_load_wait_ok(un, 20, TD_TIMEOUT));

        /* The restart: the old master stops, the store keeps the sockets
         * (and the kernel queues what arrives), the new one takes them. */
        n = TD_OK(d, td_fdstore(d, &fds, &names));
        stop_and_expect(d, SIGTERM, 0);
        TD_ASSERT_MSG(d, access(sock, F_OK) == 0, "the stop removed %s, which the store keeps listening", sock);
        TD_OK(NULL, td_new(&d2));
        TD_OK(d2, td_write_config(d2, conf));
        opts.listen_fds = fds;
        opts.n_listen_fds = (size_t) n;
        opts.listen_names = (const char *const *) names;
        TD_OK(d2, td_start(d2, &opts));
        TD_OK(d2, td_wait_ready(d2, TD_TIMEOUT));
        TD_OK(d2, td_wait_log(d2, "kept in systemd's fd store", TD_TIMEOUT, NULL));
        TD_OK(d2, td_find_port(d2, "echo", 0, &port2));
        TD_ASSERT_MSG(d2, port2 == port, "the listener on port %u came back on port %u", port, port2);
        for (int i = 0; i < n; i++)
                safe_close(fds[i]);
        /* Taken back as they were: stored already, not sent again. */
        expect_store(d2, 0, NULL);

        td_load_peek(tcp, &st);
        TD_OK(d2, td_load_wait_ok(tcp, st.ok + 50, TD_TIMEOUT));
        td_load_peek(un, &st);
        TD_OK(d2, td_load_wait_ok(un, st.ok + 50, TD_TIMEOUT));
        td_load_stop(tcp, &st);
        TD_ASSERT_MSG(d2, st.failed == 0, "TCP: %lu of %lu connections failed (%lu refused, %lu reset), first at %s: %s",
                      st.failed, st.ok + st.failed, st.refused, st.reset, st.first_error_what,
                      strerror(-st.first_error));
        td_load_stop(un, &st);
        TD_ASSERT_MSG(d2, st.failed == 0, "unix: %lu of %lu connections failed (%lu refused, %lu reset), first at %s: %s",
                      st.failed, st.ok + st.failed, st.refused, st.reset, st.first_error_what,
                      strerror(-st.first_error));
        stop_and_expect(d2, SIGTERM, 0);
}
END_TEST

/* A reload that drops a listener drops it from the store, also after an
 * upgrade (the listener's place in the store is part of the state). A
 * stored socket that no service uses at a start is closed and dropped. */
START_TEST(test_fdstore_follows_reload_and_upgrade) {
        _cleanup_(td_freep) TestDaemon *d = NULL, *d2 = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ int *fds = NULL;
        _cleanup_free_ char *conf = NULL, *sock = NULL, *unix_name = NULL;
        const char *const upgraded[] = { "upgrade #1 done", NULL };
        TdStartOptions opts = { .env = store_env };
        int n;

        TD_OK(NULL, td_new(&d));
        conf = two_listeners(td_dir(d));
        sock = td_subst(d, "@DIR@/echo.sock");
        TD_ASSERT(d, conf && sock && asprintf(&unix_name, "preforkd-listen.unix%%3A%s", sock) > 0);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, &opts));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_kill(d, SIGUSR2));
        TD_OK(d, td_wait_status(d, upgraded, TD_TIMEOUT, NULL));

        TD_OK(d, td_write_config(d, "services = ( { name = \"echo\"; listen = [ \"unix:@DIR@/echo.sock\" ];\n"
                                    "               workers = 1; handler = \"echo\"; } );\n"));
        hup_expect_applied(d, 3);
        TD_OK(d, td_barrier(d, TD_TIMEOUT));
        expect_store(d, 1, (const char *const[]) { unix_name });

        /* The next start has only "other" on another unix socket: the
         * stored echo.sock is closed and dropped from the store. */
        n = TD_OK(d, td_fdstore(d, &fds, &names));
        stop_and_expect(d, SIGTERM, 0);
        TD_OK(NULL, td_new(&d2));
        TD_OK(d2, td_write_config(d2, "services = ( { name = \"other\"; listen = [ \"unix:@DIR@/other.sock\" ];\n"
                                      "               workers = 1; handler = \"echo\"; } );\n"));
        opts.listen_fds = fds;
        opts.n_listen_fds = (size_t) n;
        opts.listen_names = (const char *const *) names;
        TD_OK(d2, td_start(d2, &opts));
        TD_OK(d2, td_wait_ready(d2, TD_TIMEOUT));
        for (int i = 0; i < n; i++)
                safe_close(fds[i]);
        TD_OK(d2, td_wait_log(d2, "kept in systemd's fd store: no service uses it", TD_TIMEOUT, NULL));
        /* Out of the store (here, d's copy plays the old store still). */
        td_notify_set_cursor(d2, 0);
        int i = TD_OK(d2, td_wait_notify(d2, "FDSTOREREMOVE=1", TD_TIMEOUT, NULL));
        _cleanup_free_ char *dg = NULL, *want = NULL;
        TD_OK(d2, td_notify_datagram(d2, (size_t) i, &dg));
        TD_ASSERT(d2, asprintf(&want, "FDSTOREREMOVE=1\nFDNAME=%s", unix_name) > 0);
        TD_ASSERT_MSG(d2, strcmp(dg, want) == 0, "sent \"%s\", expected \"%s\"", dg, want);
        stop_and_expect(d2, SIGTERM, 0);
}
END_TEST

/* Without FDSTORE= nothing goes to the store, and a stop removes a unix
 * socket's file as ever. */
START_TEST(test_fdstore_off_without_env) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = NULL, *sock = NULL;

        TD_OK(NULL, td_new(&d));
        conf = two_listeners(td_dir(d));
        sock = td_subst(d, "@DIR@/echo.sock");
        TD_ASSERT(d, conf && sock);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_barrier(d, TD_TIMEOUT));
        expect_store(d, 0, NULL);
        TD_ASSERT(d, !td_log_contains(d, "FDSTORE"));
        stop_and_expect(d, SIGTERM, 0);
        TD_ASSERT_MSG(d, access(sock, F_OK) < 0, "%s is left behind", sock);
}
END_TEST

static Suite *fdstore_suite(void) {
        Suite *s = suite_create("fdstore");

        TD_ADD_TEST(s, test_fdstore_restart_refuses_nothing);
        TD_ADD_TEST(s, test_fdstore_follows_reload_and_upgrade);
        TD_ADD_TEST(s, test_fdstore_off_without_env);
        return s;
}

int main(void) {
        return td_run_suite(fdstore_suite());
}
