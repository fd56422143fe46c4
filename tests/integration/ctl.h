/* SPDX-License-Identifier: MIT */
#pragma once

/* Running preforkctl ($PREFORKCTL_BINARY) and other programs from the
 * control socket's integration tests: stdout and stderr captured apart,
 * optionally as another user, always bounded in time. */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

typedef struct CtlRun {
        int code;       /* exit status, or 128 + signal */
        char *out;      /* stdout, NUL-terminated */
        char *err;      /* stderr */
} CtlRun;

static inline void ctl_run_done(CtlRun *r) {
        free(r->out);
        free(r->err);
        *r = (CtlRun) { 0 };
}

static inline int ctl_append(char **buf, size_t *len, int fd) {
        char chunk[65536];
        ssize_t k = read(fd, chunk, sizeof chunk);
        char *n;

        if (k <= 0)
                return k < 0 && errno == EINTR ? 1 : 0;
        n = realloc(*buf, *len + (size_t) k + 1);
        if (!n)
                return -ENOMEM;
        memcpy(n + *len, chunk, (size_t) k);
        *len += (size_t) k;
        n[*len] = 0;
        *buf = n;
        return 1;
}

/* Runs argv[0] (a path) with argv, as uid/gid when uid is not (uid_t) -1,
 * with stdin from /dev/null, for at most timeout. */
static inline int ctl_exec(const char *const *argv, uid_t uid, gid_t gid, uint64_t timeout, CtlRun *ret) {
        int o[2], e[2], status;
        size_t no = 0, ne = 0;
        bool open_o = true, open_e = true;
        uint64_t deadline = td_now() + timeout;
        CtlRun r = { .code = -1 };
        pid_t pid;

        if (pipe2(o, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(e, O_CLOEXEC) < 0) {
                safe_close(o[0]);
                safe_close(o[1]);
                return -errno;
        }
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

                if (null < 0 || dup2(null, 0) < 0 || dup2(o[1], 1) < 0 || dup2(e[1], 2) < 0)
                        _exit(127);
                if (uid != (uid_t) -1 && (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0))
                        _exit(126);
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        safe_close(o[1]);
        safe_close(e[1]);
        r.out = strdup("");
        r.err = strdup("");
        while (open_o || open_e) {
                struct pollfd p[2] = {
                        { .fd = open_o ? o[0] : -1, .events = POLLIN },
                        { .fd = open_e ? e[0] : -1, .events = POLLIN },
                };
                uint64_t now = td_now();
                int k;

                if (now >= deadline)
                        break;
                k = poll(p, 2, (int) ((deadline - now) / 1000 + 1));
                if (k < 0 && errno != EINTR)
                        break;
                if (open_o && p[0].revents)
                        open_o = ctl_append(&r.out, &no, o[0]) > 0;
                if (open_e && p[1].revents)
                        open_e = ctl_append(&r.err, &ne, e[0]) > 0;
        }
        safe_close(o[0]);
        safe_close(e[0]);
        if (open_o || open_e)
                (void) kill(pid, SIGKILL);
        if (waitpid(pid, &status, 0) < 0) {
                ctl_run_done(&r);
                return -errno;
        }
        if (open_o || open_e) {
                ctl_run_done(&r);
                return -ETIMEDOUT;
        }
        r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        *ret = r;
        return 0;
}

static inline const char *ctl_binary(void) {
        const char *b = getenv("PREFORKCTL_BINARY");

        ck_assert_msg(b && b[0], "PREFORKCTL_BINARY is not set");
        return b;
}

/* preforkctl -s DIR/control ARGS... (NULL-terminated), as uid when it is
 * not (uid_t) -1. Another user runs a copy in the temp dir (which must be
 * searchable for it): the build tree may not be. */
static inline void ctl_as(TestDaemon *d, uid_t uid, CtlRun *ret, const char *const *args) {
        _cleanup_free_ char *sock = td_subst(d, "@DIR@/control"), *copy = NULL;
        const char *argv[16] = { ctl_binary(), "-s", sock };
        size_t n = 3;

        if (uid != (uid_t) -1) {
                _cleanup_free_ char *cmd = NULL;

                copy = td_subst(d, "@DIR@/preforkctl");
                ck_assert(asprintf(&cmd, "cp '%s' '%s' && chmod 0755 '%s'", ctl_binary(), copy, copy) >= 0);
                ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
                argv[0] = copy;
        }

        for (const char *const *a = args; *a; a++) {
                ck_assert(n < ELEMENTSOF(argv) - 1);
                argv[n++] = *a;
        }
        argv[n] = NULL;
        TD_OK(d, ctl_exec(argv, uid, uid, TD_SEC(60), ret));
}

#define CTL(d, ret, ...) ctl_as((d), (uid_t) -1, (ret), (const char *const[]) { __VA_ARGS__, NULL })

/* The answer's code, with both streams in the message when it is not
 * the expected one. */
#define CTL_EXPECT(d, run, want)                                                                          \
        TD_ASSERT_MSG((d), (run)->code == (want), "preforkctl exited %d, expected %d\nstdout:\n%s\nstderr:\n%s", \
                      (run)->code, (want), (run)->out, (run)->err)

/* The socket a test's daemon serves: its own, in its temp dir. */
#define CTL_TOP "control_socket = \"@DIR@/control\";"

/* Runs a shell command line (/bin/sh -c), bounded; its output in *ret. */
static inline void ctl_sh(TestDaemon *d, const char *cmd, CtlRun *ret) {
        const char *argv[] = { "/bin/sh", "-c", cmd, NULL };

        TD_OK(d, ctl_exec(argv, (uid_t) -1, (gid_t) -1, TD_SEC(60), ret));
}
