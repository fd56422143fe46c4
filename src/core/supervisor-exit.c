/* SPDX-License-Identifier: MIT */
/* A child of the master has exited: how it ended is logged, counted, and
 * its slot refilled as the respawn policy says (respawn.h), or not at all
 * when it was told to leave. */
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

static void format_exit(const ExitStatus *st, char *buf, size_t size, LogFields *f) {
        if (st->code == CLD_EXITED) {
                f->exit_status = st->status;
                (void) snprintf(buf, size, "exited with status %d", st->status);
        } else {
                const char *name = sigabbrev_np(st->status);
                f->exit_signal = st->status;
                (void) snprintf(buf, size, "killed by signal %s%s", name ? name : "?",
                                st->code == CLD_DUMPED ? " (core dumped)" : "");
        }
}

/* A front stage ended. The connections it held die with it (the kernel
 * closes them: the clients see a FIN, as after an idle timeout); those
 * still queued in the channel, in either direction, survive for the next
 * front stage or a worker. It is respawned like a worker unless it was
 * told to stop or its service no longer parks. */
static void supervisor_front_exited(Supervisor *s, Slot *slot, const ExitStatus *st, uint64_t now) {
        Service *service = slot->service;
        ServiceScore *ss = service->scoreboard->service;
        uint64_t lost = atomic_load(&ss->parked), delay;
        WorkerExit e = {
                .uptime_usec = now >= slot->started_usec ? now - slot->started_usec : 0,
                .clean = st->code == CLD_EXITED && st->status == 0,
        };
        LogFields f = supervisor_slot_fields(slot);
        char how[64];
        pid_t pid = slot->pid;

        f.uptime_usec = (int64_t) e.uptime_usec;
        format_exit(st, how, sizeof how, &f);
        scoreboard_release(service->scoreboard, slot->score);
        slot->score = NULL;
        s->ops->forget(s->userdata, slot);
        slot->pid = 0;
        atomic_store(&ss->parked, 0);
        atomic_store(&ss->parked_idle, 0);
        atomic_store(&ss->parked_head, 0);
        atomic_store(&ss->parked_sending, 0);

        if (slot->state == SLOT_RETIRING || !service->svc || !service->svc->park) {
                log_internal(LOG_INFO, 0, &f, "%s[front stage]: front stage %d %s after %.3fs", service->name,
                             (int) pid, how, (double) e.uptime_usec / 1e6);
                slot->state = SLOT_DEAD;
                service->front_kill_usec = USEC_INFINITY;
                /* Before the workers are told to stop (the caller runs the
                 * timers next), so that they take these back. */
                if (s->state == SUPERVISOR_STOPPING && s->ops->park_reclaim)
                        s->ops->park_reclaim(s->userdata, service);
                return;
        }
        service->restarts++;
        log_internal(LOG_WARNING, 0, &f,
                     "%s[front stage]: front stage %d %s after %.3fs; the %" PRIu64 " connection%s it held %s closed",
                     service->name, (int) pid, how, (double) e.uptime_usec / 1e6, lost, lost == 1 ? "" : "s",
                     lost == 1 ? "was" : "were");
        delay = respawn_after_exit(slot_respawn(slot), &e, &slot->crashes);
        if (delay == 0) {
                slot->state = SLOT_DEAD;
                supervisor_spawn(s, slot, now);
        } else
                slot_enter_backoff(slot, delay, now);
}

/* Whether the worker of s worked for a client: accepted a connection, or
 * served one that the front stage handed back (its requests or bytes). */
static bool slot_served(const Slot *s) {
        return s->score && (atomic_load(&s->score->connections) > 0 || atomic_load(&s->score->requests) > 0 ||
                            atomic_load(&s->score->bytes_in) > 0);
}

/* The end of an exit record: what the supervisor makes of it. */
static const char *verdict_text(const Slot *slot, const WorkerExit *e, RespawnVerdict v, uint64_t now, char *buf,
                                size_t size) {
        const char *kill = e->killed ? kill_reason_to_string(slot->kill_reason) : NULL;
        const Service *service = slot->service;
        const RespawnConfig *rc = slot_respawn(slot);

        switch (v) {
        case RESPAWN_PLANNED:
                return kill ? (snprintf(buf, size, "; recycled for %s, replacing it", kill), buf) : "; replacing it";
        case RESPAWN_AT_ONCE:
                if (kill)
                        return "; replacing it at once";
                (void) snprintf(buf, size, "; %s, replacing it at once",
                                e->served ? "exited after serving" : "exited after a stable run");
                return buf;
        case RESPAWN_CRASH:
                (void) snprintf(buf, size, "; crashed before serving (%u of %u allowed in %.1fs), replacing it at once",
                                crash_budget_count(&service->budget, rc->burst, rc->interval_usec, now),
                                rc->burst, (double) rc->interval_usec / 1e6);
                return buf;
        case RESPAWN_BACKOFF:
                return "; crashed before serving";
        case _RESPAWN_VERDICT_MAX:
                break;
        }
        abort();
}

/* A worker of a pool in STARTING or RUNNING ended on its own (or by the
 * master's request_timeout or max_memory): it is counted, and its slot
 * refilled at once or after a backoff (respawn.h), unless a stop is under
 * way or the reload it was started for fails with it. */
static void supervisor_worker_died(Supervisor *s, Slot *slot, const WorkerExit *e, LogFields *f, const char *how,
                                   const char *tail, uint64_t now) {
        Service *service = slot->service;
        bool was_starting = slot->state == SLOT_STARTING;
        RespawnVerdict v;
        uint64_t delay;
        char label[64], why[256], verdict[160];
        pid_t pid = slot->pid;

        (void) snprintf(label, sizeof label, "%s[slot %u]: worker %d", service->name, slot->index, (int) pid);
        slot->pid = 0;
        if (s->state == SUPERVISOR_STOPPING || (slot->pool->gen == s->pending && was_starting)) {
                /* Not replaced: counted, and logged as it is. */
                if (!respawn_is_planned(e))
                        service->restarts++;
                if (respawn_is_crash(slot_respawn(slot), e))
                        service->crashes++;
                log_internal(e->clean ? LOG_INFO : LOG_WARNING, 0, f, "%s %s after %.3fs, %" PRIu64 " connections%s%s%s",
                             label, how, (double) e->uptime_usec / 1e6, e->connections,
                             was_starting ? ", before it was ready" : "", tail && *tail ? "; its last output: " : "",
                             tail && *tail ? tail : "");
                slot->state = SLOT_DEAD;
                if (s->state != SUPERVISOR_STOPPING) {
                        (void) snprintf(why, sizeof why, "a new worker of service %s (slot %u) %s before accepting",
                                        service->name, slot->index, how);
                        supervisor_refuse_pending(s, why, now);
                }
                return;
        }

        v = respawn_worker_exit(slot_respawn(slot), e, &service->budget, &slot->crashes, now, &delay);
        if (v != RESPAWN_PLANNED)
                service->restarts++;
        if (IN_SET(v, RESPAWN_CRASH, RESPAWN_BACKOFF))
                service->crashes++;
        log_internal(v == RESPAWN_PLANNED || (e->clean && v != RESPAWN_BACKOFF) ? LOG_INFO : LOG_WARNING, 0, f,
                     "%s %s after %.3fs, %" PRIu64 " connections%s%s%s%s", label, how, (double) e->uptime_usec / 1e6,
                     e->connections, was_starting ? ", before it was ready" : "",
                     verdict_text(slot, e, v, now, verdict, sizeof verdict), tail && *tail ? "; its last output: " : "",
                     tail && *tail ? tail : "");
        if (delay == 0) {
                slot->state = SLOT_DEAD;
                supervisor_spawn(s, slot, now);
                return;
        }
        log_internal(LOG_WARNING, 0, f,
                     "%s[slot %u]: %u quick crash%s in a row with the crash budget spent (%u crashes before serving "
                     "within %.1fs), respawning in %.3fs",
                     service->name, slot->index, slot->crashes, slot->crashes == 1 ? "" : "es",
                     crash_budget_count(&service->budget, CRASH_BUDGET_BURST_MAX, slot_respawn(slot)->interval_usec, now),
                     (double) slot_respawn(slot)->interval_usec / 1e6, (double) delay / 1e6);
        slot_enter_backoff(slot, delay, now);
}

/* How the worker ended, for its exit record: its status or signal, and why
 * the master killed it (none for a max_memory recycle, which exits on its
 * own). */
static void format_worker_exit(const Slot *slot, const ExitStatus *st, bool clean, char *buf, size_t size,
                               LogFields *f) {
        const char *reason = kill_reason_to_string(slot->kill_reason);
        size_t n;

        format_exit(st, buf, size, f);
        n = strlen(buf);
        if (reason && !(clean && slot->kill_reason == KILL_REASON_MEMORY))
                (void) snprintf(buf + n, size - n, " (killed: %s)", reason);
}

void supervisor_worker_exited(Supervisor *s, pid_t pid, const ExitStatus *st, uint64_t now) {
        Slot *slot = supervisor_find_slot(s, pid);
        Service *service;
        char how[96];
        const char *extra[2] = { NULL, NULL };
        WorkerExit e;
        LogFields f;

        assert(st);

        if (!slot) {
                log_warning("Reaped unknown child %d", (int) pid);
                return;
        }
        if (!slot->pool) {
                supervisor_front_exited(s, slot, st, now);
                supervisor_run_timers(s, now);
                return;
        }
        service = slot->service;
        f = supervisor_slot_fields(slot);
        e = (WorkerExit) {
                .uptime_usec = now >= slot->started_usec ? now - slot->started_usec : 0,
                .clean = st->code == CLD_EXITED && st->status == 0,
                .connections = slot->score ? atomic_load(&slot->score->connections) : 0,
                .served = slot_served(slot),
                .never_ready = slot->state == SLOT_STARTING || (slot->state == SLOT_RETIRING && !slot->ever_ready),
                /* A program killed for not getting ready failed to start:
                 * a crash like any other. */
                .killed = slot->kill_reason >= 0 && slot->kill_reason != KILL_REASON_READY_TIMEOUT,
        };
        f.uptime_usec = (int64_t) e.uptime_usec;
        format_worker_exit(slot, st, e.clean, how, sizeof how, &f);
        if (slot->kill_reason >= 0) {
                extra[0] = kill_reason_field(slot->kill_reason);
                f.extra = extra;
        }

        service_account_exit(service, slot->score);
        scoreboard_release(service->scoreboard, slot->score);
        slot->score = NULL;
        s->ops->forget(s->userdata, slot);

        switch (slot->state) {
        case SLOT_RETIRING:
                log_internal(LOG_INFO, 0, &f, "%s[slot %u]: worker %d of generation %u %s after %.3fs, %" PRIu64
                             " connections", service->name, slot->index, (int) pid, slot->pool->gen->number, how,
                             (double) e.uptime_usec / 1e6, e.connections);
                slot->pid = 0;
                slot->state = SLOT_DEAD;
                slot->cover_until_usec = 0;
                /* A serving slot below the pool's size that retired for a
                 * rolling reload which was then rolled back gets the old
                 * configuration's worker again from supervisor_scale_run(),
                 * which the timers below run. */
                break;
        case SLOT_STARTING:
        case SLOT_RUNNING:
                slot_policy_clear(slot);
                supervisor_worker_died(s, slot, &e, &f, how, !e.clean ? st->output_tail : NULL, now);
                break;
        case SLOT_BACKOFF:
        case SLOT_DEAD:
                /* A slot in these states has no pid, so it cannot be found. */
                assert_not_reached();
        case _SLOT_STATE_MAX:
                abort();
        }
        supervisor_run_timers(s, now);
}
