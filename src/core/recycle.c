/* SPDX-License-Identifier: MIT */
/* Recycling workers before they are a problem: max_requests_jitter spreads
 * the max_requests recycles of a pool over time, and max_memory recycles a
 * worker whose private memory grew above the limit. Both end a worker
 * only between connections: a recycled worker finishes its connection,
 * exits with status 0 and is replaced at once, without counting as a
 * restart. */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>

#include "supervisor-internal.h"
#include "supervisor.h"
#include "time-util.h"

/* How often the private memory of the workers is sampled. */
#define RECYCLE_MEMORY_INTERVAL_USEC USEC_PER_SEC

uint64_t recycle_max_requests(uint64_t max_requests, uint64_t jitter, uint64_t random) {
        uint64_t extra;

        if (max_requests == 0 || jitter == 0)
                return max_requests;
        /* random(0..jitter), both ends included. The bias of the modulo is
         * below jitter / 2^64: nothing a pool of workers could show. */
        extra = jitter == UINT64_MAX ? random : random % (jitter + 1);
        return extra > UINT64_MAX - max_requests ? UINT64_MAX : max_requests + extra;
}

static void recycle_format_size(uint64_t bytes, char *buf, size_t size) {
        if (bytes >= (UINT64_C(1) << 30))
                (void) snprintf(buf, size, "%.1fG", (double) bytes / (double) (UINT64_C(1) << 30));
        else
                (void) snprintf(buf, size, "%.1fM", (double) bytes / (double) (UINT64_C(1) << 20));
}

/* One worker of a service with max_memory. The flag in its scoreboard
 * entry makes it leave after its current connection (worker.c checks it
 * between connections: no signal reaches it mid-request). An idle worker
 * would not look at the flag before its next connection, so it also gets
 * SIGTERM, which a worker only acts on between connections or requests
 * too (a connection that arrives in between is finished). A worker that
 * has not served is left alone: its memory did not grow by serving, and
 * recycling it would only start another just like it. */
static void recycle_check_slot(Supervisor *s, Slot *slot) {
        Service *service = slot->service;
        uint64_t limit = slot->pool->svc->max_memory, used;
        char used_s[32], limit_s[32];
        const char *extra[2] = { kill_reason_field(KILL_REASON_MEMORY), NULL };
        LogFields f;
        int r;

        r = s->ops->memory(s->userdata, slot->pid, &used);
        if (r < 0) {
                /* Gone meanwhile (its exit is on its way), or /proc hidden. */
                log_debug_errno(r, "%s[slot %u]: cannot read the memory of worker %d: %s", service->name,
                                slot->index, (int) slot->pid, STRERROR(r));
                return;
        }
        if (used <= limit)
                return;
        recycle_format_size(used, used_s, sizeof used_s);
        recycle_format_size(limit, limit_s, sizeof limit_s);
        f = supervisor_slot_fields(slot);
        if (atomic_load(&slot->score->connections) == 0 && atomic_load(&slot->score->requests) == 0) {
                if (!slot->memory_warned)
                        log_internal(LOG_WARNING, 0, &f,
                                     "%s[slot %u]: worker %d uses %s of private memory before serving anything, above "
                                     "max_memory (%s): not recycling it; is max_memory too low?",
                                     service->name, slot->index, (int) slot->pid, used_s, limit_s);
                slot->memory_warned = true;
                return;
        }
        f.extra = extra;
        slot->kill_reason = KILL_REASON_MEMORY;
        service->kills[KILL_REASON_MEMORY]++;
        atomic_store(&slot->score->recycle, 1);
        log_internal(LOG_NOTICE, 0, &f,
                     "%s[slot %u]: worker %d uses %s of private memory, above max_memory (%s): recycling it after "
                     "its connection", service->name, slot->index, (int) slot->pid, used_s, limit_s);
        if (atomic_load(&slot->score->state) == WORKER_IDLE)
                supervisor_slot_kill(s, slot, SIGTERM);
}

void recycle_check_memory(Supervisor *s, uint64_t now) {
        bool any = false;

        assert(s);

        if (!s->ops->memory) {
                s->memory_check_usec = USEC_INFINITY;
                return;
        }
        if (s->memory_check_usec == USEC_INFINITY || s->memory_check_usec <= now) {
                bool due = s->memory_check_usec <= now;

                SUPERVISOR_FOREACH_GENERATION(s, g) {
                        if (g != s->current && g != s->pending)
                                break;
                        GENERATION_FOREACH_SLOT(g, p, slot) {
                                if (p->svc->max_memory == 0)
                                        continue;
                                any = true;
                                if (due && slot->state == SLOT_RUNNING && slot->kill_reason < 0)
                                        recycle_check_slot(s, slot);
                        }
                }
                s->memory_check_usec = any ? usec_add(now, RECYCLE_MEMORY_INTERVAL_USEC) : USEC_INFINITY;
        }
}
