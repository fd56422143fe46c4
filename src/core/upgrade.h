/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "macros.h"
#include "listener.h"
#include "notify.h"
#include "state.h"
#include "supervisor.h"

/* Binary upgrade in place: the master executes the binary now on disk in
 * its own process, so that the PID (systemd's MAINPID), the cgroup, the
 * notify socket and the watchdog stay as they are, and the workers stay
 * its children.
 *
 * In the old binary (SIGUSR2 or `preforkctl upgrade`):
 *   1. the new binary passes `--check-upgrade` in a child (upgrade-check.h);
 *      if not, the upgrade is refused and nothing else happens;
 *   2. RELOADING=1; the master captures its state (state.h) into a memfd,
 *      opens an O_PATH fd of its own binary for the way back, clears
 *      FD_CLOEXEC on exactly the fds the state names, and executes
 *          BINARY -c CONFIG --deserialize=STATE_FD --rollback=EXE_FD
 * In the new binary (upgrader_resume() with a rollback fd):
 *   3. it rebuilds the supervisor, the listeners and the scoreboards from
 *      the state, watches the running workers again (pidfds), and starts
 *      a new generation from the configuration on disk, as a reload does;
 *   4. once that generation is ready, the old one retires: READY=1, the
 *      journal record PREFORKD_UPGRADE=, the O_PATH fd is closed;
 *   5. if anything fails on the way (the state, the configuration, a new
 *      worker that dies before it is ready, the ready timeout), it hands
 *      its state back and executes the old binary through the O_PATH fd
 *      (execveat), which resumes as it was: the old workers never stopped
 *      serving, and the new ones are retiring.
 *
 * What stays unrecoverable: a new binary that passes its check but
 * crashes, exits or hangs after the exec before it can hand back (the
 * process is gone, or stuck: systemd restarts it, or its watchdog does),
 * and an old binary that cannot read its own state back. */

typedef struct Upgrader Upgrader;

typedef struct UpgradeOps {
        /* Fills st with the master's state: state_live_capture() and the
         * master's own counters and fds. -EBUSY when it cannot be handed
         * over now (not RUNNING). */
        int (*capture)(void *userdata, MasterState *st);
        /* The upgrade's progress or outcome changed: STATUS= wants
         * refreshing, and with ready the RELOADING=1 that the upgrade
         * sent is over (READY=1). */
        void (*changed)(void *userdata, bool ready);
} UpgradeOps;

/* How whoever asked for an upgrade (a control connection, fd) hears its
 * outcome: ok, and a one-line message. Called in whichever process image
 * the upgrade ends in, which is why the fd is kept across the exec. The
 * callee owns fd. */
typedef void (*upgrade_reply_fn)(int fd, bool ok, const char *message, void *userdata);

int upgrader_new(sd_event *e, Notifier *notifier, const char *config_path, const UpgradeOps *ops, void *userdata,
                 Upgrader **ret);
/* Closes the waiters' fds and the rollback fd; kills a check under way. */
Upgrader *upgrader_free(Upgrader *u);
DEFINE_TRIVIAL_CLEANUP_FUNC(Upgrader *, upgrader_free)

void upgrader_set_reply(Upgrader *u, upgrade_reply_fn reply, void *userdata);

/* An upgrade is under way (checking, or waiting for its generation). */
bool upgrader_busy(const Upgrader *u);
/* This process is the new binary and its generation is coming up: the
 * master's reload under way is the upgrade's (upgrader_finish()). */
bool upgrader_starting(const Upgrader *u);

/* Starts an upgrade to the binary now on disk. waiter_fd (or -EBADF) is
 * taken and told the outcome. The master must be RUNNING with nothing
 * else under way. Returns 0 when the check started, else a negative errno
 * after the refusal was logged and told. */
int upgrader_start(Upgrader *u, int waiter_fd);
/* An upgrade that cannot start now (why): logged, and waiter_fd (taken)
 * told. Returns -EBUSY. */
int upgrader_reject(Upgrader *u, int waiter_fd, const char *why);
/* Stop: the check is killed and the waiters told. */
void upgrader_cancel(Upgrader *u, const char *why);

/* After an exec: takes over the upgrade part of st (counters, waiters). With
 * rollback_fd (taken) this is the new binary: the master starts the
 * upgrade's generation next. Without, the old one, back after a refusal
 * that st records (or a plain resume). Sends nothing yet: the master
 * decides on READY=1. */
void upgrader_resume(Upgrader *u, const MasterState *st, int rollback_fd);
/* New binary: the upgrade's generation is ready (ok) or failed (why). On
 * failure this executes the old binary and returns only if that failed. */
void upgrader_finish(Upgrader *u, bool ok, const char *why);

/* "upgrading to 0.2.0", "upgrade #2 done: 0.1.0 -> 0.2.0", "upgrade #3
 * refused: ...", or "" when there has been none. */
const char *upgrader_status(const Upgrader *u);

/* New binary, before it has taken the state over (it is unreadable, the
 * snapshot does not parse, ...): hands the untouched state in state_fd
 * back to the old binary, rollback_fd, with why recorded in it. Returns
 * only when even that failed (a negative errno). */
int upgrade_hand_back(int rollback_fd, int state_fd, const char *config_path, const char *why);

/* The new image takes the state st over (upgrade-resume.c): the current
 * generation's configuration from its snapshot, the supervisor s (new)
 * and the listener set (empty) rebuilt, every running worker watched again
 * (its pidfd, on e, calling on_child), and the state's fds close-on-exec
 * again. On failure *ret_why says why, and s and set may hold fds of the
 * state, which a hand back still needs: do not free them then. */
int upgrade_take_over(const MasterState *st, Supervisor *s, ListenerSet *set, sd_event *e,
                      sd_event_child_handler_t on_child, void *userdata, char **ret_why);

/* Reads the state in fd. */
int upgrade_read_state(int fd, MasterState **ret, char **ret_error);
