/* SPDX-License-Identifier: MIT */
#pragma once

#include "config.h"

/* Runs the daemon with the already loaded config (taken); returns a
 * sysexits code. The master is the sd-event glue around the supervisor:
 * signals, child exits, readiness reports and one timer go in, fork(),
 * kill() and sd_notify() come out; every decision is the supervisor's. */
int master_run(const char *config_path, Config *config);
