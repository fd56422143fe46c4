/* SPDX-License-Identifier: MIT */
/* Listeners on a fixed port, the way production configs have them. A fixed
 * port on the machine's loopback could be taken by any parallel test, so
 * main() moves the test process into a network namespace of its own first,
 * where only the test and the daemons it starts live (td_unshare_network()):
 * the port is then the test's alone. That needs root; without it (or where
 * unshare() is refused) the executable exits 77 and meson reports a skip. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "itest.h"

#define FIXED "127.0.0.1:7007"

/* A fixed-port listener keeps its socket across a reload, and with it the
 * connections queued on it (see queued_connections_survive_reload()). */
START_TEST(test_hup_keeps_queued_connections_fixed_port) {
        _cleanup_(td_freep) TestDaemon *d = NULL;

        TD_OK(NULL, td_new(&d));
        queued_connections_survive_reload(d, FIXED, NULL);
}
END_TEST

/* The fixed port is the same socket after a reload (the master does not
 * bind it again, which would fail while the old generation still has it)
 * and is closed when a reload removes it. */
START_TEST(test_hup_fixed_port_kept_then_removed) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t other;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, "services = ( { name = \"echo\"; listen = [ \"" FIXED "\" ]; workers = 2;\n"
                                    "               handler = \"echo\"; } );\n"));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", 7007, 1000, 1, TD_TIMEOUT));

        TD_OK(d, td_write_config(d, "services = ( { name = \"echo\"; listen = [ \"" FIXED "\", \"127.0.0.1:0\" ];\n"
                                    "               workers = 3; handler = \"echo\"; } );\n"));
        hup_expect_applied(d, 2);
        TD_ASSERT_MSG(d, td_log_count(d, "Listening on " FIXED) == 1, "the kept listener was bound again");
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", 7007, 1000, 2, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 1, &other));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", other, 1000, 3, TD_TIMEOUT));

        TD_OK(d, td_write_config(d, "services = ( { name = \"echo\"; listen = [ \"127.0.0.1:0\" ]; workers = 1;\n"
                                    "               handler = \"echo\"; } );\n"));
        hup_expect_applied(d, 3);
        expect_tcp_port_closed(d, 7007);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

int main(void) {
        Suite *s;
        int r;

        r = td_unshare_network();
        if (r < 0) {
                fprintf(stderr, "SKIP: no network namespace of the test's own: %s\n", strerror(-r));
                return TD_EXIT_SKIP;
        }
        s = suite_create("fixed-port");
        TD_ADD_TEST(s, test_hup_keeps_queued_connections_fixed_port);
        TD_ADD_TEST(s, test_hup_fixed_port_kept_then_removed);
        return td_run_suite(s);
}
