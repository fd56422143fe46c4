/* SPDX-License-Identifier: MIT */
#pragma once

#include "config.h"
#include "handler.h"

/* mode = "connection": runs the service's program for one connection,
 * with the socket as its stdin and stdout, its stderr as the policy says,
 * and the connection's addresses in ucspi-tcp's variables, and waits
 * until it exits (a worker runs one program at a time, so a service runs
 * at most `workers` of them). Its exit status is logged at debug level; a
 * failure (non-zero status or a signal) is counted in the service's
 * scoreboard (program_failures). */
int exec_connection_serve(const ServiceConfig *svc, const Conn *c);
