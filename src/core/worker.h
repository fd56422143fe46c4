/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <signal.h>

#include "config.h"
#include "handler.h"
#include "park.h"
#include "scoreboard.h"
#include "time-util.h"

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
        int ready_fd;                 /* the workers' end of the readiness socket */
        int park_fd;                  /* the service's park channel (workers' end, or the front stage's), or -1 */
        ServiceScore *service_score;  /* the service's part of its scoreboard */
        bool front_stage;             /* run the service's front stage instead of a worker */
        uint64_t max_requests;        /* this worker's own: svc->max_requests plus its jitter; 0: never */
        pid_t master_pid;
        /* The write ends of the pipes the master reads the worker's
         * stdout and stderr from (WORKER_OUTPUT_JOURNAL), else -EBADF. The
         * worker's own log stays where it was: only what it executes gets
         * them as fds 1 and 2. */
        int output_fds[2];
        /* The address to put in NOTIFY_SOCKET for what the worker
         * executes ("@..."), or NULL. */
        const char *notify_socket;
} WorkerSpawn;

/* Runs in a freshly forked child: drops privileges, runs the handler's
 * init(), then accepts and serves until told to stop, max_requests is
 * reached, or the master dies. Never returns. */
_noreturn_ void worker_main(const WorkerSpawn *spawn);

/* This worker's spawn (set by worker_main()), or NULL in the master. */
const WorkerSpawn *worker_get_spawn(void);

/* True once the master asked this worker to stop gracefully (SIGTERM). */
bool worker_stop_requested(void);
/* This worker's scoreboard entry, for a handler to refine its state and
 * name its request (score_* in scoreboard.h); NULL outside a worker. */
WorkerScore *worker_score(void);

/* The first steps of every child the master forks (worker or front
 * stage): the generation's log level, signal handlers, the privilege drop,
 * PR_SET_PDEATHSIG and no_new_privs. */
void worker_prepare(const WorkerSpawn *sp);
/* The signal mask to wait with: SIGTERM open, for ppoll()/epoll_pwait(). */
const sigset_t *worker_wait_mask(void);

/* Whether the connection being served may be parked now: the service
 * parks, the front stage has room, and the service is not stopping. */
bool worker_park_possible(void);
/* Whether the service parks but its front stage holds park.max_parked
 * already: then idle connections are closed after their response and
 * slow heads answered with 408, rather than held by a worker. Counted. */
bool worker_park_full(void);
/* Whether other clients wait for a worker of this service now: a
 * connection the front stage handed back is queued, or one is in a
 * listener's accept queue. Costs a poll() of the listeners: ask only once
 * a connection has had its time slice (park.slice). */
bool worker_others_waiting(void);

/* Hands the connection fd, with st and the n bytes read of its next
 * request (and for PARK_SENDING the file to finish sending, file_fd), to
 * the service's front stage. 0: the front stage has it (the
 * caller ends serving; the worker closes its own copy); a negative errno:
 * it does not, and the caller goes on serving. */
int worker_park(int fd, int file_fd, const ParkState *st, const void *bytes, size_t n);

/* Waits until fd has one of events, for at most timeout_usec (UINT64_MAX:
 * no limit). Returns the revents (> 0), 0 on timeout, -ECANCELED when a stop
 * was requested and stop_interrupts is true, or another negative errno.
 * A stop request that arrives while waiting is never lost: SIGTERM is
 * blocked outside this wait and unblocked atomically inside it (ppoll). */
int worker_wait(int fd, short events, uint64_t timeout_usec, bool stop_interrupts);

/* Sends all of buf on the connection fd (send(2) flags added to
 * MSG_DONTWAIT | MSG_NOSIGNAL), waiting up to timeout_usec whenever the
 * client stops taking data. A response in flight is finished even when a
 * graceful stop is requested. Returns 0, -ETIMEDOUT, or a negative errno. */
int worker_send_all(int fd, const void *buf, size_t len, int flags, uint64_t timeout_usec);

/* Between accept() and the handler, on a service with proxy_protocol
 * (worker-proxy.c): checks proxy_from and takes the PROXY header off the
 * connection c (fresh from accept(), or parked with its header
 * incomplete). A header that is not there at once is gathered by the
 * front stage, so that a slow one never pins a worker for longer than
 * park.delay (without a front stage, for at most proxy_timeout). On a
 * complete header naming a client, c->peer points at *client and the
 * worker's score shows it.
 *
 * Returns 1 when the handler is to serve c (at once for a connection that
 * needs no header); 0 when c was parked, or is to be closed (refused,
 * malformed, too slow: logged at debug with the peer). */
int worker_proxy_take(const WorkerSpawn *sp, Conn *c, struct sockaddr_storage *client);
