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
        /* Deadlines of the worker's policy (WorkerPolicy), 0 when none:
         * STARTING, killed as a failed start unless ready by then;
         * RUNNING, killed unless it sent WATCHDOG=1 since. */
        uint64_t ready_deadline_usec;
        uint64_t watchdog_deadline_usec;
        /* Why the supervisor killed it (or, max_memory, recycles it), for
         * its exit record; _KILL_REASON_INVALID: it did not. */
        KillReason kill_reason;
        char *status;                 /* its last STATUS= (sd_notify), or NULL */

        /* The running worker's supervision (hang.c, recycle.c): */
        uint64_t max_requests;        /* its own limit: max_requests plus its share of the jitter */
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
