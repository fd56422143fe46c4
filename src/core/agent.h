/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "supervisor.h"

/* HAProxy's agent check (agent-check, agent-port): a TCP port per service
 * (agent_listen) on which the master answers every connection with one
 * line and closes it. The master serves it from its event loop, never
 * blocking: the line is one non-blocking write into an empty socket.
 *
 *   "up ready N%\n"  serving; N is the idle share of the pool (idle workers
 *                    of the serving generation over the pool's size), at
 *                    least 1, so that HAProxy weights a busy host down
 *                    but never takes the last host out; "ready" undoes an
 *                    earlier "drain"
 *   "drain\n"        the operator drained the service (preforkctl drain)
 *   "down\n"         stopping, or not serving yet */

typedef struct AgentSet AgentSet;

/* The line for a service: stopping, drained, and idle of pool workers
 * (pool 0: not serving). Returns its length; the line is NUL-terminated. */
size_t agent_format_reply(bool stopping, bool drained, unsigned idle, unsigned pool, char *buf, size_t size);

/* The set of agent listeners of a master; answers from what s says. */
int agent_set_new(sd_event *event, const Supervisor *s, AgentSet **ret);
/* Closes every listener. Accepts NULL. */
AgentSet *agent_set_free(AgentSet *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(AgentSet *, agent_set_free)

/* Opens the agent_listen of every service of c that no listener has yet
 * (a kept address keeps its socket across a reload). On failure, logged,
 * the ones opened stay until the next agent_set_prune(). */
int agent_set_open(AgentSet *a, const Config *c);
/* Closes every listener that none of the n configs (NULLs skipped)
 * names. */
void agent_set_prune(AgentSet *a, const Config *const *keep, size_t n);
