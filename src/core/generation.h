/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "service.h"
#include "slot.h"

typedef struct Generation Generation;

/* A generation's workers for one service. The pool owns only its slots;
 * what outlives the generation (counters, scoreboard) is its Service's. */
struct Pool {
        Generation *gen;
        Service *service;             /* a reference */
        const ServiceConfig *svc;     /* owned by gen->config */
        int *listen_fds;              /* the listeners' fds, borrowed, in svc->listen order */
        size_t n_listen_fds;
        Slot *slots;
        unsigned n_slots;
        /* How many workers the pool keeps: the workers setting, until
         * scaled (supervisor-scale.h). Slots at and above it only finish
         * leaving; the array shrinks as they go. */
        unsigned size;
        /* A reload's new pool comes up in batches (reload-rolling.c): the
         * slots below batch_end have been started, those below rolled
         * were all ready (and, rolling, their old workers retired). */
        unsigned rolled;
        unsigned batch_end;
        uint64_t batch_deadline;      /* the batch must be ready by then */
};

/* One configuration's set of workers: the first one, then one per reload.
 * Every worker is tagged with the generation number it was started for. */
struct Generation {
        unsigned number;
        Config *config;               /* owned */
        Pool *pools;                  /* one per config->services[] */
        size_t n_pools;
        uint64_t kill_usec;           /* retiring: SIGKILL the stragglers then (USEC_INFINITY: never) */
        Generation *next;             /* in the supervisor's list of retiring generations */
};

/* Builds generation number for config (taking it on success). services[i]
 * is the Service of config->services[i] (a reference is taken), and
 * listen_fds[i] its listeners' fds (copied). No process is started. */
int generation_new(unsigned number, Config *config, Service *const *services, int *const *listen_fds,
                   Generation **ret);
/* Frees the generation; its slots must have no process left (or be
 * forgotten on purpose, at exit). Accepts NULL. */
Generation *generation_free(Generation *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(Generation *, generation_free)

unsigned generation_live_workers(const Generation *g);
/* The pool of the service called name, or NULL. */
Pool *generation_find_pool(const Generation *g, const char *name);

#define GENERATION_FOREACH_SLOT(g, p, s)                                                  \
        for (Pool *p = (g)->pools; p < (g)->pools + (g)->n_pools; p++)                   \
                for (Slot *s = p->slots; s < p->slots + p->n_slots; s++)

/* "web[slot 3]", or "web[front stage]". */
const char *slot_label(const Slot *s, char *buf, size_t size);
/* The generation it was started for; 0 for a front stage. */
unsigned slot_generation(const Slot *s);
