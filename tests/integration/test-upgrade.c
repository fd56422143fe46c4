/* SPDX-License-Identifier: MIT */
/* Binary upgrade in place (SIGUSR2): the master executes the binary now on
 * disk under its own PID, the new binary's workers take over, the old ones
 * retire; a new binary that fails goes back to the old one, whose workers
 * never stopped serving. The daemon runs from a copy in its temp dir
 * (DIR/preforkd), which the tests replace the way a package upgrade does
 * (rename over it) with the test builds of tests/upgrade: B (version
 * +b), C (+c, its workers never get ready), B with a fault in
 * $PREFORKD_TEST_FAULT, or something that is not preforkd at all. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "itest.h"
#include "upgrade-test.h"

/* Starts the build under test from DIR/preforkd with an echo service of
 * workers workers (no front stage: the tests follow which worker holds a
 * connection) and env (may be NULL); returns its port. */
static void start_upgradable_top(TestDaemon **ret, unsigned workers, const char *const *env, const char *top,
                                 uint16_t *ret_port) {
        _cleanup_free_ char *conf = NULL;
        TdStartOptions opts = { .binary = "@DIR@/preforkd", .env = env };
        TestDaemon *d = NULL;

        TD_OK(NULL, td_new(&d));
        *ret = d;
        install_binary(d, td_binary());
        conf = echo_config(workers, NULL, top);
        TD_ASSERT(d, conf);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, &opts));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, ret_port));
}

static void start_upgradable(TestDaemon **ret, unsigned workers, const char *const *env, uint16_t *ret_port) {
        start_upgradable_top(ret, workers, env, NULL, ret_port);
}

/* The number N of ", N conns" in the STATUS= line. */
static unsigned long status_conns(const char *status) {
        const char *p = strstr(status, " conns");

        while (p && p > status && p[-1] >= '0' && p[-1] <= '9')
                p--;
        return p ? strtoul(p, NULL, 10) : 0;
}

static void expect_no_failures(TestDaemon *d, TdLoad *load) {
        TdLoadStats st;

        td_load_stop(load, &st);
        TD_ASSERT_MSG(d, st.ok > 0, "the load made no connection");
        TD_ASSERT_MSG(d, st.failed == 0, "%lu of %lu connections failed (%lu refused, %lu reset), first at %s: %s",
                      st.failed, st.ok + st.failed, st.refused, st.reset, st.first_error_what,
                      strerror(-st.first_error));
}

static void expect_same_workers(TestDaemon *d, const pid_t *before, int n) {
        _cleanup_free_ pid_t *now = NULL;
        int m = TD_OK(d, td_workers(d, &now));

        TD_ASSERT_MSG(d, m == n, "%d workers, expected %d", m, n);
        for (int i = 0; i < n; i++)
                TD_ASSERT_MSG(d, pid_in(before[i], now, m), "worker %d is gone", (int) before[i]);
}

/* The upgrade to B under load: same master PID, counters and reload count
 * carried over, new workers run B, the old ones retire after finishing
 * their connection, no connection fails. */
START_TEST(test_upgrade_in_place) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL, *respawned = NULL, *now = NULL;
        _cleanup_free_ char *status = NULL, *exe = NULL, *before_status = NULL;
        _cleanup_close_ int hold = -EBADF;
        const char *const wanted[] = { "upgrade #1 done: 0.1.0 -> 0.1.0+b", NULL };
        const char *const restarted[] = { "1 restart", NULL };
        TdLoad *load = NULL;
        pid_t master;
        uint16_t port;
        int n, m;

        start_upgradable(&d, 2, NULL, &port);
        master = td_pid(d);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        /* Counters to carry over: a reload, a crash, connections. */
        hup_expect_applied(d, 2);
        TD_OK(d, td_wait_workers_without(d, 2, w, (size_t) n, TD_TIMEOUT, &respawned));
        TD_ASSERT(d, kill(respawned[0], SIGKILL) == 0);
        TD_OK(d, td_wait_status(d, restarted, TD_TIMEOUT, NULL));
        free(w);
        n = TD_OK(d, td_wait_workers_without(d, 2, respawned, 1, TD_TIMEOUT, &w));
        for (unsigned i = 0; i < 10; i++)
                TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, i, TD_TIMEOUT));
        hold = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(hold, "held", 4, TD_TIMEOUT));

        TD_OK(d, td_load_start_tcp("127.0.0.1", port, 64, 500000, TD_SEC(90), &load));
        TD_OK(d, td_load_wait_ok(load, 20, TD_TIMEOUT));
        install_binary(d, td_binary_variant("b"));
        TD_OK(d, td_kill(d, SIGUSR2));
        TD_OK(d, td_wait_notify(d, "RELOADING=1", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_status(d, wanted, TD_TIMEOUT, &status));
        TD_OK(d, td_wait_log(d, "Upgraded from 0.1.0 (build-id ", TD_TIMEOUT, NULL));
        TD_ASSERT_MSG(d, td_log_contains(d, "Reloaded: generation 3,"), "the upgrade did not start generation 3");

        /* Same process, now the new binary. */
        TD_ASSERT_MSG(d, td_pid(d) == master && td_running(d), "the master's pid changed or it exited");
        exe = exe_of(master);
        TD_ASSERT_MSG(d, exe && !ends_with(exe, "(deleted)"), "the master runs %s, not the new binary", exe);
        /* What was counted before is still there. */
        TD_ASSERT_MSG(d, strstr(status, "1 restart") && strstr(status, "reload #1 applied"),
                      "the counters did not survive: %s", status);
        TD_ASSERT_MSG(d, status_conns(status) >= 11, "connections counted before the upgrade were lost: %s", status);

        /* New workers of the new binary; the old one that holds a
         * connection finishes it, the other has left. */
        m = TD_OK(d, td_wait_workers(d, 3, TD_TIMEOUT, &now));
        for (int i = 0; i < m; i++) {
                _cleanup_free_ char *wexe = exe_of(now[i]);
                bool old = pid_in(now[i], w, n);

                TD_ASSERT_MSG(d, wexe && ends_with(wexe, "(deleted)") == old, "worker %d runs %s", (int) now[i], wexe);
        }
        TD_OK(d, td_echo_exchange(hold, "still", 5, TD_TIMEOUT));
        TD_ASSERT(d, shutdown(hold, SHUT_WR) == 0);
        TD_OK(d, td_wait_eof(hold, TD_TIMEOUT));
        TD_OK(d, td_wait_log(d, "of generation 2 exited with status 0", TD_TIMEOUT, NULL));
        free(now);
        TD_OK(d, td_wait_workers_without(d, 2, w, (size_t) n, TD_TIMEOUT, &now));

        expect_no_failures(d, load);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 5000, 99, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* C's workers exit before they are ready: C goes back to the binary it
 * replaced, which resumes with the workers it had; no connection fails. */
START_TEST(test_upgrade_rollback_when_workers_die) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_free_ char *exe = NULL, *status = NULL;
        const char *const wanted[] = { "upgrade #1 refused: a new worker of service echo", NULL };
        TdLoad *load = NULL;
        uint16_t port;
        pid_t master;
        int n;

        start_upgradable(&d, 2, NULL, &port);
        master = td_pid(d);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        TD_OK(d, td_load_start_tcp("127.0.0.1", port, 64, 500000, TD_SEC(90), &load));
        TD_OK(d, td_load_wait_ok(load, 20, TD_TIMEOUT));

        install_binary(d, td_binary_variant("c"));
        TD_OK(d, td_kill(d, SIGUSR2));
        TD_OK(d, td_wait_notify(d, "RELOADING=1", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_status(d, wanted, TD_TIMEOUT, &status));
        TD_OK(d, td_wait_log(d, "Upgrade to 0.1.0+c (build-id ", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "rolled back to 0.1.0 (build-id ", TD_TIMEOUT, NULL));
        TD_ASSERT_MSG(d, strncmp(status, "STATUS=echo 2/2 up", 18) == 0, "not serving after the rollback: %s", status);

        /* The old binary again (its file was replaced, hence "deleted"),
         * and the old workers, which never stopped. */
        TD_ASSERT(d, td_pid(d) == master && td_running(d));
        exe = exe_of(master);
        TD_ASSERT_MSG(d, exe && ends_with(exe, "(deleted)"), "the master runs %s, not the old binary", exe);
        expect_same_workers(d, w, n);
        TdLoadStats s0;
        td_load_peek(load, &s0);
        TD_OK(d, td_load_wait_ok(load, s0.ok + 50, TD_TIMEOUT));
        expect_no_failures(d, load);
        expect_same_workers(d, w, n);
        /* A reload after it works as ever. */
        hup_expect_applied(d, 3);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* B fails to take the state over after the exec (a test fault): it hands
 * the untouched state back at once. */
START_TEST(test_upgrade_rollback_when_state_unreadable) {
        const char *const env[] = { "PREFORKD_TEST_FAULT=deserialize-fail", NULL };
        const char *const wanted[] = { "upgrade #1 refused: test fault deserialize-fail", NULL };
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        uint16_t port;
        int n;

        start_upgradable(&d, 2, env, &port);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        install_binary(d, td_binary_variant("b"));
        TD_OK(d, td_kill(d, SIGUSR2));
        TD_OK(d, td_wait_notify(d, "RELOADING=1", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_status(d, wanted, TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "rolled back to 0.1.0 (build-id ", TD_TIMEOUT, NULL));
        expect_same_workers(d, w, n);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 5000, 1, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* New binaries that never get executed: the check in a child refuses them
 * and nothing changes. */
static void expect_refused_before_exec(TestDaemon *d, uint16_t port, const char *why) {
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_free_ char *exe = NULL;
        const char *const wanted[] = { "upgrade #1 refused: ", why, NULL };
        size_t notify_before = td_notify_count(d);
        int n;

        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        TD_OK(d, td_kill(d, SIGUSR2));
        TD_OK(d, td_wait_status(d, wanted, TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "Upgrade refused: ", TD_TIMEOUT, NULL));
        TD_OK(d, td_barrier(d, TD_TIMEOUT));
        /* No exec was tried: no RELOADING=1, the old binary still runs. */
        td_notify_set_cursor(d, notify_before);
        TD_ASSERT_MSG(d, td_wait_notify(d, "RELOADING=1", 0, NULL) < 0, "an upgrade that was refused sent RELOADING=1");
        exe = exe_of(td_pid(d));
        TD_ASSERT_MSG(d, exe && ends_with(exe, "(deleted)"), "the master runs %s", exe);
        TD_ASSERT(d, !td_log_contains(d, "took over from"));
        expect_same_workers(d, w, n);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 5000, 1, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}

START_TEST(test_upgrade_refused_not_preforkd) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;

        start_upgradable(&d, 2, NULL, &port);
        install_binary(d, "/bin/true");
        expect_refused_before_exec(d, port, "is not preforkd: it did not answer --check-upgrade");
}
END_TEST

START_TEST(test_upgrade_refused_exits_at_once) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;

        start_upgradable(&d, 2, NULL, &port);
        install_script(d, "#!/bin/sh\nexit 3\n");
        expect_refused_before_exec(d, port, "failed --check-upgrade: exited with status 3");
}
END_TEST

START_TEST(test_upgrade_refused_crash_in_deserialization) {
        const char *const env[] = { "PREFORKD_TEST_FAULT=deserialize-crash", NULL };
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;

        start_upgradable(&d, 2, env, &port);
        install_binary(d, td_binary_variant("b"));
        expect_refused_before_exec(d, port, "crashed in --check-upgrade: killed by signal SIGABRT");
}
END_TEST

START_TEST(test_upgrade_refused_bad_config) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *why = NULL;
        uint16_t port;

        start_upgradable(&d, 2, NULL, &port);
        install_binary(d, td_binary_variant("b"));
        TD_OK(d, td_write_config(d, "services = ( { name = \"echo\"; workers = 0; } );\n"));
        why = td_subst(d, "cannot use the configuration @DIR@/preforkd.conf: @DIR@/preforkd.conf:1: services.[0]");
        expect_refused_before_exec(d, port, why);
}
END_TEST

/* Twice in a row, with a unix listener and the front stage: the second
 * upgrade starts from what the first one handed over. */
START_TEST(test_upgrade_twice) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *sock = NULL;
        const char *const first[] = { "upgrade #1 done: 0.1.0 -> 0.1.0+b", NULL };
        const char *const second[] = { "upgrade #2 done: 0.1.0+b -> 0.1.0+b", NULL };
        TdStartOptions opts = { .binary = "@DIR@/preforkd" };
        _cleanup_close_ int parked = -EBADF;
        pid_t master;
        uint16_t port;

        TD_OK(NULL, td_new(&d));
        install_binary(d, td_binary());
        TD_OK(d, td_write_config(d, "services = ( { name = \"echo\"; listen = [ \"127.0.0.1:0\", \"unix:@DIR@/echo.sock\" ];\n"
                                    "               workers = 2; handler = \"echo\"; idle_timeout = 60.0; } );\n"));
        TD_OK(d, td_start(d, &opts));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, &port));
        sock = td_subst(d, "@DIR@/echo.sock");
        master = td_pid(d);
        /* An idle connection: the front stage holds it across both. */
        parked = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(parked, "parked", 6, TD_TIMEOUT));

        install_binary(d, td_binary_variant("b"));
        TD_OK(d, td_kill(d, SIGUSR2));
        TD_OK(d, td_wait_status(d, first, TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_roundtrip_unix(sock, 1000, 1, TD_TIMEOUT));
        install_binary(d, td_binary_variant("b"));
        TD_OK(d, td_kill(d, SIGUSR2));
        TD_OK(d, td_wait_status(d, second, TD_TIMEOUT, NULL));
        TD_ASSERT(d, td_log_contains(d, "Reloaded: generation 3,"));
        TD_ASSERT(d, td_pid(d) == master);

        TD_OK(d, td_echo_exchange(parked, "still there", 11, TD_TIMEOUT));
        TD_OK(d, td_echo_roundtrip_unix(sock, 1000, 2, TD_TIMEOUT));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 3, TD_TIMEOUT));
        hup_expect_applied(d, 4);
        stop_and_expect(d, SIGTERM, 0);
        TD_ASSERT_MSG(d, access(sock, F_OK) < 0, "%s is left behind", sock);
}
END_TEST

/* preforkctl upgrade waits for the outcome, which the binary that ends
 * the upgrade answers on the connection it was handed: 0 and what runs
 * now, or 1 and why the old binary still does. The control socket serves
 * again after each exec. */
START_TEST(test_upgrade_preforkctl) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        CtlRun run = { 0 };
        pid_t master;
        uint16_t port;
        int n;

        start_upgradable_top(&d, 2, NULL, CTL_TOP, &port);
        master = td_pid(d);

        install_binary(d, td_binary_variant("b"));
        CTL(d, &run, "upgrade");
        CTL_EXPECT(d, &run, 0);
        TD_ASSERT_MSG(d, strstr(run.out, "upgraded from 0.1.0 to 0.1.0+b"), "stdout: %s", run.out);
        ctl_run_done(&run);
        /* The socket preforkctl talks to crossed the exec: never bound
         * anew, so never refused. */
        TD_ASSERT(d, td_log_contains(d, "(kept across the upgrade)"));
        TD_ASSERT(d, td_pid(d) == master);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));

        install_binary(d, td_binary_variant("c"));
        CTL(d, &run, "upgrade");
        CTL_EXPECT(d, &run, 1);
        TD_ASSERT_MSG(d, strstr(run.err, "refused: a new worker of service echo"), "stderr: %s", run.err);
        ctl_run_done(&run);
        expect_same_workers(d, w, n);

        install_binary(d, "/bin/true");
        CTL(d, &run, "upgrade");
        CTL_EXPECT(d, &run, 1);
        TD_ASSERT_MSG(d, strstr(run.err, "is not preforkd"), "stderr: %s", run.err);
        ctl_run_done(&run);

        CTL(d, &run, "status");
        CTL_EXPECT(d, &run, 0);
        ctl_run_done(&run);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 1, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

static Suite *upgrade_suite(void) {
        Suite *s = suite_create("upgrade");

        TD_ADD_TEST(s, test_upgrade_in_place);
        TD_ADD_TEST(s, test_upgrade_rollback_when_workers_die);
        TD_ADD_TEST(s, test_upgrade_rollback_when_state_unreadable);
        TD_ADD_TEST(s, test_upgrade_refused_not_preforkd);
        TD_ADD_TEST(s, test_upgrade_refused_exits_at_once);
        TD_ADD_TEST(s, test_upgrade_refused_crash_in_deserialization);
        TD_ADD_TEST(s, test_upgrade_refused_bad_config);
        TD_ADD_TEST(s, test_upgrade_twice);
        TD_ADD_TEST(s, test_upgrade_preforkctl);
        return s;
}

int main(void) {
        return td_run_suite(upgrade_suite());
}
