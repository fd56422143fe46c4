/* SPDX-License-Identifier: MIT */
/* IPv6 listeners: "[::1]:0" and "*:0". They need an IPv6 loopback, which
 * not every machine (or container) has: without one the executable exits
 * 77, so that meson reports the test as skipped instead of passed. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "itest.h"

static bool have_ipv6_loopback(void) {
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok = fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;

        safe_close(fd);
        return ok;
}

/* "[::1]:0" and "*:0" (one dual-stack socket: reachable over IPv4 and IPv6). */
START_TEST(test_ipv6_and_any) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        char addr[256];
        uint16_t p6, pany;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d,
                                 "services = (\n"
                                 "  { name = \"six\"; listen = [ \"[::1]:0\" ]; workers = 1; handler = \"echo\"; },\n"
                                 "  { name = \"any\"; listen = [ \"*:0\" ]; workers = 2; handler = \"echo\"; }\n"
                                 ");\n"));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_listen(d, "six", 0, addr, sizeof(addr), &p6));
        TD_ASSERT_MSG(d, strncmp(addr, "[::1]:", 6) == 0, "six listens on %s", addr);
        TD_OK(d, td_find_port(d, "any", 0, &pany));
        TD_ASSERT(d, td_find_port(d, "any", 1, NULL) == -ENOENT); /* one socket, not two */

        TD_OK(d, td_echo_roundtrip_tcp("::1", p6, 100000, 1, TD_TIMEOUT));
        TD_ASSERT(d, td_connect_tcp("127.0.0.1", p6) == -ECONNREFUSED);
        TD_OK(d, td_echo_roundtrip_tcp("::1", pany, 100000, 2, TD_TIMEOUT));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", pany, 100000, 3, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

int main(void) {
        Suite *s;

        if (!have_ipv6_loopback()) {
                fprintf(stderr, "SKIP: no IPv6 loopback (cannot bind [::1])\n");
                return TD_EXIT_SKIP;
        }
        s = suite_create("ipv6");
        TD_ADD_TEST(s, test_ipv6_and_any);
        return td_run_suite(s);
}
