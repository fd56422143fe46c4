/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "run.h"
#include "spawn-internal.h"
#include "util-internal.h"

static int buf_append(char **buf, size_t *len, size_t *alloc, const char *data, size_t n) {
        if (tdi_grow((void **) buf, alloc, *len + n + 1, 1) < 0)
                return -ENOMEM;
        memcpy(*buf + *len, data, n);
        *len += n;
        (*buf)[*len] = 0;
        return 0;
}

int td_run(TestDaemon *d, const char *const *argv, uint64_t timeout, int *ret_code, char **ret_output,
           char **ret_stdout) {
        static const char *const empty[] = { NULL };
        uint64_t deadline = tdi_deadline(timeout);
        _cleanup_free_ char *all = NULL, *out = NULL;
        size_t all_len = 0, all_alloc = 0, out_len = 0, out_alloc = 0;
        int opipe[2] = { -EBADF, -EBADF }, epipe[2] = { -EBADF, -EBADF };
        bool open_o = true, open_e = true, timed_out = false;
        ExecPlan plan;
        pid_t parent = getpid(), pid;
        int status, r;
        char buf[4096];

        tdi_ignore_sigpipe();

        r = tdi_exec_plan_build(&plan, d ? td_dir(d) : NULL, NULL, argv ? argv : empty, NULL, NULL);
        if (r < 0)
                goto fail;
        if (pipe2(opipe, O_CLOEXEC) < 0 || pipe2(epipe, O_CLOEXEC) < 0) {
                r = -errno;
                goto fail;
        }
        pid = fork();
        if (pid < 0) {
                r = -errno;
                goto fail;
        }
        if (pid == 0)
                tdi_exec_child(&plan, d ? td_dir(d) : NULL, opipe[1], epipe[1], parent, NULL);
        (void) setpgid(pid, pid);
        tdi_exec_plan_done(&plan);
        opipe[1] = safe_close(opipe[1]);
        epipe[1] = safe_close(epipe[1]);

        if (buf_append(&all, &all_len, &all_alloc, "", 0) < 0 || buf_append(&out, &out_len, &out_alloc, "", 0) < 0)
                r = -ENOMEM;

        while (open_o || open_e) {
                struct pollfd p[2] = {
                        { .fd = open_o ? opipe[0] : -1, .events = POLLIN },
                        { .fd = open_e ? epipe[0] : -1, .events = POLLIN },
                };
                int ms = tdi_remaining_ms(deadline), k;

                if (ms == 0) {
                        timed_out = true;
                        break;
                }
                k = poll(p, 2, ms);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        ssize_t n;

                        if (!p[i].revents)
                                continue;
                        n = read(p[i].fd, buf, sizeof(buf));
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n <= 0) {
                                if (i == 0)
                                        open_o = false;
                                else
                                        open_e = false;
                                continue;
                        }
                        (void) buf_append(&all, &all_len, &all_alloc, buf, (size_t) n);
                        if (i == 0)
                                (void) buf_append(&out, &out_len, &out_alloc, buf, (size_t) n);
                }
        }

        /* Both pipes are closed; the exit follows, or the deadline. */
        if (!timed_out) {
                _cleanup_close_ int pidfd = tdi_pidfd_open(pid);

                timed_out = pidfd >= 0 && tdi_wait_fd(pidfd, POLLIN, deadline) == -ETIMEDOUT;
        }
        if (timed_out) {
                (void) kill(-pid, SIGKILL);
                (void) kill(pid, SIGKILL);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        status = 255 << 8;
                        break;
                }
        safe_close(opipe[0]);
        safe_close(epipe[0]);

        if (r < 0)
                return r;
        if (timed_out)
                return -ETIMEDOUT;
        if (ret_code)
                *ret_code = tdi_status_to_code(status);
        if (ret_output)
                *ret_output = TAKE_PTR(all);
        if (ret_stdout)
                *ret_stdout = TAKE_PTR(out);
        return 0;

fail:
        tdi_exec_plan_done(&plan);
        safe_close(opipe[0]);
        safe_close(opipe[1]);
        safe_close(epipe[0]);
        safe_close(epipe[1]);
        return r;
}

/* ---- suites ---- */

int td_loopback_up(void) {
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = { .ifr_name = "lo" };

        if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return -errno;
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                return -errno;
        return 0;
}

int td_unshare_network(void) {
        if (unshare(CLONE_NEWNET) < 0)
                return -errno;
        return td_loopback_up();
}

int td_run_suite(Suite *s) {
        SRunner *sr = srunner_create(s);
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

bool td_errors_have(char **errors, const char *path, unsigned line, const char *setting, const char *what) {
        char prefix[512];

        snprintf(prefix, sizeof(prefix), "%s:%u: %s%s", path, line, setting, *setting ? ": " : "");
        for (char **e = errors; e && *e; e++)
                if (strncmp(*e, prefix, strlen(prefix)) == 0 && strstr(*e, what))
                        return true;
        for (char **e = errors; e && *e; e++)
                fprintf(stderr, "got: %s\n", *e);
        return false;
}
