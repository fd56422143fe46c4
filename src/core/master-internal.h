/* SPDX-License-Identifier: MIT */
#pragma once

/* The master's state, and the parts of its event-loop glue (master.c)
 * that the binary upgrade's side of it (master-upgrade.c: starting one,
 * and resuming after the exec) uses too. For those two files only. */

#include <signal.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "agent.h"
#include "config-loader.h"
#include "control.h"
#include "daemon-view.h"
#include "listener.h"
#include "metrics-http.h"
#include "notify.h"
#include "programs.h"
#include "reload-outcome.h"
#include "supervisor.h"
#include "upgrade.h"

typedef struct Master Master;

struct Master {
        sd_event *event;
        const char *config_path;
        Supervisor *supervisor;
        Notifier *notifier;
        ConfigLoader *loader;         /* a reload's config being loaded off the loop */
        ListenerSet listeners;
        AgentSet *agents;             /* agent_listen: HAProxy's agent checks */
        int ready_fd;                 /* the master's end of the readiness socket */
        int ready_worker_fd;          /* the workers' end */
        sd_event_source *ready_source;
        sd_event_source *timer_source;
        sd_event_source *status_timer;
        Programs programs;            /* workers that are programs of their own */
        bool reload_queued;           /* a HUP that came while a start or reload was under way */
        unsigned n_reloads;           /* reloads handled: applied, refused or rolled back */
        ReloadOutcome last_reload;
        int exit_code;
        DaemonView view;              /* what status and metrics read */
        Control *control;             /* the control socket, or NULL */
        /* The control socket handed over by the previous image (an
         * upgrade), for master_setup_observability(): its path, listening
         * socket and lock, or NULL and -EBADF. */
        char *control_adopt_path;
        int control_adopt_fd;
        int control_adopt_lock_fd;
        MetricsHttp *metrics;         /* metrics_listen, or NULL */
        sd_event_source *sample_timer;
        Upgrader *upgrader;           /* binary upgrades (upgrade.h) */
};

/* master.c */
extern const SupervisorOps master_ops;
const Config *master_current_config(const Master *m);
void master_send_status(Master *m, bool ready);
void master_prune_listeners(Master *m);
void master_sync(Master *m);
void master_load_config(Master *m);
int master_setup_event(Master *m);
int master_setup_observability(Master *m, const Config *c);
int master_on_child(sd_event_source *es, const siginfo_t *si, void *userdata);
void master_on_programs_changed(void *userdata);
int master_loop(Master *m);
void master_done(Master *m);

/* master-upgrade.c */
extern const UpgradeOps master_upgrade_ops;
int master_listener_store(void *userdata, int fd, const char *name, bool remove);
