/* SPDX-License-Identifier: MIT */
/* How a reload's new generation replaces the serving one, service by
 * service (reload.strategy of the new configuration):
 *
 *   "all": every new worker starts at once; the old ones retire when every
 *   new worker of every service is ready (supervisor.c).
 *
 *   "rolling": the new workers start in batches of reload.batch slots. When
 *   every worker of a batch has reached its accept loop, the old workers of
 *   the same slots retire and the next batch starts. Old workers retire
 *   only once their replacements accept, so the service keeps at least as
 *   many ready workers as before, with up to one batch more running.
 *
 * Either way, a batch whose worker dies before it is ready, or that is not
 * ready within reload.ready_timeout of its start, fails the reload: the new
 * workers leave, and the slots that a rolling reload had already taken
 * over start old-configuration workers again. Until each of those is
 * ready, the new worker in its slot serves on ("covers"), so that a
 * rollback does not thin the pool either. */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "supervisor-internal.h"
#include "supervisor.h"
#include "time-util.h"

/* The serving generation's pool of the service p belongs to, or NULL. */
static Pool *reload_rolling_old_pool(const Supervisor *s, const Pool *p) {
        return s->current ? generation_find_pool(s->current, p->svc->name) : NULL;
}

static void reload_rolling_next_batch(Supervisor *s, Pool *p, uint64_t now) {
        bool rolling = p->svc->reload.strategy == RELOAD_STRATEGY_ROLLING;
        unsigned first = p->batch_end;

        p->batch_end = rolling ? MIN(p->n_slots, first + reload_batch_size(p->svc)) : p->n_slots;
        p->batch_deadline = usec_add(now, p->svc->reload.ready_timeout_usec);
        if (rolling)
                log_info("%s: rolling reload to generation %u: starting slots %u to %u of %u", p->svc->name,
                         p->gen->number, first, p->batch_end - 1, p->n_slots);
        for (unsigned i = first; i < p->batch_end; i++)
                supervisor_spawn(s, &p->slots[i], now);
}

void reload_rolling_start(Supervisor *s, uint64_t now) {
        assert(s);
        assert(s->pending);

        for (size_t i = 0; i < s->pending->n_pools; i++) {
                Pool *p = &s->pending->pools[i];

                p->rolled = p->batch_end = 0;
                reload_rolling_next_batch(s, p, now);
        }
}

/* The batch of p is ready: the old workers in its slots retire. */
static void reload_rolling_hand_over(Supervisor *s, Pool *p) {
        Pool *old = reload_rolling_old_pool(s, p);

        for (unsigned i = p->rolled; old && i < MIN(p->batch_end, old->n_slots); i++) {
                old->slots[i].handed_over = true;
                supervisor_retire_slot(s, &old->slots[i]);
        }
}

/* The first slot of p started so far whose worker is not ready, or
 * p->batch_end when all are. A worker of an earlier batch that died after
 * it was ready holds the next batch back too, until it is back. */
static unsigned reload_rolling_first_unready(const Pool *p) {
        for (unsigned i = 0; i < p->batch_end; i++)
                if (p->slots[i].state != SLOT_RUNNING)
                        return i;
        return p->batch_end;
}

int reload_rolling_progress(Supervisor *s, uint64_t now, char *why, size_t size) {
        assert(s);
        assert(s->pending);

        for (size_t i = 0; i < s->pending->n_pools; i++) {
                Pool *p = &s->pending->pools[i];

                for (;;) {
                        unsigned unready = reload_rolling_first_unready(p);

                        if (unready < p->batch_end) {
                                if (now < p->batch_deadline)
                                        break;
                                (void) snprintf(why, size,
                                                "the new worker of service %s in slot %u did not reach its accept "
                                                "loop within %gs",
                                                p->svc->name, unready, (double) p->svc->reload.ready_timeout_usec / 1e6);
                                return -ETIMEDOUT;
                        }
                        if (p->rolled < p->batch_end && p->svc->reload.strategy == RELOAD_STRATEGY_ROLLING)
                                reload_rolling_hand_over(s, p);
                        p->rolled = p->batch_end;
                        if (p->batch_end == p->n_slots)
                                break;
                        reload_rolling_next_batch(s, p, now);
                }
        }
        return 0;
}

bool reload_rolling_rollback(Supervisor *s, uint64_t now) {
        bool any = false;

        assert(s);
        assert(s->pending);

        for (size_t i = 0; i < s->pending->n_pools; i++) {
                Pool *p = &s->pending->pools[i], *old = reload_rolling_old_pool(s, p);

                for (unsigned k = 0; old && k < MIN(p->rolled, old->n_slots); k++) {
                        Slot *o = &old->slots[k], *n = &p->slots[k];

                        if (!o->handed_over)
                                continue;
                        any = true;
                        o->handed_over = false;
                        if (IN_SET(n->state, SLOT_STARTING, SLOT_RUNNING))
                                n->cover_until_usec = usec_add(now, p->svc->reload.ready_timeout_usec);
                        /* A retiring old worker is replaced when it exits,
                         * as any empty slot of the serving generation
                         * (supervisor_scale_run()). */
                        if (o->state == SLOT_DEAD)
                                supervisor_spawn(s, o, now);
                }
        }
        return any;
}

/* Retires one covering worker. */
static void reload_rolling_end_cover(Supervisor *s, Slot *slot) {
        slot->cover_until_usec = 0;
        if (slot_has_process(slot) && slot->state == SLOT_RETIRING)
                supervisor_slot_kill(s, slot, SIGTERM);
}

void reload_rolling_uncover(Supervisor *s, const Slot *slot) {
        assert(s);
        assert(slot->pool);

        for (Generation *g = s->retiring; g; g = g->next) {
                Pool *p = generation_find_pool(g, slot->pool->svc->name);

                if (p && slot->index < p->n_slots && p->slots[slot->index].cover_until_usec > 0)
                        reload_rolling_end_cover(s, &p->slots[slot->index]);
        }
}

void reload_rolling_uncover_due(Supervisor *s, uint64_t now) {
        for (Generation *g = s->retiring; g; g = g->next)
                GENERATION_FOREACH_SLOT(g, p, slot)
                        if (slot->cover_until_usec > 0 && slot->cover_until_usec <= now)
                                reload_rolling_end_cover(s, slot);
}

uint64_t reload_rolling_next_deadline(const Supervisor *s) {
        uint64_t d = USEC_INFINITY;

        if (s->pending)
                for (size_t i = 0; i < s->pending->n_pools; i++) {
                        const Pool *p = &s->pending->pools[i];

                        if (reload_rolling_first_unready(p) < p->batch_end)
                                d = MIN(d, p->batch_deadline);
                }
        for (const Generation *g = s->retiring; g; g = g->next)
                GENERATION_FOREACH_SLOT(g, p, slot)
                        if (slot->cover_until_usec > 0)
                                d = MIN(d, slot->cover_until_usec);
        return d;
}
