/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "worker.h"


/* Forks a worker. In the child, before anything else: every fd but the
 * keep-list (stdio, the service's listeners, the readiness socket) is
 * closed, so that no worker holds the master's event loop, timers, pidfds,
 * other services' listeners or unused passed sockets; then worker_main()
 * (or frontstage_main()) runs and never returns. *ret_pid is the child's
 * pid. */
int spawn_worker(const WorkerSpawn *sp, pid_t *ret_pid);
