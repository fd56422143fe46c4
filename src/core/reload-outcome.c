/* SPDX-License-Identifier: MIT */
#include "reload-outcome.h"

static const char *const reload_outcome_table[_RELOAD_OUTCOME_MAX] = {
        [RELOAD_OUTCOME_APPLIED] = "applied",
        [RELOAD_OUTCOME_REFUSED] = "refused",
        [RELOAD_OUTCOME_ROLLED_BACK] = "rolled back",
};

const char *reload_outcome_to_string(ReloadOutcome o) {
        return (unsigned) o < _RELOAD_OUTCOME_MAX ? reload_outcome_table[o] : NULL;
}
