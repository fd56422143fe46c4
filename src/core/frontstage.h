/* SPDX-License-Identifier: MIT */
#pragma once

#include "macros.h"
#include "worker.h"

/* The front stage of a service: one process that holds every connection
 * the service's workers parked (see park.h), waits for them all with
 * epoll, enforces their deadlines, and hands each back to a free worker,
 * with the bytes it gathered, once it has work. It runs in a child the
 * master forked (spawn_worker() with sp->front_stage) and never returns.
 * SIGTERM: close every held connection (a FIN, no RST) and exit 0. */
_noreturn_ void frontstage_main(const WorkerSpawn *sp);
