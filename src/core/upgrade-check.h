/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

#include "macros.h"
#include "state.h"

/* The check a new binary passes before the master executes it in its own
 * place. An exec cannot be taken back by the process that made it: a new
 * binary that crashes at once, exits, hangs before it reads the state, or
 * is not preforkd at all, takes the master's PID down with it, and systemd
 * restarts the service (workers stop, connections in progress are cut).
 * So the master first runs the new binary in a child of its own, as
 *
 *     BINARY --check-upgrade=FD -c CONFIG
 *
 * with a copy of the state it would hand over in FD, and without the
 * notify socket, the watchdog or any other fd. The child parses the state,
 * rebuilds the current generation's configuration from its snapshot,
 * checks that it can take over the running workers, parses CONFIG, and
 * answers on stdout, in the state format:
 *
 *     preforkd-state 1 0
 *     check version=V build-id=HEX       (or: check-failed reason=TEXT)
 *     end
 *
 * and exits 0. Anything else (another exit status, a signal, no answer, an
 * answer that is not this, no exit within UPGRADE_CHECK_TIMEOUT_USEC) and
 * the upgrade is refused without an exec. What the check cannot see: a
 * binary that fails only when it runs for real (its workers die: that is
 * the rollback's, upgrade.h), or one that crashes or hangs after the exec
 * but not in the check. */

#define UPGRADE_CHECK_TIMEOUT_USEC (30 * USEC_PER_SEC)

typedef struct UpgradeCheck UpgradeCheck;

/* r: 0 and id set when the binary passed; else negative with why. Called
 * once, from the event loop; the callback may free c. */
typedef void (*upgrade_check_fn)(UpgradeCheck *c, int r, const char *why, const BinaryIdentity *id, void *userdata);

/* Starts the check of binary with the state text (size bytes). */
int upgrade_check_start(sd_event *e, const char *binary, const char *config_path, const char *state, size_t size,
                        upgrade_check_fn cb, void *userdata, UpgradeCheck **ret);
/* Kills (SIGKILL) and reaps a check still running; the callback is never
 * called. Accepts NULL. */
UpgradeCheck *upgrade_check_free(UpgradeCheck *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(UpgradeCheck *, upgrade_check_free)

/* The child's side, for `preforkd --check-upgrade=FD`: returns the exit
 * code. */
int upgrade_check_main(const char *config_path, int state_fd);
