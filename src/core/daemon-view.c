/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <string.h>

#include "daemon-view.h"

static void generation_foreach(const Generation *g, const Service *service, daemon_view_slot_fn f, void *userdata) {
        if (!g)
                return;
        GENERATION_FOREACH_SLOT(g, p, slot)
                if (p->service == service && slot->state != SLOT_DEAD)
                        f(slot, userdata);
}

void daemon_view_foreach_slot(const DaemonView *v, const Service *service, daemon_view_slot_fn f, void *userdata) {
        const Supervisor *s = v->supervisor;

        assert(service);
        assert(f);
        generation_foreach(s->current, service, f, userdata);
        generation_foreach(s->pending, service, f, userdata);
        for (const Generation *g = s->retiring; g; g = g->next)
                generation_foreach(g, service, f, userdata);
}

Service *daemon_view_find_service(const DaemonView *v, const char *name) {
        const Pool *p;

        assert(name);
        if (!v->supervisor->current)
                return NULL;
        p = generation_find_pool(v->supervisor->current, name);
        return p ? p->service : NULL;
}

static void summarize_slot(const Slot *slot, void *userdata) {
        ServiceSummary *sum = userdata;
        WorkerSnapshot w;

        sum->slots[slot->state]++;
        if (!slot->score || score_snapshot(slot->score, &w) < 0)
                return;
        sum->workers[w.state]++;
        if (w.state == WORKER_IDLE)
                sum->idle++;
        else if (!IN_SET(w.state, WORKER_STARTING, WORKER_EXITING))
                sum->busy++;
        sum->connections += w.connections;
        sum->requests += w.requests;
        sum->bytes_in += w.bytes_in;
        sum->bytes_out += w.bytes_out;
}

void daemon_view_summarize(const DaemonView *v, const Service *service, ServiceSummary *ret) {
        ServiceSummary sum = {
                .service = service,
                .pool = v->supervisor->current ? generation_find_pool(v->supervisor->current, service->name) : NULL,
                .connections = service->connections_done,
                .requests = service->requests_done,
                .bytes_in = service->bytes_in_done,
                .bytes_out = service->bytes_out_done,
        };

        daemon_view_foreach_slot(v, service, summarize_slot, &sum);
        *ret = sum;
}
