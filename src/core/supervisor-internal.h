/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "supervisor.h"

/* Shared by the supervisor's own modules (supervisor.c and
 * supervisor-scale.c), not by its users. */

/* Starts slot's worker (it has none); a failed start puts the slot into
 * backoff. */
void supervisor_spawn(Supervisor *s, Slot *slot, uint64_t now);
