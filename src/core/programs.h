/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "output.h"
#include "slot.h"
#include "supervisor.h"
#include "worker.h"

/* The master's side of workers that are programs of their own (a handler
 * with a WorkerPolicy other than the default): the pipes their output
 * comes through (output.h), the NOTIFY_SOCKET they report on
 * (notify-listen.h), and the probe that tells when a program with
 * ready = "listening" waits on its listener (listening-probe.h). Each
 * turns what it learns into a call of the supervisor, then calls
 * changed() so that the master refreshes its status and timer. */
typedef struct Programs {
        sd_event *event;
        Supervisor *supervisor;
        void (*changed)(void *userdata);
        void *userdata;
        int notify_fd;                /* bound on first use */
        char notify_address[64];
        sd_event_source *notify_source;
        OutputSet output;
        sd_event_source *probe_timer; /* runs while a "listening" worker starts */
} Programs;

void programs_init(Programs *p, sd_event *e, Supervisor *supervisor, void (*changed)(void *userdata),
                   void *userdata);
void programs_done(Programs *p);

/* Before slot's worker is forked: the pipes its policy wants (their read
 * ends in ret_read_fds, -EBADF where none) and the notify address, set
 * in sp. On failure nothing is left open. */
int programs_prepare_spawn(Programs *p, const Slot *slot, WorkerSpawn *sp, int ret_read_fds[2]);
/* After the fork (pid > 0) or a failed one (pid 0): closes the write ends
 * in sp and, for a new worker, starts reading its output; read_fds are
 * taken either way. */
void programs_spawned(Programs *p, const Slot *slot, WorkerSpawn *sp, pid_t pid, int read_fds[2]);
/* slot's worker pid exited (slot may be NULL for an unknown child): reads
 * the output it left (its last stderr lines go in tail), and SIGKILLs
 * what is left of a process group it led. */
void programs_exited(Programs *p, const Slot *slot, pid_t pid, char *tail, size_t size);
/* After a binary upgrade's exec (upgrade.h): takes over the notification
 * socket fd that the earlier process image had bound (its address is in
 * the programs' NOTIFY_SOCKET, so it is the same socket, not a new one),
 * and looks for "listening" workers still starting. fd is taken, also on
 * failure. */
int programs_adopt_notify(Programs *p, int fd);
/* Checks "listening" readiness now (the probe timer is armed as long as
 * a worker needs it). Called after every spawn. */
void programs_probe_soon(Programs *p);
