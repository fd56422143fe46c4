/* SPDX-License-Identifier: MIT */
/* hunch.c: when a caller tries before it waits. */
#include <stdlib.h>

#include "hunch.h"
#include "testlib.h"

/* How many of the next n calls say "try first". */
static unsigned tries_in(Hunch *h, unsigned n) {
        unsigned k = 0;
        for (unsigned i = 0; i < n; i++)
                k += hunch_try_first(h);
        return k;
}

START_TEST(test_fresh_tries_first) {
        Hunch h = { 0 };
        ck_assert_uint_eq(tries_in(&h, 100), 100);
}
END_TEST

/* One miss makes the score negative: from then on the caller waits first,
 * except for one probe every HUNCH_PROBE calls. */
START_TEST(test_misses_turn_to_waiting_with_probes) {
        Hunch h = { 0 };
        hunch_learn(&h, false);
        ck_assert_uint_eq(tries_in(&h, HUNCH_PROBE - 1), 0);
        ck_assert(hunch_try_first(&h));
        ck_assert_uint_eq(tries_in(&h, 10 * HUNCH_PROBE), 10);
}
END_TEST

/* The score is bounded both ways: after any number of misses, as many
 * hits as the bound plus one bring trying first back, and no sooner. */
START_TEST(test_bounded_both_ways) {
        Hunch h = { 0 };
        for (int i = 0; i < 1000; i++)
                hunch_learn(&h, false);
        for (int i = 0; i < HUNCH_MAX - 1; i++)
                hunch_learn(&h, true);
        ck_assert_int_lt(h.score, 0);
        hunch_learn(&h, true);
        ck_assert_int_eq(h.score, 0);
        ck_assert(hunch_try_first(&h));

        for (int i = 0; i < 1000; i++)
                hunch_learn(&h, true);
        ck_assert_int_eq(h.score, HUNCH_MAX);
        for (int i = 0; i < HUNCH_MAX; i++)
                hunch_learn(&h, false);
        ck_assert(hunch_try_first(&h));
        hunch_learn(&h, false);
        ck_assert_int_eq(h.score, -1);
}
END_TEST

int main(void) {
        Suite *s = suite_create("hunch");

        TD_ADD_TEST(s, test_fresh_tries_first);
        TD_ADD_TEST(s, test_misses_turn_to_waiting_with_probes);
        TD_ADD_TEST(s, test_bounded_both_ways);
        return td_run_suite(s);
}
