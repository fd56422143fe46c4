/* SPDX-License-Identifier: MIT */
#include <check.h>

#include "testlib.h"
#include <stdlib.h>

#include "respawn.h"

static const RespawnConfig rc = {
        .min_uptime_usec = 1000000,
        .backoff_initial_usec = 100000,
        .backoff_max_usec = 30000000,
        .burst = 10,
        .interval_usec = 10000000,
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

/* A crash is a death before serving, and within min_uptime or before
 * ready; a death after serving never is, whatever the uptime, and neither
 * is one the master caused (a kill reason). */
START_TEST(test_crash_classification) {
        WorkerExit quick_fail = { .uptime_usec = 5000, .clean = false, .connections = 0 };
        WorkerExit quick_clean_idle = { .uptime_usec = 5000, .clean = true, .connections = 0 };
        WorkerExit recycle = { .uptime_usec = 5000, .clean = true, .connections = 10, .served = true };
        WorkerExit quick_death_after_work = { .uptime_usec = 5000, .clean = false, .connections = 3, .served = true };
        WorkerExit long_run = { .uptime_usec = 5000000, .clean = false, .connections = 0 };
        WorkerExit exactly_min = { .uptime_usec = 1000000, .clean = false, .connections = 0 };
        WorkerExit hung = { .uptime_usec = 5000, .clean = false, .killed = true };
        WorkerExit memory_idle = { .uptime_usec = 5000, .clean = true, .killed = true };

        ck_assert(respawn_is_crash(&rc, &quick_fail));
        ck_assert(respawn_is_crash(&rc, &quick_clean_idle));
        ck_assert(!respawn_is_crash(&rc, &recycle));
        ck_assert(respawn_is_planned(&recycle));
        ck_assert(!respawn_is_crash(&rc, &quick_death_after_work));
        ck_assert(!respawn_is_planned(&quick_death_after_work));
        ck_assert(!respawn_is_crash(&rc, &long_run));
        ck_assert(!respawn_is_crash(&rc, &exactly_min));
        ck_assert(!respawn_is_crash(&rc, &hung));
        ck_assert(!respawn_is_planned(&hung));
        ck_assert(!respawn_is_crash(&rc, &memory_idle));
        ck_assert(respawn_is_planned(&memory_idle));
}
END_TEST

/* The crash budget: burst crashes within interval are replaced at once;
 * the next one backs off, from backoff_initial and doubling while the
 * budget stays spent; the window slides, so the budget comes back once
 * interval has passed since the crashes it counted. */
START_TEST(test_crash_budget_window) {
        CrashBudget b = { .n = 0 };
        uint64_t t = 5000000000;

        ck_assert_uint_eq(crash_budget_count(&b, 3, 1000, t), 0);
        ck_assert(crash_budget_spend(&b, 3, 1000, t));
        ck_assert(crash_budget_spend(&b, 3, 1000, t + 100));
        ck_assert(crash_budget_spend(&b, 3, 1000, t + 200));
        ck_assert_uint_eq(crash_budget_count(&b, 3, 1000, t + 200), 3);
        /* spent; it still counts, so a loop keeps it spent */
        ck_assert(!crash_budget_spend(&b, 3, 1000, t + 300));
        ck_assert(!crash_budget_spend(&b, 3, 1000, t + 999));
        /* t + 1000: the crash at t has left the window, but the last three
         * (t + 200, t + 300, t + 999) are in it */
        ck_assert(!crash_budget_spend(&b, 3, 1000, t + 1000));
        /* t + 1300: only t + 999 and t + 1000 are left */
        ck_assert_uint_eq(crash_budget_count(&b, 3, 1000, t + 1300), 2);
        ck_assert(crash_budget_spend(&b, 3, 1000, t + 1300));
        ck_assert(!crash_budget_spend(&b, 3, 1000, t + 1301));
        /* burst 0 allows none */
        ck_assert(!crash_budget_spend(&b, 0, 1000, t + 100000));
        /* far later, a full budget again; a time before the last one (a
         * caller whose clock went back) counts as now */
        ck_assert(crash_budget_spend(&b, 3, 1000, t + 200000));
        ck_assert_uint_eq(crash_budget_count(&b, 3, 1000, t + 199000), 1);
}
END_TEST

/* The largest burst: the ring holds exactly that many. */
START_TEST(test_crash_budget_max_burst) {
        static CrashBudget b;

        for (unsigned i = 0; i < CRASH_BUDGET_BURST_MAX; i++)
                ck_assert(crash_budget_spend(&b, CRASH_BUDGET_BURST_MAX, 1000000, 1000 + i));
        ck_assert(!crash_budget_spend(&b, CRASH_BUDGET_BURST_MAX, 1000000, 2000));
        ck_assert_uint_eq(crash_budget_count(&b, CRASH_BUDGET_BURST_MAX, 1000000, 2000), CRASH_BUDGET_BURST_MAX);
        ck_assert(crash_budget_spend(&b, CRASH_BUDGET_BURST_MAX, 1000000, 1002000));
}
END_TEST

/* respawn_worker_exit(): the verdicts, the budget and the backoff step. */
START_TEST(test_worker_exit_verdicts) {
        RespawnConfig c = rc;
        CrashBudget b = { .n = 0 };
        WorkerExit crash = { .uptime_usec = 10, .clean = false, .never_ready = true };
        WorkerExit served = { .uptime_usec = 10, .clean = false, .connections = 1, .served = true };
        WorkerExit recycle = { .uptime_usec = 10, .clean = true, .connections = 1, .served = true };
        WorkerExit stable = { .uptime_usec = 2000000, .clean = false };
        unsigned crashes = 0;
        uint64_t delay = 1, t = 1000000000;

        c.burst = 2;
        ck_assert_int_eq(respawn_worker_exit(&c, &crash, &b, &crashes, t, &delay), RESPAWN_CRASH);
        ck_assert_uint_eq(delay, 0);
        ck_assert_int_eq(respawn_worker_exit(&c, &crash, &b, &crashes, t, &delay), RESPAWN_CRASH);
        ck_assert_uint_eq(crashes, 0);
        ck_assert_int_eq(respawn_worker_exit(&c, &crash, &b, &crashes, t, &delay), RESPAWN_BACKOFF);
        ck_assert_uint_eq(delay, 100000);
        ck_assert_int_eq(respawn_worker_exit(&c, &crash, &b, &crashes, t, &delay), RESPAWN_BACKOFF);
        ck_assert_uint_eq(delay, 200000);
        ck_assert_uint_eq(crashes, 2);
        /* deaths after serving never touch the budget, and end the backoff */
        for (unsigned i = 0; i < 100; i++) {
                ck_assert_int_eq(respawn_worker_exit(&c, &served, &b, &crashes, t, &delay), RESPAWN_AT_ONCE);
                ck_assert_uint_eq(delay, 0);
        }
        ck_assert_uint_eq(crashes, 0);
        ck_assert_uint_eq(crash_budget_count(&b, 2, c.interval_usec, t), 2);
        ck_assert_int_eq(respawn_worker_exit(&c, &recycle, &b, &crashes, t, &delay), RESPAWN_PLANNED);
        ck_assert_uint_eq(delay, 0);
        /* still spent: the backoff starts over from backoff_initial */
        ck_assert_int_eq(respawn_worker_exit(&c, &crash, &b, &crashes, t, &delay), RESPAWN_BACKOFF);
        ck_assert_uint_eq(delay, 100000);
        ck_assert_int_eq(respawn_worker_exit(&c, &stable, &b, &crashes, t, &delay), RESPAWN_AT_ONCE);
        ck_assert_uint_eq(crashes, 0);
        /* an interval later the budget is back */
        ck_assert_int_eq(respawn_worker_exit(&c, &crash, &b, &crashes, t + c.interval_usec, &delay), RESPAWN_CRASH);
        /* burst 0: the old policy, every crash backs off */
        c.burst = 0;
        crashes = 0;
        ck_assert_int_eq(respawn_worker_exit(&c, &crash, &b, &crashes, t + 3 * c.interval_usec, &delay),
                         RESPAWN_BACKOFF);
        ck_assert_uint_eq(delay, 100000);
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
        tcase_add_test(tc, test_crash_budget_window);
        tcase_add_test(tc, test_crash_budget_max_burst);
        tcase_add_test(tc, test_worker_exit_verdicts);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
