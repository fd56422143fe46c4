/* SPDX-License-Identifier: MIT */
/* supervisor-scale.c driven by the fake spawner and clock of
 * supervisor-fake.h, as in test-supervisor.c. */
#include <check.h>
#include <signal.h>

#include "supervisor-fake.h"
#include "supervisor-scale.h"
#include "testlib.h"

/* web with 2 workers and echo with 1, all ready. */
static void start_ready(void) {
        start("services = ( " SVC("web", 2) ", " SVC("echo", 1) " );\n");
        ready(101);
        ready(102);
        ready(103);
        EXPECT("spawn g1 web[0] = 101", "spawn g1 web[1] = 102", "spawn g1 echo[0] = 103", "event STARTED");
}

START_TEST(test_scale_up_starts_workers) {
        start_ready();
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 4, fake.now), 0);
        EXPECT("spawn g1 web[2] = 104", "spawn g1 web[3] = 105");
        ck_assert_uint_eq(pool(1, "web")->size, 4);
        ck_assert_uint_eq(pool(1, "web")->n_slots, 4);
        ASSERT_SLOT(1, "web", 2, SLOT_STARTING, 104);
        ready(104);
        ready(105);
        ASSERT_SLOT(1, "web", 3, SLOT_RUNNING, 105);
        ck_assert_str_eq(status(), "web 4/4 up, 0 conns, 0 restarts; echo 1/1 up, 0 conns, 0 restarts");

        /* The same size again changes nothing. */
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 4, fake.now), 0);
        EXPECT_NONE();
        /* A new slot is supervised like the others: a crash is respawned. */
        advance(SEC(5));
        crash(105);
        EXPECT("spawn g1 web[3] = 106");
}
END_TEST

START_TEST(test_scale_down_retires_the_highest_slots) {
        start_ready();
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 4, fake.now), 0);
        ready(104);
        ready(105);
        EXPECT("spawn g1 web[2] = 104", "spawn g1 web[3] = 105");

        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 1, fake.now), 0);
        EXPECT("kill 102 TERM", "kill 104 TERM", "kill 105 TERM");
        ck_assert_uint_eq(pool(1, "web")->size, 1);
        ck_assert_uint_eq(pool(1, "web")->service->kills[KILL_REASON_SCALE], 3);
        ASSERT_SLOT(1, "web", 1, SLOT_RETIRING, 102);
        ck_assert_str_eq(status(), "web 1/1 up, 0 conns, 0 restarts; echo 1/1 up, 0 conns, 0 restarts");

        /* Each leaves when done; nothing is respawned, no restart counted,
         * and the slots go once their worker has: the highest first. */
        quit(104, 0);
        EXPECT_NONE();
        ck_assert_uint_eq(pool(1, "web")->n_slots, 4);
        quit(105, 0);
        ck_assert_uint_eq(pool(1, "web")->n_slots, 2);
        quit(102, 0);
        EXPECT_NONE();
        ck_assert_uint_eq(pool(1, "web")->n_slots, 1);
        ck_assert_uint_eq(pool(1, "web")->service->restarts, 0);
        ASSERT_SLOT(1, "web", 0, SLOT_RUNNING, 101);
        ck_assert_uint_eq(supervisor_live_workers(fake.sup), 2);
}
END_TEST

/* Grown back over a slot whose worker is still leaving: the slot gets a
 * new worker once the old one has gone, not two at once. */
START_TEST(test_scale_up_over_a_leaving_slot) {
        start_ready();
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 1, fake.now), 0);
        EXPECT("kill 102 TERM");
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 3, fake.now), 0);
        EXPECT("spawn g1 web[2] = 104");
        ASSERT_SLOT(1, "web", 1, SLOT_RETIRING, 102);
        quit(102, 0);
        EXPECT("spawn g1 web[1] = 105");
        ASSERT_SLOT(1, "web", 1, SLOT_STARTING, 105);
        ck_assert_uint_eq(pool(1, "web")->n_slots, 3);
}
END_TEST

/* A slot backing off above the new size just ends. */
START_TEST(test_scale_down_ends_a_backoff) {
        start_ready();
        crash(102);
        EXPECT_NONE();
        ASSERT_SLOT(1, "web", 1, SLOT_BACKOFF, 0);
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 1, fake.now), 0);
        EXPECT_NONE();
        ck_assert_uint_eq(pool(1, "web")->n_slots, 1);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);
}
END_TEST

START_TEST(test_scale_refused) {
        /* Not while starting. */
        start("services = ( " SVC("web", 2) " );\n");
        EXPECT("spawn g1 web[0] = 101", "spawn g1 web[1] = 102");
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 3, fake.now), -EBUSY);
        ready(101);
        ready(102);
        EXPECT("event STARTED");

        ck_assert_int_eq(supervisor_scale(fake.sup, "nope", 3, fake.now), -ENOENT);
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 0, fake.now), -ERANGE);
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", WORKERS_MAX + 1, fake.now), -ERANGE);
        EXPECT_NONE();

        /* Not during a reload. */
        ck_assert_int_eq(reload("services = ( " SVC("web", 2) " );\n"), 0);
        EXPECT("spawn g2 web[0] = 103", "spawn g2 web[1] = 104");
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 3, fake.now), -EBUSY);
        ck_assert_int_eq(supervisor_scale_all(fake.sup, 1, fake.now), -EBUSY);
        EXPECT_NONE();
}
END_TEST

/* A reload's generation has the file's size again. */
START_TEST(test_reload_resets_the_size) {
        start_ready();
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 3, fake.now), 0);
        ready(104);
        EXPECT("spawn g1 web[2] = 104");
        ck_assert_int_eq(reload("services = ( " SVC("web", 2) ", " SVC("echo", 1) " );\n"), 0);
        ready(105);
        ready(106);
        ready(107);
        EXPECT("spawn g2 web[0] = 105", "spawn g2 web[1] = 106", "spawn g2 echo[0] = 107", "kill 101 TERM",
               "kill 102 TERM", "kill 104 TERM", "kill 103 TERM", "event RELOAD_APPLIED");
        ck_assert_uint_eq(pool(2, "web")->size, 2);
        ck_assert_uint_eq(pool(2, "web")->n_slots, 2);
}
END_TEST

/* SIGTTIN and SIGTTOU: every pool one larger or smaller, never below 1. */
START_TEST(test_scale_all) {
        start_ready();
        ck_assert_int_eq(supervisor_scale_all(fake.sup, 1, fake.now), 0);
        EXPECT("spawn g1 web[2] = 104", "spawn g1 echo[1] = 105");
        ready(104);
        ready(105);
        ck_assert_int_eq(supervisor_scale_all(fake.sup, -1, fake.now), 0);
        EXPECT("kill 104 TERM", "kill 105 TERM");
        ck_assert_int_eq(supervisor_scale_all(fake.sup, -1, fake.now), 0);
        /* echo is at 1: it keeps its worker. */
        EXPECT("kill 102 TERM");
        ck_assert_uint_eq(pool(1, "web")->size, 1);
        ck_assert_uint_eq(pool(1, "echo")->size, 1);
        ck_assert_int_eq(supervisor_scale_all(fake.sup, -1, fake.now), 0);
        EXPECT_NONE();
        ck_assert_uint_eq(pool(1, "echo")->size, 1);
        ck_assert_uint_eq(pool(1, "web")->size, 1);
}
END_TEST

/* During a stop nothing is started, even below the size. */
START_TEST(test_scale_stop) {
        start_ready();
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 1, fake.now), 0);
        EXPECT("kill 102 TERM");
        stop(false);
        EXPECT("kill 101 TERM", "kill 103 TERM");
        quit(101, 0);
        quit(102, 0);
        quit(103, 0);
        EXPECT("event STOPPED");
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 2, fake.now), -EBUSY);
}
END_TEST

int main(void) {
        Suite *s = suite_create("supervisor-scale");

        SUPERVISOR_ADD_TEST(s, test_scale_up_starts_workers);
        SUPERVISOR_ADD_TEST(s, test_scale_down_retires_the_highest_slots);
        SUPERVISOR_ADD_TEST(s, test_scale_up_over_a_leaving_slot);
        SUPERVISOR_ADD_TEST(s, test_scale_down_ends_a_backoff);
        SUPERVISOR_ADD_TEST(s, test_scale_refused);
        SUPERVISOR_ADD_TEST(s, test_reload_resets_the_size);
        SUPERVISOR_ADD_TEST(s, test_scale_all);
        SUPERVISOR_ADD_TEST(s, test_scale_stop);
        return td_run_suite(s);
}
