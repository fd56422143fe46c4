/* SPDX-License-Identifier: MIT */
/* request_timeout with the real daemon (preforkd-testing: preforkd plus the
 * test-only "testing" handler, whose "HANG" request never answers): a
 * worker busy on one request or connection past the timeout is killed
 * with SIGABRT and replaced at once, with PREFORKD_KILL_REASON=,
 * PREFORKD_REQUEST= and how long it was busy in the journal; idle and
 * keep-alive workers are never killed; past five kills a minute the
 * daemon alerts instead of killing. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "http/http-client.h"
#include "journal-itest.h"

/* Connects to port, sends what, and returns the socket once a worker has
 * read it; *ret_owner is that worker. */
static int send_to_worker(TestDaemon *d, uint16_t port, const char *what, pid_t *ret_owner) {
        int c = TD_OK(d, td_connect_tcp("127.0.0.1", port));

        TD_OK(d, td_write_all(c, what, strlen(what), TD_TIMEOUT));
        TD_OK(d, td_wait_conn_read(c, TD_TIMEOUT));
        TD_OK(d, td_conn_owner(d, c, ret_owner));
        return c;
}

/* A hung request: killed, and the journal says why, on what, for how
 * long; the exit record says it too; the other worker is left alone and
 * the slot refilled at once. */
START_TEST(test_hung_request_in_journal) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL, *after = NULL;
        _cleanup_close_ int j = -EBADF, c = -EBADF;
        JrRecord r = { .n = 0 };
        const JrField *f;
        char pid_s[16];
        uint16_t port;
        pid_t owner, other;
        unsigned long long busy;

        j = start_journal(&d,
                          "services = ( { name = \"t\"; listen = [ \"127.0.0.1:0\" ]; workers = 2;\n"
                          "  handler = \"testing\"; request_timeout = 1; } );\n",
                          &port);
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        c = send_to_worker(d, port, "HANG\n", &owner);
        other = owner == w[0] ? w[1] : w[0];
        snprintf(pid_s, sizeof pid_s, "%d", (int) owner);

        wait_record(d, j, "PREFORKD_KILL_REASON", "request_timeout", "PREFORKD_REQUEST", &r);
        expect_fields(d, &r,
                      (const char *const[]) { "PREFORKD_SERVICE", "PREFORKD_WORKER_PID", "PREFORKD_REQUEST",
                                              "PREFORKD_GENERATION", "PRIORITY", NULL },
                      (const char *const[]) { "t", pid_s, "HANG", "1", "4" });
        f = jr_get(&r, "PREFORKD_BUSY_USEC");
        TD_ASSERT_MSG(d, f && sscanf(f->value, "%llu", &busy) == 1 && busy >= 1000000, "PREFORKD_BUSY_USEC=%s",
                      f ? f->value : "(missing)");
        f = jr_get(&r, "MESSAGE");
        TD_ASSERT_MSG(d, f && strstr(f->value, "on \"HANG\", past request_timeout (1.000s): killing it"),
                      "MESSAGE=%s", f ? f->value : "-");
        jr_record_done(&r);

        wait_record(d, j, "PREFORKD_WORKER_PID", pid_s, "PREFORKD_EXIT_SIGNAL", &r);
        expect_fields(d, &r, (const char *const[]) { "PREFORKD_EXIT_SIGNAL", "PREFORKD_KILL_REASON", NULL },
                      (const char *const[]) { "SIGABRT", "request_timeout" });
        f = jr_get(&r, "MESSAGE");
        TD_ASSERT_MSG(d, f && strstr(f->value, "(killed: request_timeout) after ") &&
                                 strstr(f->value, "; replacing it at once"),
                      "MESSAGE=%s", f ? f->value : "-");
        jr_record_done(&r);

        TD_OK(d, td_wait_workers_without(d, 2, &owner, 1, TD_TIMEOUT, &after));
        TD_ASSERT_MSG(d, pid_in(other, after, 2), "the idle worker %d was replaced too", (int) other);
        TD_ASSERT(d, td_wait_eof(c, TD_TIMEOUT) != -ETIMEDOUT);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* echo has no requests: a connection that keeps its worker busy past the
 * timeout is killed, and the record names the client's address. */
START_TEST(test_echo_connection_names_peer) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int c = -EBADF;
        _cleanup_free_ char *line = NULL, *want = NULL;
        struct sockaddr_in self;
        socklen_t len = sizeof self;
        uint16_t port;
        pid_t owner;

        start_echo(&d, 1, "request_timeout = 1;", "log_level = \"debug\";", &port);
        c = send_to_worker(d, port, "x", &owner);
        TD_ASSERT(d, getsockname(c, (struct sockaddr *) &self, &len) == 0);
        TD_ASSERT(d, asprintf(&want, "worker %d busy for", (int) owner) >= 0);
        TD_OK(d, td_wait_log(d, want, TD_TIMEOUT, &line));
        free(want);
        TD_ASSERT(d, asprintf(&want, "on the connection of 127.0.0.1:%u, past request_timeout", ntohs(self.sin_port)) >= 0);
        TD_ASSERT_MSG(d, strstr(line, want), "%s", line);
        TD_OK(d, td_wait_log(d, "killed by signal ABRT", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "]: started worker ", TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* An http worker waiting for the next request of a keep-alive connection,
 * and an idle one, outlive the timeout; one reading a request head that
 * does not come is killed. The keep-alive worker went idle before the
 * slow head began, so had it counted as busy it would have been killed
 * first: one kill in the log, and the keep-alive connection still works. */
START_TEST(test_keepalive_and_idle_never_killed) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int slow = -EBADF;
        _cleanup_free_ pid_t *w = NULL;
        Client a;
        Response r;
        uint16_t port;
        pid_t a_owner, slow_owner, idle = 0;
        static const char get[] = "GET /f HTTP/1.1\r\nHost: x\r\n\r\n";

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_file(d, "f", "hello\n"));
        TD_OK(d, td_write_config(d, "services = ( { name = \"web\"; listen = [ \"127.0.0.1:0\" ]; workers = 3;\n"
                                    "  handler = \"http\"; request_timeout = 1; park = { enabled = false; };\n"
                                    "  http = { root = \".\"; keepalive_timeout = 600; header_timeout = 600; }; } );\n"));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "web", 0, &port));
        TD_OK(d, td_wait_workers(d, 3, TD_TIMEOUT, &w));

        client_open(&a, port);
        client_send(&a, get);
        TD_OK(d, client_read_response(&a, false, &r));
        TD_ASSERT_MSG(d, r.status == 200, "status %u", r.status);
        response_done(&r);
        TD_OK(d, td_conn_owner(d, a.fd, &a_owner));

        slow = send_to_worker(d, port, "GET / HTTP/1.1\r\n", &slow_owner);
        TD_ASSERT(d, slow_owner != a_owner);
        for (size_t i = 0; i < 3; i++)
                if (w[i] != a_owner && w[i] != slow_owner)
                        idle = w[i];
        TD_OK(d, td_wait_log(d, "past request_timeout (1.000s): killing it", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "killed by signal ABRT", TD_TIMEOUT, NULL));
        TD_OK(d, td_barrier(d, TD_TIMEOUT));
        TD_ASSERT_MSG(d, td_log_count(d, "past request_timeout") == 1, "more than the slow head was killed");
        TD_ASSERT(d, td_pid_alive(a_owner) && td_pid_alive(idle));

        client_send(&a, get);
        TD_OK(d, client_read_response(&a, false, &r));
        TD_ASSERT_MSG(d, r.status == 200, "status %u", r.status);
        response_done(&r);
        client_close(&a);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Five kills within a minute; the sixth hung worker is left alone, with an
 * error and a STATUS= alert. A stop still ends it (SIGKILL after
 * shutdown_timeout). */
START_TEST(test_kill_storm_cap) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        int conns[6];
        uint16_t port;
        pid_t owner;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, "log_level = \"debug\"; shutdown_timeout = 1;\n"
                                    "services = ( { name = \"t\"; listen = [ \"127.0.0.1:0\" ]; workers = 2;\n"
                                    "  handler = \"testing\"; request_timeout = 1; } );\n"));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "t", 0, &port));

        for (size_t i = 0; i < ELEMENTSOF(conns); i++) {
                _cleanup_free_ char *want = NULL;

                conns[i] = send_to_worker(d, port, "HANG\n", &owner);
                if (i == 5)
                        break;
                TD_ASSERT(d, asprintf(&want, "worker %d busy for", (int) owner) >= 0);
                TD_OK(d, td_wait_log(d, want, TD_TIMEOUT, NULL));
                free(want);
                TD_ASSERT(d, asprintf(&want, "worker %d killed by signal ABRT", (int) owner) >= 0);
                TD_OK(d, td_wait_log(d, want, TD_TIMEOUT, NULL));
        }
        TD_OK(d, td_wait_log(d, "past request_timeout, but not killed: 5 workers of the service were killed for it "
                                "within a minute (kill storm cap)",
                             TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_status(d, (const char *const[]) { "1 worker hung past request_timeout, not killed (kill storm cap)",
                                                            NULL },
                                TD_TIMEOUT, NULL));
        TD_OK(d, td_barrier(d, TD_TIMEOUT));
        TD_ASSERT(d, td_pid_alive(owner));
        TD_ASSERT_MSG(d, td_log_count(d, "killing it (SIGABRT") == 5, "%zu kills",
                      td_log_count(d, "killing it (SIGABRT"));
        stop_and_expect(d, SIGTERM, 0);
        for (size_t i = 0; i < ELEMENTSOF(conns); i++)
                safe_close(conns[i]);
}
END_TEST

int main(void) {
        Suite *s = suite_create("hang");

        /* SIGABRT would leave a core file of every killed worker. */
        (void) setrlimit(RLIMIT_CORE, &(struct rlimit) { 0, 0 });
        TD_ADD_TEST(s, test_hung_request_in_journal);
        TD_ADD_TEST(s, test_echo_connection_names_peer);
        TD_ADD_TEST(s, test_keepalive_and_idle_never_killed);
        TD_ADD_TEST(s, test_kill_storm_cap);
        return td_run_suite(s);
}
