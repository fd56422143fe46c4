/* SPDX-License-Identifier: MIT */
#pragma once

#include "config.h"

/* Runs the daemon with the already loaded config (taken); returns a
 * sysexits code. The master is the sd-event glue around the supervisor:
 * signals, child exits, readiness reports and one timer go in, fork(),
 * kill() and sd_notify() come out; every decision is the supervisor's. */
int master_run(const char *config_path, Config *config);

/* Runs the daemon from the state an earlier image of this process handed
 * over in state_fd (upgrade.h), instead of starting afresh. With
 * rollback_fd (the old binary, O_PATH) this is the new binary of an
 * upgrade: it starts a new generation from config_path and goes back to
 * the old binary if that fails. Returns a sysexits code. */
int master_resume(const char *config_path, int state_fd, int rollback_fd);

typedef struct Master Master;
/* Starts a binary upgrade (upgrade.h); waiter_fd (or -EBADF) is taken and
 * told the outcome. 0 when it started, else a negative errno (refused,
 * the reason logged and told). */
int master_upgrade(Master *m, int waiter_fd);
