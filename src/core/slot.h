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
        /* Crashes in a row that found the crash budget spent (or failed
         * starts): the step of the backoff. */
        unsigned crashes;
        uint64_t backoff_usec;        /* the current delay while BACKOFF */
        uint64_t backoff_until_usec;  /* when BACKOFF ends */
        WorkerScore *score;           /* its entry in the service's scoreboard, while it has a process */
        void *watch;                  /* the spawner's handle on the process */

        /* The running worker's supervision (hang.c, recycle.c): */
        uint64_t max_requests;        /* its own limit: max_requests plus its share of the jitter */
        /* Why the master ended it or recycles it; _KILL_REASON_INVALID
         * for none (set when the worker starts). */
        KillReason kill_reason;
        uint64_t hang_busy_since_usec; /* the request the hang check last acted on */
        uint64_t hang_abort_usec;     /* when SIGABRT was sent; SIGKILL follows after a grace */
        bool hang_capped;             /* hung past request_timeout, spared by the kill storm cap */
        bool memory_warned;           /* over max_memory before serving: said once */

        /* Rolling reloads (reload-rolling.c): */
        bool handed_over;             /* serving generation: retired for the new generation's worker here */
        uint64_t cover_until_usec;    /* rolled back: serves until the old slot is back, or until then */
} Slot;

const char *slot_state_to_string(SlotState s);

/* Whether the slot has a live process. */
bool slot_has_process(const Slot *s);
