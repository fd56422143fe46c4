/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The most deaths respawn.burst may allow per interval. */
#define CRASH_BUDGET_BURST_MAX 1000

/* A service's crash budget: the times of its latest crashes (deaths of
 * workers before they served their first connection), so that the
 * supervisor can tell whether `burst` of them fell within the last
 * `interval`. Only the latest `burst` times matter for that, so a ring of
 * the largest burst allowed is enough whatever the configuration says
 * after a reload. */
typedef struct CrashBudget {
        uint64_t times[CRASH_BUDGET_BURST_MAX];
        unsigned head;                /* where the next time goes */
        unsigned n;                   /* times recorded, at most CRASH_BUDGET_BURST_MAX */
} CrashBudget;

/* Records a crash at now. Returns true when it is within the budget: fewer
 * than burst crashes came in the interval before it (burst 0 allows none,
 * so every crash backs off). The crash counts either way, so that a crash
 * loop that goes on keeps the budget spent. */
bool crash_budget_spend(CrashBudget *b, unsigned burst, uint64_t interval_usec, uint64_t now);

/* The crashes recorded in the interval up to now (at most burst of them
 * are looked at). */
unsigned crash_budget_count(const CrashBudget *b, unsigned burst, uint64_t interval_usec, uint64_t now);
