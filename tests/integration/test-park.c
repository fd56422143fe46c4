/* SPDX-License-Identifier: MIT */
/* The front stage with the echo handler: a client that sends nothing is
 * parked, so one worker serves many mostly idle clients. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "itest.h"

#define N_IDLE 50

START_TEST(test_idle_echo_clients_do_not_pin) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        int fds[N_IDLE];
        uint16_t port;

        start_echo(&d, 1, "idle_timeout = 600.0; park = { enabled = true; };", NULL, &port);
        for (unsigned i = 0; i < N_IDLE; i++) {
                fds[i] = td_connect_tcp("127.0.0.1", port);
                TD_ASSERT(d, fds[i] >= 0);
                TD_OK(d, td_echo_exchange(fds[i], "first", 5, TD_TIMEOUT));
        }
        /* With one worker and idle_timeout far away, only parking lets a
         * new client in while the 50 stay open. */
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        for (unsigned i = 0; i < N_IDLE; i++) {
                TD_OK(d, td_echo_exchange(fds[i], "again", 5, TD_TIMEOUT));
                safe_close(fds[i]);
        }
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* A parked echo connection that stays quiet is closed at idle_timeout. */
START_TEST(test_parked_echo_idle_timeout) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint16_t port;

        start_echo(&d, 1, "idle_timeout = 1.0; park = { enabled = true; };", NULL, &port);
        fd = td_connect_tcp("127.0.0.1", port);
        TD_ASSERT(d, fd >= 0);
        TD_OK(d, td_echo_exchange(fd, "x", 1, TD_TIMEOUT));
        TD_OK(d, td_wait_eof(fd, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("park");

        TD_ADD_TEST(s, test_idle_echo_clients_do_not_pin);
        TD_ADD_TEST(s, test_parked_echo_idle_timeout);
        return td_run_suite(s);
}
