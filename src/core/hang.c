/* SPDX-License-Identifier: MIT */
/* request_timeout: the master kills a worker that has been busy on one
 * request (http) or one connection (echo) for longer than its service's
 * request_timeout, and replaces it at once. The master learns what a
 * worker does from its scoreboard entry (busy_since_usec, behind the
 * entry's sequence counter), never from the worker itself: a hung worker
 * cannot answer.
 *
 * No polling: after every check the next one is due when the earliest
 * busy worker would reach the timeout, and for a worker that is not busy
 * now, one timeout from now (a request that starts later cannot time out
 * sooner). So an idle service costs one wakeup per request_timeout. */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>

#include "supervisor-internal.h"
#include "supervisor.h"
#include "time-util.h"

/* Between SIGABRT (which lets the kernel write a core dump, or a handler
 * print a backtrace) and SIGKILL. */
#define HANG_KILL_GRACE_USEC (5 * USEC_PER_SEC)
/* The kill storm cap counts the kills of this window. */
#define HANG_CAP_WINDOW_USEC (60 * USEC_PER_SEC)

/* SIGKILL was sent too: nothing more to do but wait for the exit. */
#define HANG_KILLED USEC_INFINITY

/* The request as the journal gets it: printable ASCII as is, any other
 * byte as \xHH, so that a client cannot forge log lines. */
static void hang_escape(const char *in, char *out, size_t size) {
        size_t n = 0;

        assert(size >= 5);
        for (; *in && n + 5 < size; in++) {
                unsigned char c = (unsigned char) *in;

                if (c >= 0x20 && c < 0x7f && c != '\\')
                        out[n++] = (char) c;
                else
                        n += (size_t) snprintf(out + n, size - n, "\\x%02x", c);
        }
        out[n] = 0;
}

/* When the kill storm cap lets the next kill of service happen: now, or
 * when the oldest of the last SERVICE_HANG_KILLS_MAX kills leaves the
 * window. */
static uint64_t hang_cap_free_usec(const Service *service, uint64_t now) {
        /* hang_kills_next is the oldest entry of the full ring; 0 is an
         * entry never used. */
        uint64_t oldest = service->hang_kills_usec[service->hang_kills_next];

        if (oldest == 0 || now - MIN(oldest, now) >= HANG_CAP_WINDOW_USEC)
                return now;
        return oldest + HANG_CAP_WINDOW_USEC;
}

static void hang_kill(Supervisor *s, Slot *slot, const WorkerSnapshot *snap, uint64_t now) {
        Service *service = slot->service;
        uint64_t busy = now - snap->busy_since_usec;
        char what[SCORE_REQUEST_MAX * 4 + 1], request[sizeof what + 32];
        const char *extra[4] = { kill_reason_field(KILL_REASON_REQUEST_TIMEOUT), request, NULL, NULL };
        char busy_field[64];
        LogFields f = supervisor_slot_fields(slot);

        if (snap->request[0])
                hang_escape(snap->request, what, sizeof what);
        else
                score_peer_format(&snap->peer, what, sizeof what);
        (void) snprintf(request, sizeof request, "PREFORKD_REQUEST=%s", what);
        (void) snprintf(busy_field, sizeof busy_field, "PREFORKD_BUSY_USEC=%" PRIu64, busy);
        extra[2] = busy_field;
        f.extra = extra;

        service->hang_kills_usec[service->hang_kills_next] = now;
        service->hang_kills_next = (service->hang_kills_next + 1) % SERVICE_HANG_KILLS_MAX;
        service->kills[KILL_REASON_REQUEST_TIMEOUT]++;
        slot->kill_reason = KILL_REASON_REQUEST_TIMEOUT;
        slot->hang_abort_usec = now;
        slot->hang_busy_since_usec = snap->busy_since_usec;
        slot->hang_capped = false;
        log_internal(LOG_WARNING, 0, &f,
                     "%s[slot %u]: worker %d busy for %.3fs on %s%s%s, past request_timeout (%.3fs): killing it "
                     "(SIGABRT, SIGKILL after %.0fs)",
                     service->name, slot->index, (int) slot->pid, (double) busy / 1e6,
                     snap->request[0] ? "\"" : "the connection of ", what, snap->request[0] ? "\"" : "",
                     (double) slot->pool->svc->request_timeout_usec / 1e6, (double) HANG_KILL_GRACE_USEC / 1e6);
        supervisor_slot_kill(s, slot, SIGABRT);
}

/* The kill storm cap holds: the hung worker is left alone, once said for
 * each request it hangs on, and STATUS= tells (supervisor-status.c). */
static void hang_spare(Slot *slot, const WorkerSnapshot *snap, uint64_t now) {
        LogFields f = supervisor_slot_fields(slot);
        const char *extra[2] = { kill_reason_field(KILL_REASON_REQUEST_TIMEOUT), NULL };

        if (slot->hang_capped && slot->hang_busy_since_usec == snap->busy_since_usec)
                return;
        slot->hang_capped = true;
        slot->hang_busy_since_usec = snap->busy_since_usec;
        f.extra = extra;
        log_internal(LOG_ERR, 0, &f,
                     "%s[slot %u]: worker %d busy for %.3fs, past request_timeout, but not killed: %u workers of the "
                     "service were killed for it within a minute (kill storm cap)",
                     slot->service->name, slot->index, (int) slot->pid, (double) (now - snap->busy_since_usec) / 1e6,
                     SERVICE_HANG_KILLS_MAX);
}

/* Acts on one worker; returns when it must be looked at again. */
static uint64_t hang_check_slot(Supervisor *s, Slot *slot, uint64_t now) {
        uint64_t timeout = slot->pool->svc->request_timeout_usec, due, free_usec;
        WorkerSnapshot snap;

        if (slot->hang_abort_usec == HANG_KILLED)
                return USEC_INFINITY;
        if (slot->hang_abort_usec > 0) {
                if (now < usec_add(slot->hang_abort_usec, HANG_KILL_GRACE_USEC))
                        return usec_add(slot->hang_abort_usec, HANG_KILL_GRACE_USEC);
                slot->hang_abort_usec = HANG_KILLED;
                supervisor_slot_kill(s, slot, SIGKILL);
                return USEC_INFINITY;
        }
        /* A copy that the worker kept changing under the reader: it is
         * busy writing, so not hung. */
        if (score_snapshot(slot->score, &snap) < 0 || !worker_state_is_busy(snap.state) || snap.busy_since_usec == 0) {
                slot->hang_capped = false;
                return usec_add(now, timeout);
        }
        due = usec_add(snap.busy_since_usec, timeout);
        if (now < due) {
                slot->hang_capped = false;
                return due;
        }
        free_usec = hang_cap_free_usec(slot->service, now);
        if (free_usec > now) {
                hang_spare(slot, &snap, now);
                return free_usec;
        }
        hang_kill(s, slot, &snap, now);
        return usec_add(now, HANG_KILL_GRACE_USEC);
}

void hang_check(Supervisor *s, uint64_t now) {
        uint64_t next = USEC_INFINITY;

        assert(s);

        SUPERVISOR_FOREACH_GENERATION(s, g)
                GENERATION_FOREACH_SLOT(g, p, slot)
                        if (p->svc->request_timeout_usec > 0 && slot_has_process(slot) && slot->score &&
                            slot->state != SLOT_STARTING)
                                next = MIN(next, hang_check_slot(s, slot, now));
        s->hang_check_usec = next;
}
