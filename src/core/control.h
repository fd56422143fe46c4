/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "daemon-view.h"
#include "macros.h"
#include "reload-outcome.h"
#include "supervisor.h"

/* The control socket (`preforkctl`): a unix stream socket the master
 * serves on its event loop, one request per connection (control-proto.h),
 * through a RequestServer, so that slow or hostile clients are bounded in
 * time, size and number and never hold up the master. Read-only commands
 * (status, metrics) are for anyone the socket's mode lets connect;
 * mutating ones (reload, scale, drain, undrain, upgrade) only for the daemon's own
 * uid and root, as SO_PEERCRED tells. */
typedef struct Control Control;

typedef struct ControlOps {
        /* Starts a reload, or has one follow the reload under way; either
         * way the master calls control_reload_started() when it begins.
         * Returns 0, or -ESHUTDOWN while the daemon stops. */
        int (*reload)(void *userdata);
        /* Starts a binary upgrade (master_upgrade()); fd, the client's
         * connection, is taken and answered with control_upgrade_reply()
         * when it ends, in whichever process image that is. Returns 0, or
         * a negative errno when it was refused (fd answered already). */
        int (*upgrade)(void *userdata, int fd);
        /* Something STATUS= shows changed (drain, scale). */
        void (*changed)(void *userdata);
} ControlOps;

/* Where the control socket goes: $RUNTIME_DIRECTORY/control under systemd
 * (the first directory it names), else the config's control_socket, else
 * /run/preforkd/control. Returns 0 with the path in *ret (NULL: no socket,
 * control_socket = ""), and whether it is the default in *ret_default. */
int control_socket_path(const Config *c, char **ret, bool *ret_default);

/* Binds the socket at path and serves it. A stale socket file is replaced:
 * a lock file beside it (PATH.lock) held for the daemon's life tells a
 * live daemon's socket from one left by a daemon that died, so two daemons
 * never take each other's socket. Returns 0 with *ret NULL when there is
 * to be no socket (logged): the default path's directory cannot be made,
 * or another daemon holds the path. Other errors are negative. */
int control_new(sd_event *e, const char *path, bool is_default, DaemonView *view, Supervisor *supervisor,
                const ControlOps *ops, void *userdata, Control **ret);
/* Serves a listening socket and its held lock that the previous image of
 * the master had for path (a binary upgrade): nothing is bound anew, so
 * no client is refused across the exec and no other process can take the
 * path meanwhile. Takes both fds, also on failure. */
int control_adopt(sd_event *e, const char *path, int listen_fd, int lock_fd, DaemonView *view,
                  Supervisor *supervisor, const ControlOps *ops, void *userdata, Control **ret);
/* The listening socket and the lock fd, for the state an upgrade hands
 * over; -ENOENT when there is no socket. The fds stay the control's. */
int control_fds(const Control *c, int *ret_listen, int *ret_lock);
/* Closes every connection and the socket, and removes the socket file and
 * its lock. Accepts NULL. */
Control *control_free(Control *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Control *, control_free)

const char *control_path(const Control *c);

/* A reload begins: the reload requests received so far wait for its
 * outcome; those received from now on wait for the next one. */
void control_reload_started(Control *c);
/* The reload that began last ended: its waiting requests are answered
 * with the outcome, message (one line) and details (lines, may be NULL). */
void control_reload_finished(Control *c, ReloadOutcome outcome, const char *message, char *const *details);
/* upgrade_reply_fn (upgrade.h): answers the `upgrade` request on fd, ok
 * or refused with message, and closes it. */
void control_upgrade_reply(int fd, bool ok, const char *message, void *userdata);
/* The daemon stops: reload requests still waiting are refused. */
void control_stopping(Control *c);
