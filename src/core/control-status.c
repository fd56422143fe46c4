/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "build-config.h"
#include "control-status.h"
#include "slot-policy.h"
#include "time-util.h"

/* The column that tells what a worker is on: its request line (http) or,
 * without one, its peer; "-" for neither. */
static void worker_work(const WorkerSnapshot *w, char *buf, size_t size) {
        if (w->request[0])
                (void) snprintf(buf, size, "%s", w->request);
        else
                score_peer_format(&w->peer, buf, size);
}

static const char *service_state(const Service *service, const ServiceSummary *sum) {
        if (service->drained)
                return "draining";
        if (sum->slots[SLOT_BACKOFF] > 0)
                return "backoff";
        if (sum->slots[SLOT_STARTING] > 0)
                return "starting";
        return "running";
}

/* "3.2s", "5m12s", "2h03m", "4d05h": an age at a glance. */
static void format_age(uint64_t usec, char *buf, size_t size) {
        uint64_t s = usec / USEC_PER_SEC;

        if (s < 60)
                (void) snprintf(buf, size, "%.1fs", (double) usec / 1e6);
        else if (s < 3600)
                (void) snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
        else if (s < 86400)
                (void) snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
        else
                (void) snprintf(buf, size, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
}

static uint64_t age(uint64_t now, uint64_t then) {
        return now > then ? now - then : 0;
}

typedef struct StatusWriter {
        const DaemonView *view;
        TextBuf *out;
        uint64_t now;       /* CLOCK_MONOTONIC */
        uint64_t now_real;  /* CLOCK_REALTIME */
        bool first;         /* JSON: no comma before the next element */
} StatusWriter;

/* Whether the slot's worker is a program of its own (handler exec, pool
 * mode): it never writes its scoreboard entry; the master's view and its
 * STATUS= are all there is. */
static bool slot_is_program(const Slot *slot) {
        return slot_policy(slot)->ready != WORKER_READY_ACCEPT_LOOP;
}

static void text_slot(const Slot *slot, void *userdata) {
        StatusWriter *sw = userdata;
        WorkerSnapshot w = { .state = WORKER_STARTING };
        char since[32] = "-", work[SCORE_REQUEST_MAX + 64] = "-";
        const char *state = slot_state_to_string(slot->state);
        bool have = !slot_is_program(slot) && slot->score && score_snapshot(slot->score, &w) >= 0;

        if (have) {
                /* What the master thinks comes first where it is not the
                 * plain "running": a leaving worker says so. */
                if (slot->state == SLOT_RUNNING || slot->state == SLOT_STARTING)
                        state = worker_state_to_string(w.state);
                format_age(age(sw->now, w.state_since_usec), since, sizeof since);
                worker_work(&w, work, sizeof work);
        } else if (slot->state == SLOT_BACKOFF)
                format_age(age(slot->backoff_until_usec, sw->now), since, sizeof since);
        else if (slot_has_process(slot)) {
                format_age(age(sw->now, slot->started_usec), since, sizeof since);
                if (slot->status)
                        (void) snprintf(work, sizeof work, "%s", slot->status);
        }
        textbuf_printf(sw->out, "%-12s %5u %8d %4u %-10s %8s %8" PRIu64 " %8" PRIu64 "  %s\n", slot->service->name,
                      slot->index, (int) slot->pid, slot_generation(slot), state, since, have ? w.connections : 0,
                      have ? w.requests : 0, work);
}

static void text_service(StatusWriter *sw, const Service *service) {
        const ServiceScore *ss = service->scoreboard->service;
        uint64_t end = atomic_load(&ss->last_connection_end_usec);
        ServiceSummary sum;
        char last[32] = "-";

        daemon_view_summarize(sw->view, service, &sum);
        if (end > 0) {
                format_age(age(sw->now_real, end), last, sizeof last);
                strncat(last, " ago", sizeof last - strlen(last) - 1);
        }
        textbuf_printf(sw->out,
                      "%-12s %-9s %4u %7u/%-3u %5u %5u %8" PRIu64 " %7" PRIu64 " %6" PRIu64 "/%-6" PRIu64
                      " %-7s %s\n",
                      service->name, service_state(service, &sum), sum.pool ? sum.pool->gen->number : 0,
                      sum.slots[SLOT_RUNNING], sum.pool ? sum.pool->size : 0, sum.busy, sum.idle, service->restarts,
                      atomic_load(&ss->parked), service->listen_queue, service->listen_queue_peak,
                      service->drained ? "yes" : "no", last);
}

static void text_status(StatusWriter *sw, Service *const *services, size_t n) {
        const DaemonView *v = sw->view;
        const Supervisor *s = v->supervisor;
        char up[32];

        format_age(age(sw->now_real, v->start_realtime_usec), up, sizeof up);
        textbuf_printf(sw->out,
                      "preforkd %s, pid %d, %s, up %s, generation %u; reloads: %" PRIu64 " applied, %" PRIu64
                      " refused, %" PRIu64 " rolled back\n\n",
                      PACKAGE_VERSION, (int) v->pid, supervisor_state_to_string(s->state), up,
                      s->current ? s->current->number : 0, v->reloads[RELOAD_APPLIED], v->reloads[RELOAD_REFUSED],
                      v->reloads[RELOAD_ROLLED_BACK]);
        textbuf_printf(sw->out, "%-12s %-9s %4s %11s %5s %5s %8s %7s %13s %-7s %s\n", "SERVICE", "STATE", "GEN",
                      "WORKERS", "BUSY", "IDLE", "RESTARTS", "PARKED", "QUEUE/PEAK", "DRAINED", "LAST CONN END");
        for (size_t i = 0; i < n; i++)
                text_service(sw, services[i]);
        textbuf_printf(sw->out, "\n%-12s %5s %8s %4s %-10s %8s %8s %8s  %s\n", "SERVICE", "SLOT", "PID", "GEN",
                      "STATE", "SINCE", "CONNS", "REQS", "REQUEST OR PEER");
        for (size_t i = 0; i < n; i++)
                daemon_view_foreach_slot(v, services[i], text_slot, sw);
}

static void json_comma(StatusWriter *sw) {
        if (!sw->first)
                textbuf_puts(sw->out, ",");
        sw->first = false;
}

/* An exec program's last STATUS=, or null. */
static void json_program_status(StatusWriter *sw, const Slot *slot) {
        textbuf_puts(sw->out, ",\"program_status\":");
        if (slot->status)
                textbuf_json_string(sw->out, slot->status);
        else
                textbuf_puts(sw->out, "null");
}

static void json_slot(const Slot *slot, void *userdata) {
        StatusWriter *sw = userdata;
        WorkerSnapshot w;
        bool have = !slot_is_program(slot) && slot->score && score_snapshot(slot->score, &w) >= 0;
        char peer[64];

        json_comma(sw);
        textbuf_printf(sw->out, "{\"slot\":%u,\"pid\":%d,\"generation\":%u,\"state\":\"%s\"", slot->index,
                      (int) slot->pid, slot_generation(slot), slot_state_to_string(slot->state));
        if (!have) {
                textbuf_printf(sw->out, ",\"worker_state\":null,\"since_seconds\":null,\"connections\":0,"
                                       "\"requests\":0,\"bytes_in\":0,\"bytes_out\":0,\"last_status\":null,"
                                       "\"request\":null,\"peer\":null,\"busy_seconds\":null");
                if (slot->state == SLOT_BACKOFF)
                        textbuf_printf(sw->out, ",\"backoff_seconds\":%.3f,\"crashes\":%u",
                                      (double) age(slot->backoff_until_usec, sw->now) / 1e6, slot->crashes);
                json_program_status(sw, slot);
                textbuf_puts(sw->out, "}");
                return;
        }
        textbuf_printf(sw->out,
                      ",\"worker_state\":\"%s\",\"since_seconds\":%.3f,\"connections\":%" PRIu64
                      ",\"requests\":%" PRIu64 ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64,
                      worker_state_to_string(w.state), (double) age(sw->now, w.state_since_usec) / 1e6,
                      w.connections, w.requests, w.bytes_in, w.bytes_out);
        if (w.last_status > 0)
                textbuf_printf(sw->out, ",\"last_status\":%d", w.last_status);
        else
                textbuf_puts(sw->out, ",\"last_status\":null");
        textbuf_puts(sw->out, ",\"request\":");
        if (w.request[0])
                textbuf_json_string(sw->out, w.request);
        else
                textbuf_puts(sw->out, "null");
        textbuf_puts(sw->out, ",\"peer\":");
        if (IN_SET(w.peer.sa.sa_family, AF_INET, AF_INET6, AF_UNIX)) {
                score_peer_format(&w.peer, peer, sizeof peer);
                textbuf_json_string(sw->out, peer);
        } else
                textbuf_puts(sw->out, "null");
        if (w.busy_since_usec > 0)
                textbuf_printf(sw->out, ",\"busy_seconds\":%.3f", (double) age(sw->now, w.busy_since_usec) / 1e6);
        else
                textbuf_puts(sw->out, ",\"busy_seconds\":null");
        json_program_status(sw, slot);
        textbuf_puts(sw->out, "}");
}

static void json_service(StatusWriter *sw, const Service *service) {
        const ServiceScore *ss = service->scoreboard->service;
        uint64_t end = atomic_load(&ss->last_connection_end_usec);
        ServiceSummary sum;

        daemon_view_summarize(sw->view, service, &sum);
        json_comma(sw);
        textbuf_puts(sw->out, "{\"name\":");
        textbuf_json_string(sw->out, service->name);
        textbuf_printf(sw->out,
                      ",\"state\":\"%s\",\"generation\":%u,\"size\":%u,\"drained\":%s,"
                      "\"slots\":{\"running\":%u,\"starting\":%u,\"backoff\":%u,\"retiring\":%u},"
                      "\"busy\":%u,\"idle\":%u,\"restarts\":%" PRIu64 ",\"crashes\":%" PRIu64
                      ",\"connections\":%" PRIu64 ",\"requests\":%" PRIu64,
                      service_state(service, &sum), sum.pool ? sum.pool->gen->number : 0,
                      sum.pool ? sum.pool->size : 0, service->drained ? "true" : "false", sum.slots[SLOT_RUNNING],
                      sum.slots[SLOT_STARTING], sum.slots[SLOT_BACKOFF], sum.slots[SLOT_RETIRING], sum.busy,
                      sum.idle, service->restarts, service->crashes, sum.connections, sum.requests);
        textbuf_puts(sw->out, ",\"kills\":{");
        for (KillReason r = 0; r < _KILL_REASON_MAX; r++)
                textbuf_printf(sw->out, "%s\"%s\":%" PRIu64, r > 0 ? "," : "", kill_reason_to_string(r),
                              service->kills[r]);
        textbuf_printf(sw->out,
                      "},\"parked\":{\"total\":%" PRIu64 ",\"idle\":%" PRIu64 ",\"reading\":%" PRIu64
                      ",\"sending\":%" PRIu64 "},\"listen_queue\":{\"now\":%" PRIu64 ",\"peak\":%" PRIu64
                      ",\"backlog\":%" PRIu64 "}",
                      atomic_load(&ss->parked), atomic_load(&ss->parked_idle), atomic_load(&ss->parked_head),
                      atomic_load(&ss->parked_sending), service->listen_queue, service->listen_queue_peak,
                      service->listen_backlog);
        if (end > 0)
                textbuf_printf(sw->out, ",\"last_connection_end\":%.6f", (double) end / 1e6);
        else
                textbuf_puts(sw->out, ",\"last_connection_end\":null");
        textbuf_puts(sw->out, ",\"workers\":[");
        sw->first = true;
        daemon_view_foreach_slot(sw->view, service, json_slot, sw);
        textbuf_puts(sw->out, "]}");
        sw->first = false;
}

static void json_status(StatusWriter *sw, Service *const *services, size_t n) {
        const DaemonView *v = sw->view;
        const Supervisor *s = v->supervisor;

        textbuf_printf(sw->out,
                      "{\"version\":\"%s\",\"pid\":%d,\"state\":\"%s\",\"generation\":%u,\"uptime_seconds\":%.3f,"
                      "\"reloads\":{\"applied\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"rolled_back\":%" PRIu64
                      "},\"services\":[",
                      PACKAGE_VERSION, (int) v->pid, supervisor_state_to_string(s->state),
                      s->current ? s->current->number : 0,
                      (double) age(sw->now_real, v->start_realtime_usec) / 1e6, v->reloads[RELOAD_APPLIED],
                      v->reloads[RELOAD_REFUSED], v->reloads[RELOAD_ROLLED_BACK]);
        for (size_t i = 0; i < n; i++) {
                sw->first = i == 0;
                json_service(sw, services[i]);
        }
        textbuf_puts(sw->out, "]}\n");
}

int control_status_format(const DaemonView *v, const char *service, bool json, TextBuf *out) {
        const Generation *g = v->supervisor->current;
        StatusWriter sw = {
                .view = v,
                .out = out,
                .now = now_usec(),
                .now_real = now_realtime_usec(),
        };
        _cleanup_free_ Service **services = NULL;
        size_t n = 0;

        assert(v);
        assert(out);

        services = calloc(g ? g->n_pools : 1, sizeof(Service *));
        if (!services)
                return -ENOMEM;
        for (size_t i = 0; g && i < g->n_pools; i++)
                if (!service || !service[0] || strcmp(g->pools[i].service->name, service) == 0)
                        services[n++] = g->pools[i].service;
        if (service && service[0] && n == 0)
                return -ENOENT;
        if (json)
                json_status(&sw, services, n);
        else
                text_status(&sw, services, n);
        return 0;
}
