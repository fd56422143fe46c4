/* SPDX-License-Identifier: MIT */
/* Deaths after serving are no crash loop (issue 11, item 6): under load,
 * a worker that has served is SIGKILLed every 200 ms, fifteen times; each
 * one is replaced at once (logged as an exit after serving), none is
 * counted as a crash or backed off, and the pool ends full. The victim is
 * always the worker holding a connection of the test's own, so it has
 * served. What this costs in throughput is bench/chaos.sh's to measure,
 * not a test's. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "itest.h"

#define KILLS 15

START_TEST(test_kill_workers_that_served) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        TdLoad *load = NULL;
        TdLoadStats st;
        uint16_t port;

        /* The default crash budget (10 in 10 s) would let fifteen crashes
         * in three seconds back off: these deaths must not touch it. */
        start_echo(&d, 2, NULL, "log_level = \"debug\";", &port);
        TD_OK(d, td_load_start_tcp("127.0.0.1", port, 256, 1000000, TD_SEC(120), &load));
        TD_OK(d, td_load_wait_ok(load, 50, TD_TIMEOUT));

        for (unsigned i = 0; i < KILLS; i++) {
                _cleanup_free_ char *want = NULL, *line = NULL;
                _cleanup_close_ int c = TD_OK(d, td_connect_tcp("127.0.0.1", port));
                pid_t victim;

                TD_OK(d, td_echo_exchange(c, "x", 1, TD_TIMEOUT));
                TD_OK(d, td_conn_owner(d, c, &victim));
                TD_ASSERT(d, kill(victim, SIGKILL) == 0);
                TD_ASSERT(d, asprintf(&want, "worker %d killed by signal KILL", (int) victim) >= 0);
                TD_OK(d, td_wait_log(d, want, TD_TIMEOUT, &line));
                TD_ASSERT_MSG(d, strstr(line, "; exited after serving, replacing it at once"), "%s", line);
                /* The pace of the chaos, not a wait for anything. */
                td_sleep(TD_MSEC(200));
        }
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, NULL));
        td_load_peek(load, &st);
        TD_OK(d, td_load_wait_ok(load, st.ok + 100, TD_TIMEOUT));
        td_load_stop(load, &st);
        TD_OK(d, td_barrier(d, TD_TIMEOUT));
        TD_ASSERT_MSG(d, !td_log_contains(d, "crashed before serving") && !td_log_contains(d, "quick crash"),
                      "a death after serving was counted as a crash");
        TD_ASSERT_MSG(d, td_log_count(d, "; exited after serving, replacing it at once") == KILLS, "%zu of %d",
                      td_log_count(d, "; exited after serving, replacing it at once"), KILLS);
        fprintf(stderr, "%lu connections served, %lu failed with %d kills\n", st.ok, st.failed, KILLS);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("chaos");

        TD_ADD_TEST(s, test_kill_workers_that_served);
        return td_run_suite(s);
}
