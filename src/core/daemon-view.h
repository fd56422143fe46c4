/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "reload-outcome.h"
#include "supervisor.h"

/* What the master knows beyond its supervisor, for the readers of its
 * state: `preforkctl status` (control-status.c) and the metrics
 * (metrics.c). The master owns it and keeps it current. */
typedef struct DaemonView {
        const Supervisor *supervisor;
        pid_t pid;
        uint64_t start_realtime_usec;
        uint64_t reloads[_RELOAD_OUTCOME_MAX];   /* reloads that ended so, since the start */
} DaemonView;

/* One service's state in numbers, over every generation's workers. */
typedef struct ServiceSummary {
        const Service *service;
        const Pool *pool;                        /* the serving generation's */
        unsigned slots[_SLOT_STATE_MAX];         /* every generation's slots, by state */
        unsigned workers[_WORKER_STATE_MAX];     /* live workers, by what they say they do */
        unsigned busy, idle;                     /* busy: on a connection (keep-alive wait included) */
        uint64_t connections, requests, bytes_in, bytes_out; /* totals, exited workers' included */
} ServiceSummary;

void daemon_view_summarize(const DaemonView *v, const Service *service, ServiceSummary *ret);

/* Calls f for every live or backing-off slot of service, in every
 * generation: the serving one first, then one coming up for a reload,
 * then those retiring. */
typedef void (*daemon_view_slot_fn)(const Slot *slot, void *userdata);
void daemon_view_foreach_slot(const DaemonView *v, const Service *service, daemon_view_slot_fn f, void *userdata);

/* A service by name among those the serving generation names, or NULL. */
Service *daemon_view_find_service(const DaemonView *v, const char *name);
