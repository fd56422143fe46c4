/* SPDX-License-Identifier: MIT */
/* The control socket and preforkctl against the real daemon: every
 * command, in text and JSON; reload outcomes; scale, SIGTTIN and SIGTTOU;
 * drain; the metrics endpoint; malformed, slow and too many clients, after
 * which the daemon still answers and serves. */
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ctl.h"

static void start(TestDaemon **ret, unsigned workers, const char *service_extra, const char *top_extra,
                  uint16_t *ret_port) {
        _cleanup_free_ char *top = NULL;

        ck_assert(asprintf(&top, CTL_TOP "\n%s", top_extra ? top_extra : "") >= 0);
        start_echo(ret, workers, service_extra, top, ret_port);
}

/* Sends raw bytes on the control socket and returns the whole answer. */
static char *raw_request(TestDaemon *d, const char *bytes, size_t n) {
        _cleanup_free_ char *sock = td_subst(d, "@DIR@/control");
        _cleanup_close_ int fd = TD_OK(d, td_connect_unix(sock));
        char *answer = NULL;

        TD_OK(d, td_write_all(fd, bytes, n, TD_TIMEOUT));
        TD_OK(d, td_read_all(fd, 1 << 20, TD_TIMEOUT, &answer, NULL));
        return answer;
}

/* One HTTP request to the metrics port; the whole answer. */
static char *http_get(TestDaemon *d, int port, const char *request) {
        _cleanup_close_ int fd = TD_OK(d, td_connect_tcp("127.0.0.1", (uint16_t) port));
        char *answer = NULL;

        TD_OK(d, td_write_all(fd, request, strlen(request), TD_TIMEOUT));
        TD_OK(d, td_read_all(fd, 1 << 20, TD_TIMEOUT, &answer, NULL));
        return answer;
}

START_TEST(test_status_text_and_json) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int held = -EBADF;
        _cleanup_free_ pid_t *w = NULL;
        struct sockaddr_in local;
        socklen_t l = sizeof local;
        char peer[64], pidtext[32];
        CtlRun r;
        uint16_t port;
        int n;

        start(&d, 2, NULL, NULL, &port);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));

        /* A connection held open: its worker is busy with this peer. */
        held = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(held, "hold", 4, TD_TIMEOUT));
        TD_ASSERT(d, getsockname(held, (struct sockaddr *) &local, &l) == 0);
        snprintf(peer, sizeof peer, "127.0.0.1:%u", ntohs(local.sin_port));

        CTL(d, &r, "status");
        CTL_EXPECT(d, &r, 0);
        TD_ASSERT_MSG(d, strstr(r.out, "SERVICE") && strstr(r.out, "echo") && strstr(r.out, "2/2"),
                      "status:\n%s", r.out);
        for (int i = 0; i < n; i++) {
                snprintf(pidtext, sizeof pidtext, " %d ", (int) w[i]);
                TD_ASSERT_MSG(d, strstr(r.out, pidtext), "worker %d is not in the status:\n%s", (int) w[i], r.out);
        }
        TD_ASSERT_MSG(d, strstr(r.out, peer), "the busy worker's peer %s is not in the status:\n%s", peer, r.out);
        ctl_run_done(&r);

        CTL(d, &r, "status", "nosuch");
        CTL_EXPECT(d, &r, 1);
        TD_ASSERT_MSG(d, strstr(r.err, "no such service: nosuch"), "stderr: %s", r.err);
        ctl_run_done(&r);

        /* JSON (test-ctl-root checks it against the schema). */
        CTL(d, &r, "--json", "status", "echo");
        CTL_EXPECT(d, &r, 0);
        TD_ASSERT_MSG(d, strstr(r.out, "\"busy\":1,\"idle\":1"), "JSON: %s", r.out);
        TD_ASSERT_MSG(d, strstr(r.out, peer), "JSON has no peer %s: %s", peer, r.out);
        ctl_run_done(&r);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

START_TEST(test_reload_outcomes) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *good = NULL, *err = NULL;
        CtlRun r;

        start(&d, 2, NULL, NULL, NULL);
        CTL(d, &r, "reload");
        CTL_EXPECT(d, &r, 0);
        TD_ASSERT_MSG(d, strstr(r.out, "applied: generation 2"), "stdout: %s", r.out);
        ctl_run_done(&r);

        /* A broken file: refused, with the errors and their lines. */
        TD_OK(d, td_write_config(d, CTL_TOP "\nservices = ( { name = \"echo\"; listen = [ \"127.0.0.1:0\" ];\n"
                                            "  handler = \"echo\"; workers = 0; } );\n"));
        CTL(d, &r, "reload");
        CTL_EXPECT(d, &r, 1);
        err = td_subst(d, "@DIR@/preforkd.conf:3: services.[0].workers: must be between 1 and 4096");
        TD_ASSERT_MSG(d, strstr(r.err, "refused: the configuration has an error; still serving generation 2"),
                      "stderr: %s", r.err);
        TD_ASSERT_MSG(d, strstr(r.err, err), "the error with its line is not in stderr: %s", r.err);
        ctl_run_done(&r);
        TD_OK(d, td_wait_notify(d, "READY=1", TD_TIMEOUT, NULL));

        /* Still serving; a good file again is applied. */
        good = echo_config(1, NULL, CTL_TOP);
        TD_OK(d, td_write_config(d, good));
        CTL(d, &r, "reload");
        CTL_EXPECT(d, &r, 0);
        TD_ASSERT_MSG(d, strstr(r.out, "applied: generation 3"), "stdout: %s", r.out);
        ctl_run_done(&r);
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, NULL));

        CTL(d, &r, "--json", "status");
        CTL_EXPECT(d, &r, 0);
        TD_ASSERT_MSG(d, strstr(r.out, "\"reloads\":{\"applied\":2,\"refused\":1,\"rolled_back\":0}"), "JSON: %s",
                      r.out);
        ctl_run_done(&r);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Reload requests that arrive together all get the outcome of a reload
 * that began after they arrived; they do not start one reload each. All
 * connect first and then send, so that they arrive within microseconds;
 * a reload takes about a millisecond, so the first one may still finish
 * before the next request is read (then that one starts a second reload,
 * and the rest share a third). */
START_TEST(test_reload_concurrent) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *sock = NULL;
        int fds[6];
        unsigned applied = 0;

        start(&d, 1, NULL, NULL, NULL);
        sock = td_subst(d, "@DIR@/control");
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                fds[i] = TD_OK(d, td_connect_unix(sock));
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                TD_OK(d, td_write_all(fds[i], "reload\n", 7, TD_TIMEOUT));
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                _cleanup_free_ char *a = NULL;

                TD_OK(d, td_read_all(fds[i], 4096, TD_TIMEOUT, &a, NULL));
                TD_ASSERT_MSG(d, strncmp(a, "ok applied: generation ", 23) == 0, "answer %zu: %s", i, a);
                applied++;
                safe_close(fds[i]);
        }
        ck_assert_uint_eq(applied, ELEMENTSOF(fds));
        /* One reload per request would reach generation 7. */
        TD_ASSERT_MSG(d, !td_log_contains(d, "Reloaded: generation 7"), "a reload per request");
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

START_TEST(test_scale_and_reset) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        CtlRun r;
        uint16_t port;

        start(&d, 2, NULL, NULL, &port);
        CTL(d, &r, "scale", "echo", "4");
        CTL_EXPECT(d, &r, 0);
        TD_ASSERT_MSG(d, strstr(r.out, "echo: 4 workers until the next reload"), "stdout: %s", r.out);
        ctl_run_done(&r);
        TD_OK(d, td_wait_workers(d, 4, TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_status(d, (const char *[]) { "echo 4/4 up", NULL }, TD_TIMEOUT, NULL));

        CTL(d, &r, "scale", "echo", "1");
        CTL_EXPECT(d, &r, 0);
        ctl_run_done(&r);
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "echo[slot 3]: stopping worker", TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 1, TD_TIMEOUT));

        CTL(d, &r, "scale", "nosuch", "2");
        CTL_EXPECT(d, &r, 1);
        TD_ASSERT_MSG(d, strstr(r.err, "no such service: nosuch"), "stderr: %s", r.err);
        ctl_run_done(&r);
        CTL(d, &r, "scale", "echo", "0");
        CTL_EXPECT(d, &r, 2);
        ctl_run_done(&r);

        /* A reload gives the pool the file's size again. */
        CTL(d, &r, "reload");
        CTL_EXPECT(d, &r, 0);
        ctl_run_done(&r);
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, NULL));
        CTL(d, &r, "status");
        TD_ASSERT_MSG(d, strstr(r.out, "2/2"), "status after the reload:\n%s", r.out);
        ctl_run_done(&r);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

START_TEST(test_ttin_ttou) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port;

        start(&d, 1, NULL, NULL, &port);
        TD_OK(d, td_kill(d, SIGTTIN));
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, NULL));
        TD_OK(d, td_kill(d, SIGTTIN));
        TD_OK(d, td_wait_workers(d, 3, TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_status(d, (const char *[]) { "echo 3/3 up", NULL }, TD_TIMEOUT, NULL));
        /* One at a time: two of the same signal pending at once are
         * one. */
        TD_OK(d, td_kill(d, SIGTTOU));
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, NULL));
        TD_OK(d, td_kill(d, SIGTTOU));
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "pool scaled from 2 to 1 worker", TD_TIMEOUT, NULL));
        /* At one worker, TTOU logs and keeps it. */
        TD_OK(d, td_kill(d, SIGTTOU));
        TD_OK(d, td_wait_log(d, "echo: SIGTTOU: the pool has 1 worker, which it keeps", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 2, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

START_TEST(test_drain_undrain) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        CtlRun r;
        uint16_t port;

        start(&d, 1, NULL, NULL, &port);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        CTL(d, &r, "drain");
        CTL_EXPECT(d, &r, 0);
        TD_ASSERT_MSG(d, strstr(r.out, "drained: echo"), "stdout: %s", r.out);
        ctl_run_done(&r);
        TD_OK(d, td_wait_status(d, (const char *[]) { "draining", NULL }, TD_TIMEOUT, NULL));

        /* Drained still serves; status says when the last connection
         * ended. */
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 2, TD_TIMEOUT));
        CTL(d, &r, "--json", "status");
        TD_ASSERT_MSG(d, strstr(r.out, "\"state\":\"draining\"") && strstr(r.out, "\"drained\":true") &&
                                 strstr(r.out, "\"last_connection_end\":1"),
                      "JSON: %s", r.out);
        ctl_run_done(&r);
        CTL(d, &r, "status");
        TD_ASSERT_MSG(d, strstr(r.out, " yes ") && strstr(r.out, "s ago"), "status:\n%s", r.out);
        ctl_run_done(&r);

        CTL(d, &r, "undrain", "echo");
        CTL_EXPECT(d, &r, 0);
        ctl_run_done(&r);
        CTL(d, &r, "--json", "status");
        TD_ASSERT_MSG(d, strstr(r.out, "\"drained\":false"), "JSON: %s", r.out);
        ctl_run_done(&r);
        CTL(d, &r, "drain", "nosuch");
        CTL_EXPECT(d, &r, 1);
        ctl_run_done(&r);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* preforkctl metrics and GET /metrics: the same text (test-ctl-root runs
 * promtool on it). */
START_TEST(test_metrics) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *line = NULL;
        char *colon;
        CtlRun r;
        uint16_t port;
        int mport;

        start(&d, 2, NULL, "metrics_listen = \"127.0.0.1:0\";", &port);
        TD_OK(d, td_wait_log(d, "Metrics served on 127.0.0.1:", TD_TIMEOUT, &line));
        colon = strstr(line, "127.0.0.1:") + 10;
        mport = atoi(colon);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));

        CTL(d, &r, "metrics");
        CTL_EXPECT(d, &r, 0);
        TD_ASSERT_MSG(d, strstr(r.out, "preforkd_connections_total{service=\"echo\"} 1\n"), "metrics:\n%s", r.out);
        TD_ASSERT_MSG(d, strstr(r.out, "preforkd_pool_size{service=\"echo\"} 2\n"), "metrics:\n%s", r.out);
        TD_ASSERT_MSG(d, strstr(r.out, "preforkd_slot_up{service=\"echo\",slot=\"1\"} 1\n"), "metrics:\n%s", r.out);
        TD_ASSERT_MSG(d, strstr(r.out, "preforkd_kills_total{service=\"echo\",reason=\"scale\"} 0\n"),
                      "metrics:\n%s", r.out);
        ctl_run_done(&r);

        /* The same over HTTP; and what is not GET /metrics is refused. */
        {
                _cleanup_free_ char *ok = http_get(d, mport, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
                _cleanup_free_ char *head = http_get(d, mport, "HEAD /metrics HTTP/1.0\r\n\r\n");
                _cleanup_free_ char *other = http_get(d, mport, "GET /other HTTP/1.1\r\n\r\n");
                _cleanup_free_ char *post = http_get(d, mport, "POST /metrics HTTP/1.1\r\n\r\n");
                _cleanup_free_ char *bad = http_get(d, mport, "GET /metrics HTTP/9\r\n\r\n");

                TD_ASSERT_MSG(d, strncmp(ok, "HTTP/1.1 200 OK\r\n", 17) == 0 &&
                                         strstr(ok, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") &&
                                         strstr(ok, "Connection: close\r\n") &&
                                         strstr(ok, "\r\n\r\n# HELP preforkd_info ") &&
                                         strstr(ok, "preforkd_connections_total{service=\"echo\"} 1\n"),
                              "GET /metrics:\n%s", ok);
                TD_ASSERT_MSG(d, strncmp(head, "HTTP/1.1 200 OK\r\n", 17) == 0 && !strstr(head, "# HELP"),
                              "HEAD /metrics:\n%s", head);
                TD_ASSERT_MSG(d, strncmp(other, "HTTP/1.1 404 ", 13) == 0, "GET /other:\n%s", other);
                TD_ASSERT_MSG(d, strncmp(post, "HTTP/1.1 405 ", 13) == 0 && strstr(post, "Allow: GET, HEAD"),
                              "POST:\n%s", post);
                TD_ASSERT_MSG(d, strncmp(bad, "HTTP/1.1 400 ", 13) == 0, "bad version:\n%s", bad);
        }
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Garbage, an endless line, a client that sends half a request and waits,
 * a flood of idle connections: each gets its error or the busy answer or
 * is timed out, and meanwhile the daemon answers others and serves. */
START_TEST(test_malformed_and_hostile_clients) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *sock = NULL, *a = NULL, *b = NULL, *c = NULL, *big = NULL;
        int idle[80];
        size_t n_idle = 0, busy = 0;
        CtlRun r;
        uint16_t port;

        start(&d, 1, NULL, NULL, &port);
        sock = td_subst(d, "@DIR@/control");

        a = raw_request(d, "frobnicate\n", 11);
        TD_ASSERT_MSG(d, strcmp(a, "error malformed request: unknown command (status, metrics, reload, scale, "
                                   "drain, undrain, upgrade)\n") == 0,
                      "answer: %s", a);
        b = raw_request(d, "scale echo\x01 2\n", 14);
        TD_ASSERT_MSG(d, strncmp(b, "error malformed request: request contains a character", 53) == 0, "answer: %s",
                      b);
        big = malloc(4096);
        memset(big, 'x', 4096);
        c = raw_request(d, big, 4096);
        TD_ASSERT_MSG(d, strcmp(c, "error malformed request: request too long\n") == 0, "answer: %s", c);

        /* Half a request, and an idle flood past the connection limit:
         * those over it are told at once. */
        for (; n_idle < ELEMENTSOF(idle); n_idle++) {
                idle[n_idle] = td_connect_unix(sock);
                if (idle[n_idle] < 0)
                        break;
                if (n_idle == 0)
                        TD_OK(d, td_write_all(idle[0], "stat", 4, TD_TIMEOUT));
        }
        for (size_t i = 64; i < n_idle; i++) {
                _cleanup_free_ char *x = NULL;

                if (td_read_all(idle[i], 4096, TD_TIMEOUT, &x, NULL) >= 0 && strncmp(x, "error busy", 10) == 0)
                        busy++;
        }
        TD_ASSERT_MSG(d, busy > 0, "none of %zu connections over the limit was told it is busy", n_idle);
        /* The half request times out with its error. */
        {
                _cleanup_free_ char *x = NULL;

                TD_OK(d, td_read_all(idle[0], 4096, TD_SEC(20), &x, NULL));
                TD_ASSERT_MSG(d, strcmp(x, "error malformed request: timed out waiting for the request\n") == 0,
                              "answer: %s", x);
        }
        for (size_t i = 0; i < n_idle; i++)
                safe_close(idle[i]);

        /* Still answering and serving. */
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 3, TD_TIMEOUT));
        CTL(d, &r, "status");
        CTL_EXPECT(d, &r, 0);
        ctl_run_done(&r);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* The kernel's accept queue: with the only worker busy, connections wait
 * there, and status and metrics count them; the peak stays after they
 * were served. */
START_TEST(test_listen_queue) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int held = -EBADF;
        int queued[3];
        CtlRun r;
        uint16_t port;

        start(&d, 1, NULL, NULL, &port);
        held = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(held, "hold", 4, TD_TIMEOUT));
        for (size_t i = 0; i < ELEMENTSOF(queued); i++)
                queued[i] = TD_OK(d, td_connect_tcp("127.0.0.1", port));

        CTL(d, &r, "--json", "status");
        TD_ASSERT_MSG(d, strstr(r.out, "\"listen_queue\":{\"now\":3,\"peak\":3,\"backlog\":511}"), "JSON: %s",
                      r.out);
        ctl_run_done(&r);
        CTL(d, &r, "metrics");
        TD_ASSERT_MSG(d, strstr(r.out, "preforkd_listen_queue{service=\"echo\"} 3\n"), "metrics:\n%s", r.out);
        ctl_run_done(&r);

        /* Served: the queue empties, the peak stays. */
        held = safe_close(held);
        for (size_t i = 0; i < ELEMENTSOF(queued); i++) {
                TD_OK(d, td_echo_exchange(queued[i], "q", 1, TD_TIMEOUT));
                safe_close(queued[i]);
        }
        CTL(d, &r, "--json", "status");
        TD_ASSERT_MSG(d, strstr(r.out, "\"listen_queue\":{\"now\":0,\"peak\":3,"), "JSON: %s", r.out);
        ctl_run_done(&r);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* A socket file left by a daemon that died is replaced; a live daemon's is
 * not taken; the file goes at exit. */
START_TEST(test_socket_file_lifecycle) {
        _cleanup_(td_freep) TestDaemon *d = NULL, *d2 = NULL;
        _cleanup_free_ char *sock = NULL, *conf = NULL, *top = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        CtlRun r;
        int fd;

        TD_OK(NULL, td_new(&d));
        sock = td_subst(d, "@DIR@/control");
        /* A stale socket file: bound, never listening, closed. */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        strcpy(sa.sun_path, sock);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        safe_close(fd);

        conf = echo_config(1, NULL, CTL_TOP);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        CTL(d, &r, "status");
        CTL_EXPECT(d, &r, 0);
        ctl_run_done(&r);

        /* A second daemon on the same path runs without a socket. */
        TD_OK(NULL, td_new(&d2));
        ck_assert(asprintf(&top, "control_socket = \"%s\";", sock) >= 0);
        free(conf);
        conf = echo_config(1, NULL, top);
        TD_OK(d2, td_write_config(d2, conf));
        TD_OK(d2, td_start(d2, NULL));
        TD_OK(d2, td_wait_ready(d2, TD_TIMEOUT));
        TD_ASSERT(d2, td_log_contains(d2, "is held by another running preforkd"));
        stop_and_expect(d2, SIGTERM, 0);
        CTL(d, &r, "status");
        CTL_EXPECT(d, &r, 0);
        ctl_run_done(&r);

        stop_and_expect(d, SIGTERM, 0);
        TD_ASSERT_MSG(d, access(sock, F_OK) < 0 && errno == ENOENT, "%s is left after the exit", sock);
        CTL(d, &r, "status");
        CTL_EXPECT(d, &r, 3);
        ctl_run_done(&r);
}
END_TEST

int main(void) {
        Suite *s = suite_create("ctl");

        TD_ADD_TEST(s, test_status_text_and_json);
        TD_ADD_TEST(s, test_reload_outcomes);
        TD_ADD_TEST(s, test_reload_concurrent);
        TD_ADD_TEST(s, test_scale_and_reset);
        TD_ADD_TEST(s, test_ttin_ttou);
        TD_ADD_TEST(s, test_drain_undrain);
        TD_ADD_TEST(s, test_metrics);
        TD_ADD_TEST(s, test_malformed_and_hostile_clients);
        TD_ADD_TEST(s, test_listen_queue);
        TD_ADD_TEST(s, test_socket_file_lifecycle);
        return td_run_suite(s);
}
