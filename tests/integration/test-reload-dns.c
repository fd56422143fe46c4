/* SPDX-License-Identifier: MIT */
/* A reload whose config names a host the resolver never answers for (issue
 * 7, defect 6): while the lookup hangs, the master keeps feeding the
 * watchdog and respawning workers; afterwards the reload is refused with the
 * resolver's error. A second SIGHUP meanwhile is queued, a stop cancels the
 * load.
 *
 * The DNS outage is real and private to this test: main() moves the test
 * process into new mount and network namespaces, where 127.0.0.1:53 is a UDP
 * socket that never answers and /etc/resolv.conf and /etc/nsswitch.conf are
 * bind-mounted copies that send every host lookup there. glibc then waits
 * timeout:3 × attempts:3, about 9 s, before it gives up, which is what the
 * master's loop must survive. The daemon is a child of the test process and
 * inherits both namespaces; nothing outside them changes.
 *
 * That needs root (unshare, mount). Without it, or where unshare() is not
 * allowed (a container without CAP_SYS_ADMIN, seccomp), the executable
 * exits 77, which meson counts as a skipped test. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "itest.h"

#define HANG_ADDRESS "preforkd-never-resolves.example:7000"
/* Long enough for the ~9 s the resolver waits, and then some. */
#define RESOLVER_TIMEOUT TD_SEC(60)
/* How many watchdog pings must arrive while the lookup hangs. */
#define N_PINGS 3

static const char *const watchdog_env[] = { "WATCHDOG_USEC=2000000", "WATCHDOG_PID=@PID@", NULL };

/* The DNS server that never answers: bound once, kept open, never read. */
static int dead_dns_fd = -EBADF;

static int write_text(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        size_t len = strlen(text);

        if (fd < 0 || write(fd, text, len) != (ssize_t) len)
                return negative_errno();
        return 0;
}

static int bind_dead_dns(void) {
        struct sockaddr_in sa = {
                .sin_family = AF_INET,
                .sin_port = htons(53),
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
        };

        dead_dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (dead_dns_fd < 0 || bind(dead_dns_fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return negative_errno();
        return 0;
}

/* Writes the two files into a temp dir, bind-mounts them over the real
 * ones, and removes the temp dir again: a mount keeps its source file alive
 * after the name is gone, so nothing is left behind however the test ends. */
static int mount_resolver_files(void) {
        const char *tmp = getenv("TMPDIR");
        char dir[256], resolv[300], nss[300];
        int r = 0;

        snprintf(dir, sizeof dir, "%s/preforkd-dns-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir))
                return negative_errno();
        snprintf(resolv, sizeof resolv, "%s/resolv.conf", dir);
        snprintf(nss, sizeof nss, "%s/nsswitch.conf", dir);
        if (write_text(resolv, "nameserver 127.0.0.1\noptions timeout:3 attempts:3\n") < 0 ||
            write_text(nss, "hosts: files dns\npasswd: files\ngroup: files\n") < 0 ||
            mount(resolv, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0 ||
            mount(nss, "/etc/nsswitch.conf", NULL, MS_BIND, NULL) < 0)
                r = negative_errno();
        (void) unlink(resolv);
        (void) unlink(nss);
        (void) rmdir(dir);
        return r;
}

/* Returns 0 once isolated, TD_EXIT_SKIP when this machine cannot isolate the
 * test, or EXIT_FAILURE when it should have and did not. */
static int isolate_dns(void) {
        int r;

        if (geteuid() != 0) {
                fprintf(stderr, "SKIP: needs root for unshare() and mount()\n");
                return TD_EXIT_SKIP;
        }
        if (unshare(CLONE_NEWNS | CLONE_NEWNET) < 0) {
                fprintf(stderr, "SKIP: unshare(CLONE_NEWNS | CLONE_NEWNET): %s\n", strerror(errno));
                return TD_EXIT_SKIP;
        }
        /* Otherwise the bind mounts below would propagate to the host's
         * mount namespace through shared mounts. */
        if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                fprintf(stderr, "making / private: %s\n", strerror(errno));
                return EXIT_FAILURE;
        }
        r = td_loopback_up();
        if (r < 0) {
                fprintf(stderr, "bringing up lo: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        r = bind_dead_dns();
        if (r < 0) {
                fprintf(stderr, "binding 127.0.0.1:53/udp: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        r = mount_resolver_files();
        if (r < 0) {
                fprintf(stderr, "bind-mounting /etc/resolv.conf and /etc/nsswitch.conf: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        return 0;
}

/* The echo service on 127.0.0.1:0 and, with hang, also on a host name that
 * never resolves. */
static char *config(unsigned workers, bool hang) {
        char *s;

        if (asprintf(&s,
                     "services = (\n"
                     "  { name = \"echo\"; listen = [ \"127.0.0.1:0\"%s ];\n"
                     "    workers = %u; handler = \"echo\"; }\n"
                     ");\n",
                     hang ? ", \"" HANG_ADDRESS "\"" : "", workers) < 0)
                return NULL;
        return s;
}

static void start(TestDaemon **ret, uint16_t *ret_port) {
        _cleanup_free_ char *conf = config(2, false);
        TestDaemon *d = NULL;

        ck_assert_ptr_nonnull(conf);
        TD_OK(NULL, td_new(&d));
        *ret = d;
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, &(TdStartOptions) { .env = watchdog_env }));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, ret_port));
}

/* Rewrites the config to the hanging one and sends SIGHUP; returns the
 * index of the RELOADING=1 that answers it. */
static int hup_into_hang(TestDaemon *d) {
        _cleanup_free_ char *conf = config(2, true);

        ck_assert_ptr_nonnull(conf);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_kill(d, SIGHUP));
        return TD_OK(d, td_wait_notify(d, "RELOADING=1", TD_TIMEOUT, NULL));
}

/* Waits for the STATUS= line that reports reload #n as `how`, searching
 * from notify line `from` on; returns its index. */
static int wait_reload_status(TestDaemon *d, size_t from, unsigned n, const char *how) {
        _cleanup_free_ char *want = NULL;

        TD_ASSERT(d, asprintf(&want, "reload #%u %s", n, how) >= 0);
        td_notify_set_cursor(d, from);
        for (;;) {
                _cleanup_free_ char *line = NULL;
                int i = TD_OK(d, td_wait_notify(d, "STATUS=", RESOLVER_TIMEOUT, &line));

                if (strstr(line, want))
                        return i;
        }
}

/* Waits until the killed worker old[0] is replaced: two workers, keep
 * (old[1]) and a new one, which is returned. */
static pid_t wait_replacement(TestDaemon *d, const pid_t *old, pid_t keep) {
        _cleanup_free_ pid_t *now = NULL;

        TD_OK(d, td_wait_workers_without(d, 2, old, 1, TD_TIMEOUT, &now));
        TD_ASSERT_MSG(d, pid_in(keep, now, 2), "worker %d was replaced too", (int) keep);
        return now[0] == keep ? now[1] : now[0];
}

/* Position of the first occurrence of what in the captured log, for
 * "this happened before that". */
static size_t log_position(TestDaemon *d, const char *what) {
        _cleanup_free_ char *log = td_log(d);
        const char *p;

        TD_ASSERT(d, log);
        p = strstr(log, what);
        TD_ASSERT_MSG(d, p, "'%s' is not in the log", what);
        return (size_t) (p - log);
}

START_TEST(test_hup_while_dns_hangs) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL, *after = NULL;
        _cleanup_free_ char *killed = NULL, *error = NULL;
        int pings[N_PINGS], reloading, refused, n;
        pid_t replacement;
        uint16_t port;

        start(&d, &port);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        TD_ASSERT(d, n == 2);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 1, TD_TIMEOUT));

        td_log_mark(d);
        reloading = hup_into_hang(d);

        /* While the loader waits for the resolver: a killed worker is
         * replaced, the service answers, the watchdog is fed. */
        TD_ASSERT(d, kill(w[0], SIGKILL) == 0);
        replacement = wait_replacement(d, w, w[1]);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 2, TD_TIMEOUT));
        for (unsigned i = 0; i < N_PINGS; i++)
                pings[i] = TD_OK(d, td_wait_notify(d, "WATCHDOG=1", TD_TIMEOUT, NULL));

        /* Then the resolver gives up and the reload is refused with its
         * error, naming the address. */
        TD_OK(d, td_wait_log(d, HANG_ADDRESS, RESOLVER_TIMEOUT, &error));
        TD_ASSERT_MSG(d, strstr(error, "host name does not resolve"), "unexpected error: %s", error);
        TD_OK(d, td_wait_log(d, "Reload failed", TD_TIMEOUT, NULL));
        refused = wait_reload_status(d, (size_t) reloading, 1, "refused");

        /* Everything above happened during the lookup, not after it: a
         * loop blocked in getaddrinfo() sends no ping between RELOADING=1
         * and the refusal, and reaps the killed worker only afterwards. */
        for (unsigned i = 0; i < N_PINGS; i++)
                TD_ASSERT_MSG(d, pings[i] < refused,
                              "WATCHDOG=1 #%u (notify line %d) came only after the reload ended (line %d): "
                              "the loop was blocked during the lookup",
                              i + 1, pings[i], refused);
        TD_ASSERT(d, asprintf(&killed, "worker %d killed by signal KILL", (int) w[0]) >= 0);
        TD_ASSERT_MSG(d, log_position(d, killed) < log_position(d, "Reload failed"),
                      "the killed worker %d was reaped only after the reload ended", (int) w[0]);

        /* The old generation serves on: the kept worker and the
         * replacement, nothing else. */
        n = TD_OK(d, td_workers(d, &after));
        TD_ASSERT_MSG(d, n == 2 && pid_in(w[1], after, n) && pid_in(replacement, after, n),
                      "workers after the refused reload are not %d and %d", (int) w[1], (int) replacement);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 3, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* SIGHUPs during a load are queued into one reload that follows it. */
START_TEST(test_hup_during_load_is_queued) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *good = config(3, false);
        int reloading;
        uint16_t port;

        ck_assert_ptr_nonnull(good);
        start(&d, &port);
        reloading = hup_into_hang(d);
        for (unsigned i = 0; i < 3; i++)
                TD_OK(d, td_kill(d, SIGHUP));
        TD_OK(d, td_wait_log(d, "it will follow", TD_TIMEOUT, NULL));

        /* The first load is refused, then exactly one more follows (the
         * same file, so refused again)... */
        reloading = TD_OK(d, td_wait_notify(d, "RELOADING=1", RESOLVER_TIMEOUT, NULL));
        wait_reload_status(d, (size_t) reloading, 2, "refused");
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 1, TD_TIMEOUT));

        /* ... and none after it: the next reload, of a good file, is #3. */
        TD_OK(d, td_write_config(d, good));
        TD_OK(d, td_kill(d, SIGHUP));
        wait_reload_status(d, td_notify_cursor(d), 3, "applied");
        TD_OK(d, td_wait_workers(d, 3, TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 2, TD_TIMEOUT));
        TD_ASSERT_MSG(d, td_log_count(d, "Reloading configuration from") == 3, "%zu reloads instead of 3",
                      td_log_count(d, "Reloading configuration from"));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* A stop during a load cancels it: the master stops at once and the
 * abandoned load never reports back. */
START_TEST(test_stop_during_load) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;

        start(&d, &port);
        (void) hup_into_hang(d);
        stop_and_expect(d, SIGTERM, 0);
        TD_ASSERT_MSG(d, !td_log_contains(d, "Reload failed") && !td_log_contains(d, HANG_ADDRESS),
                      "the cancelled load still reported back");
}
END_TEST

static Suite *reload_dns_suite(void) {
        Suite *s = suite_create("reload-dns");

        TD_ADD_TEST(s, test_hup_while_dns_hangs);
        TD_ADD_TEST(s, test_hup_during_load_is_queued);
        TD_ADD_TEST(s, test_stop_during_load);
        return s;
}

int main(void) {
        int r = isolate_dns();

        if (r != 0)
                return r;
        return td_run_suite(reload_dns_suite());
}
