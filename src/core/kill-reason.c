/* SPDX-License-Identifier: MIT */
#include "kill-reason.h"

static const char *const kill_reason_table[_KILL_REASON_MAX] = {
        [KILL_REASON_REQUEST_TIMEOUT] = "request_timeout",
        [KILL_REASON_WATCHDOG] = "watchdog",
        [KILL_REASON_MEMORY] = "memory",
        [KILL_REASON_SCALE] = "scale",
};

const char *kill_reason_to_string(KillReason r) {
        return (unsigned) r < _KILL_REASON_MAX ? kill_reason_table[r] : NULL;
}
