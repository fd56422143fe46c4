/* SPDX-License-Identifier: MIT */
#pragma once

#include "macros.h"

/* How the last reload ended, for STATUS= ("reload #N applied"), the
 * journal and whoever asks the master (preforkctl reload). */
typedef enum ReloadOutcome {
        RELOAD_OUTCOME_NONE,          /* no reload yet */
        RELOAD_OUTCOME_APPLIED,       /* the new configuration serves */
        RELOAD_OUTCOME_REFUSED,       /* it failed before any old worker was replaced */
        RELOAD_OUTCOME_ROLLED_BACK,   /* a rolling reload failed after replacing workers, which went back */
        _RELOAD_OUTCOME_MAX,
} ReloadOutcome;

/* "applied", "refused", "rolled back"; NULL for NONE and out-of-range. */
const char *reload_outcome_to_string(ReloadOutcome o) _const_;
