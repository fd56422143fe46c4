/* SPDX-License-Identifier: MIT */
/* The agent check's line (src/core/agent.c): what HAProxy reads. */
#include <check.h>
#include <string.h>

#include "testlib.h"
#include "agent.h"

static void assert_reply(bool stopping, bool drained, unsigned idle, unsigned pool, const char *want) {
        char buf[64];
        size_t n = agent_format_reply(stopping, drained, idle, pool, buf, sizeof buf);

        ck_assert_str_eq(buf, want);
        ck_assert_uint_eq(n, strlen(want));
}

START_TEST(test_up) {
        assert_reply(false, false, 4, 4, "up ready 100%\n");
        assert_reply(false, false, 2, 4, "up ready 50%\n");
        assert_reply(false, false, 1, 3, "up ready 33%\n");
        assert_reply(false, false, 1, 4096, "up ready 1%\n");
        /* Never 0%, which HAProxy takes for "drain". */
        assert_reply(false, false, 0, 4, "up ready 1%\n");
        /* Idle counts from two generations cannot exceed the pool. */
        assert_reply(false, false, 9, 4, "up ready 100%\n");
}
END_TEST

START_TEST(test_drain_and_down) {
        assert_reply(false, true, 4, 4, "drain\n");
        assert_reply(true, false, 4, 4, "down\n");
        assert_reply(true, true, 4, 4, "down\n");
        /* No pool serving yet. */
        assert_reply(false, false, 0, 0, "down\n");
}
END_TEST

START_TEST(test_small_buffer) {
        char buf[4];
        size_t n = agent_format_reply(false, false, 4, 4, buf, sizeof buf);

        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(buf, "up ");
}
END_TEST

int main(void) {
        Suite *s = suite_create("agent");
        TCase *tc = tcase_create("agent");

        tcase_add_test(tc, test_up);
        tcase_add_test(tc, test_drain_and_down);
        tcase_add_test(tc, test_small_buffer);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
