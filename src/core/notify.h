/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

#include "macros.h"

/* Notifications to the service manager (sd_notify's protocol) that never
 * block the event loop. sd_notify() sends with a blocking sendmsg(), and a
 * unix datagram socket queues only net.unix.max_dgram_qlen (default 10)
 * datagrams, so a slow reader would stop the master's supervision. A
 * Notifier sends without blocking, keeps what the socket refuses and retries
 * it from the event loop, coalesces STATUS= updates and sends WATCHDOG=1
 * from an event loop timer. */
typedef struct Notifier Notifier;

/* Reads NOTIFY_SOCKET (an absolute path or "@abstract"); when it is unset or
 * empty, every call on the Notifier is a no-op that succeeds. Otherwise opens
 * one SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC socket and connects it (again
 * after the receiver went away). When sd_watchdog_enabled() says so
 * (WATCHDOG_USEC=, and WATCHDOG_PID= if set names this process), sends
 * WATCHDOG=1 every quarter of the watchdog interval from a timer on e, so a
 * ping only goes out while the loop runs. Turn sd_event_set_watchdog() off:
 * it would send its own pings with the blocking sd_notify().
 * Returns 0, -EAFNOSUPPORT or -EINVAL for a NOTIFY_SOCKET in another form,
 * -ENAMETOOLONG, or the error of socket(), sd-event or sd_watchdog_enabled(). */
int notifier_new(sd_event *e, Notifier **ret);

/* Closes the socket and drops what is still queued (sends nothing).
 * Accepts NULL; returns NULL. */
Notifier *notifier_free(Notifier *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(Notifier *, notifier_free)

/* Queues a message that must not be lost ("READY=1",
 * "RELOADING=1\nMONOTONIC_USEC=...", "STOPPING=1"), with status (or NULL) as
 * STATUS= in the same datagram; a newline in status becomes a space. Sends at
 * once if the socket takes it; what it refuses is kept in order and retried
 * from the event loop. A STATUS= update still waiting for its turn rides
 * along in this datagram when status is NULL, and is dropped as outdated
 * when status is given. Never blocks. Returns 0 or -ENOMEM. */
int notifier_send(Notifier *n, const char *message, const char *status);
/* notifier_send() with fd (>= 0) attached (SCM_RIGHTS), as FDSTORE=1
 * needs; the Notifier sends a copy of it. Returns 0, -ENOMEM, or the error
 * of copying fd. */
int notifier_send_fd(Notifier *n, const char *message, const char *status, int fd);

/* A STATUS= update that may be coalesced: at most one STATUS-only datagram
 * goes out per 250 ms and only the latest text is kept. While messages wait
 * in the queue, the text joins the newest of them (replacing its STATUS=),
 * so it never reaches the manager before an older READY=1, RELOADING=1 or
 * STOPPING=1. Never blocks. Returns 0 or -ENOMEM. */
int notifier_status(Notifier *n, const char *status);

/* How many datagrams wait to be sent (a pending WATCHDOG=1 counts); for
 * tests and logs. */
size_t notifier_queued(const Notifier *n);
