/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared bits of the core integration suites. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "testlib.h"

/* A config with one echo service named "echo" on 127.0.0.1:0. service_extra
 * is pasted into the service group, top_extra at the top level (both may be
 * NULL). The caller frees the result. */
/* The core's tests watch what a worker does with its connection, so their
 * services do not park (unless service_extra says otherwise); parking has
 * its own tests (test-park.c). */
static inline char *echo_config(unsigned workers, const char *service_extra, const char *top_extra) {
        const char *park = service_extra && strstr(service_extra, "park") ? "" : "park = { enabled = false; };";
        char *s;

        if (asprintf(&s,
                     "# written by the integration tests\n"
                     "%s\n"
                     "services = (\n"
                     "  {\n"
                     "    name = \"echo\";\n"
                     "    listen = [ \"127.0.0.1:0\" ];\n"
                     "    workers = %u;\n"
                     "    handler = \"echo\";\n"
                     "    %s %s\n"
                     "  }\n"
                     ");\n",
                     top_extra ? top_extra : "", workers, park, service_extra ? service_extra : "") < 0)
                return NULL;
        return s;
}

/* Writes echo_config(), starts the daemon, waits for READY=1 and returns the
 * echo port. */
static inline void start_echo(TestDaemon **ret, unsigned workers, const char *service_extra, const char *top_extra,
                              uint16_t *ret_port) {
        TestDaemon *d = NULL;
        char *conf;

        TD_OK(NULL, td_new(&d));
        *ret = d;
        conf = echo_config(workers, service_extra, top_extra);
        ck_assert_ptr_nonnull(conf);
        TD_OK(d, td_write_config(d, conf));
        free(conf);
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        if (ret_port)
                TD_OK(d, td_find_port(d, "echo", 0, ret_port));
}

/* Sanitizer builds: neither the master nor a worker reported anything. */
static inline void assert_no_sanitizer_report(TestDaemon *d) {
        TD_ASSERT_MSG(d, !td_log_contains(d, "AddressSanitizer"), "AddressSanitizer report in the daemon's output");
        TD_ASSERT_MSG(d, !td_log_contains(d, "LeakSanitizer"), "LeakSanitizer report in the daemon's output");
        TD_ASSERT_MSG(d, !td_log_contains(d, "runtime error:"), "UBSan report in the daemon's output");
}

/* Sends sig, waits for the exit and asserts the exit code and that nothing
 * of the daemon's process group is left. */
static inline void stop_and_expect(TestDaemon *d, int sig, int expected_code) {
        int code = -1;

        TD_OK(d, td_kill(d, sig));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        TD_ASSERT_MSG(d, code == expected_code, "exit code %d, expected %d", code, expected_code);
        for (uint64_t deadline = td_now() + TD_TIMEOUT; td_group_count(d) > 0 && td_now() < deadline;)
                td_sleep(TD_MSEC(5));
        TD_ASSERT_MSG(d, td_group_count(d) == 0, "%d processes left in the daemon's group", td_group_count(d));
        TD_OK(d, td_wait_output_closed(d, TD_TIMEOUT));
        assert_no_sanitizer_report(d);
}

/* The daemon closes the TCP listener on port: soon no process of its group
 * holds it, and connecting is refused (unless another program has bound the
 * port since, which the holder count tells apart). */
static inline void expect_tcp_port_closed(TestDaemon *d, uint16_t port) {
        uint64_t deadline = td_now() + TD_TIMEOUT;
        int h, c;

        for (;;) {
                h = td_tcp_listener_holders(d, port);
                TD_ASSERT_MSG(d, h >= 0, "td_tcp_listener_holders: %s", strerror(-h));
                if (h == 0)
                        break;
                TD_ASSERT_MSG(d, td_now() < deadline,
                              "%d process(es) of the daemon still hold the listening socket on port %u", h, port);
                td_sleep(TD_MSEC(5));
        }
        c = td_connect_tcp("127.0.0.1", port);
        if (c >= 0) {
                safe_close(c);
                TD_ASSERT_MSG(d, td_tcp_listener_holders(d, port) == 0, "port %u still accepts connections", port);
        } else
                TD_ASSERT_MSG(d, c == -ECONNREFUSED, "connect to the closed port %u: %s", port, strerror(-c));
}

static inline bool pid_in(pid_t p, const pid_t *l, int n) {
        for (int i = 0; i < n; i++)
                if (l[i] == p)
                        return true;
        return false;
}
