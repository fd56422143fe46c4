/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "scoreboard.h"

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
        pid_t master_pid;
} WorkerSpawn;

/* Forks a worker. In the child, before anything else: every fd but the
 * keep-list (stdio, the service's listeners, the readiness socket) is
 * closed, so that no worker holds the master's event loop, timers, pidfds,
 * other services' listeners or unused passed sockets; then worker_main()
 * (or frontstage_main()) runs and never returns. *ret_pid is the child's
 * pid. */
int spawn_worker(const WorkerSpawn *sp, pid_t *ret_pid);
