/* SPDX-License-Identifier: MIT */
/* What a worker's policy (slot-policy.h) asks of the supervisor: the
 * ready and watchdog deadlines of an exec program, its WATCHDOG=1 pings
 * and its STATUS= text. */
#include <assert.h>
#include <signal.h>

#include "log.h"
#include "slot-policy.h"
#include "supervisor-internal.h"
#include "supervisor.h"

/* Kills the worker of slot for reason (logged with why), once. */
static void supervisor_kill_for(Supervisor *s, Slot *slot, KillReason reason, const char *why) {
        const char *extra[] = { kill_reason_field(reason), NULL };
        LogFields f = supervisor_slot_fields(slot);
        char label[128];

        f.extra = extra;
        log_internal(LOG_WARNING, 0, &f, "%s: worker %d %s, killing it", slot_label(slot, label, sizeof label),
                     (int) slot->pid, why);
        slot->service->kills[reason]++;
        slot->kill_reason = reason;
        slot_policy_clear(slot);
        supervisor_slot_kill(s, slot, SIGKILL);
}

void supervisor_policy_deadlines_due(Supervisor *s, Generation *g, uint64_t now) {
        char why[128];

        if (!g)
                return;
        GENERATION_FOREACH_SLOT(g, p, slot) {
                KillReason reason = slot_policy_due(slot, now, why, sizeof why);

                if (reason != _KILL_REASON_INVALID)
                        supervisor_kill_for(s, slot, reason, why);
        }
}

void supervisor_worker_watchdog(Supervisor *s, pid_t pid, bool trigger, uint64_t now) {
        Slot *slot = supervisor_find_slot(s, pid);

        if (!slot || !slot->pool)
                return;
        if (trigger) {
                if (slot->state == SLOT_RUNNING && slot->watchdog_deadline_usec > 0)
                        supervisor_kill_for(s, slot, KILL_REASON_WATCHDOG, "asked for it with WATCHDOG=trigger");
        } else if (!slot_policy_watchdog_ping(slot, now))
                return;
        supervisor_run_timers(s, now);
}

int supervisor_worker_status(Supervisor *s, pid_t pid, const char *text, size_t len) {
        Slot *slot = supervisor_find_slot(s, pid);

        if (!slot || !slot->pool)
                return -ESRCH;
        return slot_set_status(slot, text, len);
}
