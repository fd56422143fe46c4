/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* The guard of a pool program: what stops the program's process group
 * when the master dies without stopping it (SIGKILL, a crash).
 *
 * A built-in worker bounds its own life after the master's death
 * (worker.c: SIGTERM from PR_SET_PDEATHSIG, then SIGALRM). A program
 * cannot be made to: it may ignore SIGTERM, and whatever it starts gets no
 * parent-death signal at all, so without the guard it would go on serving
 * the service's sockets with nobody to supervise or stop it. The guard is
 * a small process forked (twice, so that it is not the program's child)
 * by the worker just before it becomes the program, in the program's
 * process group, holding no fd but a pidfd of the master and one of the
 * program. While the master lives, it only
 * waits: the master kills what is left of a program's group when it reaps
 * the program, the guard with it. When the master dies, the guard sends
 * the group stop_signal, waits until the program has exited or
 * timeout_usec has passed, and then SIGKILLs the group, itself included.
 *
 * The guard ignores every signal it can, so that the stop_signal the
 * master or the guard itself sends to the group does not end it early. */

/* Forks the guard of the calling worker, which is about to execute its
 * program (its pid and process group are the program's). master is the
 * master's pid. Returns 0 in the worker once the guard runs, or a negative
 * errno (-ESRCH: the master is gone already); the guard never returns. */
int exec_guard_start(pid_t master, int stop_signal, uint64_t timeout_usec);
