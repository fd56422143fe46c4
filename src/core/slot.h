/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kill-reason.h"
#include "scoreboard.h"

typedef struct Pool Pool;
typedef struct Service Service;

/* The master's view of one worker place in a pool. Every transition goes
 * through slot_set_state(); the supervisor decides them. */
typedef enum SlotState {
        SLOT_DEAD,        /* no process, and none will be started */
        SLOT_STARTING,    /* forked, has not reported reaching its accept loop */
        SLOT_RUNNING,     /* reported ready: serving */
        SLOT_BACKOFF,     /* no process: waiting out a respawn delay */
        SLOT_RETIRING,    /* told to stop; its exit is not respawned */
        _SLOT_STATE_MAX,
} SlotState;

typedef struct Slot {
        Pool *pool;                   /* NULL for a service's front stage */
        Service *service;
        unsigned index;
        SlotState state;
        pid_t pid;                    /* > 0 in STARTING, RUNNING and (until the exit) RETIRING */
        bool ever_ready;              /* RETIRING: whether it got ready before */
        uint64_t started_usec;
        unsigned crashes;             /* quick crashes in a row */
        uint64_t backoff_usec;        /* the current delay while BACKOFF */
        uint64_t backoff_until_usec;  /* when BACKOFF ends */
        WorkerScore *score;           /* its entry in the service's scoreboard, while it has a process */
        void *watch;                  /* the spawner's handle on the process */
        /* Deadlines of the worker's policy (WorkerPolicy), 0 when none:
         * STARTING, killed as a failed start unless ready by then;
         * RUNNING, killed unless it sent WATCHDOG=1 since. */
        uint64_t ready_deadline_usec;
        uint64_t watchdog_deadline_usec;
        KillReason kill_reason;       /* why the supervisor killed it, for its exit record; _KILL_REASON_INVALID: it did not */
        char *status;                 /* its last STATUS= (sd_notify), or NULL */
} Slot;

const char *slot_state_to_string(SlotState s);

/* Whether the slot has a live process. */
bool slot_has_process(const Slot *s);
