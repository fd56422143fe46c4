/* SPDX-License-Identifier: MIT */
#include <stddef.h>

#include "reload-outcome.h"

static const char *const reload_outcome_names[_RELOAD_OUTCOME_MAX] = {
        [RELOAD_APPLIED] = "applied",
        [RELOAD_REFUSED] = "refused",
        [RELOAD_ROLLED_BACK] = "rolled back",
};

static const char *const reload_outcome_labels[_RELOAD_OUTCOME_MAX] = {
        [RELOAD_APPLIED] = "applied",
        [RELOAD_REFUSED] = "refused",
        [RELOAD_ROLLED_BACK] = "rolled_back",
};

const char *reload_outcome_to_string(ReloadOutcome o) {
        return (unsigned) o < _RELOAD_OUTCOME_MAX ? reload_outcome_names[o] : NULL;
}

const char *reload_outcome_to_label(ReloadOutcome o) {
        return (unsigned) o < _RELOAD_OUTCOME_MAX ? reload_outcome_labels[o] : NULL;
}
