/* SPDX-License-Identifier: MIT */
#pragma once

/* What the parts of the supervisor share: supervisor.c (the state machine
 * of workers, generations and stops) and the files that each own one
 * concern of it: supervisor-exit.c (a child's exit), supervisor-scale.c
 * (the pool size at run time), hang.c (request_timeout), recycle.c
 * (max_requests_jitter, max_memory) and reload-rolling.c (rolling reloads
 * and their rollback). Not for use outside them. None of those includes
 * a header of another, so supervisor.c can include this one without a
 * cycle. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "generation.h"
#include "config.h"
#include "log.h"
#include "slot.h"

typedef struct Supervisor Supervisor;

/* now + usec, saturating at USEC_INFINITY. */
uint64_t usec_add(uint64_t now, uint64_t usec);
/* The journal fields of a record about s. */
LogFields supervisor_slot_fields(const Slot *s);
/* The respawn policy that applies to s: its generation's, and for a front
 * stage the serving generation's. */
const RespawnConfig *slot_respawn(const Slot *s);
/* The slot waits delay from now before it starts again. */
void slot_enter_backoff(Slot *slot, uint64_t delay, uint64_t now);
/* The pending generation failed for why: it retires, and the slots a
 * rolling reload had taken over go back to the serving generation. */
void supervisor_refuse_pending(Supervisor *s, const char *why, uint64_t now);
/* Starts the slot's worker (it has none); a failed start puts the slot
 * into backoff. */
void supervisor_spawn(Supervisor *s, Slot *slot, uint64_t now);
/* Signals s's worker as its policy says (slot-policy.h): the stop signal
 * of a program of its own, the process group, ... */
void supervisor_slot_kill(Supervisor *s, const Slot *slot, int sig);
/* Tells the slot's worker to finish its connection and leave; its exit
 * is not respawned. A slot that covers for a rolled-back one (its
 * cover_until_usec set) is only marked: it is told later. */
void supervisor_retire_slot(Supervisor *s, Slot *slot);
/* Calls f on every generation: current, pending, then the retiring ones. */
#define SUPERVISOR_FOREACH_GENERATION(s, g)                                                           \
        for (Generation *g = (s)->current ? (s)->current : (s)->pending ? (s)->pending : (s)->retiring; g; \
             g = supervisor_next_generation((s), g))
Generation *supervisor_next_generation(const Supervisor *s, const Generation *g);

/* supervisor-policy.c: the policy's deadlines of g's workers: a worker
 * not ready in time is a failed start (its exit counts as a crash, and
 * refuses a reload); a ready one whose watchdog ran out is hung. */
void supervisor_policy_deadlines_due(Supervisor *s, Generation *g, uint64_t now);

/* supervisor-scale.c: starts the serving generation's slots below their
 * pool's size that have no worker, and drops the slots above it whose
 * worker has gone; every supervisor_run_timers() ends with it. */
void supervisor_scale_run(Supervisor *s, uint64_t now);

/* hang.c: acts on every busy worker past its service's request_timeout
 * (SIGABRT, SIGKILL after a grace, within the kill storm cap) and sets
 * s->hang_check_usec to when the next check is due. */
void hang_check(Supervisor *s, uint64_t now);

/* recycle.c: this worker's max_requests, with its share of the jitter
 * drawn from random. */
uint64_t recycle_max_requests(uint64_t max_requests, uint64_t jitter, uint64_t random);
/* Samples the private memory of every serving worker of a service with
 * max_memory when due, flags those above it, and sets
 * s->memory_check_usec. */
void recycle_check_memory(Supervisor *s, uint64_t now);

/* reload-rolling.c: starts the first batch of every pool of s->pending. */
void reload_rolling_start(Supervisor *s, uint64_t now);
/* Moves every pool of s->pending on to its next batch once the current
 * one is ready, retiring the old workers it replaces (rolling). Returns 0,
 * or -ETIMEDOUT with why set when a batch missed its ready_timeout. */
int reload_rolling_progress(Supervisor *s, uint64_t now, char *why, size_t size);
/* The pending generation failed: the old generation's slots that it had
 * taken over start old workers again, and the new workers in them cover
 * until those are ready. Call before the pending generation retires.
 * Returns whether any slot had been taken over (a rollback, not a
 * refusal). */
bool reload_rolling_rollback(Supervisor *s, uint64_t now);
/* The old worker of slot (serving generation) is ready again: the new
 * worker that covered for it retires. */
void reload_rolling_uncover(Supervisor *s, const Slot *slot);
/* Retires the covering workers whose time is up (all of them with
 * now = USEC_INFINITY, for a stop). */
void reload_rolling_uncover_due(Supervisor *s, uint64_t now);
/* The earliest batch or cover deadline. */
uint64_t reload_rolling_next_deadline(const Supervisor *s);
