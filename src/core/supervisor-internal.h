/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* Shared by the supervisor's own modules (supervisor.c and
 * supervisor-scale.c), not by its users. Types only by name, so that
 * supervisor.c can include it without a cycle. */
typedef struct Supervisor Supervisor;
typedef struct Slot Slot;

/* Starts slot's worker (it has none); a failed start puts the slot into
 * backoff. */
void supervisor_spawn(Supervisor *s, Slot *slot, uint64_t now);

/* Starts the serving generation's slots below their pool's size that have
 * no worker, and drops the slots above it whose worker has gone
 * (supervisor-scale.c); every supervisor_run_timers() ends with it. */
void supervisor_scale_run(Supervisor *s, uint64_t now);
