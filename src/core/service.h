/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "config.h"
#include "crash-budget.h"
#include "kill-reason.h"
#include "macros.h"
#include "scoreboard.h"
#include "slot.h"

/* The kill storm cap: at most this many request_timeout kills per service
 * and minute. */
#define SERVICE_HANG_KILLS_MAX 5

/* A service's state that outlives its generations, keyed by the service's
 * name: the counters STATUS= reports, and the scoreboard its workers of
 * every generation write to. A generation's pool holds a reference; the
 * service goes away when a reload removed it and its last worker exited. */
struct Service {
        char *name;
        unsigned n_refs;
        Scoreboard *scoreboard;
        uint64_t restarts;            /* unplanned worker exits: crashes and exits after serving */
        uint64_t crashes;             /* ... of workers that had not served (respawn.c) */
        uint64_t kills[_KILL_REASON_MAX]; /* workers the master ended or recycled, by reason */
        CrashBudget budget;           /* the recent crashes, for respawn.burst */
        /* request_timeout kills of the last minute, for the kill storm
         * cap (hang.c): a ring of their times. */
        uint64_t hang_kills_usec[SERVICE_HANG_KILLS_MAX];
        unsigned hang_kills_next;
        uint64_t connections_done;    /* served by workers that have exited */
        uint64_t requests_done;       /* ... and their requests and bytes */
        uint64_t bytes_in_done, bytes_out_done;
        /* The kernel's accept queue on the serving generation's
         * listeners, summed (listen-queue.c): now, its peak since the
         * start, and the backlog it is bounded by. */
        uint64_t listen_queue, listen_queue_peak, listen_backlog;
        /* The serving generation's settings; NULL once no generation
         * names the service any more. */
        const Config *config;
        const ServiceConfig *svc;
        /* Parking (park.h): the channel, made when a configuration of the
         * service first parks, and the front stage, which outlives
         * generations so that held connections survive reloads. */
        int park_fds[2];              /* [0] the front stage's end, [1] the workers' */
        Slot front;
        uint64_t front_kill_usec;     /* retiring front stage: SIGKILL then */
        /* Drained by the operator (preforkctl drain): load balancers'
         * agent checks are told "drain"; the service still serves. */
        bool drained;
};

int service_new(const char *name, Service **ret);
/* A service with the scoreboard b (taken on success) that an earlier
 * process image made: for a master that resumes after an exec. */
int service_new_adopted(const char *name, Scoreboard *b, Service **ret);
Service *service_ref(Service *s);
/* Drops a reference; frees the service with the last one. Returns NULL. */
Service *service_unref(Service *s);
/* Adds what an exiting worker counted to the service's totals. */
void service_account_exit(Service *s, const WorkerScore *score);
/* Makes the park channel if there is none yet. */
int service_open_park(Service *s);
