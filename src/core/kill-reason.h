/* SPDX-License-Identifier: MIT */
#pragma once

/* Why the master ended a worker that did not leave on its own: logged as
 * PREFORKD_KILL_REASON= and counted per service (Service.kills[], exported
 * as preforkd_kills_total{reason=...}). The names are DESIGN.md's. */
typedef enum KillReason {
        KILL_REASON_REQUEST_TIMEOUT,
        KILL_REASON_WATCHDOG,
        KILL_REASON_MEMORY,
        KILL_REASON_SCALE,
        KILL_REASON_READY_TIMEOUT,    /* an exec program not ready within ready_timeout */
        _KILL_REASON_MAX,
        _KILL_REASON_INVALID = -1,
} KillReason;

/* "request_timeout", "watchdog", "memory", "scale", "ready_timeout". */
const char *kill_reason_to_string(KillReason r);
/* "PREFORKD_KILL_REASON=scale": for LogFields.extra. */
const char *kill_reason_field(KillReason r);
