/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-event.h>

#include "config.h"
#include "config-loader.h"
#include "listen.h"
#include "generation.h"

typedef struct Listener {
        char key[256];                /* listen_format(), stable across reloads */
        ListenAddress addr;
        int fd;
        bool from_systemd;            /* never closed before exit, never unlinked */
        bool wanted;                  /* used by the config being applied */
} Listener;

typedef enum MasterState {
        MASTER_STARTING,              /* first generation is coming up */
        MASTER_RUNNING,
        MASTER_RELOADING,             /* a new generation is coming up */
        MASTER_STOPPING,
        _MASTER_STATE_MAX,
} MasterState;

struct Master {
        sd_event *event;
        char *config_path;
        MasterState state;
        Generation *current;
        Generation *pending;          /* the generation a reload is starting */
        Generation *retiring;         /* older generations still draining */
        unsigned last_generation;
        Listener *listeners;
        size_t n_listeners;
        SystemdSockets systemd;
        int ready_pipe[2];
        sd_event_source *ready_source;
        sd_event_source *stop_timer;
        sd_event_source *pending_timer;
        sd_event_source *status_timer;
        ConfigLoader *loader;         /* the reload's config, loading in a thread */
        bool reload_queued;
        unsigned n_reloads;           /* reloads handled: applied or refused */
        bool last_reload_refused;
        bool fast_stop;
        int exit_code;
};

/* Runs the daemon with the already loaded config; returns a sysexits code. */
int master_run(const char *config_path, Config *config);

/* The listener fd for address k of svc. */
int master_listener_fd(const Master *m, const ServiceConfig *svc, size_t k);

/* Called by pool.c when a worker of the pending generation died before it
 * ever accepted: the reload cannot succeed. */
void master_pending_failed(Master *m, const Slot *s, const char *why);
/* Called by pool.c after any worker exit and readiness change. */
void master_workers_changed(Master *m);
