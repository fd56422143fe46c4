/* SPDX-License-Identifier: MIT */
/* A socket passed by systemd, which the mutation check (tests/mutation)
 * found untested in one respect: systemd hands it over blocking, and a
 * listener that takes it must make it non-blocking, or an idle worker sits
 * in accept() with TERM blocked and a graceful stop waits for the SIGKILL
 * after shutdown_timeout. The daemon runs under systemd-socket-activate on
 * a unix socket in the test's directory (no port to race for); without
 * that tool (package systemd) the executable exits 77 (skipped). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

#define EXIT_SKIP 77

static char activate[4096];

static bool find_in_path(const char *name, char *buf, size_t size) {
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = strdup(path && *path ? path : "/usr/bin:/bin");
        char *save = NULL;

        if (!copy)
                return false;
        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                snprintf(buf, size, "%s/%s", dir, name);
                if (access(buf, X_OK) == 0)
                        return true;
        }
        return false;
}

/* mutation listener-passed-nonblocking: with two workers idle on the
 * passed socket, TERM ends the daemon at once (shutdown_timeout is 60 s,
 * longer than the test waits), with no worker left to SIGKILL. */
START_TEST(test_passed_socket_stops_promptly) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *sock = NULL, *binary = strdup(td_binary());
        int code = -1;

        ck_assert_ptr_nonnull(binary);
        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d,
                                 "shutdown_timeout = 60.0;\n"
                                 "services = (\n"
                                 "  { name = \"echo\"; listen = [ \"systemd:echo\" ]; workers = 2; handler = \"echo\"; }\n"
                                 ");\n"));
        /* systemd-socket-activate binds DIR/echo.sock, passes it as fd 3
         * named "echo" and executes preforkd on the first connection, in
         * its own process (so td_pid() is the master). It passes on only
         * the environment named with -E. */
        ck_assert_int_eq(setenv("PREFORKD_BINARY", activate, 1), 0);
        TD_OK(d, td_start(d, &(TdStartOptions) {
                .args = (const char *const[]) { "-l", "@DIR@/echo.sock", "--fdname=echo", "-E", "NOTIFY_SOCKET",
                                                "-E", "PREFORKD_LOG_TARGET", "--", binary, "-c",
                                                "@DIR@/preforkd.conf", NULL },
        }));
        ck_assert_int_eq(setenv("PREFORKD_BINARY", binary, 1), 0);
        sock = td_subst(d, "@DIR@/echo.sock");
        TD_ASSERT(d, sock);
        TD_OK(d, td_wait_log(d, "Listening on", TD_TIMEOUT, NULL));

        TD_OK(d, td_echo_roundtrip_unix(sock, 1000, 1, TD_TIMEOUT));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_wait_log(d, "socket passed by systemd", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, NULL));
        for (unsigned i = 0; i < 4; i++)
                TD_OK(d, td_echo_roundtrip_unix(sock, 1000, 2 + i, TD_TIMEOUT));

        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        TD_ASSERT_MSG(d, code == 0, "exit code %d", code);
        TD_OK(d, td_wait_output_closed(d, TD_TIMEOUT));
        TD_ASSERT(d, !td_log_contains(d, "killing them"));
        assert_no_sanitizer_report(d);
}
END_TEST

int main(void) {
        Suite *s = suite_create("mutation-gaps-activation");

        if (!find_in_path("systemd-socket-activate", activate, sizeof activate)) {
                fprintf(stderr, "SKIP: systemd-socket-activate not found (package systemd)\n");
                return EXIT_SKIP;
        }
        TD_ADD_TEST(s, test_passed_socket_stops_promptly);
        return td_run_suite(s);
}
