/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "respawn.h"
#include "slot-policy.h"
#include "supervisor-internal.h"
#include "supervisor.h"
#include "time-util.h"

/* How long a fast stop waits for workers to act on SIGQUIT. */
#define FAST_STOP_USEC (1 * USEC_PER_SEC)
/* After a stop's SIGKILL, how long before the master gives up on them. */
#define STOP_SLACK_USEC (5 * USEC_PER_SEC)

static const char *const supervisor_state_names[_SUPERVISOR_STATE_MAX] = {
        [SUPERVISOR_IDLE] = "idle",
        [SUPERVISOR_STARTING] = "starting",
        [SUPERVISOR_RUNNING] = "running",
        [SUPERVISOR_RELOADING] = "reloading",
        [SUPERVISOR_STOPPING] = "stopping",
        [SUPERVISOR_STOPPED] = "stopped",
};

const char *supervisor_state_to_string(SupervisorState st) {
        return (unsigned) st < _SUPERVISOR_STATE_MAX ? supervisor_state_names[st] : NULL;
}

LogFields supervisor_slot_fields(const Slot *s) {
        return (LogFields) {
                .service = s->service->name,
                .slot = s->pool ? (int) s->index : -1,
                .worker_pid = s->pid,
                .generation = slot_generation(s),
                .exit_status = -1,
                .uptime_usec = -1,
        };
}

/* The respawn policy that applies to s: its generation's, and for a front
 * stage the serving generation's. */
const RespawnConfig *slot_respawn(const Slot *s) {
        static const RespawnConfig fallback = {
                .min_uptime_usec = USEC_PER_SEC,
                .backoff_initial_usec = 100 * USEC_PER_MSEC,
                .backoff_max_usec = 30 * USEC_PER_SEC,
        };

        if (s->pool)
                return &s->pool->svc->respawn;
        return s->service->svc ? &s->service->svc->respawn : &fallback;
}

void supervisor_slot_kill(Supervisor *s, const Slot *slot, int sig) {
        pid_t target;

        slot_policy_signal(slot, sig, &target, &sig);
        s->ops->kill(s->userdata, target, sig);
}

int supervisor_new(const SupervisorOps *ops, void *userdata, Supervisor **ret) {
        Supervisor *s;

        assert(ops);
        assert(ret);

        s = calloc(1, sizeof(Supervisor));
        if (!s)
                return -ENOMEM;
        *s = (Supervisor) {
                .state = SUPERVISOR_IDLE,
                .ops = ops,
                .userdata = userdata,
                .stop_deadline = USEC_INFINITY,
                .hang_check_usec = USEC_INFINITY,
                .memory_check_usec = USEC_INFINITY,
                .stop_kill_usec = USEC_INFINITY,
        };
        *ret = s;
        return 0;
}

static void generation_forget(Supervisor *s, Generation *g) {
        if (g)
                GENERATION_FOREACH_SLOT(g, p, slot)
                        if (slot->watch)
                                s->ops->forget(s->userdata, slot);
}

Supervisor *supervisor_free(Supervisor *s) {
        if (!s)
                return NULL;
        /* Processes are left alone, but the spawner's handles on them go. */
        generation_forget(s, s->current);
        generation_forget(s, s->pending);
        for (Generation *g = s->retiring; g; g = g->next)
                generation_forget(s, g);
        for (size_t i = 0; i < s->n_services; i++)
                if (s->services[i]->front.watch)
                        s->ops->forget(s->userdata, &s->services[i]->front);
        generation_free(s->current);
        generation_free(s->pending);
        while (s->retiring) {
                Generation *g = s->retiring;
                s->retiring = g->next;
                generation_free(g);
        }
        for (size_t i = 0; i < s->n_services; i++)
                service_unref(s->services[i]);
        free(s->services);
        free(s);
        return NULL;
}

/* The Service called name: the one earlier generations used, so that its
 * counters and scoreboard carry over, or a new one. */
static int supervisor_get_service(Supervisor *s, const char *name, Service **ret) {
        Service **n;
        int r;

        for (size_t i = 0; i < s->n_services; i++)
                if (strcmp(s->services[i]->name, name) == 0) {
                        *ret = s->services[i];
                        return 0;
                }
        n = realloc(s->services, (s->n_services + 1) * sizeof(Service *));
        if (!n)
                return -ENOMEM;
        s->services = n;
        r = service_new(name, &s->services[s->n_services]);
        if (r < 0)
                return r;
        *ret = s->services[s->n_services++];
        return 0;
}

/* Drops the services that no generation uses any more (their only
 * reference is the supervisor's list). */
static void supervisor_retire_front(Supervisor *s, Service *service, uint64_t kill_usec);

/* Drops the services that no generation uses any more (their only
 * reference is the supervisor's list); one whose front stage still runs
 * stays until it has closed what it holds and exited. */
static void supervisor_prune_services(Supervisor *s) {
        size_t j = 0;

        for (size_t i = 0; i < s->n_services; i++) {
                Service *service = s->services[i];

                if (service->n_refs == 1) {
                        service->svc = NULL;
                        service->config = NULL;
                        if (service->front.state == SLOT_BACKOFF)
                                service->front.state = SLOT_DEAD;
                        if (IN_SET(service->front.state, SLOT_STARTING, SLOT_RUNNING))
                                supervisor_retire_front(s, service, USEC_INFINITY);
                }
                if (service->n_refs > 1 || slot_has_process(&service->front)) {
                        s->services[j++] = service;
                        continue;
                }
                log_debug("Service %s is gone", service->name);
                service_unref(service);
        }
        s->n_services = j;
}

static int supervisor_new_generation(Supervisor *s, Config *config, int *const *listen_fds, Generation **ret) {
        _cleanup_free_ Service **services = NULL;
        int r;

        services = calloc(config->n_services, sizeof(Service *));
        if (!services)
                return -ENOMEM;
        for (size_t i = 0; i < config->n_services; i++) {
                r = supervisor_get_service(s, config->services[i].name, &services[i]);
                if (r < 0) {
                        supervisor_prune_services(s);
                        return r;
                }
        }
        r = generation_new(s->last_generation + 1, config, services, listen_fds, ret);
        if (r < 0) {
                supervisor_prune_services(s);
                return r;
        }
        s->last_generation++;
        return 0;
}

uint64_t usec_add(uint64_t now, uint64_t usec) {
        return usec > USEC_INFINITY - now ? USEC_INFINITY : now + usec;
}

void slot_enter_backoff(Slot *slot, uint64_t delay, uint64_t now) {
        slot->state = SLOT_BACKOFF;
        slot->pid = 0;
        slot->backoff_usec = delay;
        slot->backoff_until_usec = usec_add(now, delay);
}

/* Starts the slot's worker. A failed start (no scoreboard entry, no fork)
 * backs off like a crash past the budget, so that a system out of
 * processes is retried with backoff instead of in a loop. */
void supervisor_spawn(Supervisor *s, Slot *slot, uint64_t now) {
        Service *service = slot->service;
        char label[128];
        int r;

        assert(!slot_has_process(slot));
        (void) slot_label(slot, label, sizeof label);

        r = scoreboard_acquire(service->scoreboard, slot_generation(slot), slot->index, &slot->score);
        if (r >= 0) {
                slot->started_usec = now;
                slot->kill_reason = _KILL_REASON_INVALID;
                slot->hang_busy_since_usec = 0;
                slot->hang_abort_usec = 0;
                slot->hang_capped = false;
                slot->memory_warned = false;
                slot->cover_until_usec = 0;
                if (slot->pool)
                        slot->max_requests = recycle_max_requests(slot->pool->svc->max_requests,
                                                                  slot->pool->svc->max_requests_jitter,
                                                                  s->ops->random ? s->ops->random(s->userdata) : 0);
                r = s->ops->spawn(s->userdata, slot);
                if (r < 0) {
                        scoreboard_release(service->scoreboard, slot->score);
                        slot->score = NULL;
                }
        } else {
                LogFields f = supervisor_slot_fields(slot);
                log_internal(LOG_ERR, r, &f, "%s: no free scoreboard entry for a new worker", label);
        }
        if (r < 0) {
                uint64_t delay;

                if (slot->crashes < UINT32_MAX)
                        slot->crashes++;
                delay = respawn_delay_usec(slot_respawn(slot), slot->crashes);
                LogFields f = supervisor_slot_fields(slot);
                log_internal(LOG_ERR, r, &f, "%s: cannot start a worker, retrying in %.3fs: %s", label,
                             (double) delay / 1e6, STRERROR(r));
                slot_enter_backoff(slot, delay, now);
                return;
        }
        assert(slot->pid > 0);
        slot_policy_started(slot, now);
        /* A front stage reports no readiness: the channel queues what
         * workers park until it reads. */
        slot->state = slot->pool ? SLOT_STARTING : SLOT_RUNNING;
        slot->ever_ready = !slot->pool;
        LogFields f = supervisor_slot_fields(slot);
        if (slot->pool && slot->pool->svc->max_requests_jitter > 0)
                log_internal(LOG_DEBUG, 0, &f, "%s: started worker %d (generation %u, max_requests %" PRIu64 ")",
                             label, (int) slot->pid, slot_generation(slot), slot->max_requests);
        else
                log_internal(LOG_DEBUG, 0, &f, "%s: started %s %d (generation %u)", label,
                             slot->pool ? "worker" : "front stage", (int) slot->pid, slot_generation(slot));
}

/* The serving generation's services get their settings, and those that
 * park get their channel and a front stage. */
static void supervisor_serve_generation(Supervisor *s, Generation *g, uint64_t now) {
        for (size_t i = 0; i < g->n_pools; i++) {
                Service *service = g->pools[i].service;
                int r;

                service->config = g->config;
                service->svc = g->pools[i].svc;
                if (!service->svc->park)
                        continue;
                r = service_open_park(service);
                if (r < 0) {
                        log_error_errno(r, "%s: cannot make the park channel, not parking: %s", service->name,
                                        STRERROR(r));
                        continue;
                }
                if (service->front.state == SLOT_DEAD)
                        supervisor_spawn(s, &service->front, now);
        }
}

static void supervisor_retire_front(Supervisor *s, Service *service, uint64_t kill_usec) {
        Slot *front = &service->front;

        switch (front->state) {
        case SLOT_STARTING:
        case SLOT_RUNNING:
                front->state = SLOT_RETIRING;
                s->ops->kill(s->userdata, front->pid, SIGTERM);
                break;
        case SLOT_BACKOFF:
                front->state = SLOT_DEAD;
                break;
        case SLOT_RETIRING:
        case SLOT_DEAD:
                break;
        case _SLOT_STATE_MAX:
                abort();
        }
        service->front_kill_usec = MIN(service->front_kill_usec, kill_usec);
}

static void supervisor_spawn_generation(Supervisor *s, Generation *g, uint64_t now) {
        GENERATION_FOREACH_SLOT(g, p, slot)
                supervisor_spawn(s, slot, now);
}

void supervisor_retire_slot(Supervisor *s, Slot *slot) {
        switch (slot->state) {
        case SLOT_STARTING:
        case SLOT_RUNNING:
                slot->ever_ready = slot->state == SLOT_RUNNING;
                slot->state = SLOT_RETIRING;
                slot_policy_clear(slot);
                /* A worker covering for a rolled-back slot serves on until
                 * that slot's old worker is back (reload-rolling.c). */
                if (slot->cover_until_usec == 0)
                        supervisor_slot_kill(s, slot, SIGTERM);
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

/* Tells every worker of g to finish its connection and leave; their exits
 * are not respawned. kill_usec is when the stragglers get SIGKILL. */
static void supervisor_retire(Supervisor *s, Generation *g, uint64_t kill_usec) {
        GENERATION_FOREACH_SLOT(g, p, slot)
                supervisor_retire_slot(s, slot);
        g->kill_usec = kill_usec;
        g->next = s->retiring;
        s->retiring = g;
}

int supervisor_start(Supervisor *s, Config *config, int *const *listen_fds, uint64_t now) {
        int r;

        assert(s);
        assert(config);

        if (s->state != SUPERVISOR_IDLE)
                return -EBUSY;
        r = supervisor_new_generation(s, config, listen_fds, &s->current);
        if (r < 0)
                return r;
        s->state = SUPERVISOR_STARTING;
        supervisor_serve_generation(s, s->current, now);
        supervisor_spawn_generation(s, s->current, now);
        supervisor_run_timers(s, now);
        return 0;
}

int supervisor_reload(Supervisor *s, Config *config, int *const *listen_fds, uint64_t now) {
        int r;

        assert(s);
        assert(config);

        if (s->state != SUPERVISOR_RUNNING)
                return -EBUSY;
        r = supervisor_new_generation(s, config, listen_fds, &s->pending);
        if (r < 0)
                return r;
        s->state = SUPERVISOR_RELOADING;
        reload_rolling_start(s, now);
        supervisor_run_timers(s, now);
        return 0;
}

/* The reload cannot succeed: the new workers leave. The old ones never
 * stopped serving, except in the slots that a rolling reload had taken
 * over: those start old workers again, and the new workers there serve
 * on until they are ready (reload-rolling.c), so that the service never
 * has fewer workers than before. */
void supervisor_refuse_pending(Supervisor *s, const char *why, uint64_t now) {
        uint64_t kill_usec = usec_add(now, s->current->config->shutdown_timeout_usec);
        bool rolled_back;
        Generation *g;

        assert(s->pending);
        rolled_back = reload_rolling_rollback(s, now);
        g = TAKE_PTR(s->pending);
        if (rolled_back) {
                log_error("Reload rolled back: %s; the replaced workers of generation %u go back to the old "
                          "configuration", why, s->current->number);
                /* Covering workers are told to leave up to ready_timeout
                 * from now: their SIGKILL waits for that too. */
                GENERATION_FOREACH_SLOT(g, p, slot)
                        if (slot->cover_until_usec > 0)
                                kill_usec = MAX(kill_usec, usec_add(slot->cover_until_usec,
                                                                    s->current->config->shutdown_timeout_usec));
        } else
                log_error("Reload failed: %s; still serving generation %u with the old configuration", why,
                          s->current->number);
        supervisor_retire(s, g, kill_usec);
        s->state = SUPERVISOR_RUNNING;
        s->ops->event(s->userdata, rolled_back ? SUPERVISOR_EVENT_RELOAD_ROLLED_BACK : SUPERVISOR_EVENT_RELOAD_REFUSED,
                      why);
}

/* Every new worker is in its accept loop, on the same sockets as the old
 * ones: switch first, retire after, so that no connection is refused. */
static void supervisor_apply_pending(Supervisor *s, uint64_t now) {
        Generation *old = s->current;
        char summary[128];

        s->current = TAKE_PTR(s->pending);
        supervisor_serve_generation(s, s->current, now);
        supervisor_retire(s, old, usec_add(now, s->current->config->shutdown_timeout_usec));
        s->state = SUPERVISOR_RUNNING;
        (void) config_summary(s->current->config, summary, sizeof summary);
        log_info("Reloaded: generation %u, %s; generation %u is retiring", s->current->number, summary,
                 old->number);
        s->ops->event(s->userdata, SUPERVISOR_EVENT_RELOAD_APPLIED, NULL);
}

/* Whether every slot of g has settled: in its accept loop, or (when
 * allow_backoff) waiting out a crash backoff. */
static bool generation_settled(const Generation *g, bool allow_backoff) {
        GENERATION_FOREACH_SLOT(g, p, slot)
                switch (slot->state) {
                case SLOT_RUNNING:
                        break;
                case SLOT_BACKOFF:
                        if (!allow_backoff)
                                return false;
                        break;
                case SLOT_STARTING:
                case SLOT_RETIRING:
                case SLOT_DEAD:
                        return false;
                case _SLOT_STATE_MAX:
                        abort();
                }
        return true;
}

static void supervisor_free_retired(Supervisor *s) {
        for (Generation **g = &s->retiring; *g;) {
                if (generation_live_workers(*g) > 0) {
                        g = &(*g)->next;
                        continue;
                }
                Generation *done = *g;
                *g = done->next;
                log_debug("Generation %u has finished", done->number);
                generation_free(done);
        }
        supervisor_prune_services(s);
}

/* The one place that moves the supervisor between states as workers come
 * and go: every entry point ends here. */
static void supervisor_progress(Supervisor *s) {
        char summary[128];

        switch (s->state) {
        case SUPERVISOR_STARTING:
                if (generation_settled(s->current, true)) {
                        s->state = SUPERVISOR_RUNNING;
                        (void) config_summary(s->current->config, summary, sizeof summary);
                        log_info("Ready: generation %u, %s", s->current->number, summary);
                        s->ops->event(s->userdata, SUPERVISOR_EVENT_STARTED, NULL);
                }
                break;
        case SUPERVISOR_RELOADING:
                /* Backoff does not count here: a new generation whose worker
                 * keeps crashing must not replace one that works. */
                break;
        case SUPERVISOR_STOPPING:
                if (supervisor_live_workers(s) == 0) {
                        log_info("All workers have exited");
                        s->state = SUPERVISOR_STOPPED;
                        s->stop_deadline = USEC_INFINITY;
                        s->ops->event(s->userdata, SUPERVISOR_EVENT_STOPPED, NULL);
                }
                break;
        case SUPERVISOR_IDLE:
        case SUPERVISOR_RUNNING:
        case SUPERVISOR_STOPPED:
                break;
        case _SUPERVISOR_STATE_MAX:
                abort();
        }
        supervisor_free_retired(s);
}

static bool supervisor_fronts_alive(const Supervisor *s) {
        for (size_t i = 0; i < s->n_services; i++)
                if (slot_has_process(&s->services[i]->front))
                        return true;
        return false;
}

/* The second step of a graceful stop: the workers retire once no front
 * stage is left to hand them a connection. */
static void supervisor_stop_workers_due(Supervisor *s, uint64_t now) {
        if (!s->stop_workers_pending || (supervisor_fronts_alive(s) && s->stop_workers_usec > now))
                return;
        s->stop_workers_pending = false;
        if (s->current)
                supervisor_retire(s, TAKE_PTR(s->current), s->stop_kill_usec);
        if (s->pending)
                supervisor_retire(s, TAKE_PTR(s->pending), s->stop_kill_usec);
}

void supervisor_stop(Supervisor *s, bool fast, uint64_t now) {
        const Generation *newest;
        uint64_t grace;

        assert(s);

        switch (s->state) {
        case SUPERVISOR_IDLE:
                s->state = SUPERVISOR_STOPPED;
                s->ops->event(s->userdata, SUPERVISOR_EVENT_STOPPED, NULL);
                return;
        case SUPERVISOR_STOPPED:
                return;
        case SUPERVISOR_STOPPING:
                if (!fast || s->fast_stop) {
                        log_info("Already stopping");
                        return;
                }
                break;
        case SUPERVISOR_STARTING:
        case SUPERVISOR_RUNNING:
        case SUPERVISOR_RELOADING:
                break;
        case _SUPERVISOR_STATE_MAX:
                abort();
        }

        /* The configuration that serves decides, as before a reload. */
        newest = s->current ? s->current : s->pending ? s->pending : s->retiring;
        grace = fast ? FAST_STOP_USEC : newest ? newest->config->shutdown_timeout_usec : 0;
        if (s->state != SUPERVISOR_STOPPING) {
                bool fronts = false;

                s->state = SUPERVISOR_STOPPING;
                /* Workers covering for a rolled-back reload leave with
                 * the rest. */
                reload_rolling_uncover_due(s, USEC_INFINITY);
                /* Before the workers hear of the stop: from now on they
                 * close idle connections instead of parking them. */
                for (size_t i = 0; i < s->n_services; i++) {
                        atomic_store(&s->services[i]->scoreboard->service->stopping, 1);
                        fronts = fronts || slot_has_process(&s->services[i]->front);
                        supervisor_retire_front(s, s->services[i], USEC_INFINITY);
                }
                /* The front stages go first: they close what is idle and
                 * hand back what is in progress, which the workers, still
                 * running, finish. The workers are told once the front
                 * stages have left (at the latest after grace). */
                s->stop_workers_pending = true;
                s->stop_workers_usec = fronts && !fast ? usec_add(now, grace) : now;
        }
        if (s->stop_workers_pending && fast)
                s->stop_workers_usec = now;
        s->stop_kill_usec = MIN(s->stop_kill_usec, usec_add(now, grace));
        supervisor_stop_workers_due(s, now);
        if (fast) {
                s->fast_stop = true;
                log_info("Fast stop: telling workers to exit now");
                for (Generation *g = s->retiring; g; g = g->next)
                        GENERATION_FOREACH_SLOT(g, p, slot)
                                if (slot_has_process(slot))
                                        supervisor_slot_kill(s, slot, SIGQUIT);
                for (size_t i = 0; i < s->n_services; i++)
                        if (slot_has_process(&s->services[i]->front))
                                s->ops->kill(s->userdata, s->services[i]->front.pid, SIGQUIT);
        } else
                log_info("Stopping gracefully: waiting up to %.1fs for workers to finish their connections",
                         (double) grace / 1e6);

        /* Every generation, also one still retiring from a reload, now
         * SIGKILLs its stragglers after grace at the latest (a deadline
         * already set, by the reload or a graceful stop before this fast
         * one, may be earlier and stays); the stop deadline is the last
         * resort should even that not end them. */
        for (Generation *g = s->retiring; g; g = g->next)
                g->kill_usec = MIN(g->kill_usec, usec_add(now, grace));
        for (size_t i = 0; i < s->n_services; i++)
                s->services[i]->front_kill_usec = MIN(s->services[i]->front_kill_usec, usec_add(now, grace));
        s->stop_deadline = MIN(s->stop_deadline, usec_add(now, grace + STOP_SLACK_USEC));
        supervisor_run_timers(s, now);
}

Slot *supervisor_find_slot(const Supervisor *s, pid_t pid) {
        const Generation *gens[] = { s->current, s->pending };

        if (pid <= 0)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(gens); i++)
                if (gens[i])
                        GENERATION_FOREACH_SLOT(gens[i], p, slot)
                                if (slot->pid == pid)
                                        return slot;
        for (const Generation *g = s->retiring; g; g = g->next)
                GENERATION_FOREACH_SLOT(g, p, slot)
                        if (slot->pid == pid)
                                return slot;
        for (size_t i = 0; i < s->n_services; i++)
                if (s->services[i]->front.pid == pid)
                        return &s->services[i]->front;
        return NULL;
}

void supervisor_worker_ready(Supervisor *s, pid_t pid, unsigned generation, unsigned index, uint64_t now) {
        Slot *slot = supervisor_find_slot(s, pid);

        if (!slot || !slot->pool || slot->pool->gen->number != generation || slot->index != index) {
                log_debug("Ignoring a readiness report of pid %d for generation %u slot %u: no such worker",
                          (int) pid, generation, index);
                return;
        }
        switch (slot->state) {
        case SLOT_STARTING:
                slot->state = SLOT_RUNNING;
                slot_policy_ready(slot, now);
                if (slot->pool->gen == s->current)
                        reload_rolling_uncover(s, slot);
                break;
        case SLOT_RETIRING:
                /* A worker told to stop before it got ready: too late. */
                break;
        case SLOT_RUNNING:
        case SLOT_BACKOFF:
        case SLOT_DEAD:
                log_debug("Ignoring a readiness report of worker %d in state %s", (int) pid,
                          slot_state_to_string(slot->state));
                break;
        case _SLOT_STATE_MAX:
                abort();
        }
        supervisor_run_timers(s, now);
}

static void supervisor_kill_stragglers(Supervisor *s, Generation *g) {
        unsigned n = generation_live_workers(g);

        g->kill_usec = USEC_INFINITY;
        if (n == 0)
                return;
        log_warning("Generation %u: %u worker%s still busy after the shutdown timeout, killing them", g->number, n,
                    n == 1 ? "" : "s");
        GENERATION_FOREACH_SLOT(g, p, slot)
                if (slot_has_process(slot))
                        supervisor_slot_kill(s, slot, SIGKILL);
}

static void supervisor_respawn_due(Supervisor *s, Generation *g, uint64_t now) {
        if (!g)
                return;
        GENERATION_FOREACH_SLOT(g, p, slot)
                if (slot->state == SLOT_BACKOFF && slot->backoff_until_usec <= now)
                        supervisor_spawn(s, slot, now);
}

void supervisor_run_timers(Supervisor *s, uint64_t now) {
        char why[256];

        assert(s);

        supervisor_respawn_due(s, s->current, now);
        supervisor_respawn_due(s, s->pending, now);
        supervisor_policy_deadlines_due(s, s->current, now);
        supervisor_policy_deadlines_due(s, s->pending, now);
        supervisor_scale_run(s, now);
        for (size_t i = 0; i < s->n_services; i++) {
                Service *service = s->services[i];

                if (service->front.state == SLOT_BACKOFF && service->front.backoff_until_usec <= now)
                        supervisor_spawn(s, &service->front, now);
                if (service->front_kill_usec <= now) {
                        service->front_kill_usec = USEC_INFINITY;
                        if (slot_has_process(&service->front))
                                s->ops->kill(s->userdata, service->front.pid, SIGKILL);
                }
        }
        reload_rolling_uncover_due(s, now);
        for (Generation *g = s->retiring; g; g = g->next)
                if (g->kill_usec <= now)
                        supervisor_kill_stragglers(s, g);
        if (s->pending && reload_rolling_progress(s, now, why, sizeof why) < 0)
                supervisor_refuse_pending(s, why, now);
        else if (s->pending && generation_settled(s->pending, false))
                supervisor_apply_pending(s, now);
        if (!IN_SET(s->state, SUPERVISOR_STOPPING, SUPERVISOR_STOPPED)) {
                hang_check(s, now);
                recycle_check_memory(s, now);
        } else
                s->hang_check_usec = s->memory_check_usec = USEC_INFINITY;
        supervisor_stop_workers_due(s, now);
        if (s->state == SUPERVISOR_STOPPING && s->stop_deadline <= now) {
                s->stop_deadline = USEC_INFINITY;
                log_error("%u worker%s did not exit after SIGKILL; exiting anyway", supervisor_live_workers(s),
                          supervisor_live_workers(s) == 1 ? "" : "s");
                s->ops->event(s->userdata, SUPERVISOR_EVENT_STOP_TIMEOUT, NULL);
        }
        supervisor_progress(s);
}

static uint64_t generation_next_deadline(const Generation *g) {
        uint64_t d = USEC_INFINITY;

        if (!g)
                return d;
        GENERATION_FOREACH_SLOT(g, p, slot) {
                if (slot->state == SLOT_BACKOFF)
                        d = MIN(d, slot->backoff_until_usec);
                d = MIN(d, slot_policy_next_deadline(slot));
        }
        return d;
}

uint64_t supervisor_next_deadline(const Supervisor *s) {
        uint64_t d = MIN(s->stop_deadline, reload_rolling_next_deadline(s));

        d = MIN(d, MIN(s->hang_check_usec, s->memory_check_usec));
        if (s->stop_workers_pending)
                d = MIN(d, s->stop_workers_usec);

        d = MIN(d, generation_next_deadline(s->current));
        d = MIN(d, generation_next_deadline(s->pending));
        for (const Generation *g = s->retiring; g; g = g->next)
                d = MIN(d, g->kill_usec);
        for (size_t i = 0; i < s->n_services; i++) {
                const Service *service = s->services[i];

                if (service->front.state == SLOT_BACKOFF)
                        d = MIN(d, service->front.backoff_until_usec);
                if (slot_has_process(&service->front))
                        d = MIN(d, service->front_kill_usec);
        }
        return d;
}

unsigned supervisor_live_workers(const Supervisor *s) {
        unsigned n = 0;

        if (s->current)
                n += generation_live_workers(s->current);
        if (s->pending)
                n += generation_live_workers(s->pending);
        for (const Generation *g = s->retiring; g; g = g->next)
                n += generation_live_workers(g);
        for (size_t i = 0; i < s->n_services; i++)
                if (slot_has_process(&s->services[i]->front))
                        n++;
        return n;
}

Generation *supervisor_next_generation(const Supervisor *s, const Generation *g) {
        if (g == s->current)
                return s->pending ? s->pending : s->retiring;
        if (g == s->pending)
                return s->retiring;
        return g->next;
}
