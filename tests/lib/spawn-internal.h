/* SPDX-License-Identifier: MIT */
#pragma once

/* Running PREFORKD_BINARY: the argv and environment prepared before fork()
 * (so that the child only makes async-signal-safe calls), and the child's
 * side up to execve(). Shared by td_start() and td_run(); not for tests. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "daemon.h"
#include "macros.h"

typedef struct ExecPlan {
        char **argv;
        char **envp;
        char **pid_tmpl; /* parallel to envp: template when the entry has @PID@ */
        size_t n_env;
} ExecPlan;

/* argv is binary (NULL: PREFORKD_BINARY) followed by args (NULL-terminated). The
 * environment is the test's own without the variables that would confuse
 * the daemon (NOTIFY_SOCKET, LISTEN_*, WATCHDOG_*, ...), plus
 * PREFORKD_LOG_TARGET=stderr, NOTIFY_SOCKET=notify_path (unless NULL) and
 * extra_env (may be NULL), where a later entry replaces an earlier one with
 * the same key and "@PID@" becomes the child's pid. When dir is not NULL,
 * "@DIR@" in args and extra_env becomes dir. On failure, *p still needs
 * tdi_exec_plan_done(). */
int tdi_exec_plan_build(ExecPlan *p, const char *dir, const char *binary, const char *const *args,
                        const char *const *extra_env, const char *notify_path);
void tdi_exec_plan_done(ExecPlan *p);

/* What the child does beyond the defaults; all of it may be left out. */
typedef struct TdiChildSetup {
        const int *fds;         /* passed as fds 3, 4, ... (socket activation) */
        size_t n_fds;           /* at most TD_MAX_PASSED_FDS */
        bool set_user;          /* run as uid/gid, without supplementary groups */
        uid_t uid;
        gid_t gid;
} TdiChildSetup;

/* In the child after fork(): only async-signal-safe calls. Puts itself in
 * a process group of its own, switches to setup's user if asked, dies
 * with the test process (parent), resets signals, connects stdin to
 * /dev/null and stdout/stderr to out_fd and err_fd, changes to cwd (unless
 * NULL), moves setup's fds to 3, 4, ..., closes every other fd and
 * executes the plan. setup may be NULL. */
_noreturn_ void tdi_exec_child(const ExecPlan *p, const char *cwd, int out_fd, int err_fd, pid_t parent,
                               const TdiChildSetup *setup);

/* A wait() status as an exit code: the exit status, or 128+signal. */
int tdi_status_to_code(int status);
