/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "slot-policy.h"

static uint64_t deadline_after(uint64_t now, uint64_t usec) {
        return usec > UINT64_MAX - now ? UINT64_MAX : now + usec;
}

const WorkerPolicy *slot_policy(const Slot *s) {
        static const WorkerPolicy fallback = WORKER_POLICY_INIT;

        return s->pool ? &s->pool->svc->policy : &fallback;
}

void slot_policy_signal(const Slot *s, int sig, pid_t *ret_target, int *ret_sig) {
        const WorkerPolicy *p = slot_policy(s);
        bool group = false;

        assert(slot_has_process(s));
        if (sig == SIGKILL)
                group = p->own_process_group;
        else if (IN_SET(sig, SIGTERM, SIGQUIT) && p->stop_signal_to_group) {
                sig = p->stop_signal;
                group = true;
        } else if (sig == SIGTERM)
                sig = p->stop_signal;
        *ret_target = group ? -s->pid : s->pid;
        *ret_sig = sig;
}

void slot_policy_started(Slot *s, uint64_t now) {
        const WorkerPolicy *p = slot_policy(s);

        s->kill_reason = _KILL_REASON_INVALID;
        s->status = mfree(s->status);
        s->watchdog_deadline_usec = 0;
        s->ready_deadline_usec = s->pool && p->ready_timeout_usec > 0 ? deadline_after(now, p->ready_timeout_usec) : 0;
}

void slot_policy_ready(Slot *s, uint64_t now) {
        const WorkerPolicy *p = slot_policy(s);

        s->ready_deadline_usec = 0;
        s->watchdog_deadline_usec = p->watchdog_usec > 0 ? deadline_after(now, p->watchdog_usec) : 0;
}

bool slot_policy_watchdog_ping(Slot *s, uint64_t now) {
        if (s->state != SLOT_RUNNING || s->watchdog_deadline_usec == 0)
                return false;
        s->watchdog_deadline_usec = deadline_after(now, slot_policy(s)->watchdog_usec);
        return true;
}

void slot_policy_clear(Slot *s) {
        s->ready_deadline_usec = s->watchdog_deadline_usec = 0;
}

KillReason slot_policy_due(const Slot *s, uint64_t now, char *why, size_t size) {
        const WorkerPolicy *p = slot_policy(s);

        if (s->state == SLOT_STARTING && s->ready_deadline_usec > 0 && s->ready_deadline_usec <= now) {
                (void) snprintf(why, size, "did not get ready within %.1fs", (double) p->ready_timeout_usec / 1e6);
                return KILL_REASON_READY_TIMEOUT;
        }
        if (s->state == SLOT_RUNNING && s->watchdog_deadline_usec > 0 && s->watchdog_deadline_usec <= now) {
                (void) snprintf(why, size, "sent no WATCHDOG=1 for %.1fs", (double) p->watchdog_usec / 1e6);
                return KILL_REASON_WATCHDOG;
        }
        return _KILL_REASON_INVALID;
}

uint64_t slot_policy_next_deadline(const Slot *s) {
        if (s->state == SLOT_STARTING && s->ready_deadline_usec > 0)
                return s->ready_deadline_usec;
        if (s->state == SLOT_RUNNING && s->watchdog_deadline_usec > 0)
                return s->watchdog_deadline_usec;
        return UINT64_MAX;
}

int slot_set_status(Slot *s, const char *text, size_t len) {
        char *copy = strndup(text, MIN(len, (size_t) SLOT_STATUS_MAX));

        if (!copy)
                return -ENOMEM;
        /* It goes into one-line summaries. */
        for (char *c = copy; *c; c++)
                if ((unsigned char) *c < ' ')
                        *c = ' ';
        free(s->status);
        s->status = copy;
        return 0;
}

void pool_format_program_status(const Pool *p, char *buf, size_t size, size_t *n) {
        uint64_t failed = atomic_load(&p->service->scoreboard->service->program_failures);
        int l;

        assert(*n < size);
        if (failed > 0) {
                l = snprintf(buf + *n, size - *n, ", %" PRIu64 " program failure%s", failed, failed == 1 ? "" : "s");
                if (l < 0 || (size_t) l >= size - *n) {
                        buf[*n] = '\0';
                        return;
                }
                *n += (size_t) l;
        }
        /* What the programs say of themselves, as much as fits: the
         * counters before it matter more. */
        for (unsigned i = 0; i < p->n_slots; i++) {
                const Slot *s = &p->slots[i];

                if (!s->status || s->state != SLOT_RUNNING)
                        continue;
                l = snprintf(buf + *n, size - *n, ", slot %u: %.64s", i, s->status);
                if (l < 0 || (size_t) l >= size - *n) {
                        buf[*n] = '\0';
                        return;
                }
                *n += (size_t) l;
        }
}
