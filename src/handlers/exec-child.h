/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "exec-config.h"
#include "macros.h"

/* The last steps in a freshly forked child before it becomes the program,
 * shared by both modes. They run after fork() and may only fail fatally
 * (the child exits, the master logs the exit). */

/* Makes fds[k] the child's fd k for every k < n (a negative entry opens
 * /dev/null there; fds[k] == k keeps what is there), then closes every
 * other fd: what the program gets is exactly these. The sources may be
 * any fds, also ones among the targets. Returns 0 or a negative errno. */
int exec_child_place_fds(const int *fds, size_t n);

/* Default dispositions for every signal, an empty signal mask (a stop
 * request that was pending ends the child now, as it should), and
 * RLIMIT_NOFILE's soft limit back to 1024 (capped by the hard limit):
 * the master raised its own for its pidfds, and select()-based programs
 * break above FD_SETSIZE; systemd gives services the same. */
void exec_child_reset(void);

/* Executes the program with env. Never returns: exits with 127 after
 * logging why it could not. label names the slot ("web[slot 2]"). */
_noreturn_ void exec_child_execve(const ExecConfig *c, char **env, const char *label);
