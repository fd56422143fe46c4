/* SPDX-License-Identifier: MIT */
/* The front stage (issue 9): idle keep-alive connections and slow request
 * heads are parked, so that they never pin a worker. Every test runs one
 * worker (W = 1) with timeouts so long that a worker pinned by a waiting
 * connection would make the test fail by its own timeout, never pass late. */
#include <check.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "http-client.h"

#define N_HELD 50

/* Sockets the front stage holds: its fds that are sockets, less its end
 * of the park channel. There is no event for "a connection was parked",
 * so this is polled, with a generous bound that only ends a hang. */
static int front_sockets(TestDaemon *d) {
        _cleanup_free_ pid_t *f = NULL;
        char path[64];
        struct dirent *de;
        DIR *dir;
        int n = 0;

        if (td_front_stages(d, &f) != 1)
                return -1;
        (void) snprintf(path, sizeof path, "/proc/%d/fd", (int) f[0]);
        dir = opendir(path);
        if (!dir)
                return -1;
        while ((de = readdir(dir))) {
                char link[320], target[64];
                ssize_t l;

                (void) snprintf(link, sizeof link, "%s/%s", path, de->d_name);
                l = readlink(link, target, sizeof target - 1);
                if (l > 0 && strncmp(target, "socket:", 7) == 0)
                        n++;
        }
        closedir(dir);
        return n - 1;
}

static void wait_parked(TestDaemon *d, int n) {
        uint64_t deadline = td_now() + TD_TIMEOUT;

        while (front_sockets(d) < n) {
                TD_ASSERT_MSG(d, td_now() < deadline, "the front stage holds %d connections, not %d", front_sockets(d), n);
                td_sleep(TD_MSEC(5));
        }
}

/* The front stage sleeps: it is seen in state S 50 times in a row, 2 ms
 * apart (after up to TD_TIMEOUT for the first time). A front stage that
 * polls something ready over and over is seen running. */
static void assert_front_sleeps(TestDaemon *d) {
        _cleanup_free_ pid_t *f = NULL;
        uint64_t deadline = td_now() + TD_TIMEOUT;
        unsigned asleep = 0;

        TD_ASSERT(d, td_front_stages(d, &f) == 1);
        while (asleep < 50) {
                _cleanup_free_ char *state = td_proc_status(f[0], "State");

                TD_ASSERT_MSG(d, state && (state[0] == 'S' || td_now() < deadline),
                              "the front stage is in state %s after %u looks in state S: it spins", state ? state : "?",
                              asleep);
                asleep = state[0] == 'S' ? asleep + 1 : 0;
                td_sleep(TD_MSEC(2));
        }
}

static void get_ok(TestDaemon *d, Client *c, const char *path, const char *body) {
        char req[256];
        Response r;

        (void) snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
        client_send(c, req);
        TD_ASSERT_MSG(d, client_read_response(c, false, &r) == 0, "no response to %s", path);
        TD_ASSERT_MSG(d, r.status == 200, "%s: status %u", path, r.status);
        TD_ASSERT(d, strcmp(r.body, body) == 0);
        response_done(&r);
}

/* 50 idle keep-alive connections (what a dozen browser tabs leave open)
 * and one worker: a new client is answered while they stay open, and each
 * of them still works afterwards. */
START_TEST(test_idle_keepalive_does_not_pin) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        Client held[N_HELD], fresh;
        uint16_t port;

        start_web(&d, 1, "keepalive_timeout = 600;", NULL, &port);
        for (unsigned i = 0; i < N_HELD; i++) {
                client_open(&held[i], port);
                get_ok(d, &held[i], "/a.txt", "hello world\n");
        }
        wait_parked(d, N_HELD);

        client_open(&fresh, port);
        get_ok(d, &fresh, "/style.css", "body{}\n");
        client_close(&fresh);

        for (unsigned i = 0; i < N_HELD; i++) {
                get_ok(d, &held[i], "/a.txt", "hello world\n");
                client_close(&held[i]);
        }
        assert_clean_log(d);
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
}
END_TEST

/* 50 slowloris connections, each with half a request head: a new client
 * is answered meanwhile, and the slow ones each get a 408 once
 * header_timeout has passed. */
START_TEST(test_slow_heads_do_not_pin) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        Client slow[N_HELD], fresh;
        uint16_t port;

        start_web(&d, 1, "header_timeout = 3; keepalive_timeout = 600;", NULL, &port);
        for (unsigned i = 0; i < N_HELD; i++) {
                client_open(&slow[i], port);
                client_send(&slow[i], "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        }
        wait_parked(d, N_HELD);

        client_open(&fresh, port);
        get_ok(d, &fresh, "/style.css", "body{}\n");
        client_close(&fresh);

        for (unsigned i = 0; i < N_HELD; i++) {
                Response r;
                int k;

                /* The receive timeout is longer than header_timeout. */
                k = client_read_response(&slow[i], false, &r);
                TD_ASSERT_MSG(d, k == 0 && r.status == 408, "slow head %u: %d, status %u", i, k, r.status);
                response_done(&r);
                TD_ASSERT(d, client_sees_eof(&slow[i]));
                client_close(&slow[i]);
        }
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
}
END_TEST

/* A head that is completed after it was parked is handed back with the
 * bytes the front stage gathered, and answered in order with what follows
 * it on the connection (pipelined). */
START_TEST(test_parked_head_completes_in_order) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        Client c;
        Response r;
        uint16_t port;

        start_web(&d, 1, "keepalive_timeout = 600;", NULL, &port);
        client_open(&c, port);
        client_send(&c, "GET /a.txt HTTP/1.1\r\nHo");
        wait_parked(d, 1);
        client_send(&c, "st: x\r\n\r\nGET /style.css HTTP/1.1\r\nHost: x\r\n\r\nGET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
        TD_OK(d, client_read_response(&c, false, &r));
        TD_ASSERT(d, r.status == 200 && strcmp(r.body, "hello world\n") == 0);
        response_done(&r);
        TD_OK(d, client_read_response(&c, false, &r));
        TD_ASSERT(d, r.status == 200 && strcmp(r.body, "body{}\n") == 0);
        response_done(&r);
        TD_OK(d, client_read_response(&c, false, &r));
        TD_ASSERT(d, r.status == 200 && strcmp(r.body, "<html>home</html>\n") == 0);
        response_done(&r);
        /* Idle again, parked again, and back once more. */
        wait_parked(d, 1);
        get_ok(d, &c, "/a.txt", "hello world\n");
        client_close(&c);
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
}
END_TEST

/* keepalive_timeout and keepalive_requests hold for parked connections. */
START_TEST(test_keepalive_limits_when_parked) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        Client idle, counted;
        Response r;
        uint16_t port;

        start_web(&d, 1, "keepalive_timeout = 1; keepalive_requests = 3;", NULL, &port);
        client_open(&idle, port);
        get_ok(d, &idle, "/a.txt", "hello world\n");
        wait_parked(d, 1);
        /* Closed by the front stage when keepalive_timeout has passed. */
        TD_ASSERT(d, client_sees_eof(&idle));
        client_close(&idle);

        client_open(&counted, port);
        for (unsigned i = 0; i < 2; i++) {
                get_ok(d, &counted, "/a.txt", "hello world\n");
                wait_parked(d, 1);
        }
        client_send(&counted, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        TD_OK(d, client_read_response(&counted, false, &r));
        TD_ASSERT(d, r.status == 200);
        TD_ASSERT_MSG(d, response_field(&r, "Connection") && strcmp(response_field(&r, "Connection"), "close") == 0,
                      "the third request on a connection with keepalive_requests = 3 must close it");
        response_done(&r);
        TD_ASSERT(d, client_sees_eof(&counted));
        client_close(&counted);
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
}
END_TEST

/* A front stage killed with -9: the connections it held are closed (as
 * documented), it is replaced, and parking goes on. */
START_TEST(test_front_stage_killed) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *f = NULL, *g = NULL;
        Client held[5], later;
        uint16_t port;

        start_web(&d, 1, "keepalive_timeout = 600;", NULL, &port);
        for (unsigned i = 0; i < ELEMENTSOF(held); i++) {
                client_open(&held[i], port);
                get_ok(d, &held[i], "/a.txt", "hello world\n");
        }
        wait_parked(d, (int) ELEMENTSOF(held));
        TD_ASSERT(d, td_front_stages(d, &f) == 1);
        TD_ASSERT(d, kill(f[0], SIGKILL) == 0);
        for (unsigned i = 0; i < ELEMENTSOF(held); i++) {
                TD_ASSERT(d, client_sees_eof(&held[i]));
                client_close(&held[i]);
        }
        TD_OK(d, td_wait_log(d, "connections it held were closed", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_pid_gone(f[0], TD_TIMEOUT));

        client_open(&later, port);
        get_ok(d, &later, "/a.txt", "hello world\n");
        wait_parked(d, 1);
        TD_ASSERT(d, td_front_stages(d, &g) == 1 && g[0] != f[0]);
        get_ok(d, &later, "/style.css", "body{}\n");
        client_close(&later);
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
}
END_TEST

/* A graceful stop closes held idle connections with a FIN, not a RST. */
START_TEST(test_stop_closes_held_gently) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        Client held[5];
        uint16_t port;
        int code = -1;

        start_web(&d, 1, "keepalive_timeout = 600;", NULL, &port);
        for (unsigned i = 0; i < ELEMENTSOF(held); i++) {
                client_open(&held[i], port);
                get_ok(d, &held[i], "/a.txt", "hello world\n");
        }
        wait_parked(d, (int) ELEMENTSOF(held));
        TD_OK(d, td_kill(d, SIGTERM));
        for (unsigned i = 0; i < ELEMENTSOF(held); i++) {
                TD_ASSERT_MSG(d, client_fill(&held[i]) == 0, "held connection %u: not a clean EOF", i);
                client_close(&held[i]);
        }
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        TD_ASSERT(d, code == 0);
}
END_TEST

/* Reloads under keep-alive traffic fail no request: idle connections wait
 * in the front stage while the generation changes, and a retiring worker
 * parks its connection instead of closing it. */
START_TEST(test_reload_loses_nothing) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        Client c[20];
        uint16_t port;

        start_web(&d, 2, "keepalive_timeout = 600; keepalive_requests = 100000;", NULL, &port);
        for (unsigned i = 0; i < ELEMENTSOF(c); i++)
                client_open(&c[i], port);
        for (unsigned round = 0; round < 30; round++) {
                for (unsigned i = 0; i < ELEMENTSOF(c); i++)
                        get_ok(d, &c[i], "/a.txt", "hello world\n");
                if (round % 10 == 5) {
                        char gen[64];

                        (void) snprintf(gen, sizeof gen, "Reloaded: generation %u", round / 10 + 2);
                        TD_OK(d, td_kill(d, SIGHUP));
                        /* Requests go on while the reload runs. */
                        for (unsigned i = 0; i < ELEMENTSOF(c); i++)
                                get_ok(d, &c[i], "/style.css", "body{}\n");
                        TD_OK(d, td_wait_log(d, gen, TD_TIMEOUT, NULL));
                }
        }
        for (unsigned i = 0; i < ELEMENTSOF(c); i++)
                client_close(&c[i]);
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
}
END_TEST

/* A client that reads a 64 MiB file slowly: the front stage finishes the
 * transfer, so the only worker answers others meanwhile; the file arrives
 * whole, and the connection goes on with its next request. */
START_TEST(test_slow_reader_does_not_pin) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        Client slow, fresh;
        Response r;
        char path[4096];
        int small = 4096, fd;
        uint16_t port;

        start_web(&d, 1, "keepalive_timeout = 600; send_timeout = 600;", NULL, &port);
        (void) snprintf(path, sizeof path, "%s/site/huge.bin", td_dir(d));
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        TD_ASSERT(d, fd >= 0 && ftruncate(fd, 64 * 1024 * 1024) == 0 && pwrite(fd, "END", 3, 64 * 1024 * 1024 - 3) == 3);
        close(fd);

        slow = (Client) { .fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) };
        TD_ASSERT(d, slow.fd >= 0);
        TD_ASSERT(d, setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        TD_ASSERT(d, connect(slow.fd, (struct sockaddr *) &sin, sizeof sin) == 0);
        client_send(&slow, "GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n");
        wait_parked(d, 1);

        client_open(&fresh, port);
        get_ok(d, &fresh, "/a.txt", "hello world\n");
        client_close(&fresh);

        TD_OK(d, client_read_response(&slow, false, &r));
        TD_ASSERT(d, r.status == 200 && r.body_len == 64 * 1024 * 1024);
        TD_ASSERT(d, memcmp(r.body + r.body_len - 3, "END", 3) == 0);
        response_done(&r);
        /* The connection waits for its next request in the front stage,
         * which waits for input now, not for room to send. */
        assert_front_sleeps(d);
        get_ok(d, &slow, "/a.txt", "hello world\n");
        client_close(&slow);
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
}
END_TEST

/* park.max_parked reached: a new idle connection gets Connection: close
 * with its response and a slow head a 408 at once (header_timeout is far
 * away), both counted in STATUS=. */
START_TEST(test_max_parked) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        Client held[3], extra, slow;
        Response r;
        uint16_t port;
        uint64_t deadline;

        start_web(&d, 1, "keepalive_timeout = 600; header_timeout = 600;", "park = { max_parked = 3; };", &port);
        for (unsigned i = 0; i < ELEMENTSOF(held); i++) {
                client_open(&held[i], port);
                get_ok(d, &held[i], "/a.txt", "hello world\n");
        }
        wait_parked(d, (int) ELEMENTSOF(held));

        client_open(&extra, port);
        client_send(&extra, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        TD_OK(d, client_read_response(&extra, false, &r));
        TD_ASSERT(d, r.status == 200);
        TD_ASSERT_MSG(d, response_field(&r, "Connection") && strcmp(response_field(&r, "Connection"), "close") == 0,
                      "a connection that cannot be parked must be closed after its response");
        response_done(&r);
        TD_ASSERT(d, client_sees_eof(&extra));
        client_close(&extra);

        client_open(&slow, port);
        client_send(&slow, "GET /a.txt HTTP/1.1\r\nHost: x\r\n");
        TD_OK(d, client_read_response(&slow, false, &r));
        TD_ASSERT(d, r.status == 408);
        response_done(&r);
        client_close(&slow);

        deadline = td_now() + TD_TIMEOUT;
        for (;;) {
                char *line = NULL;
                int k = td_wait_notify(d, "STATUS=", deadline > td_now() ? deadline - td_now() : 0, &line);

                TD_ASSERT_MSG(d, k >= 0, "no STATUS= with the refusals counted");
                if (strstr(line, "3 parked") && strstr(line, "not parked: full")) {
                        free(line);
                        break;
                }
                free(line);
        }
        for (unsigned i = 0; i < ELEMENTSOF(held); i++) {
                get_ok(d, &held[i], "/a.txt", "hello world\n");
                client_close(&held[i]);
        }
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
}
END_TEST

/* A head that goes wrong while parked (a TLS hello on the plain port) is
 * handed back at once and answered 400, not left to header_timeout. */
START_TEST(test_parked_broken_head) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        Client c;
        Response r;
        uint16_t port;

        start_web(&d, 1, "header_timeout = 600;", "defer_accept = false;", &port);
        client_open(&c, port);
        wait_parked(d, 1);
        client_send(&c, "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03");
        TD_OK(d, client_read_response(&c, false, &r));
        TD_ASSERT_MSG(d, r.status == 400, "status %u", r.status);
        response_done(&r);
        client_close(&c);
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
}
END_TEST

/* By default an http listener has TCP_DEFER_ACCEPT: a connection that
 * has sent nothing stays with the kernel, neither in a worker nor in the
 * front stage, until its first bytes, and is then served at once. */
START_TEST(test_silent_connect_deferred) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        Client c;
        uint16_t port;

        start_web(&d, 1, "header_timeout = 600;", NULL, &port);
        client_open(&c, port);
        td_sleep(TD_MSEC(300));
        TD_ASSERT_MSG(d, front_sockets(d) == 0, "the front stage holds %d connections", front_sockets(d));
        get_ok(d, &c, "/a.txt", "hello world\n");
        client_close(&c);
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
}
END_TEST

/* A parked connection whose client goes away while the worker that parked
 * it still holds its own copy of the socket (a test build's fault keeps
 * it 300 ms): the front stage closes it and lives on. Its epoll set must
 * forget the socket when the front stage lets it go, not when the last
 * copy anywhere is closed, or the socket's end of file goes on being
 * reported for a connection the front stage has freed. */
START_TEST(test_parked_closed_while_worker_holds) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        pid_t *front = NULL, *after = NULL;
        Client c, e;
        uint16_t port;

        start_web_with_fault(&d, "park-close-late", "keepalive_timeout = 600;", &port);
        TD_OK(d, td_wait_front_stages(d, 1, TD_TIMEOUT, &front));

        for (unsigned i = 0; i < 3; i++) {
                client_open(&c, port);
                get_ok(d, &c, "/a.txt", "hello world\n");
                wait_parked(d, 1);
                /* Gone while the worker still sleeps on its copy. */
                client_close(&c);
                td_sleep(TD_MSEC(400));
        }
        client_open(&e, port);
        get_ok(d, &e, "/a.txt", "hello world\n");
        client_close(&e);
        TD_ASSERT_MSG(d, td_front_stages(d, &after) == 1 && after[0] == front[0],
                      "the front stage did not survive its closed connections");
        TD_ASSERT_MSG(d, !td_log_contains(d, "killed by signal"),
                      "the front stage died");
        free(front);
        free(after);
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
}
END_TEST

/* STATUS= tells how many connections are parked. */
START_TEST(test_status_shows_parked) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        Client held[3];
        uint16_t port;
        uint64_t deadline;

        start_web(&d, 1, "keepalive_timeout = 600;", NULL, &port);
        for (unsigned i = 0; i < ELEMENTSOF(held); i++) {
                client_open(&held[i], port);
                get_ok(d, &held[i], "/a.txt", "hello world\n");
        }
        wait_parked(d, (int) ELEMENTSOF(held));
        /* STATUS= is refreshed on events and every few seconds. */
        deadline = td_now() + TD_TIMEOUT;
        for (;;) {
                char *line = NULL;
                int r = td_wait_notify(d, "STATUS=", deadline > td_now() ? deadline - td_now() : 0, &line);

                TD_ASSERT_MSG(d, r >= 0, "no STATUS= with 3 parked");
                if (strstr(line, "3 parked (3 idle, 0 reading, 0 sending)")) {
                        free(line);
                        break;
                }
                free(line);
        }
        for (unsigned i = 0; i < ELEMENTSOF(held); i++)
                client_close(&held[i]);
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
}
END_TEST

/* A hot keep-alive client: a request as soon as the last answer is in,
 * on one connection, until told to stop (or HOT_MAX_USEC, a bound that
 * only ends a hang). Plain socket calls: no check assertion in a thread. */
#define HOT_MAX_USEC TD_SEC(60)

typedef struct Hot {
        pthread_t thread;
        uint16_t port;
        atomic_bool stop;
        atomic_bool finished;
        atomic_ulong answered;
        int error;
} Hot;

static void *hot_main(void *userdata) {
        static const char req[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
        Hot *h = userdata;
        uint64_t end = td_now() + HOT_MAX_USEC;
        int fd = td_connect_tcp("127.0.0.1", h->port);

        if (fd < 0)
                h->error = fd;
        while (fd >= 0 && !atomic_load(&h->stop) && td_now() < end) {
                char buf[1024];
                size_t len = 0;

                if (td_write_all(fd, req, sizeof req - 1, TD_TIMEOUT) < 0) {
                        h->error = -EIO;
                        break;
                }
                /* Each answer ends with the file's body. */
                while (len < 12 || memcmp(buf + len - 12, "hello world\n", 12) != 0) {
                        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
                        if (n <= 0 || len + (size_t) n >= sizeof buf - 1) {
                                h->error = n < 0 ? -errno : -EPROTO;
                                break;
                        }
                        len += (size_t) n;
                }
                if (h->error != 0)
                        break;
                atomic_fetch_add(&h->answered, 1);
        }
        safe_close(fd);
        atomic_store(&h->finished, true);
        return NULL;
}

/* Waits until each of the N hot clients has had MORE answers past
 * BASE[i] (past none without BASE). */
static void wait_hot_answered(TestDaemon *d, Hot *hot, size_t n, const unsigned long *base, unsigned long more) {
        uint64_t deadline = td_now() + TD_TIMEOUT;

        for (size_t i = 0; i < n; i++)
                while (atomic_load(&hot[i].answered) < (base ? base[i] : 0) + more) {
                        TD_ASSERT_MSG(d, td_now() < deadline && !atomic_load(&hot[i].finished),
                                      "hot client %zu answered %lu times, %lu wanted (error %d)", i,
                                      atomic_load(&hot[i].answered), (base ? base[i] : 0) + more, hot[i].error);
                        td_sleep(TD_MSEC(5));
                }
}

/* Four hot keep-alive clients and one worker: each hot connection keeps
 * its worker only for a time slice while others wait, so all are served
 * in turn, and a new client is answered while they go on (the worker
 * takes a new connection and a handed-back one in turn, so the hot ones,
 * queued in the front stage, cannot keep the new one in the accept
 * queue). park.delay is long, so that a hot client is never
 * parked because a request of its came late on a busy machine: only the
 * time slice makes the worker let go. The slice is 5 ms, longer than the
 * default, so that the hot connections wait in the front stage long
 * enough for the order the worker takes them in to show. */
START_TEST(test_hot_keepalive_does_not_starve) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        Hot hot[4] = { { .port = 0 }, { .port = 0 }, { .port = 0 }, { .port = 0 } };
        Client fresh;
        unsigned long base[ELEMENTSOF(hot)];
        uint16_t port;

        start_web(&d, 1, "keepalive_timeout = 600; keepalive_requests = 100000000;", "park = { delay = 5.0; slice = 0.005; };", &port);
        for (unsigned i = 0; i < ELEMENTSOF(hot); i++) {
                hot[i].port = port;
                TD_ASSERT(d, pthread_create(&hot[i].thread, NULL, hot_main, &hot[i]) == 0);
        }
        /* Once every hot client has had an answer, all four were accepted
         * and the listen queue is empty: from then on only the hand-backs
         * waiting in the front stage tell the worker that others wait. A
         * fast machine can give a client a hundred answers within one
         * slice, so the hundred are counted from there, not from the
         * start, where a queued connect alone makes the worker yield. */
        wait_hot_answered(d, hot, ELEMENTSOF(hot), NULL, 1);
        for (unsigned i = 0; i < ELEMENTSOF(hot); i++)
                base[i] = atomic_load(&hot[i].answered);
        wait_hot_answered(d, hot, ELEMENTSOF(hot), base, 100);

        client_open(&fresh, port);
        get_ok(d, &fresh, "/style.css", "body{}\n");
        client_close(&fresh);
        for (unsigned i = 0; i < ELEMENTSOF(hot); i++)
                TD_ASSERT_MSG(d, !atomic_load(&hot[i].finished), "hot client %u stopped before the new one was answered: %d",
                              i, hot[i].error);

        for (unsigned i = 0; i < ELEMENTSOF(hot); i++) {
                atomic_store(&hot[i].stop, true);
                TD_ASSERT(d, pthread_join(hot[i].thread, NULL) == 0);
                TD_ASSERT_MSG(d, hot[i].error == 0, "hot client %u: %d", i, hot[i].error);
        }
        assert_clean_log(d);
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, NULL));
}
END_TEST

int main(void) {
        Suite *s = suite_create("http-park");

        TD_ADD_TEST(s, test_idle_keepalive_does_not_pin);
        TD_ADD_TEST(s, test_slow_heads_do_not_pin);
        TD_ADD_TEST(s, test_parked_head_completes_in_order);
        TD_ADD_TEST(s, test_keepalive_limits_when_parked);
        TD_ADD_TEST(s, test_front_stage_killed);
        TD_ADD_TEST(s, test_stop_closes_held_gently);
        TD_ADD_TEST(s, test_reload_loses_nothing);
        TD_ADD_TEST(s, test_status_shows_parked);
        TD_ADD_TEST(s, test_slow_reader_does_not_pin);
        TD_ADD_TEST(s, test_max_parked);
        TD_ADD_TEST(s, test_parked_broken_head);
        TD_ADD_TEST(s, test_silent_connect_deferred);
        TD_ADD_TEST(s, test_parked_closed_while_worker_holds);
        TD_ADD_TEST(s, test_hot_keepalive_does_not_starve);
        return td_run_suite(s);
}
