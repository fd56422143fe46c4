/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macros.h"

/* What a worker is doing, as it tells the master through its score. */
typedef enum WorkerState {
        WORKER_STARTING,  /* forked, not yet waiting for connections */
        WORKER_IDLE,      /* waiting for a connection */
        WORKER_BUSY,      /* serving a connection */
        WORKER_EXITING,   /* leaving its loop */
        _WORKER_STATE_MAX,
} WorkerState;

/* One worker's entry in its service's shared-memory scoreboard. The master
 * fills generation and slot before the fork; after it only the worker
 * writes, and the master reads (for STATUS= and exit statistics). */
typedef struct WorkerScore {
        _Atomic int state;
        _Atomic int pid;
        _Atomic unsigned generation;
        _Atomic unsigned slot;
        _Atomic uint64_t connections;
        _Atomic uint64_t wakeups;          /* returns from waiting for a connection */
        _Atomic uint64_t spurious_wakeups; /* ... that found no connection to accept */
} WorkerScore;

/* The service-wide part of the scoreboard, at its start. The front stage
 * publishes what it holds; workers read it before parking; the master sets
 * stopping before it tells workers to stop, so that they close idle
 * connections instead of parking them. */
typedef struct ServiceScore {
        _Atomic int stopping;
        _Atomic uint64_t parked;           /* held by the front stage now */
        _Atomic uint64_t parked_idle;      /* ... of which idle between requests */
        _Atomic uint64_t parked_head;      /* ... of which with a request arriving */
        _Atomic uint64_t parked_sending;   /* ... of which finishing a response to a slow reader */
        _Atomic uint64_t handed_back;      /* total handed back to workers */
        /* Handed back and not yet taken by a worker: a hint, counted up
         * before the send and down after the receive (park_hand_back()). */
        _Atomic int64_t handback_queued;
        _Atomic uint64_t park_refused;     /* total not parked: the front stage was full */
        _Atomic uint64_t park_expired;     /* total closed by the front stage at their deadline */
} ServiceScore;

/* A service's scoreboard: one MAP_SHARED anonymous mapping made in the
 * master before any of the service's workers is forked, so that every
 * worker of every generation sees it, and it outlives reloads. Entries are
 * handed out per worker (not per slot), because during a reload the old
 * and the new generation's workers of one service are alive at once. */
typedef struct Scoreboard {
        ServiceScore *service;
        WorkerScore *scores;
        size_t capacity;
        size_t map_size;
        bool *used;              /* master-private */
} Scoreboard;

/* capacity entries; pages are only touched as entries are used. */
int scoreboard_new(size_t capacity, Scoreboard **ret);
Scoreboard *scoreboard_free(Scoreboard *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Scoreboard *, scoreboard_free)

/* A zeroed entry, or -ENOSPC when every entry is in use. */
int scoreboard_acquire(Scoreboard *b, unsigned generation, unsigned slot, WorkerScore **ret);
/* Gives the entry back; NULL is ignored. */
void scoreboard_release(Scoreboard *b, WorkerScore *s);
