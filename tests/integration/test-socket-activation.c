/* SPDX-License-Identifier: MIT */
/* Sockets passed the way systemd's socket activation passes them
 * (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES; TdStartOptions.listen_fds),
 * without systemd: taken by name ("systemd:NAME") or because a configured
 * address is the very address of a passed socket, kept across reloads,
 * never shut down, and a warning for one that no service uses. The test
 * binds the sockets itself on port 0, so the "fixed" port it configures is
 * its own: no race with parallel tests. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "itest.h"

/* A listening unix socket at path. */
static int listen_unix(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* Whether the daemon's group holds a socket with the inode of fd. */
static bool daemon_holds(TestDaemon *d, int fd) {
        _cleanup_free_ pid_t *w = NULL;
        struct stat st;
        char want[64];
        int n;

        TD_ASSERT(d, fstat(fd, &st) == 0);
        snprintf(want, sizeof(want), "socket:[%lu]", (unsigned long) st.st_ino);
        n = TD_OK(d, td_workers(d, &w));
        for (int i = -1; i < n; i++) {
                pid_t pid = i < 0 ? td_pid(d) : w[i];
                char path[64], link[128];

                for (int k = 3; k < 64; k++) {
                        ssize_t l;

                        snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int) pid, k);
                        l = readlink(path, link, sizeof(link) - 1);
                        if (l <= 0)
                                continue;
                        link[l] = 0;
                        if (strcmp(link, want) == 0)
                                return true;
                }
        }
        return false;
}

/* A configured address that is the address of a passed socket, TCP or
 * unix, takes that socket instead of binding: the fixed port survives
 * reloads, and the socket is neither shut down nor removed when the daemon
 * stops (systemd keeps it for the next start), so a client connecting then
 * is queued, not refused. */
START_TEST(test_adopt_by_address) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int lfd = -EBADF, ufd = -EBADF, queued = -EBADF, uqueued = -EBADF;
        _cleanup_free_ char *conf = NULL, *conf2 = NULL, *line = NULL, *path = NULL;
        int fds[2];
        uint16_t port;

        TD_OK(NULL, td_new(&d));
        lfd = TD_OK(d, td_listen_tcp(&port));
        path = td_subst(d, "@DIR@/adopted.sock");
        ufd = TD_OK(d, listen_unix(path));
        fds[0] = lfd;
        fds[1] = ufd;
        TD_ASSERT(d, asprintf(&conf, "services = ( { name = \"echo\"; listen = [ \"127.0.0.1:%u\", \"unix:%s\" ];\n"
                                     "               workers = 2; handler = \"echo\"; } );\n", port, path) >= 0);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, &(TdStartOptions) { .listen_fds = fds, .n_listen_fds = 2,
                                                 .listen_names = (const char *const[]) { "web", "local" } }));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_wait_log(d, "Listening on 127.0.0.1:", 0, &line));
        TD_ASSERT_MSG(d, strstr(line, "(service echo, socket passed by systemd as 127.0.0.1:"), "%s", line);
        TD_ASSERT(d, td_log_contains(d, "(service echo, socket passed by systemd as unix:"));
        TD_ASSERT(d, daemon_holds(d, lfd) && daemon_holds(d, ufd));
        TD_ASSERT_MSG(d, !td_log_contains(d, "not used by any service"), "a used socket was called unused");
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 10000, 1, TD_TIMEOUT));
        TD_OK(d, td_echo_roundtrip_unix(path, 10000, 2, TD_TIMEOUT));

        /* A reload keeps them (the port is taken: binding it would fail). */
        TD_ASSERT(d, asprintf(&conf2, "services = ( { name = \"echo\"; listen = [ \"127.0.0.1:%u\", \"unix:%s\" ];\n"
                                      "               workers = 3; handler = \"echo\"; } );\n", port, path) >= 0);
        TD_OK(d, td_write_config(d, conf2));
        hup_expect_applied(d, 2);
        TD_OK(d, td_wait_workers(d, 3, TD_TIMEOUT, NULL));
        TD_ASSERT(d, daemon_holds(d, lfd) && daemon_holds(d, ufd));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 10000, 3, TD_TIMEOUT));
        TD_OK(d, td_echo_roundtrip_unix(path, 10000, 4, TD_TIMEOUT));

        stop_and_expect(d, SIGTERM, 0);
        /* Still there, still listening: not shut down, not removed. */
        queued = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_write_all(queued, "x", 1, TD_TIMEOUT));
        TD_ASSERT_MSG(d, access(path, F_OK) == 0, "the passed socket's file %s was removed", path);
        uqueued = TD_OK(d, td_connect_unix(path));
}
END_TEST

/* "systemd:NAME" takes the socket passed with that name, also a unix one;
 * a passed socket no service uses is reported by name, once, and is left
 * alone. */
START_TEST(test_by_name_and_unused_warning) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_close_ int ufd = -EBADF, spare = -EBADF;
        int fds[2];
        uint16_t spare_port;

        TD_OK(NULL, td_new(&d));
        path = td_subst(d, "@DIR@/passed.sock");
        ufd = TD_OK(d, listen_unix(path));
        spare = TD_OK(d, td_listen_tcp(&spare_port));
        fds[0] = ufd;
        fds[1] = spare;
        TD_OK(d, td_write_config(d, "services = ( { name = \"echo\"; listen = [ \"systemd:main\" ]; workers = 2;\n"
                                    "               handler = \"echo\"; } );\n"));
        TD_OK(d, td_start(d, &(TdStartOptions) { .listen_fds = fds, .n_listen_fds = 2,
                                                 .listen_names = (const char *const[]) { "main", "spare" } }));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_wait_log(d, "Socket \"spare\" passed by systemd (fd 4) is not used by any service", 0, &line));
        TD_ASSERT(d, strstr(line, "<warning>"));
        TD_ASSERT(d, td_log_count(d, "not used by any service") == 1);
        TD_ASSERT(d, daemon_holds(d, ufd));
        TD_OK(d, td_echo_roundtrip_unix(path, 10000, 1, TD_TIMEOUT));

        /* The warning is the start's: a reload does not repeat it. */
        hup_expect_applied(d, 2);
        TD_OK(d, td_echo_roundtrip_unix(path, 10000, 2, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
        TD_ASSERT(d, td_log_count(d, "not used by any service") == 1);
        /* Neither socket was shut down or removed. */
        TD_ASSERT(d, access(path, F_OK) == 0);
        {
                _cleanup_close_ int c = TD_OK(d, td_connect_unix(path));
                _cleanup_close_ int c2 = TD_OK(d, td_connect_tcp("127.0.0.1", spare_port));
        }
}
END_TEST

int main(void) {
        Suite *s = suite_create("socket-activation");

        TD_ADD_TEST(s, test_adopt_by_address);
        TD_ADD_TEST(s, test_by_name_and_unused_warning);
        return td_run_suite(s);
}
