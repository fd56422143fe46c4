/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/timerfd.h>

#include "lazy-wait.h"
#include "macros.h"
#include "time-util.h"

/* Sets the timer to fire at the absolute CLOCK_MONOTONIC time at_usec.
 * Setting a timerfd also clears an expiry not read yet, so the fd is
 * readable again only once this new time has come. */
static int lazy_wait_arm(LazyWait *w, uint64_t at_usec) {
        struct itimerspec its = {
                .it_value = { .tv_sec = (time_t) (at_usec / USEC_PER_SEC),
                              .tv_nsec = (long) (at_usec % USEC_PER_SEC * NSEC_PER_USEC) },
        };

        if (w->timer_fd < 0) {
                int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
                if (fd < 0)
                        return negative_errno();
                w->timer_fd = fd;
        }
        if (timerfd_settime(w->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
                w->expiry_usec = 0;
                return negative_errno();
        }
        w->expiry_usec = at_usec;
        w->cpu = sched_getcpu();
        return 0;
}

int lazy_wait(LazyWait *w, int fd, short events, uint64_t delay_usec, const sigset_t *mask,
              const volatile sig_atomic_t *stop) {
        uint64_t now, end;
        int r;

        assert(w);
        assert(fd >= 0);
        assert(mask);

        now = now_usec();
        end = now + delay_usec;
        /* An expiry already passed (its fd may be readable) or later than
         * this wait's end is of no use; one between the two is: when it
         * fires, the wait goes on until its own end. So is one set on
         * another CPU. Measured with two workers and one wrk thread (the
         * CPUs partly idle), keeping a timer set on another CPU served
         * 0.87x the requests of a timeout per wait, re-setting it here
         * 0.97x, within the spread. A timer lives on the CPU that set
         * it; why one elsewhere slows the wake-ups is not established
         * (bench/README.md). The CPU is read from rseq or the vDSO, not
         * by a system call. */
        if (w->expiry_usec <= now || w->expiry_usec > end || sched_getcpu() != w->cpu) {
                r = lazy_wait_arm(w, end);
                if (r < 0)
                        return r;
        }
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = fd, .events = events },
                        { .fd = w->timer_fd, .events = POLLIN },
                };

                if (stop && *stop)
                        return -ECANCELED;
                if (ppoll(p, ELEMENTSOF(p), NULL, mask) < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (p[0].revents != 0)
                        return p[0].revents;
                if (p[1].revents == 0)
                        continue;
                /* The timer fired: this wait's end, or an earlier one. */
                if (now_usec() >= end)
                        return 0;
                r = lazy_wait_arm(w, end);
                if (r < 0)
                        return r;
        }
}

void lazy_wait_done(LazyWait *w) {
        if (!w)
                return;
        w->timer_fd = safe_close(w->timer_fd);
        w->expiry_usec = 0;
}
