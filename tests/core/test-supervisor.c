/* SPDX-License-Identifier: MIT */
#include <check.h>

#include "testlib.h"
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor-fake.h"

/* IDLE -> STARTING -> RUNNING; DEAD -> STARTING -> RUNNING; the fds and
 * the service's scoreboard entries reach the slots. */
START_TEST(test_start_all_ready) {
        ASSERT_STATE(SUPERVISOR_IDLE);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);

        start(CONF("2", SVC("echo", 2) ", " SVC("web", 1)));
        EXPECT("spawn g1 echo[0] = 101", "spawn g1 echo[1] = 102", "spawn g1 web[0] = 103");
        ASSERT_STATE(SUPERVISOR_STARTING);
        ASSERT_SLOT(1, "echo", 0, SLOT_STARTING, 101);
        ASSERT_SLOT(1, "echo", 1, SLOT_STARTING, 102);
        ASSERT_SLOT(1, "web", 0, SLOT_STARTING, 103);
        ck_assert_uint_eq(supervisor_live_workers(fake.sup), 3);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);
        ck_assert_int_eq(slot(1, "echo", 0)->pool->listen_fds[0], 100);
        ck_assert_int_eq(slot(1, "web", 0)->pool->listen_fds[0], 110);
        ck_assert_uint_eq(slot(1, "echo", 1)->score->slot, 1);
        ck_assert_uint_eq(slot(1, "echo", 1)->score->generation, 1);
        ck_assert_uint_eq(slot(1, "echo", 1)->started_usec, T0);
        ck_assert_ptr_eq(supervisor_find_slot(fake.sup, 103), slot(1, "web", 0));
        ck_assert_ptr_null(supervisor_find_slot(fake.sup, 104));
        ck_assert_ptr_null(supervisor_find_slot(fake.sup, 0));

        advance(MS(10));
        ready(101);
        ready(103);
        EXPECT_NONE();
        ASSERT_SLOT(1, "echo", 0, SLOT_RUNNING, 101);
        ASSERT_STATE(SUPERVISOR_STARTING);
        ck_assert_str_eq(status(), "echo 1/2 up, 0 conns, 0 restarts; web 1/1 up, 0 conns, 0 restarts");

        ready(102);
        EXPECT("event STARTED");
        ASSERT_STATE(SUPERVISOR_RUNNING);
        ASSERT_SLOT(1, "echo", 1, SLOT_RUNNING, 102);
        ck_assert_str_eq(status(), "echo 2/2 up, 0 conns, 0 restarts; web 1/1 up, 0 conns, 0 restarts");
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);

        /* a second start is refused, and the config it was given freed */
        ck_assert_int_eq(start_or_reload(false, CONF("2", SVC("echo", 2))), -EBUSY);
        EXPECT_NONE();
}
END_TEST

/* STARTING -> BACKOFF before ready: the start is complete with a slot
 * backing off; BACKOFF -> STARTING exactly at the deadline. */
START_TEST(test_start_settles_with_a_slot_backing_off) {
        start(CONF("2", SVC("echo", 2)));
        ready(102);
        EXPECT("spawn g1 echo[0] = 101", "spawn g1 echo[1] = 102");

        advance(MS(10));
        crash(101);
        EXPECT("event STARTED");
        ASSERT_STATE(SUPERVISOR_RUNNING);
        ASSERT_BACKOFF(1, "echo", 0, 1, MS(100));
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), T0 + MS(110));
        ck_assert_str_eq(status(), "echo 1/2 up, 0 conns, 1 restart (1 before serving), slot 0 backing off 0.1s after 1 quick crash");

        advance_to(T0 + MS(110) - 1);
        EXPECT_NONE();
        ASSERT_SLOT(1, "echo", 0, SLOT_BACKOFF, 0);
        advance_to(T0 + MS(110));
        EXPECT("spawn g1 echo[0] = 103");
        ASSERT_SLOT(1, "echo", 0, SLOT_STARTING, 103);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);
        ready(103);
        EXPECT_NONE();
        ASSERT_SLOT(1, "echo", 0, SLOT_RUNNING, 103);
}
END_TEST

/* A failed spawn is a quick crash: BACKOFF with doubling delays, not a
 * loop; with every spawn failing the start is complete at once. */
START_TEST(test_spawn_failure_backs_off) {
        fake.fail_spawns = 2;
        start(CONF("2", SVC("echo", 2)));
        EXPECT("spawn g1 echo[0] failed", "spawn g1 echo[1] failed", "event STARTED");
        ASSERT_STATE(SUPERVISOR_RUNNING);
        ASSERT_BACKOFF(1, "echo", 0, 1, MS(100));
        ASSERT_BACKOFF(1, "echo", 1, 1, MS(100));
        ck_assert_uint_eq(supervisor_live_workers(fake.sup), 0);

        fake.fail_spawns = 1;
        advance_to(T0 + MS(100));
        EXPECT("spawn g1 echo[0] failed", "spawn g1 echo[1] = 101");
        ASSERT_BACKOFF(1, "echo", 0, 2, MS(200));
        ASSERT_SLOT(1, "echo", 1, SLOT_STARTING, 101);

        advance_to(T0 + MS(300) - 1);
        EXPECT_NONE();
        advance_to(T0 + MS(300));
        EXPECT("spawn g1 echo[0] = 102");
        ready(101);
        ready(102);
        EXPECT_NONE();
        /* failed spawns are no restarts: no worker exited */
        ck_assert_str_eq(status(), "echo 2/2 up, 0 conns, 0 restarts");

        /* RUNNING -> (stable exit, respawn fails) -> BACKOFF: the stable run
         * reset the count, so the delay starts over */
        advance(SEC(5));
        fake.fail_spawns = 1;
        crash(101);
        EXPECT("spawn g1 echo[1] failed");
        ASSERT_BACKOFF(1, "echo", 1, 1, MS(100));
        ck_assert_str_eq(status(), "echo 1/2 up, 0 conns, 1 restart, slot 1 backing off 0.1s after 1 quick crash");
        advance(MS(100));
        EXPECT("spawn g1 echo[1] = 103");
}
END_TEST

/* RUNNING -> STARTING: an exit after min_uptime (or exactly at it) is
 * respawned at once, whatever the exit status. */
START_TEST(test_respawn_after_stable_run) {
        start_two_ready(SEC(5));

        crash(101);
        EXPECT("spawn g1 echo[0] = 103");
        ASSERT_SLOT(1, "echo", 0, SLOT_STARTING, 103);
        ck_assert_uint_eq(slot(1, "echo", 0)->crashes, 0);
        ck_assert_uint_eq(slot(1, "echo", 0)->started_usec, fake.now);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);
        ASSERT_STATE(SUPERVISOR_RUNNING);
        ready(103);

        advance(SEC(1));
        quit(103, 3);
        EXPECT("spawn g1 echo[0] = 104");
        ready(104);

        /* an exit of a pid the supervisor does not know changes nothing */
        quit(999, 0);
        EXPECT_NONE();
        ck_assert_str_eq(status(), "echo 2/2 up, 0 conns, 2 restarts");
}
END_TEST

/* RUNNING/STARTING -> BACKOFF on quick crashes, the delay doubling from
 * backoff_initial and capped at backoff_max; BACKOFF -> STARTING exactly
 * at each deadline; a stable run resets the count. */
START_TEST(test_quick_crashes_back_off) {
        static const uint64_t delays[] = { MS(200), MS(400), MS(500), MS(500) };
        pid_t pid = 103;

        start_two_ready(MS(500));

        crash(101);
        EXPECT_NONE();
        ASSERT_BACKOFF(1, "echo", 0, 1, MS(100));
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), T0 + MS(600));
        advance_to(T0 + MS(600) - 1);
        EXPECT_NONE();
        advance_to(T0 + MS(600));
        EXPECT("spawn g1 echo[0] = 103");

        for (size_t i = 0; i < ELEMENTSOF(delays); i++) {
                uint64_t until;
                char line[64];

                advance(MS(10));
                crash(pid);
                EXPECT_NONE();
                ASSERT_BACKOFF(1, "echo", 0, i + 2, delays[i]);
                until = fake.now + delays[i];
                ck_assert_uint_eq(supervisor_next_deadline(fake.sup), until);
                advance_to(until - 1);
                EXPECT_NONE();
                advance_to(until);
                snprintf(line, sizeof line, "spawn g1 echo[0] = %d", (int) ++pid);
                EXPECT(line);
        }
        ck_assert_uint_eq(slot(1, "echo", 0)->crashes, 5);

        /* ready, then dead within min_uptime: RUNNING -> BACKOFF, still capped */
        ready(pid);
        advance(MS(999));
        quit(pid, 1);
        EXPECT_NONE();
        ASSERT_BACKOFF(1, "echo", 0, 6, MS(500));
        ck_assert_str_eq(status(), "echo 1/2 up, 0 conns, 6 restarts (6 before serving), slot 0 backing off 0.5s after 6 quick crashes");
        advance(MS(500));
        EXPECT("spawn g1 echo[0] = 108");

        /* a stable run resets the count: the next exit respawns at once */
        ready(108);
        advance(SEC(1));
        crash(108);
        EXPECT("spawn g1 echo[0] = 109");
        ck_assert_uint_eq(slot(1, "echo", 0)->crashes, 0);
        ck_assert_str_eq(status(), "echo 1/2 up, 0 conns, 7 restarts (6 before serving)");
}
END_TEST

/* Defect 5: with min_uptime = 0 an exit before ready is still a crash and
 * backs off (however long the worker took, and even a clean one), while an
 * exit after ready respawns at once. */
START_TEST(test_min_uptime_zero_never_ready_backs_off) {
        start(CONF("2", SVC_R("echo", 1, "0")));
        EXPECT("spawn g1 echo[0] = 101");

        advance(SEC(5));
        quit(101, 1);
        EXPECT("event STARTED");
        ASSERT_BACKOFF(1, "echo", 0, 1, MS(100));

        advance(MS(100));
        EXPECT("spawn g1 echo[0] = 102");
        quit(102, 0);
        EXPECT_NONE();
        ASSERT_BACKOFF(1, "echo", 0, 2, MS(200));

        advance(MS(200));
        EXPECT("spawn g1 echo[0] = 103");
        ready(103);
        crash(103);
        EXPECT("spawn g1 echo[0] = 104");
        ck_assert_uint_eq(slot(1, "echo", 0)->crashes, 0);
        ck_assert_str_eq(status(), "echo 0/1 up, 0 conns, 3 restarts (2 before serving)");
}
END_TEST

/* Restarts count unplanned exits only: a clean exit after serving (a
 * recycle) respawns at once even within min_uptime and is no restart; a
 * clean exit with no connection is, and a crash. A worker that dies
 * after serving is no crash, whatever its uptime: it is replaced at once
 * and counted as a restart, not as a crash before serving. Connections
 * of exited workers stay counted. */
START_TEST(test_planned_recycle_is_no_restart) {
        start_two_ready(MS(100));

        slot(1, "echo", 0)->score->connections = 5;
        slot(1, "echo", 1)->score->connections = 2;
        ck_assert_str_eq(status(), "echo 2/2 up, 7 conns, 0 restarts");
        quit(101, 0);
        EXPECT("spawn g1 echo[0] = 103");
        ck_assert_uint_eq(slot(1, "echo", 0)->crashes, 0);
        ck_assert_uint_eq(slot(1, "echo", 0)->score->connections, 0);
        ck_assert_str_eq(status(), "echo 1/2 up, 7 conns, 0 restarts");

        /* clean but idle within min_uptime: a crash */
        ready(103);
        quit(103, 0);
        EXPECT_NONE();
        ASSERT_BACKOFF(1, "echo", 0, 1, MS(100));
        /* dirty after serving: replaced at once, no crash */
        crash(102);
        EXPECT("spawn g1 echo[1] = 104");
        ck_assert_uint_eq(slot(1, "echo", 1)->crashes, 0);
        ck_assert_str_eq(status(), "echo 0/2 up, 7 conns, 2 restarts (1 before serving), slot 0 backing off 0.1s "
                                   "after 1 quick crash");
        ck_assert_uint_eq(service("echo")->connections_done, 7);
        ck_assert_uint_eq(service("echo")->restarts, 2);
        ck_assert_uint_eq(service("echo")->crashes, 1);
        /* served through the front stage only (a request, or echo's
         * bytes): no crash either */
        ready(104);
        slot(1, "echo", 1)->score->bytes_in = 1;
        crash(104);
        EXPECT("spawn g1 echo[1] = 105");
        ck_assert_uint_eq(service("echo")->crashes, 1);
}
END_TEST

/* RUNNING -> RELOADING -> RUNNING: the old generation is told to leave only
 * once every new worker is ready, then RETIRING -> DEAD on exit without a
 * respawn, SIGKILL exactly at the new config's shutdown_timeout. */
START_TEST(test_reload_applied) {
        Service *echo;
        uint64_t kill_at;

        start_two_ready(SEC(1));
        echo = service("echo");

        ck_assert_int_eq(reload(CONF("3", SVC("echo", 3))), 0);
        EXPECT("spawn g2 echo[0] = 103", "spawn g2 echo[1] = 104", "spawn g2 echo[2] = 105");
        ASSERT_STATE(SUPERVISOR_RELOADING);
        ck_assert_uint_eq(fake.sup->current->number, 1);
        ck_assert_uint_eq(fake.sup->pending->number, 2);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), T0 + SEC(31));
        ck_assert_uint_eq(supervisor_live_workers(fake.sup), 5);
        /* one Service for both generations: its scoreboard hands out
         * entries per worker */
        ck_assert_ptr_eq(slot(2, "echo", 0)->pool->service, echo);
        ck_assert_ptr_ne(slot(2, "echo", 0)->score, slot(1, "echo", 0)->score);

        ready(103);
        ready(104);
        EXPECT_NONE();
        ASSERT_STATE(SUPERVISOR_RELOADING);
        ck_assert_str_eq(status(), "echo 2/2 up, 0 conns, 0 restarts");

        advance(MS(10));
        ready(105);
        EXPECT("kill 101 TERM", "kill 102 TERM", "event RELOAD_APPLIED");
        ASSERT_STATE(SUPERVISOR_RUNNING);
        ck_assert_uint_eq(fake.sup->current->number, 2);
        ck_assert_ptr_null(fake.sup->pending);
        ck_assert_ptr_eq(fake.sup->retiring, gen(1));
        ASSERT_SLOT(1, "echo", 0, SLOT_RETIRING, 101);
        ASSERT_SLOT(1, "echo", 1, SLOT_RETIRING, 102);
        ck_assert_str_eq(status(), "echo 3/3 up, 0 conns, 0 restarts");
        ck_assert_uint_eq(fake.sup->n_services, 1);
        kill_at = fake.now + SEC(3);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), kill_at);

        quit(101, 0);
        EXPECT_NONE();
        ASSERT_SLOT(1, "echo", 0, SLOT_DEAD, 0);
        advance_to(kill_at - 1);
        EXPECT_NONE();
        advance_to(kill_at);
        EXPECT("kill 102 KILL");
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);
        exited(102, CLD_KILLED, SIGKILL);
        EXPECT_NONE();
        ck_assert_ptr_null(gen(1));
        ck_assert_ptr_null(fake.sup->retiring);
        ck_assert_str_eq(status(), "echo 3/3 up, 0 conns, 0 restarts");
}
END_TEST

/* During a reload the serving generation is still supervised, and a new
 * worker that crashes after it was ready backs off rather than failing
 * the reload; a worker retired before it was ready stays RETIRING when its
 * late readiness report arrives. */
START_TEST(test_reload_with_exits_on_both_sides) {
        start_two_ready(SEC(5));

        ck_assert_int_eq(reload(CONF("2", SVC("echo", 2))), 0);
        EXPECT("spawn g2 echo[0] = 103", "spawn g2 echo[1] = 104");

        crash(101);
        EXPECT("spawn g1 echo[0] = 105");
        ready(103);
        advance(MS(10));
        crash(103);
        EXPECT_NONE();
        ASSERT_STATE(SUPERVISOR_RELOADING);
        ASSERT_BACKOFF(2, "echo", 0, 1, MS(100));
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), fake.now + MS(100));
        /* the other new worker is ready, but one backing off is not */
        ready(104);
        EXPECT_NONE();
        ASSERT_STATE(SUPERVISOR_RELOADING);
        advance(MS(100));
        EXPECT("spawn g2 echo[0] = 106");

        ready(106);
        EXPECT("kill 105 TERM", "kill 102 TERM", "event RELOAD_APPLIED");
        ASSERT_SLOT(1, "echo", 0, SLOT_RETIRING, 105);
        ck_assert(!slot(1, "echo", 0)->ever_ready);
        ck_assert(slot(1, "echo", 1)->ever_ready);

        report_ready(105, 1, 0);
        EXPECT_NONE();
        ASSERT_SLOT(1, "echo", 0, SLOT_RETIRING, 105);
        ASSERT_STATE(SUPERVISOR_RUNNING);
        ck_assert_str_eq(status(), "echo 2/2 up, 0 conns, 2 restarts (1 before serving)");
}
END_TEST

/* shutdown_timeout = 0: the old workers get SIGKILL right after SIGTERM. */
START_TEST(test_reload_shutdown_timeout_zero_kills_at_once) {
        start_two_ready(SEC(1));

        ck_assert_int_eq(reload(CONF("0", SVC("echo", 1))), 0);
        ready(103);
        EXPECT("spawn g2 echo[0] = 103", "kill 101 TERM", "kill 102 TERM", "event RELOAD_APPLIED", "kill 101 KILL",
               "kill 102 KILL");
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);
}
END_TEST

/* (a) Some new workers are ready when another exits before it was ready:
 * refused, naming the service and slot; only the new generation is told
 * to leave, the serving one is untouched; a new service that came with the
 * reload goes away with its last worker, and the next reload works. */
START_TEST(test_reload_refused_after_new_workers_started) {
        start_two_ready(SEC(5));

        ck_assert_int_eq(reload(CONF("2", SVC("echo", 2) ", " SVC("web", 2))), 0);
        EXPECT("spawn g2 echo[0] = 103", "spawn g2 echo[1] = 104", "spawn g2 web[0] = 105", "spawn g2 web[1] = 106");
        ck_assert_uint_eq(fake.sup->n_services, 2);
        ready(103);
        ready(104);
        ready(105);
        EXPECT_NONE();

        advance(MS(50));
        crash(106);
        EXPECT("kill 103 TERM", "kill 104 TERM", "kill 105 TERM",
               "event RELOAD_REFUSED: a new worker of service web (slot 1) killed by signal SEGV before accepting");
        ASSERT_STATE(SUPERVISOR_RUNNING);
        ck_assert_uint_eq(fake.sup->current->number, 1);
        ck_assert_ptr_null(fake.sup->pending);
        ASSERT_SLOT(1, "echo", 0, SLOT_RUNNING, 101);
        ASSERT_SLOT(1, "echo", 1, SLOT_RUNNING, 102);
        ASSERT_SLOT(2, "echo", 0, SLOT_RETIRING, 103);
        ASSERT_SLOT(2, "web", 1, SLOT_DEAD, 0);
        /* the stragglers get SIGKILL after the serving config's timeout */
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), fake.now + SEC(2));
        ck_assert_str_eq(status(), "echo 2/2 up, 0 conns, 0 restarts");
        ck_assert_uint_eq(service("web")->restarts, 1);

        /* a late report of a refused worker does not revive the reload */
        report_ready(106, 2, 1);
        EXPECT_NONE();
        quit(103, 0);
        quit(104, 0);
        EXPECT_NONE();
        ck_assert_uint_eq(fake.sup->n_services, 2);
        quit(105, 0);
        EXPECT_NONE();
        ck_assert_ptr_null(gen(2));
        ck_assert_uint_eq(fake.sup->n_services, 1);
        ck_assert_ptr_null(service("web"));
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);

        ck_assert_int_eq(reload(CONF("2", SVC("echo", 1))), 0);
        ready(107);
        EXPECT("spawn g3 echo[0] = 107", "kill 101 TERM", "kill 102 TERM", "event RELOAD_APPLIED");
        ck_assert_uint_eq(fake.sup->current->number, 3);
}
END_TEST

/* (a), the plain case: the new worker exits with a status. */
START_TEST(test_reload_refused_on_exit_status) {
        start_two_ready(SEC(5));

        ck_assert_int_eq(reload(CONF("2", SVC("echo", 3))), 0);
        ready(103);
        ready(104);
        quit(105, 1);
        EXPECT("spawn g2 echo[0] = 103", "spawn g2 echo[1] = 104", "spawn g2 echo[2] = 105", "kill 103 TERM",
               "kill 104 TERM", "event RELOAD_REFUSED: a new worker of service echo (slot 2) exited with status 1 "
               "before accepting");
        ck_assert_uint_eq(fake.sup->current->number, 1);
        ASSERT_SLOT(1, "echo", 0, SLOT_RUNNING, 101);
        ASSERT_SLOT(1, "echo", 1, SLOT_RUNNING, 102);
}
END_TEST

/* (b) New workers never all ready: refused exactly at pending_deadline;
 * a new slot backing off then (here after a failed spawn) is not started
 * again. */
START_TEST(test_reload_refused_on_timeout) {
        uint64_t deadline;

        start_two_ready(SEC(5));

        ck_assert_int_eq(reload(CONF("2", SVC_XB("echo", 3, "1", "1", "5", 0, "reload = { ready_timeout = 2; };"))), 0);
        EXPECT("spawn g2 echo[0] = 103", "spawn g2 echo[1] = 104", "spawn g2 echo[2] = 105");
        deadline = fake.now + SEC(2);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), deadline);
        ready(103);
        ready(104);
        advance(MS(10));
        crash(104);
        EXPECT_NONE();
        ASSERT_BACKOFF(2, "echo", 1, 1, SEC(1));
        fake.fail_spawns = 1;
        advance(SEC(1));
        EXPECT("spawn g2 echo[1] failed");
        ASSERT_BACKOFF(2, "echo", 1, 2, SEC(2));

        advance_to(deadline - 1);
        EXPECT_NONE();
        ASSERT_STATE(SUPERVISOR_RELOADING);
        advance_to(deadline);
        EXPECT("kill 103 TERM", "kill 105 TERM", "event RELOAD_REFUSED: the new worker of service echo in slot 1 did not reach its accept loop within 2s");
        ASSERT_STATE(SUPERVISOR_RUNNING);
        ck_assert_uint_eq(fake.sup->current->number, 1);
        ASSERT_SLOT(2, "echo", 1, SLOT_DEAD, 0);
        ASSERT_SLOT(1, "echo", 0, SLOT_RUNNING, 101);
        ASSERT_SLOT(1, "echo", 1, SLOT_RUNNING, 102);

        /* the refused worker's late readiness changes nothing; SIGKILL
         * after shutdown_timeout, and no start of the slot that was
         * backing off */
        report_ready(105, 2, 2);
        EXPECT_NONE();
        ASSERT_SLOT(2, "echo", 2, SLOT_RETIRING, 105);
        advance_to(deadline + SEC(2));
        EXPECT("kill 103 KILL", "kill 105 KILL");
        exited(103, CLD_KILLED, SIGKILL);
        exited(105, CLD_KILLED, SIGKILL);
        EXPECT_NONE();
        ck_assert_ptr_null(gen(2));
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);
        advance(SEC(10));
        EXPECT_NONE();
}
END_TEST

/* (b) with the default timeout. */
START_TEST(test_reload_refused_after_30s) {
        start_two_ready(SEC(5));

        ck_assert_int_eq(reload(CONF("2", SVC("echo", 1))), 0);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), T0 + SEC(35));
        advance_to(T0 + SEC(35) - 1);
        EXPECT("spawn g2 echo[0] = 103");
        advance_to(T0 + SEC(35));
        EXPECT("kill 103 TERM", "event RELOAD_REFUSED: the new worker of service echo in slot 0 did not reach its accept loop within 30s");
}
END_TEST

/* supervisor_reload() (and a second start) are refused unless RUNNING. */
START_TEST(test_reload_busy_unless_running) {
        ck_assert_int_eq(reload(CONF("2", SVC("echo", 1))), -EBUSY);
        ASSERT_STATE(SUPERVISOR_IDLE);

        start(CONF("2", SVC("echo", 1)));
        ASSERT_STATE(SUPERVISOR_STARTING);
        ck_assert_int_eq(reload(CONF("2", SVC("echo", 1))), -EBUSY);
        ready(101);
        ASSERT_STATE(SUPERVISOR_RUNNING);
        ck_assert_int_eq(reload(CONF("2", SVC("echo", 1))), 0);
        ASSERT_STATE(SUPERVISOR_RELOADING);
        ck_assert_int_eq(reload(CONF("2", SVC("echo", 1))), -EBUSY);
        ck_assert_int_eq(start_or_reload(false, CONF("2", SVC("echo", 1))), -EBUSY);
        ready(102);
        ASSERT_STATE(SUPERVISOR_RUNNING);
        EXPECT("spawn g1 echo[0] = 101", "event STARTED", "spawn g2 echo[0] = 102", "kill 101 TERM",
               "event RELOAD_APPLIED");
        quit(101, 0);

        stop(false);
        ASSERT_STATE(SUPERVISOR_STOPPING);
        ck_assert_int_eq(reload(CONF("2", SVC("echo", 1))), -EBUSY);
        quit(102, 0);
        EXPECT("kill 102 TERM", "event STOPPED");
        ASSERT_STATE(SUPERVISOR_STOPPED);
        ck_assert_int_eq(reload(CONF("2", SVC("echo", 1))), -EBUSY);
        ck_assert_int_eq(start_or_reload(false, CONF("2", SVC("echo", 1))), -EBUSY);
        EXPECT_NONE();
}
END_TEST

/* STOPPING -> STOPPED: SIGTERM to every worker, no respawn, STOPPED with
 * the last exit; SIGKILL exactly at shutdown_timeout. */
START_TEST(test_stop_graceful) {
        uint64_t t = start_two_ready(SEC(1));

        stop(false);
        EXPECT("kill 101 TERM", "kill 102 TERM");
        ASSERT_STATE(SUPERVISOR_STOPPING);
        ck_assert_ptr_null(fake.sup->current);
        ASSERT_SLOT(1, "echo", 0, SLOT_RETIRING, 101);
        ASSERT_SLOT(1, "echo", 1, SLOT_RETIRING, 102);
        ck_assert_uint_eq(fake.sup->stop_deadline, t + SEC(7));
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), t + SEC(2));
        ck_assert_str_eq(status(), "");

        crash(101);
        EXPECT_NONE();
        ASSERT_SLOT(1, "echo", 0, SLOT_DEAD, 0);
        ASSERT_STATE(SUPERVISOR_STOPPING);
        stop(false);
        EXPECT_NONE();

        advance_to(t + SEC(2) - 1);
        EXPECT_NONE();
        advance_to(t + SEC(2));
        EXPECT("kill 102 KILL");
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), t + SEC(7));
        exited(102, CLD_KILLED, SIGKILL);
        EXPECT("event STOPPED");
        ASSERT_STATE(SUPERVISOR_STOPPED);
        ck_assert_uint_eq(supervisor_live_workers(fake.sup), 0);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);
        ck_assert_ptr_null(fake.sup->retiring);

        advance(SEC(60));
        stop(false);
        stop(true);
        EXPECT_NONE();
}
END_TEST

/* Workers that outlive their SIGKILL by 5s: STOP_TIMEOUT, exactly then. */
START_TEST(test_stop_timeout) {
        uint64_t t = start_two_ready(SEC(1));
        stop(false);
        advance_to(t + SEC(7) - 1);
        EXPECT("kill 101 TERM", "kill 102 TERM", "kill 101 KILL", "kill 102 KILL");
        ASSERT_STATE(SUPERVISOR_STOPPING);
        advance_to(t + SEC(7));
        EXPECT("event STOP_TIMEOUT");
        ASSERT_STATE(SUPERVISOR_STOPPING);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);
        exited(101, CLD_KILLED, SIGKILL);
        exited(102, CLD_KILLED, SIGKILL);
        EXPECT("event STOPPED");
}
END_TEST

/* A fast stop sends SIGQUIT and SIGKILLs after 1s; a graceful stop turns
 * into a fast one, but not the other way round. */
START_TEST(test_stop_fast) {
        uint64_t t = start_two_ready(SEC(1));
        stop(true);
        EXPECT("kill 101 TERM", "kill 102 TERM", "kill 101 QUIT", "kill 102 QUIT");
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), t + SEC(1));
        ck_assert_uint_eq(fake.sup->stop_deadline, t + SEC(6));
        stop(true);
        stop(false);
        EXPECT_NONE();
        quit(101, 0);
        advance_to(t + SEC(1));
        EXPECT("kill 102 KILL");
        exited(102, CLD_KILLED, SIGKILL);
        EXPECT("event STOPPED");
}
END_TEST

START_TEST(test_stop_graceful_then_fast) {
        uint64_t t = start_two_ready(SEC(1));
        stop(false);
        advance(MS(100));
        stop(true);
        EXPECT("kill 101 TERM", "kill 102 TERM", "kill 101 QUIT", "kill 102 QUIT");
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), t + MS(1100));
        advance_to(t + MS(1100));
        EXPECT("kill 101 KILL", "kill 102 KILL");
        stop(true);
        EXPECT_NONE();
}
END_TEST

/* A stop never postpones a SIGKILL already due earlier: a fast stop during
 * a graceful one with a short shutdown_timeout, and a stop while a reload's
 * old generation is still retiring. */
START_TEST(test_stop_never_postpones_sigkill) {
        uint64_t t;

        start(CONF("0.5", SVC("echo", 2)));
        ready(101);
        ready(102);
        t = fake.now;
        stop(false);
        advance(MS(100));
        stop(true);
        EXPECT("spawn g1 echo[0] = 101", "spawn g1 echo[1] = 102", "event STARTED", "kill 101 TERM",
               "kill 102 TERM", "kill 101 QUIT", "kill 102 QUIT");
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), t + MS(500));
        ck_assert_uint_eq(fake.sup->stop_deadline, t + MS(5500));
        advance_to(t + MS(500));
        EXPECT("kill 101 KILL", "kill 102 KILL");
}
END_TEST

START_TEST(test_stop_keeps_the_retiring_generation_deadline) {
        uint64_t t;

        start_two_ready(SEC(1));
        ck_assert_int_eq(reload(CONF("2", SVC("echo", 2))), 0);
        ready(103);
        ready(104);
        EXPECT("spawn g2 echo[0] = 103", "spawn g2 echo[1] = 104", "kill 101 TERM", "kill 102 TERM",
               "event RELOAD_APPLIED");
        t = fake.now;

        advance(SEC(1));
        stop(false);
        EXPECT("kill 103 TERM", "kill 104 TERM");
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), t + SEC(2));
        advance_to(t + SEC(2));
        EXPECT("kill 101 KILL", "kill 102 KILL");
        advance_to(t + SEC(3));
        EXPECT("kill 103 KILL", "kill 104 KILL");
}
END_TEST

/* (c) A stop during a reload: both generations are told to leave, the
 * reload is neither applied nor refused, STOPPED only after every exit. */
START_TEST(test_stop_during_reload) {
        start_two_ready(SEC(1));

        ck_assert_int_eq(reload(CONF("2", SVC("echo", 2))), 0);
        ready(103);
        EXPECT("spawn g2 echo[0] = 103", "spawn g2 echo[1] = 104");

        stop(false);
        EXPECT("kill 101 TERM", "kill 102 TERM", "kill 103 TERM", "kill 104 TERM");
        ASSERT_STATE(SUPERVISOR_STOPPING);
        ck_assert_ptr_null(fake.sup->current);
        ck_assert_ptr_null(fake.sup->pending);
        ASSERT_SLOT(2, "echo", 0, SLOT_RETIRING, 103);
        ASSERT_SLOT(2, "echo", 1, SLOT_RETIRING, 104);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), fake.now + SEC(2));

        ready(104);
        EXPECT_NONE();
        ASSERT_SLOT(2, "echo", 1, SLOT_RETIRING, 104);
        quit(101, 0);
        quit(104, 0);
        crash(103);
        EXPECT_NONE();
        ASSERT_STATE(SUPERVISOR_STOPPING);
        quit(102, 0);
        EXPECT("event STOPPED");
        ASSERT_STATE(SUPERVISOR_STOPPED);
        ck_assert_ptr_null(fake.sup->retiring);
        ck_assert_uint_eq(fake.sup->n_services, 0);
        advance(SEC(60));
        EXPECT_NONE();
}
END_TEST

/* (d) An exit while another slot backs off, then a stop: BACKOFF -> DEAD,
 * the slot is never started again, and the stop completes. */
START_TEST(test_stop_during_backoff) {
        start_two_ready(MS(200));

        crash(101);
        ASSERT_BACKOFF(1, "echo", 0, 1, MS(100));
        advance(MS(50));
        crash(102);
        ASSERT_BACKOFF(1, "echo", 1, 1, MS(100));
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), T0 + MS(300));
        advance_to(T0 + MS(300));
        EXPECT("spawn g1 echo[0] = 103");
        ASSERT_SLOT(1, "echo", 1, SLOT_BACKOFF, 0);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), T0 + MS(350));

        advance(MS(20));
        stop(false);
        EXPECT("kill 103 TERM");
        ASSERT_SLOT(1, "echo", 1, SLOT_DEAD, 0);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), T0 + MS(320) + SEC(2));
        advance_to(T0 + MS(350));
        EXPECT_NONE();
        quit(103, 0);
        EXPECT("event STOPPED");
        advance(SEC(10));
        EXPECT_NONE();
}
END_TEST

/* (d) Every slot backing off: the stop is complete at once. */
START_TEST(test_stop_with_every_slot_backing_off) {
        start(CONF("2", SVC("echo", 1)));
        crash(101);
        EXPECT("spawn g1 echo[0] = 101", "event STARTED");
        ASSERT_BACKOFF(1, "echo", 0, 1, MS(100));

        stop(false);
        EXPECT("event STOPPED");
        ASSERT_STATE(SUPERVISOR_STOPPED);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);
        advance(SEC(1));
        EXPECT_NONE();
}
END_TEST

/* A stop before the start is complete: STARTING and RUNNING slots both
 * retire, STARTED is never reported, not even on a late ready. */
START_TEST(test_stop_while_starting) {
        start(CONF("2", SVC("echo", 2)));
        ready(101);
        stop(false);
        EXPECT("spawn g1 echo[0] = 101", "spawn g1 echo[1] = 102", "kill 101 TERM", "kill 102 TERM");
        ASSERT_STATE(SUPERVISOR_STOPPING);
        ASSERT_SLOT(1, "echo", 0, SLOT_RETIRING, 101);
        ASSERT_SLOT(1, "echo", 1, SLOT_RETIRING, 102);
        ck_assert(slot(1, "echo", 0)->ever_ready);
        ck_assert(!slot(1, "echo", 1)->ever_ready);
        ready(102);
        quit(101, 0);
        EXPECT_NONE();
        quit(102, 0);
        EXPECT("event STOPPED");
}
END_TEST

/* A stop before any start. */
START_TEST(test_stop_idle) {
        stop(false);
        EXPECT("event STOPPED");
        ASSERT_STATE(SUPERVISOR_STOPPED);
        stop(true);
        EXPECT_NONE();
}
END_TEST

/* A reload retires a serving slot that backs off: BACKOFF -> DEAD, no
 * start at its old deadline. */
START_TEST(test_reload_retires_a_slot_backing_off) {
        start_two_ready(MS(200));

        crash(101);
        ASSERT_BACKOFF(1, "echo", 0, 1, MS(100));
        ck_assert_int_eq(reload(CONF("2", SVC("echo", 2))), 0);
        ready(103);
        ready(104);
        EXPECT("spawn g2 echo[0] = 103", "spawn g2 echo[1] = 104", "kill 102 TERM", "event RELOAD_APPLIED");
        ASSERT_SLOT(1, "echo", 0, SLOT_DEAD, 0);
        advance(SEC(1));
        EXPECT_NONE();
}
END_TEST

/* (e) Readiness reports that do not match a worker are ignored: unknown
 * pid, wrong generation, another slot's index, a repeated report, and a
 * retiring worker's late report. */
START_TEST(test_stale_readiness_ignored) {
        start(CONF("2", SVC("echo", 2)));
        EXPECT("spawn g1 echo[0] = 101", "spawn g1 echo[1] = 102");

        report_ready(999, 1, 0);
        report_ready(101, 2, 0);
        report_ready(101, 1, 1);
        report_ready(101, 1, 7);
        EXPECT_NONE();
        ASSERT_SLOT(1, "echo", 0, SLOT_STARTING, 101);
        ASSERT_SLOT(1, "echo", 1, SLOT_STARTING, 102);

        report_ready(101, 1, 0);
        report_ready(101, 1, 0);
        EXPECT_NONE();
        ASSERT_SLOT(1, "echo", 0, SLOT_RUNNING, 101);
        report_ready(102, 1, 1);
        EXPECT("event STARTED");

        ck_assert_int_eq(reload(CONF("2", SVC("echo", 2))), 0);
        EXPECT("spawn g2 echo[0] = 103", "spawn g2 echo[1] = 104");
        /* a new worker claiming the old generation, or its sibling's slot */
        report_ready(103, 1, 0);
        report_ready(104, 2, 0);
        report_ready(103, 2, 1);
        EXPECT_NONE();
        ASSERT_STATE(SUPERVISOR_RELOADING);
        ASSERT_SLOT(2, "echo", 0, SLOT_STARTING, 103);
        ASSERT_SLOT(2, "echo", 1, SLOT_STARTING, 104);

        report_ready(103, 2, 0);
        report_ready(104, 2, 1);
        EXPECT("kill 101 TERM", "kill 102 TERM", "event RELOAD_APPLIED");
        report_ready(101, 1, 0);
        EXPECT_NONE();
        ASSERT_SLOT(1, "echo", 0, SLOT_RETIRING, 101);
        ASSERT_STATE(SUPERVISOR_RUNNING);
}
END_TEST

/* (g) The counters are the service's: connections of exited workers, of
 * either generation, are kept across a reload, and only unplanned exits of
 * serving workers are restarts. */
START_TEST(test_counters_survive_reload) {
        Service *echo;

        start_two_ready(SEC(5));
        echo = service("echo");
        slot(1, "echo", 0)->score->connections = 3;
        slot(1, "echo", 1)->score->connections = 4;
        crash(101);
        EXPECT("spawn g1 echo[0] = 103");
        ready(103);
        slot(1, "echo", 0)->score->connections = 1;
        ck_assert_str_eq(status(), "echo 2/2 up, 8 conns, 1 restart");

        ck_assert_int_eq(reload(CONF("2", SVC("echo", 2))), 0);
        ready(104);
        ready(105);
        EXPECT("spawn g2 echo[0] = 104", "spawn g2 echo[1] = 105", "kill 103 TERM", "kill 102 TERM",
               "event RELOAD_APPLIED");
        ck_assert_ptr_eq(service("echo"), echo);
        ck_assert_str_eq(status(), "echo 2/2 up, 8 conns, 1 restart");
        slot(1, "echo", 1)->score->connections = 6;
        slot(2, "echo", 0)->score->connections = 2;
        ck_assert_str_eq(status(), "echo 2/2 up, 12 conns, 1 restart");

        quit(102, 0);
        crash(103);
        EXPECT_NONE();
        ck_assert_ptr_null(gen(1));
        ck_assert_ptr_eq(service("echo"), echo);
        ck_assert_uint_eq(echo->connections_done, 10);
        ck_assert_str_eq(status(), "echo 2/2 up, 12 conns, 1 restart");
}
END_TEST

/* (g) A service a reload removed goes away with its last worker; added
 * again later, it starts from zero. */
START_TEST(test_removed_service_goes_away) {
        start(CONF("2", SVC("echo", 1) ", " SVC("web", 1)));
        ready(101);
        ready(102);
        EXPECT("spawn g1 echo[0] = 101", "spawn g1 web[0] = 102", "event STARTED");
        advance(SEC(5));
        crash(102);
        ready(103);
        EXPECT("spawn g1 web[0] = 103");
        ck_assert_uint_eq(service("web")->restarts, 1);

        ck_assert_int_eq(reload(CONF("2", SVC("echo", 1))), 0);
        ready(104);
        EXPECT("spawn g2 echo[0] = 104", "kill 101 TERM", "kill 103 TERM", "event RELOAD_APPLIED");
        ck_assert_str_eq(status(), "echo 1/1 up, 0 conns, 0 restarts");
        ck_assert_uint_eq(fake.sup->n_services, 2);
        ck_assert_ptr_nonnull(service("web"));

        quit(101, 0);
        ck_assert_uint_eq(fake.sup->n_services, 2);
        quit(103, 0);
        EXPECT_NONE();
        ck_assert_uint_eq(fake.sup->n_services, 1);
        ck_assert_ptr_null(service("web"));

        ck_assert_int_eq(reload(CONF("2", SVC("echo", 1) ", " SVC("web", 1))), 0);
        ready(105);
        ready(106);
        EXPECT("spawn g3 echo[0] = 105", "spawn g3 web[0] = 106", "kill 104 TERM", "event RELOAD_APPLIED");
        ck_assert_uint_eq(service("web")->restarts, 0);
        ck_assert_str_eq(status(), "echo 1/1 up, 0 conns, 0 restarts; web 1/1 up, 0 conns, 0 restarts");
}
END_TEST

/* The front stage: a service that parks gets one, started before its
 * workers, outside any generation (it survives reloads), respawned after a
 * crash with the service's respawn policy, and a graceful stop ends it
 * first: the workers are told only once it has left, because it hands
 * back what is in progress for them to finish. */
#define SVC_PARK(name, workers)                                                                          \
        "{ name = \"" name "\"; listen = [\"127.0.0.1:0\"]; workers = " #workers "; handler = \"echo\";" \
        " respawn = { min_uptime = 1; backoff_initial = 0.1; backoff_max = 0.5; }; }"

START_TEST(test_front_stage_lifecycle) {
        start(CONF("2", SVC_PARK("echo", 2)));
        EXPECT("spawn echo[front] = 101", "spawn g1 echo[0] = 102", "spawn g1 echo[1] = 103");
        ck_assert_int_ge(service("echo")->park_fds[0], 0);
        ck_assert_int_eq(service("echo")->front.state, SLOT_RUNNING);
        /* The front stage reports no readiness; STARTED waits for the workers. */
        ready(102);
        EXPECT_NONE();
        ready(103);
        EXPECT("event STARTED");
        ck_assert_ptr_nonnull(strstr(status(), "0 parked (0 idle, 0 reading, 0 sending)"));

        /* A reload keeps it. */
        ck_assert_int_eq(reload(CONF("2", SVC_PARK("echo", 1))), 0);
        EXPECT("spawn g2 echo[0] = 104");
        ready(104);
        EXPECT("kill 102 TERM", "kill 103 TERM", "event RELOAD_APPLIED");
        ck_assert_int_eq(service("echo")->front.pid, 101);

        /* A crash after a stable run is replaced at once; a quick one backs off. */
        exited(102, CLD_EXITED, 0);
        exited(103, CLD_EXITED, 0);
        advance(SEC(2));
        crash(101);
        EXPECT("spawn echo[front] = 105");
        crash(105);
        ck_assert_int_eq(service("echo")->front.state, SLOT_BACKOFF);
        EXPECT_NONE();
        advance(MS(100));
        EXPECT("spawn echo[front] = 106");
        ck_assert_uint_eq(service("echo")->restarts, 2);

        /* Graceful stop: the front stage first, the workers once it left. */
        stop(false);
        EXPECT("kill 106 TERM");
        ASSERT_STATE(SUPERVISOR_STOPPING);
        ck_assert_int_eq(atomic_load(&service("echo")->scoreboard->service->stopping), 1);
        ASSERT_SLOT(2, "echo", 0, SLOT_RUNNING, 104);
        quit(106, 0);
        EXPECT("kill 104 TERM");
        quit(104, 0);
        EXPECT("event STOPPED");
}
END_TEST

/* A front stage that outstays the stop's grace does not hold the workers
 * back past it: they are told then, and everyone is killed at the same
 * deadline. A fast stop tells everyone at once. */
START_TEST(test_front_stage_stop_deadlines) {
        start(CONF("2", SVC_PARK("echo", 1)));
        EXPECT("spawn echo[front] = 101", "spawn g1 echo[0] = 102");
        ready(102);
        EXPECT("event STARTED");
        stop(false);
        EXPECT("kill 101 TERM");
        advance(SEC(2) - 1);
        EXPECT_NONE();
        advance(1);
        EXPECT("kill 101 KILL", "kill 102 TERM", "kill 102 KILL");
        quit(101, 0);
        EXPECT_NONE();
        exited(102, CLD_KILLED, SIGKILL);
        EXPECT("event STOPPED");
}
END_TEST

START_TEST(test_front_stage_fast_stop) {
        start(CONF("2", SVC_PARK("echo", 1)));
        EXPECT("spawn echo[front] = 101", "spawn g1 echo[0] = 102");
        ready(102);
        EXPECT("event STARTED");
        stop(true);
        EXPECT("kill 101 TERM", "kill 102 TERM", "kill 102 QUIT", "kill 101 QUIT");
        quit(101, 0);
        quit(102, 0);
        EXPECT("event STOPPED");
}
END_TEST

/* A program worker's policy (handler "exec"): one worker with the
 * exec group's keys. */
#define SVC_EXEC(exec)                                                                                   \
        "{ name = \"app\"; listen = [\"127.0.0.1:0\"]; workers = 1; handler = \"exec\";"                    \
        " respawn = { min_uptime = 1; backoff_initial = 0.1; backoff_max = 0.5; burst = 0; };"           \
        " exec = { command = [ \"/bin/cat\" ]; " exec " }; }"

/* Not ready within ready_timeout: its group is killed, and its exit is a
 * failed start that backs off. */
START_TEST(test_policy_ready_timeout) {
        start(CONF("5", SVC_EXEC("ready = \"notify\"; ready_timeout = 2;")));
        EXPECT("spawn g1 app[0] = 101");
        advance(SEC(2) - 1);
        EXPECT_NONE();
        advance(1);
        EXPECT("kill -101 KILL");
        ck_assert_int_eq(slot(1, "app", 0)->kill_reason, KILL_REASON_READY_TIMEOUT);
        exited(101, CLD_KILLED, SIGKILL);
        ASSERT_BACKOFF(1, "app", 0, 1, MS(100));
        advance(MS(100));
        EXPECT("event STARTED", "spawn g1 app[0] = 102");
        ck_assert_int_eq(slot(1, "app", 0)->kill_reason, _KILL_REASON_INVALID);
        ck_assert_uint_eq(slot(1, "app", 0)->service->kills[KILL_REASON_READY_TIMEOUT], 1);
        /* In time: no deadline is left. */
        ready(102);
        advance(SEC(10));
        EXPECT_NONE();
}
END_TEST

/* The watchdog runs from READY=1; each WATCHDOG=1 starts it over; a
 * worker that stops pinging is killed and, having run, replaced at once. */
START_TEST(test_policy_watchdog) {
        start(CONF("5", SVC_EXEC("ready = \"notify\"; watchdog_timeout = 1;")));
        advance(SEC(5));
        EXPECT("spawn g1 app[0] = 101");
        ready(101);
        EXPECT("event STARTED");
        advance(MS(900));
        supervisor_worker_watchdog(fake.sup, 101, false, fake.now);
        advance(MS(900));
        /* Another process's ping changes nothing. */
        supervisor_worker_watchdog(fake.sup, 555, false, fake.now);
        EXPECT_NONE();
        advance(MS(100));
        EXPECT("kill -101 KILL");
        ck_assert_int_eq(slot(1, "app", 0)->kill_reason, KILL_REASON_WATCHDOG);
        exited(101, CLD_KILLED, SIGKILL);
        EXPECT("spawn g1 app[0] = 102");
        /* Not ready yet: no watchdog. */
        supervisor_worker_watchdog(fake.sup, 102, true, fake.now);
        advance(SEC(10));
        EXPECT_NONE();
        ready(102);
        supervisor_worker_watchdog(fake.sup, 102, true, fake.now);
        EXPECT("kill -102 KILL");
}
END_TEST

/* A program's stop signal goes to its group, for a fast stop too; the
 * SIGKILL after shutdown_timeout as well. */
START_TEST(test_policy_stop_signal_to_the_group) {
        start(CONF("3", SVC_EXEC("stop_signal = \"INT\";")));
        EXPECT("spawn g1 app[0] = 101");
        ready(101);
        EXPECT("event STARTED");
        ck_assert_int_eq(supervisor_worker_status(fake.sup, 101, "busy\nok", 7), 0);
        ck_assert_str_eq(slot(1, "app", 0)->status, "busy ok");
        ck_assert_int_eq(supervisor_worker_status(fake.sup, 555, "x", 1), -ESRCH);
        stop(false);
        EXPECT("kill -101 INT");
        stop(true);
        EXPECT("kill -101 INT");
        advance(SEC(1));
        EXPECT("kill -101 KILL");
}
END_TEST

/* Connection mode: TERM to the worker only (its program finishes the
 * connection), SIGKILL to its group. */
START_TEST(test_policy_connection_mode_signals) {
        start(CONF("3", SVC_EXEC("mode = \"connection\";")));
        ready(101);
        EXPECT("spawn g1 app[0] = 101", "event STARTED");
        stop(false);
        EXPECT("kill 101 TERM");
        advance(SEC(3));
        EXPECT("kill -101 KILL");
}
END_TEST

int main(void) {
        Suite *s = suite_create("supervisor");
        TCase *tc = tcase_create("supervisor");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_start_all_ready);
        tcase_add_test(tc, test_start_settles_with_a_slot_backing_off);
        tcase_add_test(tc, test_spawn_failure_backs_off);
        tcase_add_test(tc, test_respawn_after_stable_run);
        tcase_add_test(tc, test_quick_crashes_back_off);
        tcase_add_test(tc, test_min_uptime_zero_never_ready_backs_off);
        tcase_add_test(tc, test_planned_recycle_is_no_restart);
        tcase_add_test(tc, test_reload_applied);
        tcase_add_test(tc, test_reload_with_exits_on_both_sides);
        tcase_add_test(tc, test_reload_shutdown_timeout_zero_kills_at_once);
        tcase_add_test(tc, test_reload_refused_after_new_workers_started);
        tcase_add_test(tc, test_reload_refused_on_exit_status);
        tcase_add_test(tc, test_reload_refused_on_timeout);
        tcase_add_test(tc, test_reload_refused_after_30s);
        tcase_add_test(tc, test_reload_busy_unless_running);
        tcase_add_test(tc, test_stop_graceful);
        tcase_add_test(tc, test_stop_timeout);
        tcase_add_test(tc, test_stop_fast);
        tcase_add_test(tc, test_stop_graceful_then_fast);
        tcase_add_test(tc, test_stop_never_postpones_sigkill);
        tcase_add_test(tc, test_stop_keeps_the_retiring_generation_deadline);
        tcase_add_test(tc, test_stop_during_reload);
        tcase_add_test(tc, test_stop_during_backoff);
        tcase_add_test(tc, test_stop_with_every_slot_backing_off);
        tcase_add_test(tc, test_stop_while_starting);
        tcase_add_test(tc, test_stop_idle);
        tcase_add_test(tc, test_reload_retires_a_slot_backing_off);
        tcase_add_test(tc, test_stale_readiness_ignored);
        tcase_add_test(tc, test_counters_survive_reload);
        tcase_add_test(tc, test_removed_service_goes_away);
        tcase_add_test(tc, test_front_stage_lifecycle);
        tcase_add_test(tc, test_front_stage_stop_deadlines);
        tcase_add_test(tc, test_front_stage_fast_stop);
        tcase_add_test(tc, test_policy_ready_timeout);
        tcase_add_test(tc, test_policy_watchdog);
        tcase_add_test(tc, test_policy_stop_signal_to_the_group);
        tcase_add_test(tc, test_policy_connection_mode_signals);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
