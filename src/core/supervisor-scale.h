/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "supervisor.h"

/* Changing a pool's size at run time (`preforkctl scale`, SIGTTIN and
 * SIGTTOU). Like the rest of the supervisor: no I/O, no clock of its own.
 * The size holds until the next reload, whose generation has the file's.
 *
 * Growing starts the new slots' workers at once. Shrinking retires the
 * highest slots: each worker is told to stop (SIGTERM, logged with
 * PREFORKD_KILL_REASON=scale and counted in Service.kills[]), finishes its
 * connection and leaves; a slot backing off just ends. A slot that is
 * still leaving when the pool grows back over it is started again once
 * its old worker has gone. */

/* Sets the current generation's pool of service name to n workers (1 to
 * the workers setting's maximum). Returns 0 (also when n is the size
 * already), -ENOENT for no such service, -EBUSY unless RUNNING (while the
 * first generation starts, a reload is under way or the daemon stops),
 * -ERANGE for n out of range, -ENOMEM. */
int supervisor_scale(Supervisor *s, const char *name, unsigned n, uint64_t now);

/* SIGTTIN (delta +1) and SIGTTOU (-1): every pool of the current generation
 * one larger or smaller. A pool at 1 worker is not shrunk and one at the
 * maximum not grown (each logged). Returns 0 or -EBUSY unless RUNNING. */
int supervisor_scale_all(Supervisor *s, int delta, uint64_t now);
