/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exec-child.h"
#include "log.h"

/* What a program gets as its RLIMIT_NOFILE soft limit. */
#define EXEC_NOFILE_SOFT 1024

int exec_child_place_fds(const int *fds, size_t n) {
        int tmp[64];
        int r = 0;

        assert(fds);
        if (n > ELEMENTSOF(tmp))
                return -E2BIG;

        /* First every source to a number above all targets, so that no
         * dup2() below overwrites a source still to be placed. */
        for (size_t k = 0; k < n; k++) {
                tmp[k] = fds[k] >= 0 ? fcntl(fds[k], F_DUPFD_CLOEXEC, (int) n)
                                     : open("/dev/null", O_RDWR | O_CLOEXEC);
                if (tmp[k] < 0)
                        return negative_errno();
                if (fds[k] < 0 && (size_t) tmp[k] < n) {
                        int moved = fcntl(tmp[k], F_DUPFD_CLOEXEC, (int) n);
                        if (moved < 0)
                                return negative_errno();
                        /* Not closed: tmp[k]'s number is a target, which the
                         * dup2() below replaces. */
                        tmp[k] = moved;
                }
        }
        /* dup2() leaves the new fd without FD_CLOEXEC. */
        for (size_t k = 0; k < n; k++)
                if (dup2(tmp[k], (int) k) < 0) {
                        r = negative_errno();
                        break;
                }
        if (r < 0)
                return r;
        /* Everything the fork kept is close-on-exec already (spawn.c);
         * this makes sure of it whatever a handler opened since. */
        if (syscall(SYS_close_range, (unsigned) n, ~0U, 0) < 0)
                return negative_errno();
        /* The journal socket was among them. */
        log_forget_fds();
        return 0;
}

void exec_child_reset(void) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        struct rlimit rl;
        sigset_t none;

        for (int sig = 1; sig < _NSIG; sig++)
                if (!IN_SET(sig, SIGKILL, SIGSTOP))
                        (void) sigaction(sig, &dfl, NULL);
        if (getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur > EXEC_NOFILE_SOFT) {
                rl.rlim_cur = MIN(rl.rlim_max, (rlim_t) EXEC_NOFILE_SOFT);
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        /* Last: a stop request that arrived since the fork is pending, and
         * with its default action restored it ends the child here. */
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
}

void exec_child_execve(const ExecConfig *c, char **env, const char *label) {
        assert(c);
        assert(env);

        execve(c->path, c->command, env);
        fatal(127, "%s: cannot execute %s: %s", label, c->path, STRERROR(errno));
}
