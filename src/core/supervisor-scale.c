/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <signal.h>
#include <string.h>

#include "control-proto.h"
#include "log.h"
#include "slot-policy.h"
#include "supervisor-internal.h"
#include "supervisor-scale.h"

_Static_assert(CONTROL_SCALE_MAX == WORKERS_MAX, "scale's bound is the workers setting's");

static int scale_check_state(const Supervisor *s) {
        return s->state == SUPERVISOR_RUNNING ? 0 : -EBUSY;
}

/* Makes room for n slots; new ones are DEAD until scale_run starts them. */
static int pool_grow(Pool *p, unsigned n) {
        Slot *slots;

        if (n <= p->n_slots)
                return 0;
        /* Slots are only ever referred to by pid or by index between two
         * calls into the supervisor, never by address, so they may move. */
        slots = reallocarray(p->slots, n, sizeof(Slot));
        if (!slots)
                return -ENOMEM;
        p->slots = slots;
        for (unsigned i = p->n_slots; i < n; i++)
                p->slots[i] = (Slot) { .pool = p, .service = p->service, .index = i, .state = SLOT_DEAD };
        p->n_slots = n;
        return 0;
}

/* Tells the worker of a slot at or above the new size to leave. */
static void scale_retire_slot(Supervisor *s, Slot *slot) {
        LogFields f = LOG_FIELDS_INIT;
        pid_t target;
        int sig;
        const char *extra[] = { kill_reason_field(KILL_REASON_SCALE), NULL };

        switch (slot->state) {
        case SLOT_STARTING:
        case SLOT_RUNNING:
                f.service = slot->service->name;
                f.slot = (int) slot->index;
                f.worker_pid = slot->pid;
                f.generation = slot->pool->gen->number;
                f.extra = extra;
                log_internal(LOG_INFO, 0, &f, "%s[slot %u]: stopping worker %d: the pool is scaled down to %u",
                             slot->service->name, slot->index, (int) slot->pid, slot->pool->size);
                slot->ever_ready = slot->state == SLOT_RUNNING;
                slot->state = SLOT_RETIRING;
                slot->service->kills[KILL_REASON_SCALE]++;
                slot_policy_clear(slot);
                /* As a reload's stop: a program's stop signal, to its group. */
                slot_policy_signal(slot, SIGTERM, &target, &sig);
                s->ops->kill(s->userdata, target, sig);
                break;
        case SLOT_BACKOFF:
                slot->state = SLOT_DEAD;
                break;
        case SLOT_RETIRING:
        case SLOT_DEAD:
                break;
        case _SLOT_STATE_MAX:
                abort();
        }
}

static int pool_scale(Supervisor *s, Pool *p, unsigned n, uint64_t now) {
        unsigned old = p->size;
        int r;

        if (n == old)
                return 0;
        r = pool_grow(p, n);
        if (r < 0)
                return r;
        p->size = n;
        log_info("%s: pool scaled from %u to %u worker%s until the next reload", p->service->name, old, n,
                 n == 1 ? "" : "s");
        for (unsigned i = n; i < p->n_slots; i++)
                scale_retire_slot(s, &p->slots[i]);
        supervisor_run_timers(s, now);
        return 0;
}

int supervisor_scale(Supervisor *s, const char *name, unsigned n, uint64_t now) {
        Pool *p;
        int r;

        assert(s);
        assert(name);

        r = scale_check_state(s);
        if (r < 0)
                return r;
        p = generation_find_pool(s->current, name);
        if (!p)
                return -ENOENT;
        if (n < 1 || n > WORKERS_MAX)
                return -ERANGE;
        return pool_scale(s, p, n, now);
}

int supervisor_scale_all(Supervisor *s, int delta, uint64_t now) {
        int r;

        assert(s);
        assert(IN_SET(delta, -1, 1));

        r = scale_check_state(s);
        if (r < 0) {
                log_notice("Ignoring SIG%s: %s", delta > 0 ? "TTIN" : "TTOU",
                           s->state == SUPERVISOR_RELOADING ? "a reload is under way" : "not running");
                return r;
        }
        for (size_t i = 0; i < s->current->n_pools; i++) {
                Pool *p = &s->current->pools[i];

                if (delta < 0 && p->size <= 1) {
                        log_notice("%s: SIGTTOU: the pool has 1 worker, which it keeps", p->service->name);
                        continue;
                }
                if (delta > 0 && p->size >= WORKERS_MAX) {
                        log_notice("%s: SIGTTIN: the pool has the maximum of %u workers", p->service->name,
                                   WORKERS_MAX);
                        continue;
                }
                r = pool_scale(s, p, delta > 0 ? p->size + 1 : p->size - 1, now);
                if (r < 0)
                        log_error_errno(r, "%s: cannot grow the pool: %s", p->service->name, STRERROR(r));
        }
        return 0;
}

/* Drops the slots above the size whose worker has gone, from the end, so
 * that the remaining slots keep their indexes. */
static void pool_trim(Pool *p) {
        unsigned n = p->n_slots;
        Slot *slots;

        while (n > p->size && p->slots[n - 1].state == SLOT_DEAD)
                n--;
        if (n == p->n_slots)
                return;
        for (unsigned i = n; i < p->n_slots; i++)
                p->slots[i].status = mfree(p->slots[i].status);
        p->n_slots = n;
        /* Shrinking cannot really fail; if it does, the extra room stays. */
        slots = reallocarray(p->slots, n, sizeof(Slot));
        if (slots)
                p->slots = slots;
}

void supervisor_scale_run(Supervisor *s, uint64_t now) {
        assert(s);

        if (!s->current)
                return;
        for (size_t i = 0; i < s->current->n_pools; i++) {
                Pool *p = &s->current->pools[i];

                /* Only a running pool grows: while it starts, the
                 * supervisor brings every slot up itself, and during a
                 * stop no worker is replaced. A slot that a rolling reload
                 * handed over to the new generation stays empty
                 * (reload-rolling.c). */
                if (IN_SET(s->state, SUPERVISOR_RUNNING, SUPERVISOR_RELOADING))
                        for (unsigned k = 0; k < MIN(p->size, p->n_slots); k++)
                                if (p->slots[k].state == SLOT_DEAD && !p->slots[k].handed_over)
                                        supervisor_spawn(s, &p->slots[k], now);
                pool_trim(p);
        }
}
