/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "log.h"
#include "master.h"
#include "generation.h"
#include "respawn.h"
#include "worker.h"

static const char *const slot_state_names[_SLOT_STATE_MAX] = {
        [SLOT_RUNNING] = "running",
        [SLOT_BACKOFF] = "backoff",
        [SLOT_RETIRING] = "retiring",
        [SLOT_DEAD] = "dead",
};

const char *slot_state_to_string(SlotState s) {
        return (unsigned) s < _SLOT_STATE_MAX ? slot_state_names[s] : NULL;
}

static LogFields slot_fields(const Slot *s) {
        return (LogFields) {
                .service = s->pool->svc->name,
                .slot = (int) s->index,
                .worker_pid = s->pid,
                .generation = s->pool->gen->number,
                .exit_status = -1,
                .uptime_usec = -1,
        };
}

static void slot_spawn(Slot *s);

/* Counters are per service, not per generation: what a retiring worker
 * served is credited to the current pool of the same service, so STATUS=
 * keeps counting across reloads. */
static Pool *pool_account(Pool *p) {
        Generation *cur = p->gen->master->current;

        if (!cur || cur == p->gen)
                return p;
        for (size_t i = 0; i < cur->n_pools; i++)
                if (strcmp(cur->pools[i].svc->name, p->svc->name) == 0)
                        return &cur->pools[i];
        return p;
}

void generation_inherit_counters(Generation *g, const Generation *old) {
        for (size_t i = 0; i < g->n_pools; i++)
                for (size_t k = 0; k < old->n_pools; k++)
                        if (strcmp(g->pools[i].svc->name, old->pools[k].svc->name) == 0) {
                                g->pools[i].connections_done += old->pools[k].connections_done;
                                g->pools[i].restarts += old->pools[k].restarts;
                        }
}

static int slot_on_backoff_done(sd_event_source *es, uint64_t usec, void *userdata) {
        Slot *s = userdata;

        s->timer_source = sd_event_source_unref(s->timer_source);
        if (s->state == SLOT_BACKOFF)
                slot_spawn(s);
        return 0;
}

/* Every change of a slot's state goes through here, so that timers and
 * child sources never outlive the state that needs them. */
static void slot_set_state(Slot *s, SlotState state) {
        switch (state) {
        case SLOT_RUNNING:
        case SLOT_RETIRING:
                s->timer_source = sd_event_source_disable_unref(s->timer_source);
                break;
        case SLOT_BACKOFF:
                break;
        case SLOT_DEAD:
                s->timer_source = sd_event_source_disable_unref(s->timer_source);
                s->child_source = sd_event_source_disable_unref(s->child_source);
                s->pid = 0;
                s->ready = false;
                break;
        case _SLOT_STATE_MAX:
                abort();
        }
        s->state = state;
}

static void slot_backoff(Slot *s, uint64_t delay_usec) {
        Master *m = s->pool->gen->master;
        int r;

        s->backoff_usec = delay_usec;
        slot_set_state(s, SLOT_BACKOFF);
        s->pid = 0;
        s->ready = false;
        r = sd_event_add_time_relative(m->event, &s->timer_source, CLOCK_MONOTONIC, delay_usec, 1000,
                                       slot_on_backoff_done, s);
        if (r < 0) {
                /* Without a timer the slot would never come back; the only
                 * safe alternative that cannot storm is to leave it down. */
                LogFields f = slot_fields(s);
                log_internal(LOG_ERR, r, &f, "%s[slot %u]: cannot arm the respawn timer, slot stays down: %s",
                             s->pool->svc->name, s->index, STRERROR(r));
                slot_set_state(s, SLOT_DEAD);
        }
}

static int slot_on_exit(sd_event_source *es, const siginfo_t *si, void *userdata) {
        Slot *s = userdata;
        Pool *p = s->pool;
        Master *m = p->gen->master;
        WorkerScore *score = &p->scores[s->index];
        LogFields f = slot_fields(s);
        uint64_t now = now_usec();
        WorkerExit e = {
                .uptime_usec = now - s->started_usec,
                .clean = si->si_code == CLD_EXITED && si->si_status == 0,
                .connections = atomic_load(&score->connections),
        };
        char how[64];

        s->child_source = sd_event_source_disable_unref(s->child_source);
        pool_account(p)->connections_done += e.connections;
        f.uptime_usec = (int64_t) e.uptime_usec;
        if (si->si_code == CLD_EXITED) {
                f.exit_status = si->si_status;
                (void) snprintf(how, sizeof how, "exited with status %d", si->si_status);
        } else {
                f.exit_signal = si->si_status;
                (void) snprintf(how, sizeof how, "killed by signal %s%s", sigabbrev_np(si->si_status) ? sigabbrev_np(si->si_status) : "?",
                                si->si_code == CLD_DUMPED ? " (core dumped)" : "");
        }

        switch (s->state) {
        case SLOT_RETIRING:
                log_internal(LOG_INFO, 0, &f, "%s[slot %u]: worker %d of generation %u %s after %.3fs, %" PRIu64 " connections",
                             p->svc->name, s->index, (int) s->pid, p->gen->number, how, (double) e.uptime_usec / 1e6,
                             e.connections);
                slot_set_state(s, SLOT_DEAD);
                break;
        case SLOT_RUNNING: {
                bool never_ready = !s->ready;

                log_internal(e.clean ? LOG_INFO : LOG_WARNING, 0, &f,
                             "%s[slot %u]: worker %d %s after %.3fs, %" PRIu64 " connections", p->svc->name, s->index,
                             (int) s->pid, how, (double) e.uptime_usec / 1e6, e.connections);
                if (!respawn_is_crash(&p->svc->respawn, &e) && e.clean) {
                        /* Planned recycle (max_requests): not a restart. */
                } else
                        p->restarts++;

                if (p->gen == m->pending && never_ready) {
                        slot_set_state(s, SLOT_DEAD);
                        master_pending_failed(m, s, how);
                        return 0;
                }
                uint64_t delay = respawn_after_exit(&p->svc->respawn, &e, &s->crashes);
                if (delay == 0)
                        slot_spawn(s);
                else {
                        log_internal(LOG_WARNING, 0, &f,
                                     "%s[slot %u]: %u quick crash%s in a row (uptime under %.3fs), respawning in %.3fs",
                                     p->svc->name, s->index, s->crashes, s->crashes == 1 ? "" : "es",
                                     (double) p->svc->respawn.min_uptime_usec / 1e6, (double) delay / 1e6);
                        slot_backoff(s, delay);
                }
                break;
        }
        case SLOT_BACKOFF:
        case SLOT_DEAD:
                log_internal(LOG_ERR, 0, &f, "%s[slot %u]: unexpected exit of %d in state %s", p->svc->name, s->index,
                             (int) si->si_pid, slot_state_to_string(s->state));
                break;
        case _SLOT_STATE_MAX:
                abort();
        }
        master_workers_changed(m);
        return 0;
}

/* Forks the slot's worker. A failed fork is treated like a quick crash so
 * that a system out of processes is retried with backoff, not in a loop. */
static void slot_spawn(Slot *s) {
        Pool *p = s->pool;
        Generation *g = p->gen;
        Master *m = g->master;
        WorkerScore *score = &p->scores[s->index];
        WorkerSpawn spawn = {
                .config = g->config,
                .svc = p->svc,
                .slot = s->index,
                .generation = g->number,
                .score = score,
                .listen_fds = p->listen_fds,
                .n_listen_fds = p->n_listen_fds,
                .ready_fd = m->ready_pipe[1],
                .master_pid = getpid(),
        };
        LogFields f = slot_fields(s);
        _cleanup_free_ int *close_fds = NULL;
        pid_t pid;
        int r;

        /* A worker keeps no listener of another service: a listener removed
         * by a reload must stop taking connections as soon as the master
         * closes it, not when the last long-lived worker of some other
         * service exits. Built at each spawn, because fd numbers are reused
         * after reloads. */
        close_fds = calloc(m->n_listeners + 1, sizeof(int));
        if (close_fds) {
                for (size_t i = 0; i < m->n_listeners; i++) {
                        bool mine = false;
                        for (size_t k = 0; k < p->n_listen_fds; k++)
                                mine = mine || p->listen_fds[k] == m->listeners[i].fd;
                        if (!mine && m->listeners[i].fd >= 0)
                                close_fds[spawn.n_close_fds++] = m->listeners[i].fd;
                }
                close_fds[spawn.n_close_fds++] = m->ready_pipe[0];
                spawn.close_fds = close_fds;
        }

        atomic_store(&score->state, WORKER_STARTING);
        atomic_store(&score->connections, 0);
        atomic_store(&score->wakeups, 0);
        atomic_store(&score->spurious_wakeups, 0);

        s->started_usec = now_usec();
        pid = fork();
        if (pid == 0)
                worker_main(&spawn);
        if (pid < 0) {
                r = negative_errno();
                s->crashes++;
                uint64_t delay = respawn_delay_usec(&p->svc->respawn, s->crashes);
                log_internal(LOG_ERR, r, &f, "%s[slot %u]: cannot fork a worker, retrying in %.3fs: %s", p->svc->name,
                             s->index, (double) delay / 1e6, STRERROR(r));
                slot_backoff(s, delay);
                return;
        }

        s->pid = pid;
        s->ready = false;
        slot_set_state(s, SLOT_RUNNING);
        r = sd_event_add_child(m->event, &s->child_source, pid, WEXITED, slot_on_exit, s);
        if (r < 0) {
                /* A worker we cannot watch could never be respawned or
                 * reaped: take it down rather than run blind. */
                f.worker_pid = pid;
                log_internal(LOG_ERR, r, &f, "%s[slot %u]: cannot watch worker %d, killing it: %s", p->svc->name,
                             s->index, (int) pid, STRERROR(r));
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                s->crashes++;
                slot_backoff(s, respawn_delay_usec(&p->svc->respawn, s->crashes));
                return;
        }
        f.worker_pid = pid;
        log_internal(LOG_DEBUG, 0, &f, "%s[slot %u]: started worker %d (generation %u)", p->svc->name, s->index,
                     (int) pid, g->number);
}

static void pool_done(Pool *p) {
        for (unsigned i = 0; p->slots && i < p->n_slots; i++) {
                p->slots[i].child_source = sd_event_source_disable_unref(p->slots[i].child_source);
                p->slots[i].timer_source = sd_event_source_disable_unref(p->slots[i].timer_source);
        }
        free(p->slots);
        free(p->listen_fds);
        if (p->scores && p->scores != MAP_FAILED)
                (void) munmap(p->scores, p->scores_size);
}

Generation *generation_free(Generation *g) {
        if (!g)
                return NULL;
        for (size_t i = 0; i < g->n_pools; i++)
                pool_done(&g->pools[i]);
        free(g->pools);
        sd_event_source_disable_unref(g->kill_timer);
        config_free(g->config);
        free(g);
        return NULL;
}

static int pool_init(Pool *p, Generation *g, const ServiceConfig *svc) {
        p->gen = g;
        p->svc = svc;
        p->n_slots = svc->workers;
        p->slots = calloc(p->n_slots, sizeof(Slot));
        p->listen_fds = calloc(svc->n_listen, sizeof(int));
        if (!p->slots || !p->listen_fds)
                return -ENOMEM;

        for (size_t i = 0; i < svc->n_listen; i++) {
                int fd = master_listener_fd(g->master, svc, i);
                if (fd < 0)
                        return fd;
                p->listen_fds[p->n_listen_fds++] = fd;
        }

        /* The scoreboard is shared with the workers forked later; each
         * generation has its own, so a reload can change the pool size. */
        p->scores_size = p->n_slots * sizeof(WorkerScore);
        p->scores = mmap(NULL, p->scores_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p->scores == MAP_FAILED) {
                p->scores = NULL;
                return negative_errno();
        }
        for (unsigned i = 0; i < p->n_slots; i++)
                p->slots[i] = (Slot) { .pool = p, .index = i, .state = SLOT_DEAD };
        return 0;
}

int generation_new(Master *m, Config *config, unsigned number, Generation **ret) {
        _cleanup_(generation_freep) Generation *g = NULL;
        int r;

        g = calloc(1, sizeof(Generation));
        if (!g)
                return -ENOMEM;
        g->master = m;
        g->number = number;
        g->pools = calloc(config->n_services, sizeof(Pool));
        if (!g->pools)
                return -ENOMEM;
        for (size_t i = 0; i < config->n_services; i++) {
                g->n_pools++;
                r = pool_init(&g->pools[i], g, &config->services[i]);
                if (r < 0)
                        return r;
        }
        g->config = config;
        *ret = TAKE_PTR(g);
        return 0;
}

int generation_start(Generation *g) {
        for (size_t i = 0; i < g->n_pools; i++)
                for (unsigned k = 0; k < g->pools[i].n_slots; k++)
                        slot_spawn(&g->pools[i].slots[k]);
        return 0;
}

bool generation_is_ready(const Generation *g, bool allow_backoff) {
        for (size_t i = 0; i < g->n_pools; i++)
                for (unsigned k = 0; k < g->pools[i].n_slots; k++) {
                        const Slot *s = &g->pools[i].slots[k];
                        switch (s->state) {
                        case SLOT_RUNNING:
                                if (!s->ready)
                                        return false;
                                break;
                        case SLOT_BACKOFF:
                                if (!allow_backoff)
                                        return false;
                                break;
                        case SLOT_RETIRING:
                        case SLOT_DEAD:
                                return false;
                        case _SLOT_STATE_MAX:
                                abort();
                        }
                }
        return true;
}

unsigned generation_live_workers(const Generation *g) {
        unsigned n = 0;

        for (size_t i = 0; i < g->n_pools; i++)
                for (unsigned k = 0; k < g->pools[i].n_slots; k++)
                        if (g->pools[i].slots[k].pid > 0)
                                n++;
        return n;
}

void generation_kill(Generation *g, int sig) {
        for (size_t i = 0; i < g->n_pools; i++)
                for (unsigned k = 0; k < g->pools[i].n_slots; k++)
                        if (g->pools[i].slots[k].pid > 0)
                                (void) kill(g->pools[i].slots[k].pid, sig);
}

static int generation_on_kill_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Generation *g = userdata;

        log_warning("Generation %u: %u worker%s still busy after the shutdown timeout, killing them", g->number,
                    generation_live_workers(g), generation_live_workers(g) == 1 ? "" : "s");
        generation_kill(g, SIGKILL);
        return 0;
}

void generation_retire(Generation *g, uint64_t kill_after_usec) {
        for (size_t i = 0; i < g->n_pools; i++)
                for (unsigned k = 0; k < g->pools[i].n_slots; k++) {
                        Slot *s = &g->pools[i].slots[k];
                        switch (s->state) {
                        case SLOT_RUNNING:
                                (void) kill(s->pid, SIGTERM);
                                slot_set_state(s, SLOT_RETIRING);
                                break;
                        case SLOT_BACKOFF:
                                slot_set_state(s, SLOT_DEAD);
                                break;
                        case SLOT_RETIRING:
                        case SLOT_DEAD:
                                break;
                        case _SLOT_STATE_MAX:
                                abort();
                        }
                }
        /* Re-armed on every call: a stop that follows a reload gives the
         * still-retiring generation the stop's deadline. 0 kills at once. */
        g->kill_timer = sd_event_source_disable_unref(g->kill_timer);
        if (sd_event_add_time_relative(g->master->event, &g->kill_timer, CLOCK_MONOTONIC, kill_after_usec, 1000,
                                       generation_on_kill_timer, g) < 0)
                /* Without the timer a stuck worker only delays its own exit;
                 * the stop path still escalates with its own timer. */
                log_warning("Generation %u: cannot arm the kill timer", g->number);
}

bool generation_worker_ready(Generation *g, const ReadyMessage *msg) {
        if (msg->generation != g->number)
                return false;
        for (size_t i = 0; i < g->n_pools; i++) {
                Pool *p = &g->pools[i];
                if (msg->slot < p->n_slots && p->slots[msg->slot].pid == msg->pid) {
                        Slot *s = &p->slots[msg->slot];
                        s->ready = true;
                        /* A worker that got this far has started fine; its
                         * crash counter still only resets after min_uptime. */
                        return true;
                }
        }
        return false;
}

int pool_format_status(const Pool *p, char *buf, size_t size) {
        unsigned up = 0;
        uint64_t conns = p->connections_done;
        size_t n;
        int l;

        for (unsigned i = 0; i < p->n_slots; i++) {
                const Slot *s = &p->slots[i];
                if (s->state == SLOT_RUNNING && s->ready)
                        up++;
                if (s->pid > 0)
                        conns += atomic_load(&p->scores[i].connections);
        }
        l = snprintf(buf, size, "%s %u/%u up, %" PRIu64 " conns, %" PRIu64 " restart%s", p->svc->name, up, p->n_slots,
                     conns, p->restarts, p->restarts == 1 ? "" : "s");
        if (l < 0 || (size_t) l >= size)
                return -ENOBUFS;
        n = (size_t) l;
        for (unsigned i = 0; i < p->n_slots; i++) {
                const Slot *s = &p->slots[i];
                if (s->state != SLOT_BACKOFF)
                        continue;
                l = snprintf(buf + n, size - n, ", slot %u backing off %.1fs after %u quick crash%s", i,
                             (double) s->backoff_usec / 1e6, s->crashes, s->crashes == 1 ? "" : "es");
                if (l < 0 || (size_t) l >= size - n)
                        return -ENOBUFS;
                n += (size_t) l;
        }
        return 0;
}
