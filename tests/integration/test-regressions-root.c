/* SPDX-License-Identifier: MIT */
/* Regression tests for the defects of issue 7 that need root: switching
 * users, and looking into the daemon's processes with ptrace and
 * pidfd_getfd(). Not root: the whole executable exits 77 (meson: SKIP). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "regress.h"

/* The value of a "Key:\t..." line of /proc/PID/status, or NULL. */
static char *proc_status(pid_t pid, const char *key) {
        _cleanup_free_ char *all = NULL;
        char path[64], *p;
        size_t kl = strlen(key);

        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        all = read_text_file(path);
        for (p = all; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
                        p += kl + 1;
                        p += strspn(p, " \t");
                        return strndup(p, strcspn(p, "\n"));
                }
        return NULL;
}

/* Asserts that pid runs as uid and gid (real, effective, saved, fs). */
static void assert_credentials(TestDaemon *d, pid_t pid, uid_t uid, gid_t gid) {
        _cleanup_free_ char *u = proc_status(pid, "Uid"), *g = proc_status(pid, "Gid");
        char want_u[64], want_g[64];

        snprintf(want_u, sizeof want_u, "%u\t%u\t%u\t%u", (unsigned) uid, (unsigned) uid, (unsigned) uid, (unsigned) uid);
        snprintf(want_g, sizeof want_g, "%u\t%u\t%u\t%u", (unsigned) gid, (unsigned) gid, (unsigned) gid, (unsigned) gid);
        TD_ASSERT_MSG(d, u && strcmp(u, want_u) == 0, "pid %d: Uid %s, expected %s", (int) pid, u ? u : "?", want_u);
        TD_ASSERT_MSG(d, g && strcmp(g, want_g) == 0, "pid %d: Gid %s, expected %s", (int) pid, g ? g : "?", want_g);
}

/* Defect 2: with user = "nobody" the workers change credentials, which
 * clears PR_SET_PDEATHSIG; set before the drop, it was lost and the
 * workers went on serving after a kill -9 of the master. */
START_TEST(test_workers_with_user_die_with_master) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        struct passwd *pw = getpwnam("nobody");
        uint16_t port;
        int n, code = -1;

        TD_ASSERT_MSG(NULL, pw, "no user nobody");
        start_echo(&d, 2, NULL, "user = \"nobody\";", &port);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        for (int i = 0; i < n; i++)
                assert_credentials(d, w[i], pw->pw_uid, pw->pw_gid);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));

        TD_OK(d, td_kill(d, SIGKILL));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        ck_assert_int_eq(code, 128 + SIGKILL);
        for (int i = 0; i < n; i++)
                TD_ASSERT_MSG(d, td_wait_pid_gone(w[i], TD_TIMEOUT) == 0, "worker %d outlived its SIGKILLed master",
                              (int) w[i]);
}
END_TEST

/* Defect 4: started as nobody:nogroup (no supplementary groups) with
 * group = "nogroup" and no user. The startup check accepts it, as the
 * master already is in that group; the workers used to call setgroups(),
 * which needs CAP_SETGID, and crash-looped. They must get ready, serve
 * and stay. */
START_TEST(test_group_without_user_not_root) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL, *after = NULL;
        _cleanup_free_ char *conf = NULL, *notify = NULL;
        struct passwd *pw = getpwnam("nobody");
        struct group *gr = getgrnam("nogroup");
        uint16_t port;
        int n;

        TD_ASSERT_MSG(NULL, pw && gr, "no user nobody or group nogroup");
        TD_OK(NULL, td_new(&d));
        /* nobody reads the config and sends to the notify socket. */
        TD_ASSERT(d, asprintf(&notify, "%s/notify", td_dir(d)) >= 0);
        TD_ASSERT(d, chmod(td_dir(d), 0755) == 0);
        TD_ASSERT(d, chmod(notify, 0666) == 0);
        conf = echo_config(2, NULL, "group = \"nogroup\";");
        ck_assert_ptr_nonnull(conf);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start_wrapped(d, "nobody"));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, &port));

        assert_credentials(d, td_pid(d), pw->pw_uid, gr->gr_gid);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        for (int i = 0; i < n; i++)
                assert_credentials(d, w[i], pw->pw_uid, gr->gr_gid);
        for (unsigned i = 0; i < 4; i++)
                TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, i, TD_TIMEOUT));
        TD_ASSERT_MSG(d, !td_log_contains(d, "exited with status"), "a worker exited");
        TD_ASSERT(d, TD_OK(d, td_workers(d, &after)) == 2 && after[0] == w[0] && after[1] == w[1]);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Waits for the next stop of tracee (fork events included: __WALL).
 * Returns the wait status, or a negative errno. */
static int trace_wait(pid_t tracee, uint64_t timeout) {
        for (uint64_t deadline = td_now() + timeout;; td_sleep(TD_MSEC(1))) {
                int status;
                pid_t p = waitpid(tracee, &status, __WALL | WNOHANG);

                if (p < 0)
                        return -errno;
                if (p == tracee)
                        return status;
                if (td_now() >= deadline)
                        return -ETIMEDOUT;
        }
}

/* With master under PTRACE_SEIZE with PTRACE_O_TRACEFORK: lets it run
 * until it forks, and returns the child, which is left stopped (with a
 * SIGSTOP of its own) before it ran a single instruction; the master is
 * let go. */
static pid_t trace_next_fork(TestDaemon *d, pid_t master) {
        unsigned long child = 0;
        int st;

        for (;;) {
                st = trace_wait(master, TD_TIMEOUT);
                TD_ASSERT_MSG(d, st >= 0 && WIFSTOPPED(st), "tracing the master: %s",
                              st < 0 ? strerror(-st) : "it did not stop");
                if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_FORK << 8)))
                        break;
                /* A signal on its way (pass it on) or a group stop. */
                TD_ASSERT(d, ptrace(PTRACE_CONT, master, 0,
                                    st >> 16 == 0 ? (void *) (uintptr_t) WSTOPSIG(st) : NULL) == 0);
        }
        TD_ASSERT(d, ptrace(PTRACE_GETEVENTMSG, master, 0, &child) == 0 && child > 0);
        st = trace_wait((pid_t) child, TD_TIMEOUT);
        TD_ASSERT_MSG(d, st >= 0 && WIFSTOPPED(st), "the new worker %lu did not stop", child);
        TD_ASSERT(d, kill((pid_t) child, SIGSTOP) == 0);
        TD_ASSERT(d, ptrace(PTRACE_DETACH, (pid_t) child, 0, 0) == 0);
        TD_ASSERT(d, ptrace(PTRACE_DETACH, master, 0, 0) == 0);
        TD_OK(d, wait_proc_state((pid_t) child, 'T', TD_TIMEOUT));
        return (pid_t) child;
}

/* The readiness report as src/core/readiness.c sends it. */
typedef struct ForgedReport {
        uint32_t magic;
        uint32_t generation;
        uint32_t slot;
} ForgedReport;

/* Defect 9: the ready pipe was shared and unauthenticated, so any process
 * holding it could mark a slot ready. A reload's new worker is held
 * stopped from its first instruction (ptrace catches the fork) while this
 * test, through a copy of the old worker's end of the readiness socket,
 * reports the new slot ready: the master ignores it (it says so at debug
 * level) and the reload stays pending. Let go, the late worker reports
 * itself and the reload completes. */
START_TEST(test_readiness_only_from_the_worker) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_free_ char *conf = NULL, *ignored = NULL;
        _cleanup_close_ int pidfd = -EBADF, forged = -EBADF;
        ForgedReport msg = { .magic = UINT32_C(0x70666b72), .generation = 2, .slot = 0 };
        pid_t master, fresh;
        uint16_t port;
        int rfd;

        start_echo(&d, 1, NULL, "log_level = \"debug\";", &port);
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &w));
        rfd = readiness_fd_of(w[0]);
        TD_ASSERT_MSG(d, rfd >= 3, "worker %d: no single SOCK_SEQPACKET readiness socket: %s", (int) w[0],
                      strerror(-rfd));
        pidfd = (int) syscall(SYS_pidfd_open, w[0], 0);
        TD_ASSERT_MSG(d, pidfd >= 0, "pidfd_open: %s", strerror(errno));
        forged = (int) syscall(SYS_pidfd_getfd, pidfd, rfd, 0);
        TD_ASSERT_MSG(d, forged >= 0, "pidfd_getfd: %s", strerror(errno));

        master = td_pid(d);
        TD_ASSERT_MSG(d, ptrace(PTRACE_SEIZE, master, 0, PTRACE_O_TRACEFORK) == 0, "ptrace: %s", strerror(errno));
        conf = echo_config(1, NULL, "log_level = \"debug\";");
        ck_assert_ptr_nonnull(conf);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_kill(d, SIGHUP));
        fresh = trace_next_fork(d, master);

        TD_ASSERT(d, send(forged, &msg, sizeof msg, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t) sizeof msg);
        TD_ASSERT(d, asprintf(&ignored, "Ignoring a readiness report of pid %d for generation 2 slot 0",
                              (int) getpid()) >= 0);
        TD_OK(d, td_wait_log(d, ignored, TD_TIMEOUT, NULL));
        TD_ASSERT_MSG(d, !td_log_contains(d, "Reloaded"), "a forged report completed the reload");
        TD_ASSERT_MSG(d, proc_state(fresh) == 'T', "the new worker %d is not stopped", (int) fresh);

        TD_ASSERT(d, kill(fresh, SIGCONT) == 0);
        TD_OK(d, td_wait_log(d, "Reloaded: generation 2", TD_TIMEOUT, NULL));
        for (uint64_t deadline = td_now() + TD_TIMEOUT;; td_sleep(TD_MSEC(2))) {
                _cleanup_free_ pid_t *now = NULL;

                if (td_workers(d, &now) == 1 && now[0] == fresh)
                        break;
                TD_ASSERT_MSG(d, td_now() < deadline, "worker %d did not take over", (int) fresh);
        }
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* The wrapper's "nobody" mode: become nobody:nogroup without
 * supplementary groups, then execute the daemon. It is opened first, so
 * that nobody needs no access to the directories on its path. */
_noreturn_ static void wrapper_nobody(char **daemon_argv) {
        extern char **environ;
        struct passwd *pw = getpwnam("nobody");
        struct group *gr = getgrnam("nogroup");
        pid_t parent = getppid();
        int fd = open(daemon_argv[0], O_PATH | O_CLOEXEC);

        if (!pw || !gr)
                wrapper_fail("no user nobody or group nogroup");
        if (fd < 0)
                wrapper_fail(daemon_argv[0]);
        if (setgroups(0, NULL) < 0 || setresgid(gr->gr_gid, gr->gr_gid, gr->gr_gid) < 0 ||
            setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
                wrapper_fail("cannot become nobody:nogroup");
        /* The credential change cleared td_start()'s PR_SET_PDEATHSIG. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                wrapper_fail("parent gone");
        fexecve(fd, daemon_argv, environ);
        wrapper_fail(daemon_argv[0]);
}

static Suite *regressions_root_suite(void) {
        Suite *s = suite_create("regressions-root");

        TD_ADD_TEST(s, test_workers_with_user_die_with_master);
        TD_ADD_TEST(s, test_group_without_user_not_root);
        TD_ADD_TEST(s, test_readiness_only_from_the_worker);
        return s;
}

int main(int argc, char *argv[]) {
        wrapper_main(argc, argv, "nobody", wrapper_nobody);
        if (geteuid() != 0) {
                fprintf(stderr, "not root: skipping the root-only regression tests\n");
                return 77;
        }
        return td_run_suite(regressions_root_suite());
}
