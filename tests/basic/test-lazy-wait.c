/* SPDX-License-Identifier: MIT */
/* lazy-wait.c: a wait with a give-up delay and a timer set at most once
 * per delay. Only lower bounds on time are asserted (a loaded machine
 * makes any wait longer), and one upper bound far from the delay. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "lazy-wait.h"
#include "macros.h"
#include "testlib.h"
#include "time-util.h"

#define MSEC 1000ULL

static sigset_t mask;

static void pipe_new(int p[2]) {
        ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

/* Waits on the read end of p for delay; returns the result, and the time
 * it took in *ret_usec. */
static int timed_wait(LazyWait *w, const int p[2], uint64_t delay, uint64_t *ret_usec) {
        uint64_t t0 = now_usec();
        int r = lazy_wait(w, p[0], POLLIN, delay, &mask, NULL);

        *ret_usec = now_usec() - t0;
        return r;
}

/* A ready fd ends the wait at once with its revents; a quiet one after
 * the delay, never before. */
START_TEST(test_ready_and_quiet) {
        LazyWait w = LAZY_WAIT_INIT;
        uint64_t took;
        int p[2];

        pipe_new(p);
        ck_assert_int_eq(write(p[1], "x", 1), 1);
        ck_assert_int_eq(timed_wait(&w, p, 10000 * MSEC, &took), POLLIN);
        ck_assert_int_ge(w.timer_fd, 0);

        char c;
        ck_assert_int_eq(read(p[0], &c, 1), 1);
        ck_assert_int_eq(timed_wait(&w, p, 30 * MSEC, &took), 0);
        ck_assert_uint_ge(took, 30 * MSEC);
        /* The expiry of that give-up is left unread: the next quiet
         * wait still lasts its whole delay. */
        ck_assert_int_eq(timed_wait(&w, p, 30 * MSEC, &took), 0);
        ck_assert_uint_ge(took, 30 * MSEC);
        lazy_wait_done(&w);
        lazy_wait_done(&w);
        lazy_wait_done(NULL);
        safe_close(p[0]);
        safe_close(p[1]);
}
END_TEST

/* A wait of first_delay that ends at once with the fd ready, leaving its
 * timer set, then a quiet wait of second_delay: returns how long the
 * second took, asserting that it gave up. */
static uint64_t quiet_after_ready(uint64_t first_delay, uint64_t second_delay) {
        LazyWait w = LAZY_WAIT_INIT;
        uint64_t took;
        char c;
        int p[2];

        pipe_new(p);
        ck_assert_int_eq(write(p[1], "x", 1), 1);
        ck_assert_int_eq(timed_wait(&w, p, first_delay, &took), POLLIN);
        ck_assert_int_eq(read(p[0], &c, 1), 1);
        ck_assert_int_eq(timed_wait(&w, p, second_delay, &took), 0);
        lazy_wait_done(&w);
        safe_close(p[0]);
        safe_close(p[1]);
        return took;
}

/* A timer left set by a shorter wait fires in the middle of a longer one,
 * which goes on until its own end. */
START_TEST(test_earlier_expiry_extended) {
        ck_assert_uint_ge(quiet_after_ready(20 * MSEC, 150 * MSEC), 150 * MSEC);
}
END_TEST

/* A timer left set by a longer wait does not hold up a shorter one: it
 * gives up at its own end, long before the ten seconds. */
START_TEST(test_later_expiry_replaced) {
        uint64_t took = quiet_after_ready(10000 * MSEC, 20 * MSEC);

        ck_assert_uint_ge(took, 20 * MSEC);
        ck_assert_uint_lt(took, 5000 * MSEC);
}
END_TEST

/* A stop flag set before the wait cancels it; an fd error is returned as
 * revents. */
START_TEST(test_stop_and_hangup) {
        static volatile sig_atomic_t stop = 1;
        LazyWait w = LAZY_WAIT_INIT;
        uint64_t took;
        int p[2];

        pipe_new(p);
        ck_assert_int_eq(lazy_wait(&w, p[0], POLLIN, 10000 * MSEC, &mask, &stop), -ECANCELED);
        safe_close(p[1]);
        ck_assert(timed_wait(&w, p, 10000 * MSEC, &took) & POLLHUP);
        lazy_wait_done(&w);
        safe_close(p[0]);
}
END_TEST

int main(void) {
        Suite *s = suite_create("lazy-wait");

        sigemptyset(&mask);
        TD_ADD_TEST(s, test_ready_and_quiet);
        TD_ADD_TEST(s, test_earlier_expiry_extended);
        TD_ADD_TEST(s, test_later_expiry_replaced);
        TD_ADD_TEST(s, test_stop_and_hangup);
        return td_run_suite(s);
}
