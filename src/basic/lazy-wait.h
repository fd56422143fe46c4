/* SPDX-License-Identifier: MIT */
#pragma once

#include <signal.h>
#include <stdint.h>

/* A wait for one fd that gives up after a delay, for waits that are
 * short and almost always end with the fd ready: a keep-alive connection
 * whose next request comes within park.delay. A timeout on every wait
 * arms a kernel timer and cancels it a few microseconds later; when that
 * timer is the CPU's next event, both reprogram the CPU's timer device,
 * which in a virtual machine is a trap to the hypervisor each time
 * (measured: bench/README.md, "The keep-alive wait's timer"). Here one
 * timerfd is armed at most once per delay instead: a wait that finds it
 * already set to fire no later than its own end leaves it as it is, and
 * only when it fires early is it armed again for that wait's end. So the
 * give-up is as exact as a timeout's, and a process that stops waiting
 * gets one expiry after its last wait and no more: nothing to disarm. */
typedef struct LazyWait {
        int timer_fd;        /* a one-shot CLOCK_MONOTONIC timerfd; -EBADF until the first wait */
        uint64_t expiry_usec; /* when it is set to fire; 0: not set */
        int cpu;              /* the CPU it was set on */
} LazyWait;

#define LAZY_WAIT_INIT { .timer_fd = -EBADF }

/* Waits until fd has one of events or delay_usec has passed. Returns the
 * fd's revents (> 0), 0 when the delay passed, -ECANCELED when *stop was
 * set before or during the wait (a signal that sets it must interrupt
 * ppoll(): it is unblocked by mask, which is given to ppoll()), or a
 * negative errno, after which the caller can wait another way. */
int lazy_wait(LazyWait *w, int fd, short events, uint64_t delay_usec, const sigset_t *mask,
              const volatile sig_atomic_t *stop);

/* Closes the timer; w may be NULL. */
void lazy_wait_done(LazyWait *w);
