/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "generation.h"
#include "log.h"
#include "park.h"
#include "state-live.h"
#include "time-util.h"

static int capture_slot(MasterState *st, const Slot *slot) {
        StateSlot *l;

        if (slot->state == SLOT_DEAD)
                return 0;
        l = master_state_add_slot(st);
        if (!l)
                return -ENOMEM;
        *l = (StateSlot) {
                .generation = slot_generation(slot),
                .service = strdup(slot->service->name),
                .index = slot->index,
                .state = slot->state,
                .pid = slot->pid,
                .ever_ready = slot->ever_ready,
                .started_usec = slot->started_usec,
                .crashes = slot->crashes,
                .backoff_usec = slot->backoff_usec,
                .backoff_until_usec = slot->backoff_until_usec,
                .score = slot->score ? (int) scoreboard_index(slot->service->scoreboard, slot->score) : -1,
                .ready_deadline_usec = slot->ready_deadline_usec,
                .watchdog_deadline_usec = slot->watchdog_deadline_usec,
                .kill_reason = (unsigned) slot->kill_reason < _KILL_REASON_MAX ? (int) slot->kill_reason : -1,
                .status = slot->status ? strdup(slot->status) : NULL,
        };
        return l->service && (!slot->status || l->status) ? 0 : -ENOMEM;
}

static int capture_generation(MasterState *st, const Generation *g, bool current) {
        StateGeneration *sg = master_state_add_generation(st);
        int r;

        if (!sg)
                return -ENOMEM;
        sg->number = g->number;
        sg->current = current;
        sg->kill_usec = g->kill_usec;
        sg->shutdown_timeout_usec = g->config->shutdown_timeout_usec;
        if (current) {
                /* Without a snapshot the next binary could not take over. */
                if (!g->config->snapshot)
                        return -ENODATA;
                sg->config = strdup(g->config->snapshot);
                if (!sg->config)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < g->n_pools; i++) {
                const Pool *p = &g->pools[i];
                StatePool *sp = master_state_add_pool(st);

                if (!sp)
                        return -ENOMEM;
                sp->generation = g->number;
                sp->workers = p->n_slots;
                sp->size = p->size;
                sp->service = strdup(p->service->name);
                if (!sp->service)
                        return -ENOMEM;
                for (unsigned k = 0; k < p->n_slots; k++) {
                        r = capture_slot(st, &p->slots[k]);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int state_live_capture(const Supervisor *s, const ListenerSet *set, MasterState *st) {
        int r;

        assert(s);
        assert(set);
        assert(st);
        assert(s->state == SUPERVISOR_RUNNING && s->current && !s->pending);

        st->last_generation = s->last_generation;
        st->worker_score_size = sizeof(WorkerScore);
        st->service_score_size = sizeof(ServiceScore);
        st->park_version = PARK_VERSION;
        st->readiness_version = STATE_READINESS_VERSION;

        for (size_t i = 0; i < set->n_listeners; i++) {
                const Listener *l = &set->listeners[i];
                StateListener *sl = master_state_add_listener(st);
                char address[256];

                if (!sl)
                        return -ENOMEM;
                r = listen_format(&l->addr, address, sizeof address);
                if (r < 0)
                        return r;
                sl->key = strdup(l->key);
                sl->bound = strdup(l->bound);
                sl->address = strdup(address);
                sl->fd = l->fd;
                sl->from_systemd = l->from_systemd;
                sl->stored = l->stored;
                if (!sl->key || !sl->bound || !sl->address)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < set->systemd.n; i++) {
                StateSystemdSocket *ss;

                /* Taken over by a listener (from the fd store), or closed. */
                if (set->systemd.fds[i] < 0)
                        continue;
                ss = master_state_add_systemd_socket(st);
                if (!ss)
                        return -ENOMEM;
                ss->fd = set->systemd.fds[i];
                ss->used = set->systemd.used[i];
                if (set->systemd.names && set->systemd.names[i] && !(ss->name = strdup(set->systemd.names[i])))
                        return -ENOMEM;
        }
        for (size_t i = 0; i < s->n_services; i++) {
                const Service *service = s->services[i];
                StateService *sv = master_state_add_service(st);

                if (!sv)
                        return -ENOMEM;
                sv->name = strdup(service->name);
                if (!sv->name)
                        return -ENOMEM;
                sv->restarts = service->restarts;
                sv->connections_done = service->connections_done;
                sv->requests_done = service->requests_done;
                sv->bytes_in_done = service->bytes_in_done;
                sv->bytes_out_done = service->bytes_out_done;
                sv->crashes = service->crashes;
                memcpy(sv->kills, service->kills, sizeof sv->kills);
                sv->listen_queue_peak = service->listen_queue_peak;
                sv->scoreboard_fd = service->scoreboard->fd;
                sv->capacity = service->scoreboard->capacity;
                sv->park_fds[0] = service->park_fds[0];
                sv->park_fds[1] = service->park_fds[1];
                sv->front_kill_usec = service->front_kill_usec;
                sv->drained = service->drained;
                r = capture_slot(st, &service->front);
                if (r < 0)
                        return r;
        }
        r = capture_generation(st, s->current, true);
        for (const Generation *g = s->retiring; r >= 0 && g; g = g->next)
                r = capture_generation(st, g, false);
        return r;
}

/* ---- restore ---- */

static int restore_fail(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
static int restore_fail(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;

        if (ret_error) {
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return r;
}

static int restore_compat(const MasterState *st, char **ret_error) {
        if (st->worker_score_size != sizeof(WorkerScore) || st->service_score_size != sizeof(ServiceScore))
                return restore_fail(ret_error, -EPROTO,
                                    "the running workers share a scoreboard of %zu+%zu bytes per entry and service, "
                                    "this binary's is %zu+%zu",
                                    st->worker_score_size, st->service_score_size, sizeof(WorkerScore),
                                    sizeof(ServiceScore));
        if (st->park_version != PARK_VERSION)
                return restore_fail(ret_error, -EPROTO, "the running workers park with protocol %u, this binary's is %u",
                                    st->park_version, (unsigned) PARK_VERSION);
        if (st->readiness_version != STATE_READINESS_VERSION)
                return restore_fail(ret_error, -EPROTO,
                                    "the running workers report readiness with protocol %u, this binary's is %u",
                                    st->readiness_version, STATE_READINESS_VERSION);
        return 0;
}

static int restore_listeners(const MasterState *st, ListenerSet *set, char **ret_error) {
        size_t n = st->n_systemd_sockets;
        int r;

        for (size_t i = 0; i < st->n_listeners; i++) {
                const StateListener *l = &st->listeners[i];

                r = listener_set_adopt(set, l->key, l->bound, l->address, l->fd, l->from_systemd, l->stored);
                if (r < 0)
                        return restore_fail(ret_error, r, "listener %s: %s", l->key, STRERROR(r));
        }
        if (n == 0)
                return 0;
        set->systemd.fds = calloc(n, sizeof(int));
        set->systemd.used = calloc(n, sizeof(bool));
        set->systemd.names = calloc(n + 1, sizeof(char *));
        if (!set->systemd.fds || !set->systemd.used || !set->systemd.names)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const StateSystemdSocket *ss = &st->systemd_sockets[i];

                set->systemd.fds[i] = ss->fd;
                set->systemd.used[i] = ss->used;
                set->systemd.names[i] = strdup(ss->name ? ss->name : "");
                if (!set->systemd.names[i])
                        return -ENOMEM;
                set->systemd.n++;
        }
        return 0;
}

static Service *find_service(const Supervisor *s, const char *name) {
        for (size_t i = 0; i < s->n_services; i++)
                if (strcmp(s->services[i]->name, name) == 0)
                        return s->services[i];
        return NULL;
}

static int restore_services(const MasterState *st, Supervisor *s, char **ret_error) {
        s->services = calloc(MAX(st->n_services, (size_t) 1), sizeof(Service *));
        if (!s->services)
                return -ENOMEM;
        for (size_t i = 0; i < st->n_services; i++) {
                const StateService *sv = &st->services[i];
                Scoreboard *b;
                Service *service;
                int r;

                r = scoreboard_adopt(sv->scoreboard_fd, sv->capacity, &b);
                if (r < 0)
                        return restore_fail(ret_error, r, "service %s: cannot map its scoreboard: %s", sv->name,
                                            STRERROR(r));
                r = service_new_adopted(sv->name, b, &service);
                if (r < 0) {
                        /* The mapping goes, the fd stays: it is the state's. */
                        b->fd = -EBADF;
                        scoreboard_free(b);
                        return r;
                }
                service->restarts = sv->restarts;
                service->connections_done = sv->connections_done;
                service->requests_done = sv->requests_done;
                service->bytes_in_done = sv->bytes_in_done;
                service->bytes_out_done = sv->bytes_out_done;
                service->crashes = sv->crashes;
                memcpy(service->kills, sv->kills, sizeof service->kills);
                service->listen_queue_peak = sv->listen_queue_peak;
                service->park_fds[0] = sv->park_fds[0];
                service->park_fds[1] = sv->park_fds[1];
                service->front_kill_usec = sv->front_kill_usec;
                service->drained = sv->drained;
                s->services[s->n_services++] = service;
        }
        return 0;
}

/* The shape of a retiring generation: its services' names and pool sizes,
 * and its shutdown timeout. It starts no worker, so nothing else of a
 * configuration is ever read from it. */
static int skeleton_config(const MasterState *st, const StateGeneration *sg, Config **ret) {
        _cleanup_(config_freep) Config *c = calloc(1, sizeof(Config));
        size_t n = 0;

        if (!c)
                return -ENOMEM;
        c->path = strdup(st->config_path ? st->config_path : "");
        c->services = calloc(st->n_pools + 1, sizeof(ServiceConfig));
        if (!c->path || !c->services)
                return -ENOMEM;
        c->shutdown_timeout_usec = sg->shutdown_timeout_usec;
        c->log_level = LOG_INFO;
        for (size_t i = 0; i < st->n_pools; i++) {
                const StatePool *p = &st->pools[i];
                ServiceConfig *svc = &c->services[n];

                if (p->generation != sg->number)
                        continue;
                svc->name = strdup(p->service);
                if (!svc->name)
                        return -ENOMEM;
                svc->workers = p->workers;
                svc->respawn = (RespawnConfig) {
                        .min_uptime_usec = USEC_PER_SEC,
                        .backoff_initial_usec = 100 * USEC_PER_MSEC,
                        .backoff_max_usec = 30 * USEC_PER_SEC,
                };
                c->n_services = ++n;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

/* The current generation's configuration must have exactly the services
 * the state lists pools of. Their sizes may differ from the workers
 * setting (a pool scaled at run time): the state's are taken. */
static int check_current_shape(const MasterState *st, const StateGeneration *sg, const Config *c, char **ret_error) {
        size_t n = 0;

        for (size_t i = 0; i < st->n_pools; i++) {
                const StatePool *p = &st->pools[i];
                const ServiceConfig *svc;

                if (p->generation != sg->number)
                        continue;
                n++;
                svc = config_find_service(c, p->service);
                if (!svc)
                        return restore_fail(ret_error, -EBADMSG,
                                            "the configuration snapshot of generation %u does not match its pools "
                                            "(service %s)",
                                            sg->number, p->service);
        }
        if (n != c->n_services)
                return restore_fail(ret_error, -EBADMSG,
                                    "the configuration snapshot of generation %u has %zu services, its pools %zu",
                                    sg->number, c->n_services, n);
        return 0;
}

/* The pools of g get the slots and the size the state says, which a
 * scaled pool has other than its configuration's workers. */
static int restore_pool_sizes(const MasterState *st, Generation *g) {
        for (size_t i = 0; i < st->n_pools; i++) {
                const StatePool *sp = &st->pools[i];
                Pool *p;
                Slot *n;

                if (sp->generation != g->number)
                        continue;
                p = generation_find_pool(g, sp->service);
                assert(p);
                p->size = sp->size;
                if (sp->workers == p->n_slots)
                        continue;
                n = realloc(p->slots, sp->workers * sizeof(Slot));
                if (!n)
                        return -ENOMEM;
                p->slots = n;
                for (unsigned k = p->n_slots; k < sp->workers; k++)
                        p->slots[k] = (Slot) { .pool = p, .service = p->service, .index = k, .state = SLOT_DEAD };
                p->n_slots = sp->workers;
        }
        return 0;
}

static int restore_generation(const MasterState *st, const StateGeneration *sg, Config *config, Supervisor *s,
                              const ListenerSet *set, Generation **ret, char **ret_error) {
        _cleanup_(config_freep) Config *c = config;
        _cleanup_free_ Service **services = NULL;
        int **fds = NULL;
        int r;

        if (!c) {
                r = skeleton_config(st, sg, &c);
                if (r < 0)
                        return r;
        }
        services = calloc(c->n_services + 1, sizeof(Service *));
        if (!services)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_services; i++) {
                services[i] = find_service(s, c->services[i].name);
                if (!services[i])
                        return restore_fail(ret_error, -EBADMSG, "generation %u names service %s, which is not there",
                                            sg->number, c->services[i].name);
        }
        r = listener_set_fds(set, c, &fds);
        if (r < 0)
                return restore_fail(ret_error, r, "generation %u: a listener of its configuration is not open",
                                    sg->number);
        r = generation_new(sg->number, c, services, fds, ret);
        listen_fds_free(fds, c->n_services);
        if (r < 0)
                return r;
        TAKE_PTR(c);
        (*ret)->kill_usec = sg->kill_usec;
        return restore_pool_sizes(st, *ret);
}

static int restore_slot(const StateSlot *l, Supervisor *s, char **ret_error) {
        Service *service = find_service(s, l->service);
        Slot *slot;
        Pool *p = NULL;
        int r;

        assert(service);
        if (l->generation == 0)
                slot = &service->front;
        else {
                if (s->current->number == l->generation)
                        p = generation_find_pool(s->current, l->service);
                for (Generation *g = s->retiring; !p && g; g = g->next)
                        if (g->number == l->generation)
                                p = generation_find_pool(g, l->service);
                assert(p && l->index < p->n_slots);
                slot = &p->slots[l->index];
        }
        slot->state = l->state;
        slot->pid = l->pid;
        slot->ever_ready = l->ever_ready;
        slot->started_usec = l->started_usec;
        slot->crashes = l->crashes;
        slot->backoff_usec = l->backoff_usec;
        slot->backoff_until_usec = l->backoff_until_usec;
        slot->ready_deadline_usec = l->ready_deadline_usec;
        slot->watchdog_deadline_usec = l->watchdog_deadline_usec;
        slot->kill_reason = l->kill_reason >= 0 ? (KillReason) l->kill_reason : _KILL_REASON_INVALID;
        if (l->status && !(slot->status = strdup(l->status)))
                return -ENOMEM;
        if (l->score >= 0) {
                r = scoreboard_take(service->scoreboard, (size_t) l->score, &slot->score);
                if (r < 0)
                        return restore_fail(ret_error, r, "service %s: scoreboard entry %d: %s", l->service, l->score,
                                            STRERROR(r));
        }
        return 0;
}

static const StateGeneration *current_generation(const MasterState *st) {
        for (size_t i = 0; i < st->n_generations; i++)
                if (st->generations[i].current)
                        return &st->generations[i];
        return NULL;
}

int state_live_check(const MasterState *st, const Config *config, char **ret_error) {
        const StateGeneration *sg = current_generation(st);
        int r;

        assert(st);
        assert(config);
        assert(sg);

        if (ret_error)
                *ret_error = NULL;
        r = restore_compat(st, ret_error);
        if (r < 0)
                return r;
        return check_current_shape(st, sg, config, ret_error);
}

int state_live_restore(const MasterState *st, Config *config, Supervisor *s, ListenerSet *set, char **ret_error) {
        _cleanup_(config_freep) Config *c = config;
        int r;

        assert(st);
        assert(c);
        assert(s && s->state == SUPERVISOR_IDLE && s->n_services == 0);
        assert(set && set->n_listeners == 0);

        r = state_live_check(st, c, ret_error);
        if (r < 0)
                return r;
        r = restore_listeners(st, set, ret_error);
        if (r < 0)
                return r;
        r = restore_services(st, s, ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < st->n_generations; i++) {
                const StateGeneration *sg = &st->generations[i];
                Generation *g;

                r = restore_generation(st, sg, sg->current ? TAKE_PTR(c) : NULL, s, set, &g, ret_error);
                if (r < 0)
                        return r;
                if (sg->current)
                        s->current = g;
                else {
                        g->next = s->retiring;
                        s->retiring = g;
                }
        }
        assert(s->current);
        for (size_t i = 0; i < st->n_slots; i++) {
                r = restore_slot(&st->slots[i], s, ret_error);
                if (r < 0)
                        return r;
        }
        /* The current generation's services serve with its settings, as
         * supervisor_serve_generation() left them. */
        for (size_t i = 0; i < s->current->n_pools; i++) {
                s->current->pools[i].service->config = s->current->config;
                s->current->pools[i].service->svc = s->current->pools[i].svc;
        }
        s->last_generation = st->last_generation;
        s->state = SUPERVISOR_RUNNING;
        return 0;
}
