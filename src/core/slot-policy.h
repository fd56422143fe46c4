/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "generation.h"
#include "handler.h"
#include "slot.h"

/* What a slot's WorkerPolicy (handler.h) asks of the supervisor, as pure
 * functions of the slot and the time: which signal goes where, the ready
 * and watchdog deadlines, the program's STATUS= text. The supervisor
 * decides when to call them and acts on what they say. Deadlines are 0
 * when there is none. */

/* The slot's policy: its pool's, or the defaults (a front stage). */
const WorkerPolicy *slot_policy(const Slot *s);

/* Where and what to send for sig, s having a process: a stop (TERM, or QUIT
 * for a fast one) is the policy's stop signal when the worker is a program
 * of its own (it knows nothing of our QUIT), to its whole process group
 * when the policy says so; SIGKILL always takes the group a worker leads,
 * so that nothing it started outlives it. *ret_target is the pid, or the
 * negative pid for the group, as kill(2) takes it. */
void slot_policy_signal(const Slot *s, int sig, pid_t *ret_target, int *ret_sig);

/* A new process took the slot: per-process state is reset, and the ready
 * deadline starts. */
void slot_policy_started(Slot *s, uint64_t now);
/* It got ready: the watchdog starts. */
void slot_policy_ready(Slot *s, uint64_t now);
/* It sent WATCHDOG=1: the watchdog starts over (when it runs). Returns
 * whether it runs. */
bool slot_policy_watchdog_ping(Slot *s, uint64_t now);
/* It leaves or is being killed: no deadline any more. */
void slot_policy_clear(Slot *s);

/* The deadline of s that has passed at now, as its kill reason
 * (KILL_REASON_READY_TIMEOUT or KILL_REASON_WATCHDOG, with why it is
 * killed in why), or _KILL_REASON_INVALID. */
KillReason slot_policy_due(const Slot *s, uint64_t now, char *why, size_t size);
/* The next deadline of s, or UINT64_MAX. */
uint64_t slot_policy_next_deadline(const Slot *s);

/* Keeps len bytes (at most SLOT_STATUS_MAX) of text as s's STATUS=, with
 * control characters as spaces. 0 or -ENOMEM. */
#define SLOT_STATUS_MAX 256
int slot_set_status(Slot *s, const char *text, size_t len);

/* Appends what p's programs add to its status line (", N program
 * failures", ", slot N: STATUS text" as much as fits) to buf, which holds
 * *n bytes of size. */
void pool_format_program_status(const Pool *p, char *buf, size_t size, size_t *n);
