/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/* How a worker ended, as far as the respawn policy cares. */
typedef struct WorkerExit {
        uint64_t uptime_usec;
        bool clean;              /* exited with status 0 */
        uint64_t connections;    /* connections it served */
        bool never_ready;        /* died before it reported reaching its accept loop */
} WorkerExit;

/* A worker that never became ready crashed, whatever min_uptime says: with
 * min_uptime = 0 a failing init would otherwise respawn in a tight loop. A
 * worker that exits cleanly after serving (max_requests, lost master) is a
 * planned recycle; any other exit before min_uptime is a crash. */
bool respawn_is_crash(const RespawnConfig *c, const WorkerExit *e);

/* A planned recycle: not counted as a restart. */
bool respawn_is_planned(const WorkerExit *e);

/* Delay before the next start of a slot that has crashed `crashes` times in
 * a row: 0 for none, then backoff_initial doubling up to backoff_max. */
uint64_t respawn_delay_usec(const RespawnConfig *c, unsigned crashes);

/* Applies one exit to a slot's crash counter and returns the delay before
 * the slot may start again. A stable run (uptime >= min_uptime) resets the
 * counter, so a long-lived worker's occasional death respawns at once. */
uint64_t respawn_after_exit(const RespawnConfig *c, const WorkerExit *e, unsigned *crashes);
