/* SPDX-License-Identifier: MIT */
#pragma once

/* The bottom of the test library: the clock, the binary under test and the
 * captured-line type that the log and notify readers both hand out.
 *
 * Conventions of every tests/lib header: functions return 0 (or a positive
 * count/fd) on success and a negative errno on failure; -ETIMEDOUT when a
 * bounded wait ran out. All timeouts are in microseconds (use TD_SEC()). */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macros.h"

#define TD_SEC(s) ((uint64_t) ((s) * 1000000.0))
#define TD_MSEC(ms) ((uint64_t) (ms) * UINT64_C(1000))

/* Default timeout the suites use for "should happen soon" waits. Generous:
 * sanitizer builds on a loaded machine are slow. */
#define TD_TIMEOUT TD_SEC(15)

/* One captured line (log or notify) with the monotonic time (usec) at which
 * the harness received it. */
typedef struct TdLine {
        char *text;          /* without the trailing newline */
        uint64_t usec;
        pid_t pid;           /* notify: the sender (SCM_CREDENTIALS), 0 if unknown; log: 0 */
        size_t msg;          /* notify: index of the datagram it came in; log: 0 */
} TdLine;

/* Frees an array of n TdLine (from td_log_lines() or td_notify_all()). NULL
 * is fine. */
void td_lines_free(TdLine *l, size_t n);

uint64_t td_now(void);            /* CLOCK_MONOTONIC, usec */
/* Sleeps. Only to pace what a test does on purpose slowly (a client that
 * trickles its request, say), never to wait for something to happen: wait
 * for the event itself (td_wait_log(), td_wait_notify(), td_wait_exit(),
 * td_wait_pid_gone(), td_wait_eof(), ...), with a timeout that only bounds
 * a hang. */
void td_sleep(uint64_t usec);
/* The pause between two looks of a bounded poll loop (a few ms). Only for
 * conditions that the kernel reports no event for, such as a process's
 * children, the sockets it holds or what it has read, which only /proc
 * shows; every caller says in a comment why there is no event to wait
 * for. */
void td_poll_pause(void);
const char *td_binary(void);      /* $PREFORKD_BINARY */
