/* SPDX-License-Identifier: MIT */
#include "slot.h"

static const char *const slot_state_names[_SLOT_STATE_MAX] = {
        [SLOT_DEAD] = "dead",
        [SLOT_STARTING] = "starting",
        [SLOT_RUNNING] = "running",
        [SLOT_BACKOFF] = "backoff",
        [SLOT_RETIRING] = "retiring",
};

const char *slot_state_to_string(SlotState s) {
        return (unsigned) s < _SLOT_STATE_MAX ? slot_state_names[s] : NULL;
}

bool slot_has_process(const Slot *s) {
        return s->pid > 0;
}
