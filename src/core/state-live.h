/* SPDX-License-Identifier: MIT */
#pragma once

#include "config.h"
#include "listener.h"
#include "state.h"
#include "supervisor.h"

/* Between the live objects of a running master and the plain MasterState
 * (state.h) that crosses an exec. */

/* Adds to st the supervisor's services, generations, pools and slots, the
 * listeners and passed sockets, last_generation and the compat record.
 * The supervisor must be RUNNING: no generation is coming up, so that
 * every generation but the current one is retiring. */
int state_live_capture(const Supervisor *s, const ListenerSet *set, MasterState *st);

/* Whether this binary can take over the workers that st describes, with
 * config as the current generation's configuration: the layouts they share
 * with the master are the same, and config has exactly the pools that run.
 * What state_live_restore() checks first; for `--check-upgrade`. */
int state_live_check(const MasterState *st, const Config *config, char **ret_error);

/* Rebuilds the supervisor s (new, IDLE) and the listener set (empty) from
 * st, with config (taken, also on failure) as the current generation's
 * configuration: the one its snapshot gave. Retiring generations get a
 * skeleton configuration, their shape only (service names and pool
 * sizes), since they start no worker again. The supervisor is RUNNING
 * afterwards, and every slot with a process has its pid but no watch yet.
 *
 * On failure *ret_error says why, and s and set may hold part of the state,
 * with fds that the state names: a caller that still needs those (to hand
 * the state back) must not free them. */
int state_live_restore(const MasterState *st, Config *config, Supervisor *s, ListenerSet *set, char **ret_error);
