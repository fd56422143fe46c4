/* SPDX-License-Identifier: MIT */
/* handler = "exec", mode = "connection": inetd's way. cat as the program
 * is an echo server; a program sees the connection's addresses in
 * ucspi-tcp's variables; a service of W workers runs at most W programs
 * however many clients come; failed programs are counted; a worker whose
 * master was killed takes its program with it at the end of its bound. */
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "exec-test.h"
#include "time-util.h"

static uint16_t start_connection(TestDaemon **d, unsigned workers, const char *command) {
        _cleanup_free_ char *group = NULL, *conf = NULL;

        ck_assert_int_ge(asprintf(&group, "command = [ %s ]; mode = \"connection\";", command), 0);
        conf = exec_config(workers, group, NULL);
        ck_assert_ptr_nonnull(conf);
        return exec_start(d, conf);
}

START_TEST(test_cat_is_an_echo_server) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port = start_connection(&d, 2, "\"cat\"");

        for (unsigned i = 0; i < 5; i++)
                TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 200000, i, TD_TIMEOUT));
        TD_OK(d, td_wait_log(d, "exited with status 0", TD_TIMEOUT, NULL));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

START_TEST(test_program_reads_the_peer) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port = start_connection(
                &d, 2, "\"/bin/sh\", \"-c\", \"echo $PROTO $REMOTE_ADDR $REMOTE_PORT $TCPREMOTEIP $TCPREMOTEPORT "
                       "$LOCAL_ADDR $LOCAL_PORT $TCPLOCALPORT $PREFORKD_SERVICE\"");
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *got = NULL;
        struct sockaddr_in me;
        socklen_t len = sizeof me;
        char want[256];
        size_t n;

        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_ASSERT(d, getsockname(fd, (struct sockaddr *) &me, &len) == 0);
        TD_OK(d, td_read_all(fd, 4096, TD_TIMEOUT, &got, &n));
        snprintf(want, sizeof want, "TCP 127.0.0.1 %u 127.0.0.1 %u 127.0.0.1 %u %u app\n", ntohs(me.sin_port),
                 ntohs(me.sin_port), port, port);
        TD_ASSERT_MSG(d, strcmp(got, want) == 0, "got \"%s\", expected \"%s\"", got, want);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* A master killed outright: the worker serving a connection finishes it
 * until its own bound (shutdown_timeout and a second), and then takes its
 * program with it, here a shell and its cat that both ignore SIGTERM and
 * whose client stays connected. */
START_TEST(test_program_ends_with_its_worker_when_master_killed) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = NULL, *fast = NULL, *line = NULL;
        _cleanup_free_ pid_t *kids = NULL;
        _cleanup_close_ int fd = -EBADF;
        char got[4] = "";
        long program;
        uint16_t port;

        conf = exec_config(1,
                           "command = [ \"/bin/sh\", \"-c\", \"trap '' TERM; echo program=$$ >&2; cat\" ];"
                           " mode = \"connection\";",
                           NULL);
        ck_assert_ptr_nonnull(conf);
        fast = str_replace_all(conf, "shutdown_timeout = 10.0;", "shutdown_timeout = 1.0;");
        port = exec_start(&d, fast);
        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_write_all(fd, "hi\n", 3, TD_TIMEOUT));
        TD_OK(d, td_read_exact(fd, got, 3, TD_TIMEOUT));
        TD_OK(d, td_wait_log(d, "program=", TD_TIMEOUT, &line));
        TD_ASSERT(d, sscanf(strstr(line, "program="), "program=%ld", &program) == 1);
        TD_ASSERT_MSG(d, td_children((pid_t) program, &kids) == 1, "the shell has not one child, its cat");

        TD_OK(d, td_kill(d, SIGKILL));
        TD_OK(d, td_wait_pid_gone((pid_t) program, TD_TIMEOUT));
        TD_OK(d, td_wait_pid_gone(kids[0], TD_TIMEOUT));
}
END_TEST

/* The cat processes the daemon runs: children of its workers (which are
 * the master's children). */
static int count_programs(TestDaemon *d) {
        _cleanup_free_ pid_t *workers = NULL;
        int n = td_workers(d, &workers), count = 0;

        for (int i = 0; i < n; i++) {
                _cleanup_free_ pid_t *kids = NULL;
                int k = td_children(workers[i], &kids);
                count += MAX(k, 0);
        }
        return count;
}

/* 4W clients at once: W are served, the others wait in the listen queue
 * until a served one leaves. At no point do more than W programs run. */
START_TEST(test_at_most_w_programs) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        enum { W = 2, CLIENTS = 4 * W };
        uint16_t port = start_connection(&d, W, "\"cat\"");
        int fds[CLIENTS];
        bool served[CLIENTS] = { false }, closed[CLIENTS] = { false };
        unsigned n_served = 0, open_served = 0;

        for (unsigned i = 0; i < CLIENTS; i++) {
                char msg[16];

                fds[i] = TD_OK(d, td_connect_tcp("127.0.0.1", port));
                snprintf(msg, sizeof msg, "client %u\n", i);
                TD_OK(d, td_write_all(fds[i], msg, strlen(msg), TD_TIMEOUT));
        }
        while (n_served < CLIENTS) {
                struct pollfd p[CLIENTS];
                int r;

                for (unsigned i = 0; i < CLIENTS; i++)
                        p[i] = (struct pollfd) { .fd = served[i] ? -1 : fds[i], .events = POLLIN };
                /* With W held, give a program over the limit its chance to
                 * show before one is let go. */
                r = poll(p, CLIENTS, open_served < W ? (int) (TD_TIMEOUT / 1000) : 300);
                TD_ASSERT(d, r >= 0);
                for (unsigned i = 0; i < CLIENTS; i++)
                        if (p[i].revents & POLLIN) {
                                char want[16], got[16] = "";

                                snprintf(want, sizeof want, "client %u\n", i);
                                TD_OK(d, td_read_exact(fds[i], got, strlen(want), TD_TIMEOUT));
                                TD_ASSERT_MSG(d, memcmp(got, want, strlen(want)) == 0, "client %u got %s", i, got);
                                served[i] = true;
                                n_served++;
                                open_served++;
                        }
                TD_ASSERT_MSG(d, open_served <= W, "%u clients served at once by %u workers", open_served, W);
                TD_ASSERT_MSG(d, count_programs(d) <= W, "%d programs at once", count_programs(d));
                if (r == 0 || open_served == W) {
                        /* Let the first served one go: its cat ends, its
                         * worker takes the next. */
                        for (unsigned i = 0; i < CLIENTS; i++)
                                if (served[i] && !closed[i]) {
                                        fds[i] = safe_close(fds[i]);
                                        closed[i] = true;
                                        open_served--;
                                        break;
                                }
                }
        }
        for (unsigned i = 0; i < CLIENTS; i++)
                safe_close(fds[i]);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

START_TEST(test_failures_are_counted) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port = start_connection(&d, 1, "\"/bin/sh\", \"-c\", \"echo no >&2; exit 4\"");

        for (unsigned i = 0; i < 2; i++) {
                _cleanup_close_ int fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
                TD_OK(d, td_wait_eof(fd, TD_TIMEOUT));
                TD_OK(d, td_wait_log(d, "exited with status 4", TD_TIMEOUT, NULL));
        }
        /* Its stderr is the service's output, under its name. The line
         * travels through a pipe the master reads on its own schedule, so
         * it may be logged after the exit: wait for it. */
        uint64_t end = now_usec() + TD_TIMEOUT;
        while (td_log_count(d, "]: <info> no") < 2 && now_usec() < end)
                (void) usleep(10 * 1000);
        TD_ASSERT(d, td_log_count(d, "]: <info> no") == 2);
        TD_ASSERT(d, td_log_contains(d, "sh["));
        TD_OK(d, td_wait_status(d, (const char *const[]) { "2 program failures", NULL }, TD_TIMEOUT, NULL));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* A graceful stop lets a running program finish its connection. */
START_TEST(test_stop_finishes_the_connection) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port = start_connection(&d, 1, "\"cat\"");
        _cleanup_close_ int fd = -EBADF;

        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(fd, "before", 6, TD_TIMEOUT));
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_log(d, "Stopping gracefully", TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_exchange(fd, "after the stop", 14, TD_TIMEOUT));
        TD_ASSERT(d, shutdown(fd, SHUT_WR) == 0);
        TD_OK(d, td_wait_eof(fd, TD_TIMEOUT));
        stop_and_expect(d, 0, 0);
}
END_TEST

/* The cookbook's inetd example (conf/examples/inetd.conf). */
START_TEST(test_inetd_example) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = example_config("inetd.conf", "127.0.0.1:7000"), *got = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint16_t port;
        size_t n;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "hello", 0, &port));
        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_write_all(fd, "bye\n", 4, TD_TIMEOUT));
        TD_OK(d, td_read_all(fd, 4096, TD_TIMEOUT, &got, &n));
        TD_ASSERT_MSG(d, strcmp(got, "hello 127.0.0.1\nbye\n") == 0, "got \"%s\"", got);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("exec-connection");

        TD_ADD_TEST(s, test_cat_is_an_echo_server);
        TD_ADD_TEST(s, test_program_reads_the_peer);
        TD_ADD_TEST(s, test_at_most_w_programs);
        TD_ADD_TEST(s, test_program_ends_with_its_worker_when_master_killed);
        TD_ADD_TEST(s, test_failures_are_counted);
        TD_ADD_TEST(s, test_stop_finishes_the_connection);
        TD_ADD_TEST(s, test_inetd_example);
        return td_run_suite(s);
}
