/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "build-config.h"
#include "metrics.h"
#include "time-util.h"

typedef struct MetricsWriter {
        const DaemonView *view;
        TextBuf *out;
} MetricsWriter;

static void family(MetricsWriter *w, const char *name, const char *type, const char *help) {
        textbuf_printf(w->out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the exposition format wants it: \, " and newline
 * escaped. */
static void label_value(TextBuf *b, const char *v) {
        for (const char *p = v; *p; p++)
                switch (*p) {
                case '\\':
                        textbuf_puts(b, "\\\\");
                        break;
                case '"':
                        textbuf_puts(b, "\\\"");
                        break;
                case '\n':
                        textbuf_puts(b, "\\n");
                        break;
                default:
                        textbuf_append(b, p, 1);
                }
}

/* name{service="S"[,key="value"]} value */
static void sample(MetricsWriter *w, const char *name, const Service *service, const char *key, const char *value,
                   uint64_t v) {
        textbuf_printf(w->out, "%s{service=\"", name);
        label_value(w->out, service->name);
        if (key) {
                textbuf_printf(w->out, "\",%s=\"", key);
                label_value(w->out, value);
        }
        textbuf_printf(w->out, "\"} %" PRIu64 "\n", v);
}

/* ---- per service ---- */

typedef struct ServiceRow ServiceRow;
struct ServiceRow {
        const char *name;
        const char *type;   /* "counter" or "gauge" */
        const char *help;
        /* A row with one sample per service: its value. */
        uint64_t (*value)(const Service *s, const ServiceSummary *sum);
        /* A row with more labels: writes its samples itself. */
        void (*samples)(MetricsWriter *w, const ServiceRow *row, const Service *s, const ServiceSummary *sum);
};

static const ServiceScore *score(const Service *s) {
        return s->scoreboard->service;
}

static uint64_t v_connections(const Service *s, const ServiceSummary *sum) {
        return sum->connections;
}
static uint64_t v_requests(const Service *s, const ServiceSummary *sum) {
        return sum->requests;
}
static uint64_t v_bytes_in(const Service *s, const ServiceSummary *sum) {
        return sum->bytes_in;
}
static uint64_t v_bytes_out(const Service *s, const ServiceSummary *sum) {
        return sum->bytes_out;
}
static uint64_t v_restarts(const Service *s, const ServiceSummary *sum) {
        return s->restarts;
}
static uint64_t v_crashes(const Service *s, const ServiceSummary *sum) {
        return s->crashes;
}
static uint64_t v_exits_after_serving(const Service *s, const ServiceSummary *sum) {
        return s->restarts - s->crashes;
}
static uint64_t v_size(const Service *s, const ServiceSummary *sum) {
        return sum->pool ? sum->pool->size : 0;
}
static uint64_t v_busy(const Service *s, const ServiceSummary *sum) {
        return sum->busy;
}
static uint64_t v_idle(const Service *s, const ServiceSummary *sum) {
        return sum->idle;
}
static uint64_t v_backoff(const Service *s, const ServiceSummary *sum) {
        return sum->slots[SLOT_BACKOFF];
}
static uint64_t v_queue(const Service *s, const ServiceSummary *sum) {
        return s->listen_queue;
}
static uint64_t v_queue_peak(const Service *s, const ServiceSummary *sum) {
        return s->listen_queue_peak;
}
static uint64_t v_backlog(const Service *s, const ServiceSummary *sum) {
        return s->listen_backlog;
}
static uint64_t v_park_refused(const Service *s, const ServiceSummary *sum) {
        return atomic_load(&score(s)->park_refused);
}
static uint64_t v_park_expired(const Service *s, const ServiceSummary *sum) {
        return atomic_load(&score(s)->park_expired);
}
static uint64_t v_handed_back(const Service *s, const ServiceSummary *sum) {
        return atomic_load(&score(s)->handed_back);
}
static uint64_t v_drained(const Service *s, const ServiceSummary *sum) {
        return s->drained;
}

static void s_slots(MetricsWriter *w, const ServiceRow *row, const Service *s, const ServiceSummary *sum) {
        for (SlotState st = SLOT_STARTING; st < _SLOT_STATE_MAX; st++)
                sample(w, row->name, s, "state", slot_state_to_string(st), sum->slots[st]);
}

static void s_workers(MetricsWriter *w, const ServiceRow *row, const Service *s, const ServiceSummary *sum) {
        for (WorkerState st = 0; st < _WORKER_STATE_MAX; st++)
                sample(w, row->name, s, "state", worker_state_to_string(st), sum->workers[st]);
}

static void s_parked(MetricsWriter *w, const ServiceRow *row, const Service *s, const ServiceSummary *sum) {
        sample(w, row->name, s, "kind", "idle", atomic_load(&score(s)->parked_idle));
        sample(w, row->name, s, "kind", "reading", atomic_load(&score(s)->parked_head));
        sample(w, row->name, s, "kind", "sending", atomic_load(&score(s)->parked_sending));
}

static void s_kills(MetricsWriter *w, const ServiceRow *row, const Service *s, const ServiceSummary *sum) {
        for (KillReason r = 0; r < _KILL_REASON_MAX; r++)
                sample(w, row->name, s, "reason", kill_reason_to_string(r), s->kills[r]);
}

static void s_last_end(MetricsWriter *w, const ServiceRow *row, const Service *s, const ServiceSummary *sum) {
        uint64_t end = atomic_load(&score(s)->last_connection_end_usec);

        textbuf_printf(w->out, "%s{service=\"", row->name);
        label_value(w->out, s->name);
        textbuf_printf(w->out, "\"} %.6f\n", (double) end / 1e6);
}

#define VALUE(n, t, h, f) { .name = (n), .type = (t), .help = (h), .value = (f) }
#define SAMPLES(n, t, h, f) { .name = (n), .type = (t), .help = (h), .samples = (f) }

/* The per-service families, in the order they are written. To export a
 * new per-service counter: count it in a field of Service (service.h) and
 * add a row here, with a value function or, for more labels, a samples
 * function. */
static const ServiceRow service_rows[] = {
        VALUE("preforkd_connections_total", "counter", "Connections the service's workers accepted.", v_connections),
        VALUE("preforkd_requests_total", "counter", "Requests the service's workers answered (http).", v_requests),
        VALUE("preforkd_received_bytes_total", "counter", "Bytes the service's workers received.", v_bytes_in),
        VALUE("preforkd_sent_bytes_total", "counter", "Bytes the service's workers sent.", v_bytes_out),
        VALUE("preforkd_restarts_total", "counter", "Workers that ended unplanned and were replaced.", v_restarts),
        VALUE("preforkd_crashes_total", "counter",
              "Workers that died before serving a connection (they spend the crash budget, respawn.burst).",
              v_crashes),
        VALUE("preforkd_exits_after_serving_total", "counter",
              "Workers that died unplanned after serving, or were killed by the master (replaced at once).",
              v_exits_after_serving),
        SAMPLES("preforkd_kills_total", "counter", "Workers the master ended, by reason.", s_kills),
        VALUE("preforkd_pool_size", "gauge", "Workers the pool keeps (the workers setting, or as scaled).", v_size),
        SAMPLES("preforkd_slots", "gauge", "Worker slots by the master's state, every generation.", s_slots),
        VALUE("preforkd_backoff_slots", "gauge", "Slots waiting out a respawn backoff.", v_backoff),
        SAMPLES("preforkd_workers", "gauge", "Live workers by what they do.", s_workers),
        VALUE("preforkd_busy_workers", "gauge", "Workers on a connection.", v_busy),
        VALUE("preforkd_idle_workers", "gauge", "Workers waiting for a connection.", v_idle),
        VALUE("preforkd_listen_queue", "gauge", "Connections waiting in the kernel's accept queue.", v_queue),
        VALUE("preforkd_listen_queue_peak", "gauge", "The largest accept queue sampled since the start.",
          v_queue_peak),
        VALUE("preforkd_listen_backlog", "gauge", "The accept queue's limit (backlog).", v_backlog),
        SAMPLES("preforkd_parked_connections", "gauge", "Connections the front stage holds, by kind.", s_parked),
        VALUE("preforkd_park_refused_total", "counter", "Connections not parked: the front stage was full.",
          v_park_refused),
        VALUE("preforkd_park_expired_total", "counter", "Parked connections closed at their deadline.", v_park_expired),
        VALUE("preforkd_park_handed_back_total", "counter", "Parked connections handed back to a worker.",
          v_handed_back),
        VALUE("preforkd_drained", "gauge", "1 while the service is drained (preforkctl drain).", v_drained),
        SAMPLES("preforkd_last_connection_end_timestamp_seconds", "gauge",
          "When a worker last finished a connection (Unix time; 0 for never).", s_last_end),
};

/* ---- per slot ---- */

static void slot_samples(MetricsWriter *w, const char *name, const Slot *slot, uint64_t v) {
        textbuf_printf(w->out, "%s{service=\"", name);
        label_value(w->out, slot->service->name);
        textbuf_printf(w->out, "\",slot=\"%u\"} %" PRIu64 "\n", slot->index, v);
}

static void slots_family(MetricsWriter *w, const char *name, const char *type, const char *help,
                         uint64_t (*value)(const Slot *slot, const WorkerSnapshot *snap)) {
        const Generation *g = w->view->supervisor->current;

        family(w, name, type, help);
        if (!g)
                return;
        GENERATION_FOREACH_SLOT(g, p, slot) {
                WorkerSnapshot snap = { 0 };
                bool have = slot->score && score_snapshot(slot->score, &snap) >= 0;

                if (slot->index < p->size)
                        slot_samples(w, name, slot, value(slot, have ? &snap : NULL));
        }
}

static uint64_t sv_connections(const Slot *slot, const WorkerSnapshot *w) {
        return w ? w->connections : 0;
}
static uint64_t sv_requests(const Slot *slot, const WorkerSnapshot *w) {
        return w ? w->requests : 0;
}
static uint64_t sv_busy(const Slot *slot, const WorkerSnapshot *w) {
        return w && !IN_SET(w->state, WORKER_IDLE, WORKER_STARTING, WORKER_EXITING);
}
static uint64_t sv_up(const Slot *slot, const WorkerSnapshot *w) {
        return slot->state == SLOT_RUNNING;
}
static uint64_t sv_crashes(const Slot *slot, const WorkerSnapshot *w) {
        return slot->crashes;
}

/* ---- the whole exposition ---- */

static void global_families(MetricsWriter *w) {
        const DaemonView *v = w->view;
        const Supervisor *s = v->supervisor;

        family(w, "preforkd_info", "gauge", "The running preforkd; its version as a label.");
        textbuf_printf(w->out, "preforkd_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
        family(w, "preforkd_start_time_seconds", "gauge", "When the master started (Unix time).");
        textbuf_printf(w->out, "preforkd_start_time_seconds %.6f\n", (double) v->start_realtime_usec / 1e6);
        family(w, "preforkd_generation", "gauge", "The serving generation (1, then one more per applied reload).");
        textbuf_printf(w->out, "preforkd_generation %u\n", s->current ? s->current->number : 0);
        family(w, "preforkd_reloads_total", "counter", "Reloads by how they ended.");
        for (ReloadOutcome o = 0; o < _RELOAD_OUTCOME_MAX; o++)
                textbuf_printf(w->out, "preforkd_reloads_total{result=\"%s\"} %" PRIu64 "\n",
                              reload_outcome_to_label(o), v->reloads[o]);
}

int metrics_format(const DaemonView *v, TextBuf *out) {
        const Generation *g = v->supervisor->current;
        MetricsWriter w = { .view = v, .out = out };
        _cleanup_free_ ServiceSummary *sums = NULL;
        size_t n = g ? g->n_pools : 0;

        assert(v);
        assert(out);

        sums = calloc(MAX(n, (size_t) 1), sizeof(ServiceSummary));
        if (!sums)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                daemon_view_summarize(v, g->pools[i].service, &sums[i]);

        global_families(&w);
        for (size_t r = 0; r < ELEMENTSOF(service_rows); r++) {
                const ServiceRow *row = &service_rows[r];

                family(&w, row->name, row->type, row->help);
                for (size_t i = 0; i < n; i++) {
                        const Service *s = g->pools[i].service;

                        if (row->samples)
                                row->samples(&w, row, s, &sums[i]);
                        else
                                sample(&w, row->name, s, NULL, NULL, row->value(s, &sums[i]));
                }
        }
        slots_family(&w, "preforkd_slot_up", "gauge", "1 while the slot's worker is in its accept loop.", sv_up);
        slots_family(&w, "preforkd_slot_busy", "gauge", "1 while the slot's worker is on a connection.", sv_busy);
        slots_family(&w, "preforkd_slot_connections_total", "counter",
                     "Connections the slot's current worker accepted.", sv_connections);
        slots_family(&w, "preforkd_slot_requests_total", "counter", "Requests the slot's current worker answered.",
                     sv_requests);
        slots_family(&w, "preforkd_slot_quick_crashes", "gauge",
                     "Quick crashes of the slot in a row (its backoff grows with them).", sv_crashes);
        return 0;
}
