/* SPDX-License-Identifier: MIT */
#pragma once

#include "macros.h"

/* Why the master ended (or asked to end) a worker of its own accord: the
 * value of the PREFORKD_KILL_REASON= journal field, and the key the
 * per-service kill counters are kept by. */
typedef enum KillReason {
        KILL_REASON_NONE,
        KILL_REASON_REQUEST_TIMEOUT,  /* busy on one request or connection past request_timeout */
        KILL_REASON_WATCHDOG,         /* exec: a worker that stopped pinging */
        KILL_REASON_MEMORY,           /* private memory above max_memory: recycled after its connection */
        KILL_REASON_SCALE,            /* the pool shrank at run time */
        _KILL_REASON_MAX,
} KillReason;

/* "request_timeout", "watchdog", "memory", "scale"; NULL for NONE and
 * out-of-range values. */
const char *kill_reason_to_string(KillReason r) _const_;
