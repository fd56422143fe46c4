/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* Whether a non-blocking call tried before waiting (a read before poll, an
 * accept before epoll_wait) is likely to find something. One that finds it
 * saves the wait; one that finds nothing costs a system call more than
 * waiting first, since the wait returns at once when something is there.
 * Which one happens depends on the load and the client, not on one
 * connection, so the caller keeps one Hunch per kind of call: a score that
 * goes up when a try found something and down when it did not, bounded so
 * that a change of load shows within a few tries. While the score is
 * negative the caller waits first, and tries first all the same once every
 * HUNCH_PROBE times, so that a load that comes back is seen. Zeroed is the
 * initial state: try first. */
typedef struct Hunch {
        int score;
        unsigned probe;
} Hunch;

#define HUNCH_MAX 8
#define HUNCH_PROBE 16

/* Whether to try before waiting this time. */
bool hunch_try_first(Hunch *h);

/* What a try before waiting found: something (true) or nothing. */
void hunch_learn(Hunch *h, bool found);
