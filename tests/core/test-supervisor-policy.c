/* SPDX-License-Identifier: MIT */
/* The supervisor's policies for running workers, with the fake spawner and
 * clock of supervisor-fake.c: the crash budget (deaths before serving are
 * replaced at once until respawn.burst of them fall within
 * respawn.interval; deaths after serving always are), request_timeout and
 * its kill storm cap, max_memory and max_requests_jitter. */
#include <check.h>

#include "testlib.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "supervisor-fake.h"
#include "supervisor-internal.h"

/* What worker pid's scoreboard entry says it does. The test is the only
 * writer, so the sequence counter can stay as it is. */
static void work(pid_t pid, WorkerState st, uint64_t since, const char *request) {
        Slot *s = supervisor_find_slot(fake.sup, pid);

        ck_assert_msg(s && s->score, "no worker %d", (int) pid);
        atomic_store(&s->score->state, st);
        s->score->busy_since_usec = since;
        s->score->request_len = (uint16_t) strlen(request);
        memcpy(s->score->request, request, strlen(request));
}

/* pid has served a connection. */
static void served(pid_t pid) {
        Slot *s = supervisor_find_slot(fake.sup, pid);

        ck_assert_msg(s && s->score, "no worker %d", (int) pid);
        atomic_fetch_add(&s->score->connections, 1);
}

/* Forks so far, from the pid counter. */
static unsigned forks(void) {
        return (unsigned) (fake.next_pid - 101);
}

/* Deaths before serving within the budget are replaced at once, each
 * spending it; the one that finds it spent backs off, doubling; an
 * interval after the crashes it counted, the budget is back. */
START_TEST(test_budget_then_backoff) {
        start(CONF("2", SVC_B("echo", 1, 3)));
        EXPECT("spawn g1 echo[0] = 101");
        crash(101);
        EXPECT("spawn g1 echo[0] = 102");
        advance(MS(10));
        crash(102);
        EXPECT("spawn g1 echo[0] = 103");
        ready(103);
        EXPECT("event STARTED");
        advance(MS(10));
        crash(103);
        EXPECT("spawn g1 echo[0] = 104");
        ck_assert_uint_eq(slot(1, "echo", 0)->crashes, 0);
        ck_assert_str_eq(status(), "echo 0/1 up, 0 conns, 3 restarts (3 before serving)");

        /* the fourth within 10 s: spent */
        advance(MS(10));
        crash(104);
        EXPECT_NONE();
        ASSERT_BACKOFF(1, "echo", 0, 1, MS(100));
        ck_assert_str_eq(status(), "echo 0/1 up, 0 conns, 4 restarts (4 before serving), slot 0 backing off 0.1s "
                                   "after 1 quick crash");
        advance(MS(100));
        EXPECT("spawn g1 echo[0] = 105");
        crash(105);
        ASSERT_BACKOFF(1, "echo", 0, 2, MS(200));
        advance(MS(200));
        EXPECT("spawn g1 echo[0] = 106");

        /* 10 s after the third crash only two of the last three are in
         * the window: at once again, and the backoff step is kept */
        advance_to(T0 + MS(20) + SEC(10));
        crash(106);
        EXPECT("spawn g1 echo[0] = 107");
        ck_assert_uint_eq(slot(1, "echo", 0)->crashes, 2);
        crash(107);
        EXPECT_NONE();
        ASSERT_BACKOFF(1, "echo", 0, 3, MS(400));
        ck_assert_uint_eq(service("echo")->crashes, 7);
        ck_assert_uint_eq(service("echo")->restarts, 7);
}
END_TEST

/* Deaths after serving are replaced at once, always, and spend nothing:
 * the budget is still whole for a crash before serving afterwards. */
START_TEST(test_deaths_after_serving_never_back_off) {
        pid_t pid = 101;

        start(CONF("2", SVC_B("echo", 1, 1)));
        ready(101);
        EXPECT("spawn g1 echo[0] = 101", "event STARTED");
        for (unsigned i = 0; i < 200; i++) {
                char line[64];

                served(pid);
                advance(MS(1));
                crash(pid);
                (void) snprintf(line, sizeof line, "spawn g1 echo[0] = %d", (int) ++pid);
                EXPECT(line);
                ready(pid);
        }
        ck_assert_uint_eq(service("echo")->restarts, 200);
        ck_assert_uint_eq(service("echo")->crashes, 0);
        ck_assert_str_eq(status(), "echo 1/1 up, 200 conns, 200 restarts");
        /* the one crash the budget allows: at once */
        crash(pid);
        EXPECT("spawn g1 echo[0] = 302");
}
END_TEST

/* A startup crash loop (every worker dies before it is ready) with the
 * default budget: burst forks at once, then backoff, and over a minute the
 * master forks no more than the budget and the backoff allow: no fork
 * storm, and STATUS= shows the backoff. */
START_TEST(test_startup_crash_loop_bounded) {
        start(CONF("2", SVC_XB("echo", 1, "1", "0.1", "1", 10, "")));
        for (unsigned i = 0; i < 10; i++) {
                fake.n_log = 0;
                crash(fake.next_pid - 1);
        }
        /* the 11th start came at once, the 11th crash backs off */
        ck_assert_uint_eq(forks(), 11);
        crash(111);
        ASSERT_BACKOFF(1, "echo", 0, 1, MS(100));
        ck_assert(strstr(status(), "slot 0 backing off 0.1s after 1 quick crash"));
        /* a minute of a worker that dies as soon as it starts */
        while (fake.now < T0 + SEC(60)) {
                uint64_t next = supervisor_next_deadline(fake.sup);

                /* backing off, or started again at once */
                if (next != USEC_INFINITY)
                        advance_to(next);
                else
                        ASSERT_SLOT(1, "echo", 0, SLOT_STARTING, fake.next_pid - 1);
                crash(fake.next_pid - 1);
        }
        /* Within any 10 s: at most burst (10) forks at once, and the
         * backoff, which stays at its cap of 1 s while the loop goes on, at
         * most 10 more: no storm. */
        fprintf(stderr, "%u forks in a minute of a crash loop\n", forks());
        ck_assert_uint_le(forks(), 11 + 6 * (10 + 10));
        ck_assert_uint_ge(slot(1, "echo", 0)->crashes, 10);
}
END_TEST

/* request_timeout: no polling (an idle pool is looked at once per
 * timeout), a busy worker is killed exactly at busy_since + timeout with
 * SIGABRT, SIGKILL 5 s later if it is still there, and its slot is refilled
 * at once; idle and keep-alive workers are never killed, and a new request
 * starts the clock again. */
START_TEST(test_request_timeout) {
        start(CONF("2", SVC_E("echo", 3, "request_timeout = 2;")));
        ready(101);
        ready(102);
        ready(103);
        EXPECT("spawn g1 echo[0] = 101", "spawn g1 echo[1] = 102", "spawn g1 echo[2] = 103", "event STARTED");
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), T0 + SEC(2));
        advance(SEC(10));
        EXPECT_NONE();
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), fake.now + SEC(2));

        work(101, WORKER_BUSY, fake.now + MS(500), "");
        work(102, WORKER_KEEPALIVE, fake.now - SEC(60), "");
        work(103, WORKER_READING, fake.now + SEC(1), "GET /slow HTTP/1.1");
        /* the next look is due when 101 would time out */
        advance(SEC(2));
        EXPECT_NONE();
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), fake.now + MS(500));
        advance(MS(500) - 1);
        EXPECT_NONE();
        advance(1);
        EXPECT("kill 101 ABRT");
        ck_assert_int_eq(slot(1, "echo", 0)->kill_reason, KILL_REASON_REQUEST_TIMEOUT);
        ck_assert_uint_eq(service("echo")->kills[KILL_REASON_REQUEST_TIMEOUT], 1);
        /* 103 began a new request meanwhile: its clock starts again */
        work(103, WORKER_WRITING, fake.now, "GET /next HTTP/1.1");
        advance(SEC(2) - 1);
        EXPECT_NONE();
        advance(1);
        EXPECT("kill 103 ABRT");
        /* 101 ignores SIGABRT: SIGKILL after the grace */
        advance_to(T0 + SEC(10) + MS(2500) + SEC(5) - 1);
        EXPECT_NONE();
        advance(1);
        EXPECT("kill 101 KILL");
        exited(101, CLD_KILLED, SIGKILL);
        EXPECT("spawn g1 echo[0] = 104");
        /* 103 went on SIGABRT: no SIGKILL, replaced at once, no crash */
        exited(103, CLD_DUMPED, SIGABRT);
        EXPECT("spawn g1 echo[2] = 105");
        advance(SEC(10));
        EXPECT_NONE();
        ck_assert_uint_eq(service("echo")->crashes, 0);
        ck_assert_uint_eq(service("echo")->restarts, 2);
        ck_assert_uint_eq(service("echo")->kills[KILL_REASON_REQUEST_TIMEOUT], 2);
        ASSERT_SLOT(1, "echo", 1, SLOT_RUNNING, 102);
}
END_TEST

/* The kill storm cap: five kills within a minute; the sixth hung worker is
 * left alone, logged once and shown in STATUS=, and killed once the first
 * kill is a minute old. */
START_TEST(test_kill_storm_cap) {
        uint64_t first;
        pid_t pid = 101;

        start(CONF("2", SVC_E("echo", 1, "request_timeout = 1;")));
        ready(101);
        EXPECT("spawn g1 echo[0] = 101", "event STARTED");
        first = fake.now + SEC(1);
        for (unsigned i = 0; i < 5; i++) {
                char line[64];

                work(pid, WORKER_BUSY, fake.now, "");
                advance(SEC(1));
                (void) snprintf(line, sizeof line, "kill %d ABRT", (int) pid);
                EXPECT(line);
                exited(pid, CLD_KILLED, SIGABRT);
                (void) snprintf(line, sizeof line, "spawn g1 echo[0] = %d", (int) ++pid);
                EXPECT(line);
                ready(pid);
        }
        work(pid, WORKER_BUSY, fake.now, "");
        advance(SEC(1));
        EXPECT_NONE();
        ck_assert(slot(1, "echo", 0)->hang_capped);
        ck_assert_str_eq(status(), "echo 1/1 up, 0 conns, 5 restarts, 1 worker hung past request_timeout, not "
                                   "killed (kill storm cap)");
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), first + SEC(60));
        advance_to(first + SEC(60) - 1);
        EXPECT_NONE();
        advance(1);
        EXPECT("kill 106 ABRT");
        ck_assert(!slot(1, "echo", 0)->hang_capped);
        ck_assert_str_eq(status(), "echo 1/1 up, 0 conns, 5 restarts");
}
END_TEST

/* max_memory: sampled every second, only while a service sets it; a
 * worker above it that has served is flagged to leave after its
 * connection (an idle one also gets SIGTERM), one that has not served is
 * left alone; the recycle is replaced at once and is no restart. */
START_TEST(test_max_memory) {
        start(CONF("2", SVC_E("echo", 2, "max_memory = \"1M\";")));
        ready(101);
        ready(102);
        EXPECT("spawn g1 echo[0] = 101", "spawn g1 echo[1] = 102", "event STARTED");
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), T0 + SEC(1));
        fake.memory[0] = 2 << 20;
        fake.memory[1] = 3 << 20;
        advance(SEC(1));
        EXPECT_NONE();
        ck_assert(slot(1, "echo", 0)->memory_warned);

        served(101);
        served(102);
        work(102, WORKER_BUSY, fake.now, "");
        work(101, WORKER_IDLE, 0, "");
        advance(SEC(1));
        EXPECT("kill 101 TERM");
        ck_assert_int_eq(atomic_load(&slot(1, "echo", 0)->score->recycle), 1);
        ck_assert_int_eq(atomic_load(&slot(1, "echo", 1)->score->recycle), 1);
        ck_assert_uint_eq(service("echo")->kills[KILL_REASON_MEMORY], 2);
        /* flagged once */
        advance(SEC(1));
        EXPECT_NONE();
        quit(101, 0);
        quit(102, 0);
        EXPECT("spawn g1 echo[0] = 103", "spawn g1 echo[1] = 104");
        ck_assert_uint_eq(service("echo")->restarts, 0);
        ck_assert_int_eq(atomic_load(&slot(1, "echo", 0)->score->recycle), 0);

        /* a reload without max_memory: no more sampling */
        ready(103);
        ready(104);
        ck_assert_int_eq(reload(CONF("2", SVC("echo", 1))), 0);
        ready(105);
        EXPECT("spawn g2 echo[0] = 105", "kill 103 TERM", "kill 104 TERM", "event RELOAD_APPLIED");
        quit(103, 0);
        quit(104, 0);
        advance(SEC(1));
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);
}
END_TEST

/* max_requests_jitter: every value from max_requests to max_requests +
 * jitter, both ends included, and nothing else, whatever the random bits. */
START_TEST(test_jitter_bounds) {
        bool seen[8] = { false };

        ck_assert_uint_eq(recycle_max_requests(0, 10, 5), 0);
        ck_assert_uint_eq(recycle_max_requests(100, 0, 5), 100);
        for (uint64_t r = 0; r < 1000; r++) {
                uint64_t v = recycle_max_requests(100, 7, r * UINT64_C(0x9e3779b97f4a7c15));

                ck_assert_uint_ge(v, 100);
                ck_assert_uint_le(v, 107);
                seen[v - 100] = true;
        }
        for (size_t i = 0; i < ELEMENTSOF(seen); i++)
                ck_assert_msg(seen[i], "max_requests + %zu never drawn", i);
        ck_assert_uint_eq(recycle_max_requests(100, 7, UINT64_MAX), 100 + UINT64_MAX % 8);
        ck_assert_uint_eq(recycle_max_requests(UINT64_MAX - 1, 7, 7), UINT64_MAX);
        ck_assert_uint_eq(recycle_max_requests(1, UINT64_MAX, UINT64_MAX), UINT64_MAX);
}
END_TEST

/* Each worker draws its own limit when it starts. */
START_TEST(test_jitter_per_worker) {
        fake.random = 9;
        start(CONF("2", SVC_E("echo", 3, "max_requests = 100; max_requests_jitter = 10;")));
        EXPECT("spawn g1 echo[0] = 101", "spawn g1 echo[1] = 102", "spawn g1 echo[2] = 103");
        ck_assert_uint_eq(slot(1, "echo", 0)->max_requests, 109);
        ck_assert_uint_eq(slot(1, "echo", 1)->max_requests, 110);
        ck_assert_uint_eq(slot(1, "echo", 2)->max_requests, 100);
        ready(101);
        served(101);
        quit(101, 0);
        EXPECT("spawn g1 echo[0] = 104");
        ck_assert_uint_eq(slot(1, "echo", 0)->max_requests, 101);
}
END_TEST

int main(void) {
        Suite *s = suite_create("supervisor-policy");

        SUPERVISOR_ADD_TEST(s, test_budget_then_backoff);
        SUPERVISOR_ADD_TEST(s, test_deaths_after_serving_never_back_off);
        SUPERVISOR_ADD_TEST(s, test_startup_crash_loop_bounded);
        SUPERVISOR_ADD_TEST(s, test_request_timeout);
        SUPERVISOR_ADD_TEST(s, test_kill_storm_cap);
        SUPERVISOR_ADD_TEST(s, test_max_memory);
        SUPERVISOR_ADD_TEST(s, test_jitter_bounds);
        SUPERVISOR_ADD_TEST(s, test_jitter_per_worker);
        return td_run_suite(s);
}
