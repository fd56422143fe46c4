/* SPDX-License-Identifier: MIT */
#include <check.h>

#include "testlib.h"
#include <stdlib.h>

#include "respawn.h"

static const RespawnConfig rc = {
        .min_uptime_usec = 1000000,
        .backoff_initial_usec = 100000,
        .backoff_max_usec = 30000000,
};

START_TEST(test_delay_doubles_and_caps) {
        ck_assert_uint_eq(respawn_delay_usec(&rc, 0), 0);
        ck_assert_uint_eq(respawn_delay_usec(&rc, 1), 100000);
        ck_assert_uint_eq(respawn_delay_usec(&rc, 2), 200000);
        ck_assert_uint_eq(respawn_delay_usec(&rc, 3), 400000);
        ck_assert_uint_eq(respawn_delay_usec(&rc, 9), 25600000);
        ck_assert_uint_eq(respawn_delay_usec(&rc, 10), 30000000);
        ck_assert_uint_eq(respawn_delay_usec(&rc, 1000), 30000000);
        ck_assert_uint_eq(respawn_delay_usec(&rc, UINT32_MAX), 30000000);
}
END_TEST

START_TEST(test_delay_huge_values_do_not_overflow) {
        RespawnConfig big = { .min_uptime_usec = 1, .backoff_initial_usec = UINT64_MAX / 3,
                              .backoff_max_usec = UINT64_MAX };
        ck_assert_uint_eq(respawn_delay_usec(&big, 1), UINT64_MAX / 3);
        ck_assert_uint_ge(respawn_delay_usec(&big, 5), UINT64_MAX / 3);
}
END_TEST

START_TEST(test_crash_classification) {
        WorkerExit quick_fail = { .uptime_usec = 5000, .clean = false, .connections = 0 };
        WorkerExit quick_clean_idle = { .uptime_usec = 5000, .clean = true, .connections = 0 };
        WorkerExit recycle = { .uptime_usec = 5000, .clean = true, .connections = 10 };
        WorkerExit quick_crash_after_work = { .uptime_usec = 5000, .clean = false, .connections = 3 };
        WorkerExit long_run = { .uptime_usec = 5000000, .clean = false, .connections = 0 };
        WorkerExit exactly_min = { .uptime_usec = 1000000, .clean = false, .connections = 0 };

        ck_assert(respawn_is_crash(&rc, &quick_fail));
        ck_assert(respawn_is_crash(&rc, &quick_clean_idle));
        ck_assert(!respawn_is_crash(&rc, &recycle));
        ck_assert(respawn_is_crash(&rc, &quick_crash_after_work));
        ck_assert(!respawn_is_crash(&rc, &long_run));
        ck_assert(!respawn_is_crash(&rc, &exactly_min));
}
END_TEST

START_TEST(test_counter_resets_after_stable_run) {
        WorkerExit quick = { .uptime_usec = 10, .clean = false };
        WorkerExit stable = { .uptime_usec = 2000000, .clean = false };
        unsigned crashes = 0;

        ck_assert_uint_eq(respawn_after_exit(&rc, &quick, &crashes), 100000);
        ck_assert_uint_eq(respawn_after_exit(&rc, &quick, &crashes), 200000);
        ck_assert_uint_eq(respawn_after_exit(&rc, &quick, &crashes), 400000);
        ck_assert_uint_eq(crashes, 3);
        ck_assert_uint_eq(respawn_after_exit(&rc, &stable, &crashes), 0);
        ck_assert_uint_eq(crashes, 0);
        ck_assert_uint_eq(respawn_after_exit(&rc, &quick, &crashes), 100000);
}
END_TEST

/* Defect 5: with min_uptime = 0 a worker that dies before it ever reported
 * ready must still count as a crash and back off, or a failing init
 * respawns in a tight loop. */
START_TEST(test_never_ready_is_always_a_crash) {
        RespawnConfig zero = { .min_uptime_usec = 0, .backoff_initial_usec = 100000, .backoff_max_usec = 30000000 };
        WorkerExit init_failed = { .uptime_usec = 0, .clean = false, .never_ready = true };
        WorkerExit clean_but_never_ready = { .uptime_usec = 5000000, .clean = true, .connections = 0, .never_ready = true };
        WorkerExit ready_then_died = { .uptime_usec = 0, .clean = false };
        unsigned crashes = 0;

        ck_assert(respawn_is_crash(&zero, &init_failed));
        ck_assert(respawn_is_crash(&rc, &clean_but_never_ready));
        ck_assert(!respawn_is_planned(&clean_but_never_ready));
        ck_assert(!respawn_is_crash(&zero, &ready_then_died));
        ck_assert_uint_eq(respawn_after_exit(&zero, &init_failed, &crashes), 100000);
        ck_assert_uint_eq(respawn_after_exit(&zero, &init_failed, &crashes), 200000);
        ck_assert_uint_eq(crashes, 2);
}
END_TEST

int main(void) {
        Suite *s = suite_create("respawn");
        TCase *tc = tcase_create("policy");

        tcase_add_test(tc, test_delay_doubles_and_caps);
        tcase_add_test(tc, test_delay_huge_values_do_not_overflow);
        tcase_add_test(tc, test_crash_classification);
        tcase_add_test(tc, test_counter_resets_after_stable_run);
        tcase_add_test(tc, test_never_ready_is_always_a_crash);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
