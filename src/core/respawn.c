/* SPDX-License-Identifier: MIT */
#include "respawn.h"

bool respawn_is_planned(const WorkerExit *e) {
        return !e->never_ready && e->clean && e->connections > 0;
}

bool respawn_is_crash(const RespawnConfig *c, const WorkerExit *e) {
        if (e->never_ready)
                return true;
        if (respawn_is_planned(e))
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
