/* SPDX-License-Identifier: MIT */
/* Rolling reloads with the fake spawner and clock of supervisor-fake.c:
 * batches gated on readiness, the old workers of a slot retiring only once
 * the new one accepts, and the rollback of a reload whose batch fails:
 * the slots taken over start old workers again while the new workers
 * there cover for them, so that the pool never has fewer than
 * W - batch workers accepting (here: never fewer than W). */
#include <check.h>

#include "testlib.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "supervisor-fake.h"

#define ROLL(name, workers, batch) \
        SVC_E(name, workers, "reload = { strategy = \"rolling\"; batch = " batch "; ready_timeout = 5; };")

/* The workers of service that accept connections now: ready ones of the
 * serving and the new generation, and the new workers covering for a
 * rolled-back slot. */
static unsigned accepting(const char *name) {
        unsigned n = 0;

        for (Generation *g = fake.sup->current; g; g = g == fake.sup->current ? fake.sup->pending : NULL) {
                Pool *p = generation_find_pool(g, name);

                for (unsigned i = 0; p && i < p->n_slots; i++)
                        n += p->slots[i].state == SLOT_RUNNING;
        }
        for (Generation *g = fake.sup->retiring; g; g = g->next) {
                Pool *p = generation_find_pool(g, name);

                for (unsigned i = 0; p && i < p->n_slots; i++)
                        n += p->slots[i].cover_until_usec > 0 && slot_has_process(&p->slots[i]);
        }
        return n;
}

#define ASSERT_ACCEPTING(name, min) \
        ck_assert_msg(accepting(name) >= (min), "only %u workers of %s accept", accepting(name), name)

static void start_four_ready(void) {
        start(CONF("2", SVC("echo", 4)));
        ready(101);
        ready(102);
        ready(103);
        ready(104);
        EXPECT("spawn g1 echo[0] = 101", "spawn g1 echo[1] = 102", "spawn g1 echo[2] = 103", "spawn g1 echo[3] = 104",
               "event STARTED");
        advance(SEC(5));
}

/* The first batch of a rolling reload: slots 0 and 1 of generation 2 are
 * ready, their old workers 101 and 102 told to leave, slots 2 and 3
 * started (107, 108). */
static void roll_first_batch(void) {
        start_four_ready();
        ck_assert_int_eq(reload(CONF("2", ROLL("echo", 4, "2"))), 0);
        EXPECT("spawn g2 echo[0] = 105", "spawn g2 echo[1] = 106");
        ASSERT_STATE(SUPERVISOR_RELOADING);
        ck_assert_str_eq(status(), "echo 4/4 up, 0 conns, 0 restarts, rolling reload: 0/4 replaced");
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), fake.now + SEC(5));
        ready(105);
        EXPECT_NONE();
        ASSERT_ACCEPTING("echo", 4);
        ready(106);
        EXPECT("kill 101 TERM", "kill 102 TERM", "spawn g2 echo[2] = 107", "spawn g2 echo[3] = 108");
        ASSERT_ACCEPTING("echo", 4);
        ASSERT_SLOT(1, "echo", 0, SLOT_RETIRING, 101);
        ASSERT_SLOT(1, "echo", 2, SLOT_RUNNING, 103);
        ck_assert_str_eq(status(), "echo 4/4 up, 0 conns, 0 restarts, rolling reload: 2/4 replaced");
}

/* Batch by batch, each one only once the one before is ready; applied
 * when the last is. */
START_TEST(test_rolling_batches) {
        roll_first_batch();
        quit(101, 0);
        quit(102, 0);
        EXPECT_NONE();
        ASSERT_SLOT(1, "echo", 0, SLOT_DEAD, 0);
        ASSERT_ACCEPTING("echo", 4);
        ready(107);
        EXPECT_NONE();
        ready(108);
        EXPECT("kill 103 TERM", "kill 104 TERM", "event RELOAD_APPLIED");
        ASSERT_STATE(SUPERVISOR_RUNNING);
        ck_assert_uint_eq(fake.sup->current->number, 2);
        ck_assert_str_eq(status(), "echo 4/4 up, 0 conns, 0 restarts");
        quit(103, 0);
        quit(104, 0);
        ck_assert_ptr_null(gen(1));
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);
}
END_TEST

/* A new worker of the second batch dies before it is ready: rolled back.
 * Slot 0's old worker has left, slot 1's is still finishing its
 * connection: slot 0 starts an old worker at once, slot 1 when its old
 * worker exits; the new workers 105 and 106 serve until then, the rest of
 * generation 2 leaves at once. */
START_TEST(test_rolling_rollback) {
        roll_first_batch();
        quit(101, 0);
        EXPECT_NONE();
        advance(MS(10));
        crash(107);
        EXPECT("spawn g1 echo[0] = 109", "kill 108 TERM",
               "event RELOAD_ROLLED_BACK: a new worker of service echo (slot 2) killed by signal SEGV before accepting");
        ASSERT_STATE(SUPERVISOR_RUNNING);
        ck_assert_ptr_null(fake.sup->pending);
        ASSERT_SLOT(2, "echo", 0, SLOT_RETIRING, 105);
        ASSERT_SLOT(2, "echo", 1, SLOT_RETIRING, 106);
        ASSERT_SLOT(1, "echo", 1, SLOT_RETIRING, 102);
        ASSERT_ACCEPTING("echo", 4);
        /* the covering workers count as up */
        ck_assert_str_eq(status(), "echo 4/4 up, 0 conns, 1 restart (1 before serving)");

        ready(109);
        EXPECT("kill 105 TERM");
        ASSERT_ACCEPTING("echo", 4);
        quit(102, 0);
        EXPECT("spawn g1 echo[1] = 110");
        ASSERT_ACCEPTING("echo", 4);
        ready(110);
        EXPECT("kill 106 TERM");
        ck_assert_str_eq(status(), "echo 4/4 up, 0 conns, 1 restart (1 before serving)");
        quit(105, 0);
        quit(106, 0);
        quit(108, 0);
        ck_assert_ptr_null(gen(2));
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);

        /* the next reload works */
        ck_assert_int_eq(reload(CONF("2", SVC("echo", 1))), 0);
        ready(111);
        EXPECT("spawn g3 echo[0] = 111", "kill 109 TERM", "kill 110 TERM", "kill 103 TERM", "kill 104 TERM",
               "event RELOAD_APPLIED");
}
END_TEST

/* A failure in the first batch replaced nothing: refused, not rolled
 * back. */
START_TEST(test_rolling_first_batch_refused) {
        start_four_ready();
        ck_assert_int_eq(reload(CONF("2", ROLL("echo", 4, "2"))), 0);
        ready(105);
        quit(106, 78);
        EXPECT("spawn g2 echo[0] = 105", "spawn g2 echo[1] = 106", "kill 105 TERM",
               "event RELOAD_REFUSED: a new worker of service echo (slot 1) exited with status 78 before accepting");
        ASSERT_ACCEPTING("echo", 4);
        ASSERT_SLOT(1, "echo", 0, SLOT_RUNNING, 101);
}
END_TEST

/* The second batch is not ready within ready_timeout: rolled back exactly
 * then. The old workers of the taken-over slots have not left yet; each
 * comes back when it exits, and a covering worker whose slot does not
 * come back within ready_timeout is told to leave all the same. */
START_TEST(test_rolling_timeout_rolls_back) {
        uint64_t t;

        roll_first_batch();
        t = fake.now;
        ready(107);
        advance(SEC(5) - 1);
        EXPECT_NONE();
        advance(1);
        EXPECT("kill 107 TERM", "kill 108 TERM",
               "event RELOAD_ROLLED_BACK: the new worker of service echo in slot 3 did not reach its accept loop "
               "within 5s");
        ASSERT_ACCEPTING("echo", 2);
        quit(101, 0);
        EXPECT("spawn g1 echo[0] = 109");
        ready(109);
        EXPECT("kill 105 TERM");
        /* slot 1's old worker never leaves: the cover ends at its deadline */
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), t + SEC(10));
        advance_to(t + SEC(10));
        EXPECT("kill 106 TERM");
        quit(105, 0);
        quit(106, 0);
        quit(107, 0);
        quit(108, 0);
        ck_assert_ptr_null(gen(2));
}
END_TEST

/* "25%" of 8 is 2 per batch; a service with strategy "all" in the same
 * reload starts at once, and the reload is applied when both are done. */
START_TEST(test_rolling_percent_with_all) {
        start(CONF("2", SVC("web", 1) ", " SVC("echo", 8)));
        for (pid_t p = 101; p <= 109; p++)
                ready(p);
        fake.n_log = 0;
        fake.log[0] = 0;
        ck_assert_int_eq(reload(CONF("2", SVC("web", 2) ", " SVC_E("echo", 8, "reload = { strategy = \"rolling\"; "
                                                                              "batch = \"25%\"; };"))),
                         0);
        EXPECT("spawn g2 web[0] = 110", "spawn g2 web[1] = 111", "spawn g2 echo[0] = 112", "spawn g2 echo[1] = 113");
        ready(110);
        ready(111);
        EXPECT_NONE();
        for (unsigned batch = 0; batch < 3; batch++) {
                pid_t p = (pid_t) (112 + 2 * batch);
                char k0[32], k1[32], s0[32], s1[32];

                ready(p);
                ready(p + 1);
                (void) snprintf(k0, sizeof k0, "kill %d TERM", (int) (102 + 2 * batch));
                (void) snprintf(k1, sizeof k1, "kill %d TERM", (int) (103 + 2 * batch));
                (void) snprintf(s0, sizeof s0, "spawn g2 echo[%u] = %d", 2 * batch + 2, (int) (p + 2));
                (void) snprintf(s1, sizeof s1, "spawn g2 echo[%u] = %d", 2 * batch + 3, (int) (p + 3));
                EXPECT(k0, k1, s0, s1);
                ASSERT_ACCEPTING("echo", 8);
        }
        ready(118);
        ready(119);
        EXPECT("kill 108 TERM", "kill 109 TERM", "kill 101 TERM", "event RELOAD_APPLIED");
}
END_TEST

/* A stop during a rollback's cover: the covering workers leave with the
 * rest. */
START_TEST(test_stop_ends_cover) {
        roll_first_batch();
        crash(107);
        EXPECT("kill 108 TERM", "event RELOAD_ROLLED_BACK: a new worker of service echo (slot 2) killed by signal "
                                "SEGV before accepting");
        stop(false);
        EXPECT("kill 105 TERM", "kill 106 TERM", "kill 103 TERM", "kill 104 TERM");
        quit(101, 0);
        quit(102, 0);
        EXPECT_NONE();
        ASSERT_STATE(SUPERVISOR_STOPPING);
}
END_TEST

int main(void) {
        Suite *s = suite_create("supervisor-rolling");

        SUPERVISOR_ADD_TEST(s, test_rolling_batches);
        SUPERVISOR_ADD_TEST(s, test_rolling_rollback);
        SUPERVISOR_ADD_TEST(s, test_rolling_first_batch_refused);
        SUPERVISOR_ADD_TEST(s, test_rolling_timeout_rolls_back);
        SUPERVISOR_ADD_TEST(s, test_rolling_percent_with_all);
        SUPERVISOR_ADD_TEST(s, test_stop_ends_cover);
        return td_run_suite(s);
}
