/* SPDX-License-Identifier: MIT */
/* Regression tests for the defects of issue 7 that need no root: each
 * drives the real binary into the situation that went wrong and checks
 * what the kernel shows of the daemon's processes (/proc). The ones that
 * need root are in test-regressions-root.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "regress.h"

/* Every listening TCP socket that the master or a worker holds is
 * O_NONBLOCK in that process: the flag belongs to the socket, which all
 * of them share, so nobody may ever clear or set it. */
static void assert_listeners_nonblocking(TestDaemon *d) {
        _cleanup_free_ pid_t *w = NULL;
        int n = TD_OK(d, td_workers(d, &w));
        size_t checked = 0;

        for (int i = -1; i < n; i++) {
                pid_t pid = i < 0 ? td_pid(d) : w[i];
                _cleanup_free_ ProcFd *l = NULL;
                int k = TD_OK(d, proc_fds(pid, &l));

                for (int j = 0; j < k; j++) {
                        if (l[j].kind != FD_TCP_LISTEN)
                                continue;
                        TD_ASSERT_MSG(d, l[j].flags & O_NONBLOCK,
                                      "the listening socket on port %u is blocking in %s %d (fd %d, flags 0%o)",
                                      l[j].port, i < 0 ? "the master" : "worker", (int) pid, l[j].fd, l[j].flags);
                        checked++;
                }
        }
        TD_ASSERT_MSG(d, checked > 0, "no listening socket found in the daemon's processes");
}

/* port still echoes, and pid is still the one worker: not replaced. */
static void assert_served_by(TestDaemon *d, uint16_t port, pid_t pid) {
        _cleanup_free_ pid_t *w = NULL;

        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 7, TD_TIMEOUT));
        TD_ASSERT_MSG(d, TD_OK(d, td_workers(d, &w)) == 1 && w[0] == pid, "worker %d was replaced", (int) pid);
}

/* A config whose reload fails after the listeners of service "echo" were
 * set up: "echo" on listen_echo, then a service on a port the test holds. */
static void reload_to_failing_config(TestDaemon *d, const char *listen_echo, uint16_t held_port) {
        _cleanup_free_ char *conf = NULL;

        TD_ASSERT(d, asprintf(&conf,
                              "services = (\n"
                              "  { name = \"echo\"; listen = [ %s ]; workers = 1; handler = \"echo\"; },\n"
                              "  { name = \"blocked\"; listen = [ \"127.0.0.1:%u\" ]; workers = 1; handler = \"echo\"; }\n"
                              ");\n",
                              listen_echo, held_port) >= 0);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_kill(d, SIGHUP));
        TD_OK(d, td_wait_log(d, "Reload failed", TD_TIMEOUT, NULL));
}

/* Defect 1: echo on [A], a reload to [A, B] that fails on a later service.
 * It used to leave A O_NONBLOCK under the old worker's blocking accept(),
 * which then spun on EAGAIN at full CPU after its next connection. The
 * worker must be asleep whenever it is looked at, and serve. */
START_TEST(test_failed_reload_worker_sleeps) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_close_ int held = -EBADF;
        uint16_t port, held_port;

        start_echo(&d, 1, NULL, NULL, &port);
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &w));
        held = TD_OK(d, td_listen_tcp(&held_port));

        reload_to_failing_config(d, "\"127.0.0.1:0\", \"127.0.0.1:0\"", held_port);

        /* One connection, so that the worker goes back to waiting for the
         * next one under whatever flags the socket has now. */
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        TD_ASSERT_MSG(d, wait_proc_state(w[0], 'S', TD_TIMEOUT) == 0,
                      "worker %d never sleeps after the failed reload (state %c): it spins", (int) w[0],
                      proc_state(w[0]));
        for (unsigned i = 0; i < 50; i++) {
                char s = proc_state(w[0]);

                TD_ASSERT_MSG(d, s == 'S', "idle worker %d in state %c at look %u: it spins", (int) w[0], s, i);
                td_sleep(TD_MSEC(2));
        }
        assert_listeners_nonblocking(d);

        assert_served_by(d, port, w[0]);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Defect 1, the other way: echo on [A, B], a failed reload to [A] used to
 * make A blocking under workers that wait in epoll for both. */
START_TEST(test_failed_reload_keeps_nonblocking) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int held = -EBADF;
        uint16_t a, b, held_port;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d,
                                 "services = (\n"
                                 "  { name = \"echo\"; listen = [ \"127.0.0.1:0\", \"127.0.0.1:0\" ]; workers = 1;\n"
                                 "    handler = \"echo\"; }\n"
                                 ");\n"));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, &a));
        TD_OK(d, td_find_port(d, "echo", 1, &b));
        assert_listeners_nonblocking(d);
        held = TD_OK(d, td_listen_tcp(&held_port));

        reload_to_failing_config(d, "\"127.0.0.1:0\"", held_port);

        assert_listeners_nonblocking(d);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", a, 100, 1, TD_TIMEOUT));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", b, 100, 2, TD_TIMEOUT));
        assert_listeners_nonblocking(d);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Defect 3: a reload's log_level reaches the workers it starts. Started at
 * info, reloaded to debug: the new worker's debug record at its graceful
 * exit ("worker leaving after ...") must be there. */
START_TEST(test_reload_log_level_reaches_new_workers) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_free_ char *conf = NULL, *tag = NULL;
        pid_t fresh = 0;
        uint16_t port;
        int code = -1;

        start_echo(&d, 1, NULL, "log_level = \"info\";", &port);
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &w));

        conf = echo_config(1, NULL, "log_level = \"debug\";");
        ck_assert_ptr_nonnull(conf);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_kill(d, SIGHUP));
        TD_OK(d, td_wait_log(d, "Reloaded: generation 2", TD_TIMEOUT, NULL));
        for (uint64_t deadline = td_now() + TD_TIMEOUT; fresh == 0; td_sleep(TD_MSEC(2))) {
                _cleanup_free_ pid_t *now = NULL;

                if (td_workers(d, &now) == 1 && now[0] != w[0])
                        fresh = now[0];
                TD_ASSERT_MSG(d, td_now() < deadline, "the old worker %d did not leave", (int) w[0]);
        }
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));

        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        TD_ASSERT_MSG(d, code == 0, "exit code %d", code);
        TD_OK(d, td_wait_output_closed(d, TD_TIMEOUT));
        TD_ASSERT(d, asprintf(&tag, "preforkd[%d]: <debug>", (int) fresh) >= 0);
        TD_ASSERT_MSG(d, td_log_contains(d, tag), "no debug record from the new worker %d", (int) fresh);
        assert_no_sanitizer_report(d);
}
END_TEST

/* The soft and hard RLIMIT_NOFILE ("Max open files") of /proc/PID/limits. */
static void proc_nofile(TestDaemon *d, pid_t pid, unsigned long *soft, unsigned long *hard) {
        _cleanup_free_ char *limits = NULL;
        char path[64];
        const char *l;

        snprintf(path, sizeof path, "/proc/%d/limits", (int) pid);
        limits = read_text_file(path);
        l = limits ? strstr(limits, "Max open files") : NULL;
        TD_ASSERT_MSG(d, l && sscanf(l, "Max open files %lu %lu", soft, hard) == 2, "cannot read %s", path);
}

/* Which of the listening ports a process holds, as a bit per entry of
 * ports. */
static unsigned held_ports(TestDaemon *d, const ProcFd *l, int n, const uint16_t *ports, size_t n_ports) {
        unsigned mask = 0;

        for (int i = 0; i < n; i++) {
                size_t k;

                if (l[i].kind != FD_TCP_LISTEN)
                        continue;
                for (k = 0; k < n_ports && ports[k] != l[i].port; k++)
                        ;
                TD_ASSERT_MSG(d, k < n_ports, "fd %d: a listening socket on port %u that nobody configured", l[i].fd,
                              l[i].port);
                mask |= 1u << k;
        }
        return mask;
}

/* A worker's fds once it has waited for its first connection: the epoll
 * set of its accept loop and its accept reserve are made then (after the
 * reserve), not before its first accept. */
static int wait_worker_idle_fds(pid_t pid, ProcFd **ret) {
        uint64_t end = td_now() + TD_TIMEOUT;

        for (;;) {
                _cleanup_free_ ProcFd *l = NULL;
                int k = proc_fds(pid, &l);

                if (k < 0)
                        return k;
                if (count_kind(l, k, FD_EPOLL) > 0 || td_now() >= end) {
                        *ret = TAKE_PTR(l);
                        return k;
                }
                td_sleep(TD_MSEC(2));
        }
}

/* Defect 7: a worker holds exactly what it uses. stdio; its own service's
 * listeners, including one passed by systemd; the readiness socket (also
 * what the TERM handler points the listeners at); the epoll set of its
 * accept loop; /dev/null once, the accept reserve. Not the master's
 * sd-event fds (epoll, signalfd, timerfd), no pidfd of a sibling, no
 * listener of another service, no passed socket that no service uses. The
 * master's soft RLIMIT_NOFILE is raised to the hard limit. */
START_TEST(test_worker_fds_exactly) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_free_ char *line = NULL;
        struct rlimit lim;
        unsigned long soft, hard;
        /* echo's two listeners, other's one, the unused passed one */
        uint16_t ports[4];
        unsigned seen_echo = 0, seen_other = 0;
        int n;

        /* A soft limit below the hard one for the daemon to inherit. */
        TD_ASSERT(NULL, getrlimit(RLIMIT_NOFILE, &lim) == 0);
        if (lim.rlim_cur == lim.rlim_max) {
                lim.rlim_cur = lim.rlim_max / 2;
                TD_ASSERT(NULL, setrlimit(RLIMIT_NOFILE, &lim) == 0);
        }

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d,
                                 "services = (\n"
                                 "  { name = \"echo\"; listen = [ \"127.0.0.1:0\", \"systemd:used\" ]; workers = 2;\n"
                                 "    handler = \"echo\"; park = { enabled = false; }; },\n"
                                 "  { name = \"other\"; listen = [ \"127.0.0.1:0\" ]; workers = 1; handler = \"echo\";\n"
                                 "    park = { enabled = false; }; }\n"
                                 ");\n"));
        TD_OK(d, td_start_wrapped(d, "sockets"));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, &ports[0]));
        TD_OK(d, td_find_port(d, "other", 0, &ports[2]));
        TD_OK(d, td_wait_log(d, "regress wrapper: passing \"used\" on port ", TD_TIMEOUT, &line));
        TD_ASSERT(d, sscanf(strstr(line, " on port "), " on port %" SCNu16, &ports[1]) == 1);
        free(TAKE_PTR(line));
        TD_OK(d, td_wait_log(d, "regress wrapper: passing \"spare\" on port ", TD_TIMEOUT, &line));
        TD_ASSERT(d, sscanf(strstr(line, " on port "), " on port %" SCNu16, &ports[3]) == 1);
        TD_OK(d, td_wait_log(d, "Socket \"spare\" passed by systemd (fd 4) is not used by any service", TD_TIMEOUT,
                             NULL));

        n = TD_OK(d, td_wait_workers(d, 3, TD_TIMEOUT, &w));
        for (int i = 0; i < n; i++) {
                _cleanup_free_ ProcFd *l = NULL;
                int k = TD_OK(d, wait_worker_idle_fds(w[i], &l));
                unsigned mask = held_ports(d, l, k, ports, ELEMENTSOF(ports));
                size_t listeners;

                if (mask == 0x3)
                        seen_echo++;
                else if (mask == 0x4)
                        seen_other++;
                else
                        TD_ASSERT_MSG(d, false, "worker %d holds the listeners 0x%x of echo (0x3), other (0x4), spare (0x8)",
                                      (int) w[i], mask);
                listeners = mask == 0x3 ? 2 : 1;

                TD_ASSERT_MSG(d, k >= 3 && l[0].fd == 0 && l[1].fd == 1 && l[2].fd == 2, "worker %d has no stdio",
                              (int) w[i]);
                for (int j = 3; j < k; j++)
                        TD_ASSERT_MSG(d, l[j].kind != FD_OTHER, "worker %d holds fd %d: %s", (int) w[i], l[j].fd,
                                      l[j].target);
                TD_ASSERT_MSG(d, count_kind(l + 3, k - 3, FD_UNIX_SEQPACKET) == 1,
                              "worker %d: %zu readiness sockets", (int) w[i], count_kind(l + 3, k - 3, FD_UNIX_SEQPACKET));
                TD_ASSERT_MSG(d, count_kind(l + 3, k - 3, FD_EPOLL) == 1, "worker %d: %zu epoll fds", (int) w[i],
                              count_kind(l + 3, k - 3, FD_EPOLL));
                TD_ASSERT_MSG(d, count_kind(l + 3, k - 3, FD_DEVNULL) == 1, "worker %d: %zu /dev/null fds", (int) w[i],
                              count_kind(l + 3, k - 3, FD_DEVNULL));
                TD_ASSERT_MSG(d, count_kind(l + 3, k - 3, FD_TCP_LISTEN) == listeners, "worker %d: %zu listeners",
                              (int) w[i], count_kind(l + 3, k - 3, FD_TCP_LISTEN));
                TD_ASSERT_MSG(d, (size_t) k == 3 + listeners + 3, "worker %d has %d fds", (int) w[i], k);
        }
        TD_ASSERT_MSG(d, seen_echo == 2 && seen_other == 1, "%u echo and %u other workers", seen_echo, seen_other);

        proc_nofile(d, td_pid(d), &soft, &hard);
        TD_ASSERT_MSG(d, soft == hard, "the master's RLIMIT_NOFILE is %lu, its hard limit %lu", soft, hard);

        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", ports[0], 100, 1, TD_TIMEOUT));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", ports[1], 100, 2, TD_TIMEOUT));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", ports[2], 100, 3, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Defect 8: a worker out of file descriptors. Its soft RLIMIT_NOFILE is
 * cut to its three stdio fds, so that every accept() fails with EMFILE
 * even after the reserve fd is given up, and several clients wait in the
 * queue. It used to log every failure (every 10 ms). Now one line per
 * interval, the next one with the count of the failures in between; and
 * once fds are available again, every queued client is served. */
#define EMFILE_CLIENTS 8
START_TEST(test_emfile_logged_with_count) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_free_ char *first = NULL, *second = NULL;
        struct rlimit orig, cut;
        int fds[EMFILE_CLIENTS];
        unsigned long count = 0;
        const char *p;
        uint16_t port;

        start_echo(&d, 1, NULL, NULL, &port);
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &w));
        TD_ASSERT(d, prlimit(w[0], RLIMIT_NOFILE, NULL, &orig) == 0);
        cut = (struct rlimit) { .rlim_cur = 3, .rlim_max = orig.rlim_max };
        TD_ASSERT(d, prlimit(w[0], RLIMIT_NOFILE, &cut, NULL) == 0);

        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                char msg[32];

                snprintf(msg, sizeof msg, "client %zu", i);
                fds[i] = TD_OK(d, td_connect_tcp("127.0.0.1", port));
                TD_OK(d, td_write_all(fds[i], msg, strlen(msg), TD_TIMEOUT));
                TD_ASSERT(d, shutdown(fds[i], SHUT_WR) == 0);
        }

        TD_OK(d, td_wait_log(d, "accept failed", TD_TIMEOUT, &first));
        /* The next line comes an interval later. */
        TD_OK(d, td_wait_log(d, "accept failed", TD_SEC(60), &second));
        p = strstr(second, "accept failed ");
        TD_ASSERT_MSG(d, p && sscanf(p, "accept failed %lu time", &count) == 1,
                      "a line without a count of failures: '%s'", second);
        TD_ASSERT_MSG(d, count >= 2, "the second line counts %lu failure: '%s'", count, second);
        TD_ASSERT_MSG(d, strstr(first, "out of file descriptors, accept failed 1 time;"), "first line: '%s'", first);
        TD_ASSERT_MSG(d, td_log_count(d, "accept failed") == 2, "%zu lines about failed accepts",
                      td_log_count(d, "accept failed"));

        TD_ASSERT(d, prlimit(w[0], RLIMIT_NOFILE, &orig, NULL) == 0);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                char msg[32], buf[32];
                size_t len;

                len = (size_t) snprintf(msg, sizeof msg, "client %zu", i);
                TD_OK(d, td_read_exact(fds[i], buf, len, TD_TIMEOUT));
                TD_ASSERT_MSG(d, memcmp(buf, msg, len) == 0, "client %zu got other bytes back", i);
                TD_OK(d, td_wait_eof(fds[i], TD_TIMEOUT));
                safe_close(fds[i]);
        }
        assert_served_by(d, port, w[0]);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Defect 9, what can be seen from outside: every worker, the first
 * generation's and a reload's, reports readiness over an AF_UNIX
 * SOCK_SEQPACKET socket of its own end (not a shared pipe), and the
 * reload completes through it. The root suite checks that a report from
 * another process does not count and that a late one still does. */
START_TEST(test_readiness_is_seqpacket) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL, *now = NULL;
        _cleanup_free_ char *conf = NULL;
        uint16_t port;
        int n;

        start_echo(&d, 2, NULL, NULL, &port);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        for (int i = 0; i < n; i++) {
                int r = readiness_fd_of(w[i]);

                TD_ASSERT_MSG(d, r >= 3, "worker %d: no single SOCK_SEQPACKET socket: %s", (int) w[i], strerror(-r));
        }

        conf = echo_config(2, NULL, NULL);
        ck_assert_ptr_nonnull(conf);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_kill(d, SIGHUP));
        TD_OK(d, td_wait_log(d, "Reloaded: generation 2", TD_TIMEOUT, NULL));
        for (uint64_t deadline = td_now() + TD_TIMEOUT;; td_sleep(TD_MSEC(2))) {
                free(TAKE_PTR(now));
                n = td_workers(d, &now);
                if (n == 2 && !pid_in(w[0], now, n) && !pid_in(w[1], now, n))
                        break;
                TD_ASSERT_MSG(d, td_now() < deadline, "the old workers did not leave");
        }
        for (int i = 0; i < n; i++) {
                int r = readiness_fd_of(now[i]);

                TD_ASSERT_MSG(d, r >= 3, "new worker %d: no single SOCK_SEQPACKET socket: %s", (int) now[i],
                              strerror(-r));
        }
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* The wrapper's "sockets" mode: two listening TCP sockets on 127.0.0.1
 * port 0, passed as fds 3 and 4 named "used" and "spare", the way
 * systemd's socket activation passes them. */
_noreturn_ static void wrapper_sockets(char **daemon_argv) {
        static const char *const names[] = { "used", "spare" };

        for (int i = 0; i < 2; i++) {
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                socklen_t len = sizeof sa;
                int fd = socket(AF_INET, SOCK_STREAM, 0);

                if (fd != 3 + i)
                        wrapper_fail("socket() did not return the next fd");
                if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 16) < 0 ||
                    getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                        wrapper_fail("cannot listen on 127.0.0.1:0");
                fprintf(stderr, "regress wrapper: passing \"%s\" on port %u\n", names[i], ntohs(sa.sin_port));
        }
        {
                char pid[32];

                snprintf(pid, sizeof pid, "%d", (int) getpid());
                if (setenv("LISTEN_PID", pid, 1) < 0 || setenv("LISTEN_FDS", "2", 1) < 0 ||
                    setenv("LISTEN_FDNAMES", "used:spare", 1) < 0)
                        wrapper_fail("setenv");
        }
        execv(daemon_argv[0], daemon_argv);
        wrapper_fail(daemon_argv[0]);
}

static Suite *regressions_suite(void) {
        Suite *s = suite_create("regressions");

        TD_ADD_TEST(s, test_failed_reload_worker_sleeps);
        TD_ADD_TEST(s, test_failed_reload_keeps_nonblocking);
        TD_ADD_TEST(s, test_reload_log_level_reaches_new_workers);
        TD_ADD_TEST(s, test_worker_fds_exactly);
        TD_ADD_TEST(s, test_emfile_logged_with_count);
        TD_ADD_TEST(s, test_readiness_is_seqpacket);
        return s;
}

int main(int argc, char *argv[]) {
        wrapper_main(argc, argv, "sockets", wrapper_sockets);
        return td_run_suite(regressions_suite());
}
