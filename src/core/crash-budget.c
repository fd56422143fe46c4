/* SPDX-License-Identifier: MIT */
#include <assert.h>

#include "crash-budget.h"
#include "macros.h"

/* The kth latest recorded time, k from 0. */
static uint64_t crash_budget_nth_latest(const CrashBudget *b, unsigned k) {
        assert(k < b->n);
        return b->times[(b->head + CRASH_BUDGET_BURST_MAX - 1 - k) % CRASH_BUDGET_BURST_MAX];
}

unsigned crash_budget_count(const CrashBudget *b, unsigned burst, uint64_t interval_usec, uint64_t now) {
        unsigned n = 0;

        assert(b);

        /* Times are recorded in order, so counting stops at the first one
         * that is too old. A time in the future (a clock that the caller
         * moved back) counts as now. */
        for (unsigned k = 0; k < MIN(b->n, burst); k++) {
                uint64_t t = crash_budget_nth_latest(b, k);

                if (t < now && now - t >= interval_usec)
                        break;
                n++;
        }
        return n;
}

bool crash_budget_spend(CrashBudget *b, unsigned burst, uint64_t interval_usec, uint64_t now) {
        bool within;

        assert(b);
        assert(burst <= CRASH_BUDGET_BURST_MAX);

        within = crash_budget_count(b, burst, interval_usec, now) < burst;
        b->times[b->head] = now;
        b->head = (b->head + 1) % CRASH_BUDGET_BURST_MAX;
        if (b->n < CRASH_BUDGET_BURST_MAX)
                b->n++;
        return within;
}
