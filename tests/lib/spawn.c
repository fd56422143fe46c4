/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn-internal.h"
#include "util-internal.h"

/* Async-signal-safe: copies tmpl to dst replacing "@PID@" by pid. */
static void subst_pid(char *dst, const char *tmpl, pid_t pid) {
        while (*tmpl) {
                if (tmpl[0] == '@' && tmpl[1] == 'P' && tmpl[2] == 'I' && tmpl[3] == 'D' && tmpl[4] == '@') {
                        char digits[24];
                        int n = 0;
                        unsigned long v = (unsigned long) pid;

                        do {
                                digits[n++] = (char) ('0' + v % 10);
                                v /= 10;
                        } while (v > 0);
                        while (n > 0)
                                *dst++ = digits[--n];
                        tmpl += 5;
                } else
                        *dst++ = *tmpl++;
        }
        *dst = 0;
}

/* What the test's own environment must not hand on to the daemon: it
 * would talk to the test's service manager or journal instead of the ones
 * the test gives it (a test that means to set one passes it in opts->env). */
static bool env_dropped(const char *e) {
        static const char *const drop[] = {
                "NOTIFY_SOCKET=", "JOURNAL_STREAM=", "LISTEN_PID=", "LISTEN_FDS=", "LISTEN_FDNAMES=",
                "WATCHDOG_USEC=", "WATCHDOG_PID=", "PREFORKD_LOG_TARGET=", "PREFORKD_JOURNAL_SOCKET=",
        };

        for (size_t i = 0; i < ELEMENTSOF(drop); i++)
                if (strncmp(e, drop[i], strlen(drop[i])) == 0)
                        return true;
        return false;
}

void tdi_exec_plan_done(ExecPlan *p) {
        strv_free(p->argv);
        if (p->envp)
                for (size_t i = 0; i < p->n_env; i++) {
                        free(p->envp[i]);
                        free(p->pid_tmpl[i]);
                }
        free(p->envp);
        free(p->pid_tmpl);
        *p = (ExecPlan) { .argv = NULL };
}

static int strv_push(char ***l, size_t *n, char *s) {
        char **q;

        if (!s)
                return -ENOMEM;
        q = realloc(*l, (*n + 2) * sizeof(char *));
        if (!q) {
                free(s);
                return -ENOMEM;
        }
        q[(*n)++] = s;
        q[*n] = NULL;
        *l = q;
        return 0;
}

/* A copy of s, with "@DIR@" replaced by dir unless dir is NULL. */
static char *subst_dir(const char *s, const char *dir) {
        return dir ? tdi_str_replace(s, "@DIR@", dir) : strdup(s);
}

int tdi_exec_plan_build(ExecPlan *p, const char *dir, const char *binary, const char *const *args,
                        const char *const *extra_env, const char *notify_path) {
        extern char **environ;
        size_t n_argv = 0, n_extra = 0, cap;
        int r;

        *p = (ExecPlan) { .argv = NULL };

        r = strv_push(&p->argv, &n_argv, binary ? subst_dir(binary, dir) : strdup(td_binary()));
        if (r < 0)
                return r;
        for (const char *const *a = args; *a; a++) {
                r = strv_push(&p->argv, &n_argv, subst_dir(*a, dir));
                if (r < 0)
                        return r;
        }

        if (extra_env)
                for (const char *const *e = extra_env; *e; e++)
                        n_extra++;
        cap = n_extra + 3;
        for (char **e = environ; e && *e; e++)
                cap++;
        p->envp = calloc(cap + 1, sizeof(char *));
        p->pid_tmpl = calloc(cap + 1, sizeof(char *));
        if (!p->envp || !p->pid_tmpl)
                return -ENOMEM;

#define PUSH_ENV(expr)                                          \
        do {                                                    \
                char *_s_ = (expr);                             \
                if (!_s_)                                       \
                        return -ENOMEM;                         \
                p->envp[p->n_env++] = _s_;                      \
        } while (0)

        for (char **e = environ; e && *e; e++)
                if (!env_dropped(*e))
                        PUSH_ENV(strdup(*e));
        PUSH_ENV(strdup("PREFORKD_LOG_TARGET=stderr"));
        if (notify_path) {
                char *s;

                if (asprintf(&s, "NOTIFY_SOCKET=%s", notify_path) < 0)
                        return -ENOMEM;
                PUSH_ENV(s);
        }
        if (extra_env)
                for (const char *const *e = extra_env; *e; e++) {
                        char *s = subst_dir(*e, dir);

                        if (!s)
                                return -ENOMEM;
                        if (strstr(s, "@PID@")) {
                                /* Room for the pid digits, filled in after fork(). */
                                p->pid_tmpl[p->n_env] = s;
                                s = calloc(1, strlen(s) * 4 + 32);
                                if (!s)
                                        return -ENOMEM;
                        }
                        /* A later entry with the same key replaces an earlier one. */
                        {
                                const char *eq = strchr(p->pid_tmpl[p->n_env] ? p->pid_tmpl[p->n_env] : s, '=');
                                const char *key = p->pid_tmpl[p->n_env] ? p->pid_tmpl[p->n_env] : s;
                                size_t kl = eq ? (size_t) (eq - key) + 1 : strlen(key);

                                for (size_t i = 0; i < p->n_env; i++)
                                        if (strncmp(p->envp[i], key, kl) == 0 && !p->pid_tmpl[i]) {
                                                free(p->envp[i]);
                                                p->envp[i] = strdup("PREFORKD_TEST_UNSET=1");
                                                if (!p->envp[i])
                                                        return -ENOMEM;
                                        }
                        }
                        PUSH_ENV(s);
                }
#undef PUSH_ENV
        p->envp[p->n_env] = NULL;
        return 0;
}

/* Async-signal-safe: moves the n fds to 3, 4, ... (without O_CLOEXEC). */
static bool move_passed_fds(const int *fds, size_t n) {
        int tmp[TD_MAX_PASSED_FDS];

        if (n > TD_MAX_PASSED_FDS)
                return false;
        /* First above every target, so that no dup2() below overwrites a
         * passed fd that is still to be moved; the copies are closed with
         * the rest of the fds. */
        for (size_t i = 0; i < n; i++) {
                tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + (int) n);
                if (tmp[i] < 0)
                        return false;
        }
        for (size_t i = 0; i < n; i++)
                if (dup2(tmp[i], 3 + (int) i) < 0)
                        return false;
        return true;
}

_noreturn_ void tdi_exec_child(const ExecPlan *p, const char *cwd, int out_fd, int err_fd, pid_t parent,
                               const TdiChildSetup *setup) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        size_t n_fds = setup ? setup->n_fds : 0;
        sigset_t ss;
        int null_fd;

        (void) setpgid(0, 0);
        /* Before PR_SET_PDEATHSIG: a change of credentials clears it. */
        if (setup && setup->set_user &&
            (setgroups(0, NULL) < 0 || setresgid(setup->gid, setup->gid, setup->gid) < 0 ||
             setresuid(setup->uid, setup->uid, setup->uid) < 0))
                _exit(127);
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(127);

        sigemptyset(&ss);
        (void) sigprocmask(SIG_SETMASK, &ss, NULL);
        for (int sig = 1; sig < NSIG; sig++)
                (void) sigaction(sig, &sa, NULL);

        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
                _exit(127);

        for (size_t i = 0; i < p->n_env; i++)
                if (p->pid_tmpl[i])
                        subst_pid(p->envp[i], p->pid_tmpl[i], getpid());

        if (cwd && chdir(cwd) < 0)
                _exit(127);

        if (n_fds > 0 && !move_passed_fds(setup->fds, n_fds))
                _exit(127);
        (void) close_range(3 + (unsigned) n_fds, ~0U, 0);
        execve(p->argv[0], p->argv, p->envp);
        {
                static const char msg1[] = "testlib: cannot execute ", msg2[] = " (set PREFORKD_BINARY)\n";

                (void) !write(2, msg1, sizeof(msg1) - 1);
                (void) !write(2, p->argv[0], strlen(p->argv[0]));
                (void) !write(2, msg2, sizeof(msg2) - 1);
        }
        _exit(127);
}

int tdi_status_to_code(int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return 255;
}
