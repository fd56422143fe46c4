/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spawn.h"
#include "time-util.h"

/* Runs in a freshly forked child: drops privileges, runs the handler's
 * init(), then accepts and serves until told to stop, max_requests is
 * reached, or the master dies. Never returns. */
_noreturn_ void worker_main(const WorkerSpawn *spawn);

/* True once the master asked this worker to stop gracefully (SIGTERM). */
bool worker_stop_requested(void);

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
