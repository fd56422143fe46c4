/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "supervisor.h"

/* The kernel's accept queue of a listening socket: how many connections
 * wait for a worker's accept() now, and the backlog that bounds it. TCP
 * sockets answer through TCP_INFO (on a listener, tcpi_unacked is the
 * queue and tcpi_sacked the backlog), unix stream sockets through
 * sock_diag (UNIX_DIAG_RQLEN). Returns 0, -EOPNOTSUPP for another kind of
 * socket, or the error of the query (a sandbox without AF_NETLINK refuses
 * the unix one). */
int listen_queue_get(int fd, uint32_t *ret_queue, uint32_t *ret_backlog);

/* Samples the listeners of every service of the current generation into
 * its Service: listen_queue (the sum over its listeners), listen_backlog
 * and listen_queue_peak. The master calls it from a timer and before it
 * answers status or metrics. Listeners that cannot be asked count as 0. */
void listen_queue_sample(Supervisor *s);
