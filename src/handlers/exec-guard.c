/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec-guard.h"
#include "fd-util.h"
#include "macros.h"
#include "time-util.h"

/* Waits until the process of the pidfd fd has exited, or deadline
 * (CLOCK_MONOTONIC µs, UINT64_MAX: none) has passed. Returns 1 when it has
 * exited, 0 on the deadline, or a negative errno when fd cannot be
 * waited on. */
static int guard_wait(int fd, uint64_t deadline) {
        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                uint64_t now = now_usec();
                int timeout_ms = -1, r;

                if (deadline != UINT64_MAX) {
                        if (now >= deadline)
                                return 0;
                        timeout_ms = (int) MIN((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC, (uint64_t) INT32_MAX);
                }
                r = poll(&pfd, 1, timeout_ms);
                if (r > 0)
                        return pfd.revents & POLLIN ? 1 : -EBADF;
                if (r < 0 && errno != EINTR)
                        return negative_errno();
        }
}

static _noreturn_ void guard_main(int master_fd, int program_fd, int stop_signal, uint64_t timeout_usec) {
        struct sigaction ign = { .sa_handler = SIG_IGN };
        pid_t group = getpgrp();
        sigset_t none;

        /* Nothing but the two pidfds: the guard must not hold the
         * service's sockets, the program's output pipes or the master's
         * journal connection, or they would outlive the processes they
         * belong to. */
        (void) close_all_fds_except((const int[]) { master_fd, program_fd }, 2);
        (void) prctl(PR_SET_NAME, "preforkd-guard");
        for (int sig = 1; sig < _NSIG; sig++)
                if (!IN_SET(sig, SIGKILL, SIGSTOP))
                        (void) sigaction(sig, &ign, NULL);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);

        /* While the master lives, its SIGKILL to the group after reaping
         * the program is what ends the guard. Only the master's exit, seen
         * through its pidfd, lets the guard act: should the wait itself
         * fail, it leaves the program alone. */
        if (guard_wait(master_fd, UINT64_MAX) != 1)
                _exit(EXIT_FAILURE);

        /* The master is gone: stop the group as the master would have.
         * The program gets its stop_signal and timeout_usec to finish;
         * then, or once it has exited, what is left is killed, this
         * process last of all, by the same kill(). */
        (void) kill(-group, stop_signal);
        (void) guard_wait(program_fd, now_usec() + timeout_usec);
        (void) kill(-group, SIGKILL);
        _exit(0);
}

int exec_guard_start(pid_t master, int stop_signal, uint64_t timeout_usec) {
        _cleanup_close_ int master_fd = -EBADF, program_fd = -EBADF;
        pid_t pid;

        master_fd = pidfd_open(master, 0);
        if (master_fd < 0)
                return negative_errno();
        /* The pidfd names the master only if the master still lives now:
         * once it has died, its pid may be another process's, and this
         * worker has a new parent. */
        if (getppid() != master)
                return -ESRCH;
        program_fd = pidfd_open(getpid(), 0);
        if (program_fd < 0)
                return negative_errno();

        /* Two forks, the first child ending at once: the guard must not
         * be the program's child, or a program that waits for all its
         * children (a shell's wait, an init such as tini) would wait for
         * the guard too, and one that reaps any child would see it. */
        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                pid_t guard = fork();

                if (guard == 0)
                        guard_main(master_fd, program_fd, stop_signal, timeout_usec);
                _exit(guard < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
        }
        for (;;) {
                int status;

                if (waitpid(pid, &status, 0) == pid)
                        return WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SUCCESS ? 0 : -EAGAIN;
                if (errno != EINTR)
                        return negative_errno();
        }
}
