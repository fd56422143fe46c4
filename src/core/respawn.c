/* SPDX-License-Identifier: MIT */
#include <assert.h>

#include "respawn.h"

bool respawn_is_planned(const WorkerExit *e) {
        if (e->never_ready || !e->clean)
                return false;
        return e->served || e->killed;
}

bool respawn_is_crash(const RespawnConfig *c, const WorkerExit *e) {
        if (e->killed)
                return false;
        if (e->never_ready)
                return true;
        if (e->served)
                return false;
        return e->uptime_usec < c->min_uptime_usec;
}

uint64_t respawn_delay_usec(const RespawnConfig *c, unsigned crashes) {
        uint64_t d;

        if (crashes == 0)
                return 0;
        d = c->backoff_initial_usec;
        /* Double without overflowing: stop as soon as the cap is reached. */
        for (unsigned i = 1; i < crashes && d < c->backoff_max_usec; i++)
                d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
        return d < c->backoff_max_usec ? d : c->backoff_max_usec;
}

uint64_t respawn_after_exit(const RespawnConfig *c, const WorkerExit *e, unsigned *crashes) {
        if (respawn_is_crash(c, e)) {
                if (*crashes < UINT32_MAX)
                        (*crashes)++;
        } else
                *crashes = 0;
        return respawn_delay_usec(c, *crashes);
}

RespawnVerdict respawn_worker_exit(const RespawnConfig *c, const WorkerExit *e, CrashBudget *b, unsigned *crashes,
                                   uint64_t now, uint64_t *ret_delay) {
        assert(c);
        assert(e);
        assert(b);
        assert(crashes);
        assert(ret_delay);

        *ret_delay = 0;
        if (!respawn_is_crash(c, e)) {
                *crashes = 0;
                return respawn_is_planned(e) ? RESPAWN_PLANNED : RESPAWN_AT_ONCE;
        }
        if (crash_budget_spend(b, c->burst, c->interval_usec, now))
                return RESPAWN_CRASH;
        if (*crashes < UINT32_MAX)
                (*crashes)++;
        *ret_delay = respawn_delay_usec(c, *crashes);
        return RESPAWN_BACKOFF;
}
