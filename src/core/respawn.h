/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "crash-budget.h"

/* How a worker ended, as far as the respawn policy cares. */
typedef struct WorkerExit {
        uint64_t uptime_usec;
        bool clean;              /* exited with status 0 */
        uint64_t connections;    /* connections it accepted */
        /* It worked for a client: accepted a connection, or served one
         * that the front stage handed back. */
        bool served;
        bool never_ready;        /* died before it reported reaching its accept loop */
        /* The master ended it, or asked it to leave, of its own accord
         * (a kill reason, kill-reason.h). */
        bool killed;
} WorkerExit;

/* What the supervisor does about one worker exit. */
typedef enum RespawnVerdict {
        RESPAWN_PLANNED,         /* a recycle (max_requests, max_memory): at once, not a restart */
        RESPAWN_AT_ONCE,         /* it had served, was killed by the master or ran min_uptime: at once */
        RESPAWN_CRASH,           /* it crashed before serving, within the crash budget: at once */
        RESPAWN_BACKOFF,         /* ... with the budget spent: after a delay */
        _RESPAWN_VERDICT_MAX,
} RespawnVerdict;

/* A crash is a death before the worker served its first connection: before
 * it became ready, whatever min_uptime says (with min_uptime = 0 a failing
 * init would otherwise respawn in a tight loop), or within min_uptime
 * after it. A worker that served is never a crash: such deaths are bounded
 * by the connections clients make, so they cannot become a fork storm.
 * Neither is one that the master ended itself (killed). */
bool respawn_is_crash(const RespawnConfig *c, const WorkerExit *e);

/* A planned recycle (a clean exit after serving, or when the master asked
 * for it): not counted as a restart. */
bool respawn_is_planned(const WorkerExit *e);

/* Delay before the next start of a slot that has crashed `crashes` times in
 * a row: 0 for none, then backoff_initial doubling up to backoff_max. */
uint64_t respawn_delay_usec(const RespawnConfig *c, unsigned crashes);

/* Applies one exit to a slot's crash counter and returns the delay before
 * the slot may start again, without a crash budget: every crash backs
 * off, and any other exit resets the counter. For the front stage, which
 * serves no connection of its own. */
uint64_t respawn_after_exit(const RespawnConfig *c, const WorkerExit *e, unsigned *crashes);

/* Applies one worker exit at now: a crash spends the service's crash
 * budget b, and only a crash that finds it spent (respawn.burst crashes
 * within respawn.interval before it) counts towards the slot's backoff
 * (*crashes, the backoff step). Any exit that is no crash resets the
 * step. Sets *ret_delay to the delay before the slot may start again (0
 * for at once). */
RespawnVerdict respawn_worker_exit(const RespawnConfig *c, const WorkerExit *e, CrashBudget *b, unsigned *crashes,
                                   uint64_t now, uint64_t *ret_delay);
