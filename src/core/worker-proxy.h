/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/socket.h>

#include "handler.h"
#include "worker.h"

/* Between accept() and the handler, on a service with proxy_protocol:
 * checks proxy_from and takes the PROXY header off the connection c
 * (fresh from accept(), or parked with its header incomplete). A header
 * that is not there at once is gathered by the front stage, so that a
 * slow one never pins a worker for longer than park.delay (without a
 * front stage, for at most proxy_timeout). On a complete header naming a
 * client, c->peer points at *client and the worker's score shows it.
 *
 * Returns 1 when the handler is to serve c (at once for a connection that
 * needs no header); 0 when c was parked, or is to be closed (refused,
 * malformed, too slow: logged at debug with the peer). */
int worker_proxy_take(const WorkerSpawn *sp, Conn *c, struct sockaddr_storage *client);
