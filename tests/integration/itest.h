/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared bits of the core integration suites. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "testlib.h"

/* A config with one echo service named "echo" on 127.0.0.1:0. service_extra
 * is pasted into the service group, top_extra at the top level (both may be
 * NULL). The caller frees the result. */
/* The core's tests watch what a worker does with its connection, so their
 * services do not park (unless service_extra says otherwise); parking has
 * its own tests (test-park.c). */
static inline char *echo_config(unsigned workers, const char *service_extra, const char *top_extra) {
        const char *park = service_extra && strstr(service_extra, "park") ? "" : "park = { enabled = false; };";
        char *s;

        if (asprintf(&s,
                     "# written by the integration tests\n"
                     "%s\n"
                     "services = (\n"
                     "  {\n"
                     "    name = \"echo\";\n"
                     "    listen = [ \"127.0.0.1:0\" ];\n"
                     "    workers = %u;\n"
                     "    handler = \"echo\";\n"
                     "    %s %s\n"
                     "  }\n"
                     ");\n",
                     top_extra ? top_extra : "", workers, park, service_extra ? service_extra : "") < 0)
                return NULL;
        return s;
}

/* Writes echo_config(), starts the daemon, waits for READY=1 and returns the
 * echo port. */
static inline void start_echo(TestDaemon **ret, unsigned workers, const char *service_extra, const char *top_extra,
                              uint16_t *ret_port) {
        TestDaemon *d = NULL;
        char *conf;

        TD_OK(NULL, td_new(&d));
        *ret = d;
        conf = echo_config(workers, service_extra, top_extra);
        ck_assert_ptr_nonnull(conf);
        TD_OK(d, td_write_config(d, conf));
        free(conf);
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        if (ret_port)
                TD_OK(d, td_find_port(d, "echo", 0, ret_port));
}

/* Sanitizer builds: neither the master nor a worker reported anything. */
static inline void assert_no_sanitizer_report(TestDaemon *d) {
        TD_ASSERT_MSG(d, !td_log_contains(d, "AddressSanitizer"), "AddressSanitizer report in the daemon's output");
        TD_ASSERT_MSG(d, !td_log_contains(d, "LeakSanitizer"), "LeakSanitizer report in the daemon's output");
        TD_ASSERT_MSG(d, !td_log_contains(d, "runtime error:"), "UBSan report in the daemon's output");
}

/* Sends sig (none when 0), waits for the exit and asserts the exit code and
 * that nothing of the daemon's process group is left. */
static inline void stop_and_expect(TestDaemon *d, int sig, int expected_code) {
        int code = -1, r;

        if (sig != 0)
                TD_OK(d, td_kill(d, sig));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        TD_ASSERT_MSG(d, code == expected_code, "exit code %d, expected %d", code, expected_code);
        r = td_wait_group_gone(d, TD_TIMEOUT);
        TD_ASSERT_MSG(d, r == 0, "%d processes left in the daemon's group: %s", td_group_count(d), strerror(-r));
        TD_OK(d, td_wait_output_closed(d, TD_TIMEOUT));
        assert_no_sanitizer_report(d);
}

/* The daemon closes the TCP listener on port: soon no process of its group
 * holds it, and connecting is refused (unless another program has bound the
 * port since, which the holder count tells apart). */
static inline void expect_tcp_port_closed(TestDaemon *d, uint16_t port) {
        int r, c;

        r = td_wait_tcp_listener_closed(d, port, TD_TIMEOUT);
        TD_ASSERT_MSG(d, r == 0, "%d process(es) of the daemon still hold the listening socket on port %u: %s",
                      td_tcp_listener_holders(d, port), port, strerror(-r));
        c = td_connect_tcp("127.0.0.1", port);
        if (c >= 0) {
                safe_close(c);
                TD_ASSERT_MSG(d, td_tcp_listener_holders(d, port) == 0, "port %u still accepts connections", port);
        } else
                TD_ASSERT_MSG(d, c == -ECONNREFUSED, "connect to the closed port %u: %s", port, strerror(-c));
}

static inline bool pid_in(pid_t p, const pid_t *l, int n) {
        for (int i = 0; i < n; i++)
                if (l[i] == p)
                        return true;
        return false;
}

/* Waits for the RELOADING=1 ... READY=1 pair that follows a SIGHUP. */
static inline void hup_and_wait(TestDaemon *d) {
        TD_OK(d, td_kill(d, SIGHUP));
        TD_OK(d, td_wait_notify(d, "RELOADING=1", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_notify(d, "READY=1", TD_TIMEOUT, NULL));
}

/* hup_and_wait(), and the reload must have been applied as the given
 * generation: the master logs that before the READY=1 that ends the
 * reload, so a refused one fails at once. */
static inline void hup_expect_applied(TestDaemon *d, unsigned generation) {
        char what[64];

        hup_and_wait(d);
        snprintf(what, sizeof(what), "Reloaded: generation %u,", generation);
        TD_ASSERT_MSG(d, td_log_contains(d, what), "the reload to generation %u was not applied", generation);
}

/* Connects to listen_addr: "unix:PATH" or "HOST:PORT" as td_find_listen()
 * returns it. */
static inline int connect_addr(const char *listen_addr) {
        char host[256];
        const char *colon;

        if (strncmp(listen_addr, "unix:", 5) == 0)
                return td_connect_unix(listen_addr + 5);
        colon = strrchr(listen_addr, ':');
        if (!colon || (size_t) (colon - listen_addr) >= sizeof(host))
                return -EINVAL;
        memcpy(host, listen_addr, (size_t) (colon - listen_addr));
        host[colon - listen_addr] = 0;
        return td_connect_tcp(host, (uint16_t) atoi(colon + 1));
}

/* A reload keeps the listening socket of an unchanged listen address, and
 * with it the connections the kernel has queued on it: with the only
 * worker busy (no front stage to take its idle connection off it), clients
 * connect and send; then a reload; the new
 * generation's workers accept the queued connections and echo. A reload
 * that closed and bound the address again would reset them. listen is the
 * configured address ("@DIR@" allowed); the daemon is started here and
 * stopped at the end. */
#define N_QUEUED 5
static inline char *queued_config(const char *listen, unsigned workers) {
        char *s;

        if (asprintf(&s,
                     "shutdown_timeout = 60.0;\n"
                     "services = ( { name = \"echo\"; listen = [ \"%s\" ]; workers = %u; handler = \"echo\";\n"
                     "               idle_timeout = 600.0; park = { enabled = false; }; } );\n",
                     listen, workers) < 0)
                return NULL;
        return s;
}

static inline void queued_connections_survive_reload(TestDaemon *d, const char *listen, const TdStartOptions *opts) {
        _cleanup_free_ char *conf = NULL, *conf2 = NULL;
        _cleanup_close_ int hold = -EBADF;
        int queued[N_QUEUED];
        char addr[256];

        conf = queued_config(listen, 1);
        TD_ASSERT(d, conf);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, opts));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_listen(d, "echo", 0, addr, sizeof(addr), NULL));

        hold = TD_OK(d, connect_addr(addr));
        TD_OK(d, td_echo_exchange(hold, "hold", 4, TD_TIMEOUT));
        for (size_t i = 0; i < N_QUEUED; i++) {
                char buf[32];
                pid_t owner;

                queued[i] = TD_OK(d, connect_addr(addr));
                snprintf(buf, sizeof(buf), "queued %zu", i);
                TD_OK(d, td_write_all(queued[i], buf, strlen(buf), TD_TIMEOUT));
                /* Queued indeed: no worker has accepted it. */
                if (strncmp(addr, "unix:", 5) != 0)
                        TD_ASSERT(d, td_conn_owner(d, queued[i], &owner) == -ENOENT);
        }

        /* A new generation, on the same address: two workers now. */
        conf2 = queued_config(listen, 2);
        TD_ASSERT(d, conf2);
        TD_OK(d, td_write_config(d, conf2));
        hup_expect_applied(d, 2);

        for (size_t i = 0; i < N_QUEUED; i++) {
                char buf[32], got[32] = "";
                int r;

                snprintf(buf, sizeof(buf), "queued %zu", i);
                r = td_read_exact(queued[i], got, strlen(buf), TD_TIMEOUT);
                TD_ASSERT_MSG(d, r == 0 && memcmp(got, buf, strlen(buf)) == 0,
                              "queued connection %zu after the reload: %s", i, r < 0 ? strerror(-r) : "wrong echo");
                TD_ASSERT(d, shutdown(queued[i], SHUT_WR) == 0);
                TD_OK(d, td_wait_eof(queued[i], TD_TIMEOUT));
                safe_close(queued[i]);
        }
        /* The old worker still serves its connection, then leaves. */
        TD_OK(d, td_echo_exchange(hold, "still", 5, TD_TIMEOUT));
        TD_ASSERT(d, shutdown(hold, SHUT_WR) == 0);
        TD_OK(d, td_wait_eof(hold, TD_TIMEOUT));
        TD_OK(d, td_wait_log(d, "of generation 1 exited with status 0", TD_TIMEOUT, NULL));
        stop_and_expect(d, SIGTERM, 0);
}
