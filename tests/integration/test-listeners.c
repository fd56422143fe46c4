/* SPDX-License-Identifier: MIT */
/* Listeners across reloads: a port the kernel picked (port 0) can be
 * pinned by writing it into the config, and the socket, with the
 * connections queued on it, carries over instead of being bound again. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "itest.h"

START_TEST(test_pin_port_zero) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *pinned = NULL, *conf = NULL;
        _cleanup_close_ int busy = -EBADF, queued = -EBADF;
        uint16_t port;

        start_echo(&d, 1, NULL, NULL, &port);
        TD_ASSERT(d, td_log_count(d, "Listening on") == 1);

        /* The only worker is busy with one client; the next connection
         * waits in the listen queue of the socket. */
        busy = td_connect_tcp("127.0.0.1", port);
        TD_ASSERT(d, busy >= 0);
        TD_OK(d, td_echo_exchange(busy, "busy", 4, TD_TIMEOUT));
        queued = td_connect_tcp("127.0.0.1", port);
        TD_ASSERT(d, queued >= 0);
        TD_OK(d, td_write_all(queued, "queued", 6, TD_TIMEOUT));

        ck_assert_int_ge(asprintf(&pinned, "listen = [ \"127.0.0.1:%u\" ];", (unsigned) port), 0);
        conf = echo_config(1, NULL, NULL);
        ck_assert_ptr_nonnull(conf);
        /* Same service, the port now written out instead of 0. */
        char *at = strstr(conf, "listen = [ \"127.0.0.1:0\" ];");
        TD_ASSERT(d, at != NULL);
        _cleanup_free_ char *rewritten = NULL;
        ck_assert_int_ge(asprintf(&rewritten, "%.*s%s%s", (int) (at - conf), conf, pinned,
                                  at + strlen("listen = [ \"127.0.0.1:0\" ];")), 0);
        TD_OK(d, td_write_config(d, rewritten));
        TD_OK(d, td_kill(d, SIGHUP));
        TD_OK(d, td_wait_log(d, "Reloaded: generation 2", TD_TIMEOUT, NULL));

        /* Not bound a second time (that would fail with EADDRINUSE and
         * refuse the reload), and the queued client is served by the new
         * worker from the very socket it waited on. */
        TD_ASSERT(d, !td_log_contains(d, "Failed to listen"));
        TD_ASSERT(d, td_log_count(d, "Listening on") == 1);
        char buf[6];
        TD_OK(d, td_read_exact(queued, buf, sizeof buf, TD_TIMEOUT));
        TD_ASSERT(d, memcmp(buf, "queued", 6) == 0);
        queued = safe_close(queued);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 3, TD_TIMEOUT));
        busy = safe_close(busy);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("listeners");

        TD_ADD_TEST(s, test_pin_port_zero);
        return td_run_suite(s);
}
