/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "generation.h"
#include "reload-outcome.h"
#include "service.h"

/* The supervisor decides: which worker to start, when to respawn, when a
 * reload is applied or refused, when a stop is complete. It does no I/O of
 * its own and reads no clock: every entry point takes the time, and every
 * effect on the world goes through SupervisorOps. The master implements
 * the ops with fork(), kill() and sd-event; the unit tests with a fake
 * spawner and a fake clock. */

typedef enum SupervisorState {
        SUPERVISOR_IDLE,              /* nothing started yet */
        SUPERVISOR_STARTING,          /* the first generation is coming up */
        SUPERVISOR_RUNNING,
        SUPERVISOR_RELOADING,         /* a new generation is coming up */
        SUPERVISOR_STOPPING,
        SUPERVISOR_STOPPED,           /* every worker has exited */
        _SUPERVISOR_STATE_MAX,
} SupervisorState;

typedef enum SupervisorEvent {
        SUPERVISOR_EVENT_STARTED,          /* the first generation is up: READY=1 */
        SUPERVISOR_EVENT_RELOAD_APPLIED,   /* the new generation serves, the old one retires */
        SUPERVISOR_EVENT_RELOAD_REFUSED,   /* the new generation failed; why says how */
        /* A rolling reload failed after it had replaced workers: they are
         * going back to the old configuration; why says how. */
        SUPERVISOR_EVENT_RELOAD_ROLLED_BACK,
        SUPERVISOR_EVENT_STOPPED,          /* a stop is complete */
        SUPERVISOR_EVENT_STOP_TIMEOUT,     /* workers outlived their SIGKILL */
        _SUPERVISOR_EVENT_MAX,
} SupervisorEvent;

/* How a worker ended: si_code (CLD_EXITED, CLD_KILLED, CLD_DUMPED) and
 * si_status of its siginfo. */
typedef struct ExitStatus {
        int code;
        int status;
        /* The last lines of its stderr, when the spawner captured it (" | "
         * between them); quoted in the record of an unclean exit. May be
         * NULL. */
        const char *output_tail;
} ExitStatus;

typedef struct SupervisorOps {
        /* Starts s's worker. On success sets s->pid (and s->watch, the
         * spawner's own handle) and returns 0; else a negative errno,
         * already logged. */
        int (*spawn)(void *userdata, Slot *s);
        /* s's process has been reaped: drop s->watch. */
        void (*forget)(void *userdata, Slot *s);
        void (*kill)(void *userdata, pid_t pid, int sig);
        /* The private memory of process pid, in bytes (max_memory). 0 or
         * a negative errno. May be NULL: max_memory is then not enforced. */
        int (*memory)(void *userdata, pid_t pid, uint64_t *ret_bytes);
        /* A random number (max_requests_jitter). May be NULL: no jitter. */
        uint64_t (*random)(void *userdata);
        /* A front stage left during a stop: connections parked too late
         * for it, still queued towards it, go back to the workers. May be
         * NULL. */
        void (*park_reclaim)(void *userdata, Service *service);
        /* Tells the master what happened. Must not call back into the
         * supervisor: the master acts on it once the call returns. */
        void (*event)(void *userdata, SupervisorEvent event, const char *why);
} SupervisorOps;

typedef struct Supervisor {
        SupervisorState state;
        const SupervisorOps *ops;
        void *userdata;
        Service **services;           /* every service some generation uses; a reference each */
        size_t n_services;
        Generation *current;          /* serving */
        Generation *pending;          /* coming up for a reload */
        Generation *retiring;         /* older ones whose workers are leaving */
        unsigned last_generation;
        uint64_t stop_deadline;       /* STOPPING: report STOP_TIMEOUT then */
        uint64_t hang_check_usec;     /* the next request_timeout check (hang.c) */
        uint64_t memory_check_usec;   /* the next max_memory sampling (recycle.c) */
        bool fast_stop;
        /* A graceful stop ends the front stages first (they hand back
         * what is in progress), the workers once they have left. */
        bool stop_workers_pending;
        uint64_t stop_workers_usec;   /* ... or at this time at the latest */
        uint64_t stop_kill_usec;      /* a stop's SIGKILL to stragglers */
} Supervisor;

int supervisor_new(const SupervisorOps *ops, void *userdata, Supervisor **ret);
/* Frees everything; processes are not touched. Accepts NULL. */
Supervisor *supervisor_free(Supervisor *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Supervisor *, supervisor_free)

/* Starts generation 1 of config (taken on success). listen_fds[i] are the
 * listeners of config->services[i], in their listen order. */
int supervisor_start(Supervisor *s, Config *config, int *const *listen_fds, uint64_t now);
/* Starts a new generation of config (taken on success); the current one
 * keeps serving until every new worker is ready, then retires. -EBUSY
 * unless RUNNING. */
int supervisor_reload(Supervisor *s, Config *config, int *const *listen_fds, uint64_t now);
/* Graceful (TERM: finish the connection) or fast (QUIT) stop. */
void supervisor_stop(Supervisor *s, bool fast, uint64_t now);

/* The worker pid, of generation and slot as it says, reached its accept
 * loop. The sender's pid comes from the kernel (SO_PASSCRED), so a report
 * about another worker cannot be forged; stale reports are ignored. */
void supervisor_worker_ready(Supervisor *s, pid_t pid, unsigned generation, unsigned slot, uint64_t now);
/* Worker pid sent WATCHDOG=1: its watchdog (WorkerPolicy.watchdog_usec)
 * starts over; with trigger (WATCHDOG=trigger), it is killed now as if it
 * had run out. Ignored for a worker without a watchdog or not ready yet. */
void supervisor_worker_watchdog(Supervisor *s, pid_t pid, bool trigger, uint64_t now);
/* Worker pid's STATUS= text (len bytes, kept up to SLOT_STATUS_MAX): shown
 * in the status summary. -ESRCH when pid is no pool worker. */
int supervisor_worker_status(Supervisor *s, pid_t pid, const char *text, size_t len);
/* The worker pid ended (and has been reaped). */
void supervisor_worker_exited(Supervisor *s, pid_t pid, const ExitStatus *st, uint64_t now);
/* Acts on every deadline that has passed. */
void supervisor_run_timers(Supervisor *s, uint64_t now);
/* The next deadline, or USEC_INFINITY. */
uint64_t supervisor_next_deadline(const Supervisor *s);

unsigned supervisor_live_workers(const Supervisor *s);
Slot *supervisor_find_slot(const Supervisor *s, pid_t pid);
const char *supervisor_state_to_string(SupervisorState st);

/* "echo 2/2 up, 10 conns, 3 restarts (1 before serving), slot 1 backing off
 * 0.4s after 3 quick crashes; web ..." for the current generation
 * (supervisor-status.c). */
int supervisor_format_status(const Supervisor *s, char *buf, size_t size);
/* Connections of one service: those of exited workers plus what every
 * live worker, of any generation, has counted so far. */
uint64_t supervisor_service_connections(const Supervisor *s, const Service *service);
