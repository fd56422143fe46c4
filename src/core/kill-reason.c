/* SPDX-License-Identifier: MIT */
#include <stddef.h>

#include "kill-reason.h"

static const char *const kill_reason_names[_KILL_REASON_MAX] = {
        [KILL_REASON_REQUEST_TIMEOUT] = "request_timeout",
        [KILL_REASON_WATCHDOG] = "watchdog",
        [KILL_REASON_MEMORY] = "memory",
        [KILL_REASON_SCALE] = "scale",
        [KILL_REASON_READY_TIMEOUT] = "ready_timeout",
};

static const char *const kill_reason_fields[_KILL_REASON_MAX] = {
        [KILL_REASON_REQUEST_TIMEOUT] = "PREFORKD_KILL_REASON=request_timeout",
        [KILL_REASON_WATCHDOG] = "PREFORKD_KILL_REASON=watchdog",
        [KILL_REASON_MEMORY] = "PREFORKD_KILL_REASON=memory",
        [KILL_REASON_SCALE] = "PREFORKD_KILL_REASON=scale",
        [KILL_REASON_READY_TIMEOUT] = "PREFORKD_KILL_REASON=ready_timeout",
};

const char *kill_reason_to_string(KillReason r) {
        return (unsigned) r < _KILL_REASON_MAX ? kill_reason_names[r] : NULL;
}

const char *kill_reason_field(KillReason r) {
        return (unsigned) r < _KILL_REASON_MAX ? kill_reason_fields[r] : NULL;
}
