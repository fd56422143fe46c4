/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <sys/types.h>

#include "config.h"

typedef struct Master Master;
typedef struct Generation Generation;
typedef struct Pool Pool;

/* What a worker is doing, as it tells the master through the scoreboard. */
typedef enum WorkerState {
        WORKER_STARTING,  /* forked, not yet waiting for connections */
        WORKER_IDLE,      /* waiting in accept() */
        WORKER_BUSY,      /* serving a connection */
        WORKER_EXITING,   /* leaving its loop */
        _WORKER_STATE_MAX,
} WorkerState;

/* One slot's entry in a pool's shared-memory scoreboard. Only the worker
 * writes it; the master reads it for STATUS= and for exit statistics. */
typedef struct WorkerScore {
        _Atomic int state;
        _Atomic uint64_t connections;
        _Atomic uint64_t wakeups;          /* returns from waiting for a connection */
        _Atomic uint64_t spurious_wakeups; /* ... that found no connection to accept */
} WorkerScore;

/* The master's view of a slot. Every transition goes through
 * slot_set_state() in pool.c. */
typedef enum SlotState {
        SLOT_RUNNING,     /* a worker process is alive for this slot */
        SLOT_BACKOFF,     /* waiting for its respawn timer after quick crashes */
        SLOT_RETIRING,    /* its worker was told to stop; the exit is not respawned */
        SLOT_DEAD,        /* no process and none will be started */
        _SLOT_STATE_MAX,
} SlotState;

typedef struct Slot {
        Pool *pool;
        unsigned index;
        SlotState state;
        pid_t pid;
        bool ready;                   /* the worker reached its accept loop */
        uint64_t started_usec;
        unsigned crashes;             /* quick crashes in a row */
        uint64_t backoff_usec;        /* current delay while SLOT_BACKOFF */
        sd_event_source *child_source;
        sd_event_source *timer_source;
} Slot;

struct Pool {
        Generation *gen;
        const ServiceConfig *svc;     /* owned by gen->config */
        int *listen_fds;              /* borrowed from the master's listeners */
        size_t n_listen_fds;
        WorkerScore *scores;          /* MAP_SHARED, one per slot */
        size_t scores_size;
        Slot *slots;
        unsigned n_slots;
        uint64_t restarts;            /* unplanned worker exits */
        uint64_t connections_done;    /* served by workers that have exited */
};

struct Generation {
        Master *master;
        unsigned number;
        Config *config;               /* owned */
        Pool *pools;
        size_t n_pools;
        Generation *next;             /* in the master's list of retiring generations */
        sd_event_source *kill_timer;  /* SIGKILL once a retirement takes too long */
};

/* Everything a freshly forked worker needs; lives in the master's memory,
 * which the child sees as it was at fork time. */
typedef struct WorkerSpawn {
        const Config *config;
        const ServiceConfig *svc;
        unsigned slot;
        unsigned generation;
        WorkerScore *score;
        const int *listen_fds;
        size_t n_listen_fds;
        int ready_fd;                 /* write end of the master's ready pipe */
        pid_t master_pid;
        const int *close_fds;         /* the master's fds this worker must not keep */
        size_t n_close_fds;
} WorkerSpawn;

/* The message a worker writes to the ready pipe when it starts accepting. */
typedef struct ReadyMessage {
        pid_t pid;
        unsigned generation;
        unsigned slot;
} ReadyMessage;

const char *slot_state_to_string(SlotState s);

/* Creates generation `number` for config (taking ownership of it on
 * success): one pool per service, listeners looked up in the master. */
int generation_new(Master *m, Config *config, unsigned number, Generation **ret);
Generation *generation_free(Generation *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(Generation *, generation_free)

/* Forks every slot of every pool. */
int generation_start(Generation *g);
/* True when every slot's worker has reached its accept loop. With
 * allow_backoff, slots waiting out a crash backoff count as settled. */
bool generation_is_ready(const Generation *g, bool allow_backoff);
/* Tells every worker to stop (SIGTERM: finish the current connection);
 * their exits are not respawned. Those still alive after kill_after_usec
 * (0: right away) get SIGKILL. */
void generation_retire(Generation *g, uint64_t kill_after_usec);
/* Sends sig to every live worker. */
void generation_kill(Generation *g, int sig);
unsigned generation_live_workers(const Generation *g);
/* Marks the worker that sent msg as ready; returns true if it was found. */
bool generation_worker_ready(Generation *g, const ReadyMessage *msg);

/* Carries the per-service counters of old over to g (same service name). */
void generation_inherit_counters(Generation *g, const Generation *old);

/* "echo 2/2 up, 10 conns, 1 restart; slot 1 backing off 0.4s after 3 quick crashes" */
int pool_format_status(const Pool *p, char *buf, size_t size);
