/* SPDX-License-Identifier: MIT */
/* The echo service: data integrity under concurrency, half-close,
 * idle_timeout, max_requests, unix listeners. IPv6 is in test-ipv6.c. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>

#include "itest.h"

#define MiB ((size_t) 1024 * 1024)

typedef struct EchoJob {
        uint16_t port;
        unsigned seed;
        unsigned rounds;
        int result;
        size_t bytes;
} EchoJob;

static void *echo_job(void *userdata) {
        EchoJob *j = userdata;

        j->result = 0;
        for (unsigned i = 0; i < j->rounds; i++) {
                /* Payload sizes: the edges (0, 1, 4 MiB) and pseudo-random ones up to 4 MiB. */
                unsigned seed = j->seed * 100 + i;
                size_t len;

                switch ((j->seed + i) % 5) {
                case 0:
                        len = 4 * MiB;
                        break;
                case 1:
                        len = seed % 3;
                        break;
                default:
                        len = ((size_t) seed * 2654435761u) % (4 * MiB + 1);
                }
                j->result = td_echo_roundtrip_tcp("127.0.0.1", j->port, len, seed, TD_SEC(60));
                if (j->result < 0)
                        return NULL;
                j->bytes += len;
        }
        return NULL;
}

START_TEST(test_concurrent_echo) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        EchoJob jobs[8];
        pthread_t th[ELEMENTSOF(jobs)];
        uint16_t port;

        start_echo(&d, 4, NULL, NULL, &port);

        for (size_t i = 0; i < ELEMENTSOF(jobs); i++) {
                jobs[i] = (EchoJob) { .port = port, .seed = (unsigned) i + 1, .rounds = 5 };
                ck_assert_int_eq(pthread_create(&th[i], NULL, echo_job, &jobs[i]), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(jobs); i++)
                pthread_join(th[i], NULL);
        for (size_t i = 0; i < ELEMENTSOF(jobs); i++)
                TD_ASSERT_MSG(d, jobs[i].result == 0, "client %zu failed after %zu bytes: %s", i, jobs[i].bytes,
                              strerror(-jobs[i].result));

        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* The client sends everything, then shuts down its write side while the
 * echo is still on its way: the server must send the rest, then close. */
START_TEST(test_half_close) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ unsigned char *data = NULL, *got = NULL;
        size_t len = 3 * MiB, sent = 0, n = 0;
        bool shut = false;
        uint16_t port;

        start_echo(&d, 1, NULL, NULL, &port);

        data = malloc(len);
        got = malloc(len + 1);
        ck_assert_ptr_nonnull(data);
        ck_assert_ptr_nonnull(got);
        td_random_fill(data, len, 42);

        fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        ck_assert_int_ge(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN | (sent < len ? POLLOUT : 0) };
                ssize_t k;

                /* The timeout only bounds a hang: no progress at all. */
                TD_ASSERT_MSG(d, poll(&p, 1, (int) (TD_TIMEOUT / 1000)) > 0, "stuck: sent %zu, received %zu", sent, n);
                if (sent < len && (p.revents & POLLOUT)) {
                        k = send(fd, data + sent, len - sent, MSG_NOSIGNAL);
                        TD_ASSERT_MSG(d, k >= 0 || errno == EAGAIN, "send: %s", strerror(errno));
                        if (k > 0)
                                sent += (size_t) k;
                }
                if (sent == len && !shut) {
                        ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
                        shut = true;
                }
                if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
                        k = recv(fd, got + n, len + 1 - n, 0);
                        if (k < 0 && errno == EAGAIN)
                                continue;
                        TD_ASSERT_MSG(d, k >= 0, "recv after %zu bytes: %s", n, strerror(errno));
                        if (k == 0)
                                break;
                        n += (size_t) k;
                        TD_ASSERT_MSG(d, n <= len, "more came back than was sent");
                }
        }
        TD_ASSERT_MSG(d, shut, "EOF before the client shut down its side (after %zu bytes)", n);
        TD_ASSERT_MSG(d, n == len, "received %zu of %zu bytes before EOF", n, len);
        TD_ASSERT(d, memcmp(data, got, len) == 0);

        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* idle_timeout: a silent connection is closed; one that keeps talking is
 * not, however old it gets. The talking one is opened first and talks
 * until the daemon closes the silent one: by the daemon's own clock it is
 * then older than idle_timeout, and must still be served. The worker of
 * the silent one is free again afterwards. */
START_TEST(test_idle_timeout) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int talker = -EBADF, silent = -EBADF;
        pid_t talker_owner = 0, owner = 0;
        unsigned pings = 0;
        char buf[32];
        uint16_t port;
        int r;

        start_echo(&d, 2, "idle_timeout = 2.0;", NULL, &port);

        talker = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(talker, "hello", 5, TD_TIMEOUT));
        TD_OK(d, td_conn_owner(d, talker, &talker_owner));
        silent = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(silent, "quiet", 5, TD_TIMEOUT));

        /* The talker sends something every 0.1 s, twenty times as often as
         * idle_timeout, while it waits for the silent one to end. */
        for (;;) {
                struct pollfd p = { .fd = silent, .events = POLLIN };

                TD_ASSERT_MSG(d, pings < TD_TIMEOUT / TD_MSEC(100), "the silent connection was not closed (idle_timeout 2.0s)");
                if (poll(&p, 1, 100) > 0)
                        break;
                snprintf(buf, sizeof(buf), "ping %u", pings++);
                TD_OK(d, td_echo_exchange(talker, buf, strlen(buf), TD_TIMEOUT));
        }
        r = td_wait_eof(silent, TD_TIMEOUT);
        TD_ASSERT_MSG(d, r == 0 || r == -ECONNRESET, "silent connection: expected the server to close it, got %s",
                      strerror(-r));
        silent = safe_close(silent);

        /* The talking connection is still served by its worker, until it
         * says goodbye. */
        TD_OK(d, td_echo_exchange(talker, "bye", 3, TD_TIMEOUT));
        TD_OK(d, td_conn_owner(d, talker, &owner));
        TD_ASSERT(d, owner == talker_owner);
        TD_ASSERT(d, shutdown(talker, SHUT_WR) == 0);
        TD_OK(d, td_wait_eof(talker, TD_TIMEOUT));

        /* Both workers serve again. */
        for (unsigned i = 0; i < 4; i++)
                TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, i, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* max_requests = 3 with one worker: the third connection is served to its
 * end (even with a pause in the middle), then the worker exits cleanly and a
 * new pid takes the slot. A planned recycle is not a crash. */
START_TEST(test_max_requests) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w0 = NULL, *w1 = NULL;
        _cleanup_free_ char *exited = NULL;
        _cleanup_close_ int fd = -EBADF;
        unsigned char data[100000];
        uint16_t port;

        start_echo(&d, 1, "max_requests = 3; respawn = { min_uptime = 30.0; };", NULL, &port);
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &w0));

        for (unsigned round = 0; round < 2; round++) {
                pid_t owner = 0;

                for (unsigned i = 0; i < 2; i++)
                        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 5000, i, TD_TIMEOUT));

                fd = TD_OK(d, td_connect_tcp("127.0.0.1", port));
                td_random_fill(data, sizeof(data), 1);
                TD_OK(d, td_echo_exchange(fd, data, sizeof(data), TD_TIMEOUT));
                TD_OK(d, td_conn_owner(d, fd, &owner));
                TD_ASSERT_MSG(d, owner == (round == 0 ? w0[0] : w1[0]), "third connection served by %d", (int) owner);
                /* Still the same worker, still serving. */
                td_random_fill(data, sizeof(data), 2);
                TD_OK(d, td_echo_exchange(fd, data, sizeof(data), TD_TIMEOUT));
                {
                        pid_t again = 0;

                        TD_OK(d, td_conn_owner(d, fd, &again));
                        TD_ASSERT(d, again == owner);
                }
                TD_ASSERT(d, shutdown(fd, SHUT_WR) == 0);
                TD_OK(d, td_wait_eof(fd, TD_TIMEOUT));
                fd = safe_close(fd);

                /* The worker is recycled. */
                TD_OK(d, td_wait_pid_gone(owner, TD_TIMEOUT));
                if (asprintf(&exited, "worker %d exited with status 0", (int) owner) < 0)
                        exited = NULL;
                ck_assert_ptr_nonnull(exited);
                TD_OK(d, td_wait_log(d, exited, TD_TIMEOUT, NULL));
                free(exited);
                exited = NULL;

                free(w1);
                w1 = NULL;
                TD_OK(d, td_wait_workers_without(d, 1, &owner, 1, TD_TIMEOUT, &w1));
        }
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 5000, 99, TD_TIMEOUT));
        TD_ASSERT_MSG(d, !td_log_contains(d, "quick crash"), "a planned recycle was counted as a crash");
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

static void bind_stale_socket(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        /* Closed without unlink: a socket file nobody listens on. */
        safe_close(fd);
}

static const char unix_config[] =
        "services = (\n"
        "  { name = \"echo\"; listen = [ \"unix:@DIR@/echo.sock\" ];\n"
        "    workers = 2; handler = \"echo\"; }\n"
        ");\n";

START_TEST(test_unix_listener) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *path = NULL;
        struct stat st;
        char addr[256];

        TD_OK(NULL, td_new(&d));
        path = td_subst(d, "@DIR@/echo.sock");
        ck_assert_ptr_nonnull(path);
        TD_OK(d, td_write_config(d, unix_config));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_listen(d, "echo", 0, addr, sizeof(addr), NULL));
        TD_ASSERT_MSG(d, strncmp(addr, "unix:", 5) == 0 && strcmp(addr + 5, path) == 0, "logged address %s", addr);
        TD_ASSERT(d, stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
        /* Open to all whatever the umask: the directory decides access. */
        TD_ASSERT_MSG(d, (st.st_mode & 07777) == 0666, "socket mode %o", (unsigned) (st.st_mode & 07777));

        for (unsigned i = 0; i < 10; i++)
                TD_OK(d, td_echo_roundtrip_unix(path, i * 100000, i, TD_TIMEOUT));

        stop_and_expect(d, SIGTERM, 0);
        TD_ASSERT_MSG(d, access(path, F_OK) < 0, "the socket file %s was left behind after a clean stop", path);
}
END_TEST

START_TEST(test_unix_stale_socket_replaced) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *path = NULL;

        TD_OK(NULL, td_new(&d));
        path = td_subst(d, "@DIR@/echo.sock");
        ck_assert_ptr_nonnull(path);
        bind_stale_socket(path);
        TD_ASSERT(d, td_connect_unix(path) == -ECONNREFUSED);

        TD_OK(d, td_write_config(d, unix_config));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_echo_roundtrip_unix(path, 12345, 1, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* A regular file where the socket should go: an error naming the address,
 * exit 71, the file untouched. */
START_TEST(test_unix_not_a_socket) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *path = NULL, *msg = NULL, *contents = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t len = 0;
        int code = -1;

        TD_OK(NULL, td_new(&d));
        path = td_subst(d, "@DIR@/echo.sock");
        ck_assert_ptr_nonnull(path);
        TD_OK(d, td_write_file(d, "echo.sock", "precious data\n"));

        TD_OK(d, td_write_config(d, unix_config));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        TD_ASSERT_MSG(d, code == EX_OSERR, "exit code %d, expected %d", code, EX_OSERR);
        TD_OK(d, td_wait_output_closed(d, TD_TIMEOUT));
        msg = td_subst(d, "Failed to listen on unix:@DIR@/echo.sock");
        TD_OK(d, td_wait_log(d, msg, TD_TIMEOUT, NULL));
        TD_ASSERT(d, td_wait_notify(d, "READY=1", 0, NULL) < 0);

        fd = open(path, O_RDONLY | O_CLOEXEC);
        TD_ASSERT_MSG(d, fd >= 0, "the file in the way was removed: %s", strerror(errno));
        TD_OK(d, td_read_all(fd, 4096, TD_TIMEOUT, &contents, &len));
        TD_ASSERT(d, strcmp(contents, "precious data\n") == 0);
}
END_TEST

/* A live socket (someone listens on it) is not stolen. */
START_TEST(test_unix_live_socket_kept) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int lfd = -EBADF, cfd = -EBADF, afd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int code = -1;

        TD_OK(NULL, td_new(&d));
        path = td_subst(d, "@DIR@/echo.sock");
        ck_assert_ptr_nonnull(path);
        strcpy(sa.sun_path, path);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(lfd, 0);
        ck_assert_int_eq(bind(lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(lfd, 16), 0);

        TD_OK(d, td_write_config(d, unix_config));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        TD_ASSERT_MSG(d, code == EX_OSERR, "exit code %d, expected %d", code, EX_OSERR);
        TD_OK(d, td_wait_output_closed(d, TD_TIMEOUT));
        TD_ASSERT(d, td_log_contains(d, "Failed to listen on unix:"));

        /* Our socket still answers at the path. */
        cfd = TD_OK(d, td_connect_unix(path));
        afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        TD_ASSERT_MSG(d, afd >= 0, "the test's own socket at %s was replaced", path);
}
END_TEST

static Suite *echo_suite(void) {
        Suite *s = suite_create("echo");

        TD_ADD_TEST(s, test_concurrent_echo);
        TD_ADD_TEST(s, test_half_close);
        TD_ADD_TEST(s, test_idle_timeout);
        TD_ADD_TEST(s, test_max_requests);
        TD_ADD_TEST(s, test_unix_listener);
        TD_ADD_TEST(s, test_unix_stale_socket_replaced);
        TD_ADD_TEST(s, test_unix_not_a_socket);
        TD_ADD_TEST(s, test_unix_live_socket_kept);
        return s;
}

int main(void) {
        return td_run_suite(echo_suite());
}
