/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "generation.h"
#include "time-util.h"

static void pool_done(Pool *p) {
        for (unsigned i = 0; p->slots && i < p->n_slots; i++)
                free(p->slots[i].status);
        free(p->slots);
        free(p->listen_fds);
        service_unref(p->service);
}

Generation *generation_free(Generation *g) {
        if (!g)
                return NULL;
        for (size_t i = 0; i < g->n_pools; i++)
                pool_done(&g->pools[i]);
        free(g->pools);
        config_free(g->config);
        free(g);
        return NULL;
}

static int pool_init(Pool *p, Generation *g, const ServiceConfig *svc, Service *service, const int *fds) {
        p->gen = g;
        p->svc = svc;
        p->service = service_ref(service);
        p->n_slots = p->size = svc->workers;
        p->slots = calloc(p->n_slots, sizeof(Slot));
        p->listen_fds = calloc(svc->n_listen, sizeof(int));
        if (!p->slots || !p->listen_fds)
                return -ENOMEM;
        memcpy(p->listen_fds, fds, svc->n_listen * sizeof(int));
        p->n_listen_fds = svc->n_listen;
        for (unsigned i = 0; i < p->n_slots; i++)
                p->slots[i] = (Slot) { .pool = p, .service = service, .index = i, .state = SLOT_DEAD };
        return 0;
}

int generation_new(unsigned number, Config *config, Service *const *services, int *const *listen_fds,
                   Generation **ret) {
        _cleanup_(generation_freep) Generation *g = NULL;
        int r;

        assert(config);
        assert(services);
        assert(listen_fds);
        assert(ret);

        g = calloc(1, sizeof(Generation));
        if (!g)
                return -ENOMEM;
        g->number = number;
        g->kill_usec = USEC_INFINITY;
        g->pools = calloc(config->n_services, sizeof(Pool));
        if (!g->pools)
                return -ENOMEM;
        for (size_t i = 0; i < config->n_services; i++) {
                g->n_pools++;
                r = pool_init(&g->pools[i], g, &config->services[i], services[i], listen_fds[i]);
                if (r < 0)
                        return r;
        }
        g->config = config;
        *ret = TAKE_PTR(g);
        return 0;
}

unsigned generation_live_workers(const Generation *g) {
        unsigned n = 0;

        GENERATION_FOREACH_SLOT(g, p, s)
                if (slot_has_process(s))
                        n++;
        return n;
}

Pool *generation_find_pool(const Generation *g, const char *name) {
        for (size_t i = 0; i < g->n_pools; i++)
                if (strcmp(g->pools[i].svc->name, name) == 0)
                        return &g->pools[i];
        return NULL;
}

const char *slot_label(const Slot *s, char *buf, size_t size) {
        if (s->pool)
                (void) snprintf(buf, size, "%s[slot %u]", s->service->name, s->index);
        else
                (void) snprintf(buf, size, "%s[front stage]", s->service->name);
        return buf;
}

unsigned slot_generation(const Slot *s) {
        return s->pool ? s->pool->gen->number : 0;
}
