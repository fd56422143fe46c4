/* SPDX-License-Identifier: MIT */
/* The one-line summary of the supervisor's state that STATUS= carries. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "slot-policy.h"
#include "supervisor.h"

static uint64_t generation_connections(const Generation *g, const Service *service) {
        uint64_t n = 0;

        if (!g)
                return 0;
        GENERATION_FOREACH_SLOT(g, p, slot)
                if (p->service == service && slot->score)
                        n += atomic_load(&slot->score->connections);
        return n;
}

uint64_t supervisor_service_connections(const Supervisor *s, const Service *service) {
        uint64_t n = service->connections_done;

        n += generation_connections(s->current, service);
        n += generation_connections(s->pending, service);
        for (const Generation *g = s->retiring; g; g = g->next)
                n += generation_connections(g, service);
        return n;
}

/* Appends to buf (of size, holding *n bytes). */
_printf_(4, 5) static int append(char *buf, size_t size, size_t *n, const char *fmt, ...) {
        va_list ap;
        int l;

        va_start(ap, fmt);
        l = vsnprintf(buf + *n, size - *n, fmt, ap);
        va_end(ap);
        if (l < 0 || (size_t) l >= size - *n)
                return -ENOBUFS;
        *n += (size_t) l;
        return 0;
}

/* The workers serving p's service: p's ready ones, during a rolling
 * reload those of the new generation that have taken over a slot, and
 * after a rollback those covering for a slot until its old worker is
 * back. */
static unsigned pool_up(const Supervisor *s, const Pool *p, const Pool **ret_rolling) {
        const Pool *np = s->pending ? generation_find_pool(s->pending, p->svc->name) : NULL;
        unsigned up = 0;

        for (unsigned i = 0; i < p->n_slots; i++)
                if (p->slots[i].state == SLOT_RUNNING)
                        up++;
        for (const Generation *g = s->retiring; g; g = g->next) {
                const Pool *rp = generation_find_pool(g, p->svc->name);

                for (unsigned i = 0; rp && i < rp->n_slots; i++)
                        if (rp->slots[i].cover_until_usec > 0 && slot_has_process(&rp->slots[i]))
                                up++;
        }
        if (np && np->svc->reload.strategy == RELOAD_STRATEGY_ROLLING) {
                for (unsigned i = 0; i < np->rolled; i++)
                        if (np->slots[i].state == SLOT_RUNNING)
                                up++;
                *ret_rolling = np;
        } else
                *ret_rolling = NULL;
        return up;
}

static int pool_format_status(const Supervisor *s, const Pool *p, char *buf, size_t size) {
        const Service *service = p->service;
        const Pool *rolling;
        unsigned up = pool_up(s, p, &rolling), hung = 0;
        size_t n = 0;

        if (append(buf, size, &n, "%s %u/%u up, %" PRIu64 " conns, %" PRIu64 " restart%s", service->name, up,
                   p->size, supervisor_service_connections(s, service), service->restarts,
                   service->restarts == 1 ? "" : "s") < 0)
                return -ENOBUFS;
        if (service->crashes > 0 &&
            append(buf, size, &n, " (%" PRIu64 " before serving)", service->crashes) < 0)
                return -ENOBUFS;
        if (service->drained && append(buf, size, &n, ", draining") < 0)
                return -ENOBUFS;
        if (service->front.state != SLOT_DEAD) {
                const ServiceScore *ss = service->scoreboard->service;
                uint64_t refused = atomic_load(&ss->park_refused);
                char extra[64] = "";

                if (refused > 0)
                        (void) snprintf(extra, sizeof extra, ", %" PRIu64 " not parked: full", refused);
                if (append(buf, size, &n,
                           ", %" PRIu64 " parked (%" PRIu64 " idle, %" PRIu64 " reading, %" PRIu64 " sending)%s%s",
                           atomic_load(&ss->parked), atomic_load(&ss->parked_idle), atomic_load(&ss->parked_head),
                           atomic_load(&ss->parked_sending), extra,
                           service->front.state == SLOT_BACKOFF ? ", front stage backing off" : "") < 0)
                        return -ENOBUFS;
        }
        for (unsigned i = 0; i < p->n_slots; i++) {
                const Slot *slot = &p->slots[i];

                hung += slot->hang_capped;
                if (slot->state == SLOT_BACKOFF &&
                    append(buf, size, &n, ", slot %u backing off %.1fs after %u quick crash%s", i,
                           (double) slot->backoff_usec / 1e6, slot->crashes, slot->crashes == 1 ? "" : "es") < 0)
                        return -ENOBUFS;
        }
        if (rolling && append(buf, size, &n, ", rolling reload: %u/%u replaced", rolling->rolled, rolling->n_slots) < 0)
                return -ENOBUFS;
        /* The kill storm cap's alert: these workers hang and are left
         * alone, which the operator must know. */
        if (hung > 0 && append(buf, size, &n, ", %u worker%s hung past request_timeout, not killed (kill storm cap)",
                               hung, hung == 1 ? "" : "s") < 0)
                return -ENOBUFS;
        pool_format_program_status(p, buf, size, &n);
        return 0;
}

int supervisor_format_status(const Supervisor *s, char *buf, size_t size) {
        size_t n = 0;
        int r;

        assert(size > 0);
        buf[0] = 0;
        if (!s->current)
                return 0;
        for (size_t i = 0; i < s->current->n_pools; i++) {
                if (i > 0 && append(buf, size, &n, "; ") < 0)
                        return -ENOBUFS;
                r = pool_format_status(s, &s->current->pools[i], buf + n, size - n);
                if (r < 0)
                        return r;
                n += strlen(buf + n);
        }
        return 0;
}
