/* SPDX-License-Identifier: MIT */
/* sd_notify: READY/RELOADING/STOPPING sequence, STATUS=, WATCHDOG=. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "itest.h"

/* The READY=1 / RELOADING=1 / STOPPING=1 lines, in order, joined by ' '. */
static char *state_sequence(TestDaemon *d, pid_t master) {
        TdLine *l = NULL;
        size_t n = 0, len = 0;
        char *s;

        TD_OK(d, td_notify_all(d, &l, &n));
        s = calloc(1, 4096);
        ck_assert_ptr_nonnull(s);
        for (size_t i = 0; i < n; i++) {
                /* Everything on the socket comes from the master. */
                TD_ASSERT_MSG(d, l[i].pid == 0 || l[i].pid == master, "notify '%s' sent by pid %d, not the master %d",
                              l[i].text, (int) l[i].pid, (int) master);
                if (strcmp(l[i].text, "READY=1") == 0 || strcmp(l[i].text, "RELOADING=1") == 0 ||
                    strcmp(l[i].text, "STOPPING=1") == 0)
                        len += (size_t) snprintf(s + len, 4096 - len, "%s%s", len ? " " : "", l[i].text);
        }
        td_lines_free(l, n);
        return s;
}

/* Waits for a STATUS= line containing a and (unless NULL) b. */
static void wait_status(TestDaemon *d, const char *a, const char *b) {
        const char *const needles[] = { a, b, NULL };
        int r = td_wait_status(d, needles, TD_TIMEOUT, NULL);

        TD_ASSERT_MSG(d, r >= 0, "no STATUS= with '%s' and '%s': %s", a, b ? b : "", strerror(-r));
}

#define STRV(...) ((const char *const[]) { __VA_ARGS__, NULL })

static bool streq(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

/* The whole datagram that notify line idx came in must be want. */
static void expect_datagram(TestDaemon *d, int idx, const char *want) {
        _cleanup_free_ char *dg = NULL;

        TD_OK(d, td_notify_datagram(d, (size_t) idx, &dg));
        TD_ASSERT_MSG(d, streq(dg, want), "notification '%s', expected '%s'", dg, want);
}

/* ... must start with head and end with tail. */
static void expect_datagram_prefix(TestDaemon *d, int idx, const char *head, const char *tail) {
        _cleanup_free_ char *dg = NULL;
        size_t l, t = strlen(tail);

        TD_OK(d, td_notify_datagram(d, (size_t) idx, &dg));
        l = strlen(dg);
        TD_ASSERT_MSG(d, strncmp(dg, head, strlen(head)) == 0 && l >= t && strcmp(dg + l - t, tail) == 0,
                      "notification '%s', expected '%s...%s'", dg, head, tail);
}

START_TEST(test_notify_sequence) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *dg = NULL, *seq = NULL;
        const char *p;
        uint64_t before, after, mono = 0;
        pid_t master;
        uint16_t port;
        int idx, code = -1;

        start_echo(&d, 2, NULL, NULL, &port);
        master = td_pid(d);
        /* READY=1 means every listener is open and every worker started. */
        TD_ASSERT(d, td_workers(d, NULL) == 2);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));

        before = td_now();
        TD_OK(d, td_kill(d, SIGHUP));
        idx = TD_OK(d, td_wait_notify(d, "RELOADING=1", TD_TIMEOUT, NULL));
        after = td_now();
        TD_OK(d, td_notify_datagram(d, (size_t) idx, &dg));
        p = strstr(dg, "MONOTONIC_USEC=");
        TD_ASSERT_MSG(d, p, "RELOADING=1 without MONOTONIC_USEC= in the same message: '%s'", dg);
        TD_ASSERT_MSG(d, sscanf(p, "MONOTONIC_USEC=%" SCNu64, &mono) == 1, "cannot parse '%s'", dg);
        /* CLOCK_MONOTONIC is shared: the stamp lies between our two reads. */
        TD_ASSERT_MSG(d, mono >= before && mono <= after, "MONOTONIC_USEC=%" PRIu64 " not in [%" PRIu64 ", %" PRIu64 "]",
                      mono, before, after);
        TD_OK(d, td_wait_notify(d, "READY=1", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 2, TD_TIMEOUT));

        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_notify(d, "STOPPING=1", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        ck_assert_int_eq(code, 0);
        TD_OK(d, td_wait_output_closed(d, TD_TIMEOUT));

        seq = state_sequence(d, master);
        TD_ASSERT_MSG(d, strcmp(seq, "READY=1 RELOADING=1 READY=1 STOPPING=1") == 0, "notify sequence: %s", seq);
}
END_TEST

/* A refused reload also ends with READY=1, and STATUS= goes on. */
START_TEST(test_notify_refused_reload) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *seq = NULL;
        pid_t master;
        uint16_t port;
        int idx;

        start_echo(&d, 1, NULL, NULL, &port);
        master = td_pid(d);
        TD_OK(d, td_write_config(d, "services = 5;\n"));
        TD_OK(d, td_kill(d, SIGHUP));
        idx = TD_OK(d, td_wait_notify(d, "RELOADING=1", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_notify(d, "READY=1", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "Reload failed", TD_TIMEOUT, NULL));
        /* The status after the reload names the old pool again. */
        td_notify_set_cursor(d, (size_t) idx + 1);
        wait_status(d, "echo 1/1 up", NULL);
        stop_and_expect(d, SIGTERM, 0);
        TD_OK(d, td_wait_output_closed(d, TD_TIMEOUT));
        seq = state_sequence(d, master);
        TD_ASSERT_MSG(d, strcmp(seq, "READY=1 RELOADING=1 READY=1 STOPPING=1") == 0, "notify sequence: %s", seq);
}
END_TEST

/* STATUS= follows a killed worker and its replacement. */
START_TEST(test_status_restarts) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        uint16_t port;

        start_echo(&d, 2, "respawn = { min_uptime = 0.001; };", NULL, &port);
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        wait_status(d, "echo 2/2 up", "0 restarts");
        for (unsigned i = 0; i < 5; i++)
                TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, i, TD_TIMEOUT));

        TD_ASSERT(d, kill(w[0], SIGKILL) == 0);
        wait_status(d, "echo 2/2 up", "1 restart");
        TD_ASSERT(d, kill(w[1], SIGKILL) == 0);
        wait_status(d, "echo 2/2 up", "2 restarts");
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

START_TEST(test_status_counts_across_reload) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        uint16_t port;

        /* Counters belong to the service, not to a generation: a reload
         * must not reset what STATUS= reports. */
        start_echo(&d, 2, "respawn = { min_uptime = 0.001; };", NULL, &port);
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        for (unsigned i = 0; i < 3; i++)
                TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, i, TD_TIMEOUT));
        TD_ASSERT(d, kill(w[0], SIGKILL) == 0);
        wait_status(d, "echo 2/2 up, 3 conns", "1 restart");

        TD_ASSERT(d, kill(td_pid(d), SIGHUP) == 0);
        TD_OK(d, td_wait_log(d, "Reloaded: generation 2", TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 9, TD_TIMEOUT));
        wait_status(d, "echo 2/2 up, 4 conns", "1 restart");
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* The STATUS= texts, word for word, where systemctl status shows them: in
 * the datagram of READY=1 after the start and after each reload (which
 * names the reload and how it ended), with RELOADING=1 and STOPPING=1, and
 * on their own when a worker dies (a slot backing off says so). "other"
 * parks connections (the default), "echo" does not, so that both forms of
 * a service's summary show. */
START_TEST(test_status_texts) {
        static const char conf[] =
                "services = (\n"
                "  { name = \"echo\"; listen = [ \"127.0.0.1:0\" ]; workers = 1; handler = \"echo\";\n"
                "    park = { enabled = false; };\n"
                "    respawn = { min_uptime = 30.0; backoff_initial = 60.0; backoff_max = 60.0; burst = 0; }; },\n"
                "  { name = \"other\"; listen = [ \"127.0.0.1:0\" ]; workers = 1; handler = \"echo\"; }\n"
                ");\n";
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_free_ char *line = NULL;
        uint16_t port;
        int idx;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, NULL));
        idx = TD_OK(d, td_wait_notify(d, "READY=1", TD_TIMEOUT, NULL));
        expect_datagram(d, idx, "READY=1\nSTATUS=echo 1/1 up, 0 conns, 0 restarts; other 1/1 up, 0 conns, 0 restarts, 0 parked (0 idle, 0 reading, 0 sending)");
        TD_OK(d, td_find_port(d, "echo", 0, &port));
        for (unsigned i = 0; i < 3; i++)
                TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, i, TD_TIMEOUT));

        /* A dead worker that had served, replaced at once; its replacement
         * dies before serving, and the slot waits out a minute of backoff. */
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        {
                _cleanup_free_ pid_t *w2 = NULL;
                pid_t echo_worker = 0;
                _cleanup_close_ int fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));

                TD_OK(d, td_echo_exchange(fd, "x", 1, TD_TIMEOUT));
                TD_OK(d, td_conn_owner(d, fd, &echo_worker));
                TD_ASSERT(d, kill(echo_worker, SIGKILL) == 0);
                TD_OK(d, td_wait_workers_without(d, 2, &echo_worker, 1, TD_TIMEOUT, &w2));
                TD_ASSERT(d, kill(pid_in(w2[0], w, 2) ? w2[1] : w2[0], SIGKILL) == 0);
        }
        TD_OK(d, td_wait_status(d, STRV("backing off"), TD_TIMEOUT, &line));
        TD_ASSERT_MSG(d, streq(line, "STATUS=echo 0/1 up, 4 conns, 2 restarts (1 before serving), slot 0 backing off "
                                     "60.0s after 1 quick crash; other 1/1 up, 0 conns, 0 restarts, 0 parked (0 idle, "
                                     "0 reading, 0 sending)"),
                      "%s", line);

        /* A reload: announced, then applied with the new generation up. */
        TD_OK(d, td_kill(d, SIGHUP));
        idx = TD_OK(d, td_wait_notify(d, "RELOADING=1", TD_TIMEOUT, NULL));
        expect_datagram_prefix(d, idx, "RELOADING=1\nMONOTONIC_USEC=", "\nSTATUS=Reloading configuration");
        idx = TD_OK(d, td_wait_notify(d, "READY=1", TD_TIMEOUT, NULL));
        expect_datagram(d, idx, "READY=1\nSTATUS=echo 1/1 up, 4 conns, 2 restarts (1 before serving); other 1/1 up, "
                                "0 conns, 0 restarts, 0 parked (0 idle, 0 reading, 0 sending); reload #1 applied");

        /* A refused one. */
        TD_OK(d, td_write_config(d, "services = 5;\n"));
        TD_OK(d, td_kill(d, SIGHUP));
        TD_OK(d, td_wait_notify(d, "RELOADING=1", TD_TIMEOUT, NULL));
        idx = TD_OK(d, td_wait_notify(d, "READY=1", TD_TIMEOUT, NULL));
        expect_datagram(d, idx, "READY=1\nSTATUS=echo 1/1 up, 4 conns, 2 restarts (1 before serving); other 1/1 up, "
                                "0 conns, 0 restarts, 0 parked (0 idle, 0 reading, 0 sending); reload #2 refused");

        TD_OK(d, td_kill(d, SIGTERM));
        idx = TD_OK(d, td_wait_notify(d, "STOPPING=1", TD_TIMEOUT, NULL));
        expect_datagram(d, idx, "STOPPING=1\nSTATUS=Stopping");
        stop_and_expect(d, 0, 0);
}
END_TEST

START_TEST(test_watchdog_enabled) {
        static const char *const env[] = { "WATCHDOG_USEC=200000", "WATCHDOG_PID=@PID@", NULL };
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = echo_config(1, NULL, NULL);
        TdLine *l = NULL;
        size_t n = 0;
        pid_t master;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, &(TdStartOptions) { .env = env }));
        master = td_pid(d);
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        for (unsigned i = 0; i < 3; i++)
                TD_OK(d, td_wait_notify(d, "WATCHDOG=1", TD_TIMEOUT, NULL));
        TD_OK(d, td_notify_all(d, &l, &n));
        for (size_t i = 0; i < n; i++)
                TD_ASSERT_MSG(d, l[i].pid == 0 || l[i].pid == master, "'%s' from pid %d", l[i].text, (int) l[i].pid);
        td_lines_free(l, n);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* No WATCHDOG_USEC, or one meant for another process: no pings. The
 * daemon's own clock says when a 200 ms watchdog would have pinged a few
 * times: its idle_timeout of 1 s closes the test's connection; the barrier
 * then makes sure that whatever the master sent before has been read. */
static void no_watchdog(const char *const *env) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = echo_config(1, "idle_timeout = 1.0;", NULL);
        _cleanup_close_ int fd = -EBADF;
        uint16_t port;
        int r;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, &(TdStartOptions) { .env = env }));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, &port));
        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(fd, "tick", 4, TD_TIMEOUT));
        r = td_wait_eof(fd, TD_TIMEOUT);
        TD_ASSERT_MSG(d, r == 0 || r == -ECONNRESET, "idle connection: %s", strerror(-r));
        TD_OK(d, td_barrier(d, TD_TIMEOUT));
        td_notify_set_cursor(d, 0);
        TD_ASSERT_MSG(d, td_wait_notify(d, "WATCHDOG=1", 0, NULL) < 0, "WATCHDOG=1 sent without a watchdog");
        stop_and_expect(d, SIGTERM, 0);
}

START_TEST(test_watchdog_disabled) {
        no_watchdog(NULL);
}
END_TEST

START_TEST(test_watchdog_other_pid) {
        static const char *const env[] = { "WATCHDOG_USEC=200000", "WATCHDOG_PID=1", NULL };

        no_watchdog(env);
}
END_TEST

/* Defect 10: a service manager that does not read its notify socket. A
 * unix datagram socket queues only net.unix.max_dgram_qlen (10) messages;
 * a master that sends with a blocking sd_notify() then stops supervising.
 * Here the test binds the socket and reads nothing while it kills the
 * worker again and again: every kill must still be answered by a new
 * worker, and once the test reads, READY=1 is there. */
START_TEST(test_slow_notify_reader) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = NULL, *path = NULL, *env0 = NULL;
        _cleanup_close_ int sock = -EBADF;
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        const char *env[2] = { NULL, NULL };
        TdStartOptions opts = { .env = env, .no_notify = true };
        bool ready = false;
        uint16_t port;
        char buf[4096];

        TD_OK(NULL, td_new(&d));
        ck_assert_int_ge(asprintf(&path, "%s/slow-notify", td_dir(d)), 0);
        ck_assert_int_ge(asprintf(&env0, "NOTIFY_SOCKET=%s", path), 0);
        env[0] = env0;
        sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(sock, 0);
        ck_assert_uint_lt(strlen(path), sizeof un.sun_path);
        strcpy(un.sun_path, path);
        ck_assert_int_eq(bind(sock, (struct sockaddr *) &un, sizeof un), 0);

        conf = echo_config(1, "respawn = { min_uptime = 0.001; };", NULL);
        ck_assert_ptr_nonnull(conf);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, &opts));
        TD_OK(d, td_wait_log(d, "Ready: generation 1", TD_TIMEOUT, NULL));
        TD_OK(d, td_find_port(d, "echo", 0, &port));

        /* Three times the default queue length of STATUS= updates and
         * more: each exit and each readiness sends one. */
        for (unsigned i = 0; i < 30; i++) {
                _cleanup_free_ pid_t *w = NULL;
                pid_t old;

                TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &w));
                old = w[0];
                TD_ASSERT(d, kill(old, SIGKILL) == 0);
                TD_OK(d, td_wait_pid_gone(old, TD_TIMEOUT));
                TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 64, i, TD_TIMEOUT));
        }

        /* Now the manager reads: READY=1 was queued, not lost. */
        for (;;) {
                ssize_t n = recv(sock, buf, sizeof buf - 1, MSG_DONTWAIT);
                if (n < 0)
                        break;
                buf[n] = 0;
                if (strstr(buf, "READY=1"))
                        ready = true;
        }
        TD_ASSERT_MSG(d, ready, "READY=1 was not among the queued notifications");
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

static Suite *notify_suite(void) {
        Suite *s = suite_create("notify");

        TD_ADD_TEST(s, test_notify_sequence);
        TD_ADD_TEST(s, test_notify_refused_reload);
        TD_ADD_TEST(s, test_status_restarts);
        TD_ADD_TEST(s, test_status_counts_across_reload);
        TD_ADD_TEST(s, test_status_texts);
        TD_ADD_TEST(s, test_watchdog_enabled);
        TD_ADD_TEST(s, test_watchdog_disabled);
        TD_ADD_TEST(s, test_watchdog_other_pid);
        TD_ADD_TEST(s, test_slow_notify_reader);
        return s;
}

int main(void) {
        return td_run_suite(notify_suite());
}
