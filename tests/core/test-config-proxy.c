/* SPDX-License-Identifier: MIT */
/* A service's load balancer keys: proxy_protocol, proxy_from,
 * proxy_timeout and agent_listen (src/core/config-proxy.c). */
#include <arpa/inet.h>
#include <check.h>

#include "testlib.h"
#include "config.h"
#include "macros.h"

#define SVC(extra)                                                                                           \
        "services = ( { name = \"e\"; listen = [\"127.0.0.1:0\"]; workers = 2; handler = \"echo\";\n" extra \
        " } );\n"

START_TEST(test_defaults) {
        _cleanup_(config_freep) Config *c = NULL;
        char **errors = NULL;

        ck_assert_int_eq(td_conf_load(SVC(""), &c, &errors), 0);
        ck_assert_int_eq(c->services[0].proxy.mode, PROXY_OFF);
        ck_assert_uint_eq(c->services[0].proxy.n_from, 0);
        ck_assert_uint_eq(c->services[0].proxy.timeout_usec, 5 * USEC_PER_SEC);
        ck_assert_ptr_null(c->services[0].proxy.agent_listen);
}
END_TEST

START_TEST(test_settings) {
        _cleanup_(config_freep) Config *c = NULL;
        char **errors = NULL;
        struct sockaddr_in sin = { .sin_family = AF_INET };

        ck_assert_int_eq(td_conf_load(SVC("proxy_protocol = \"v2\"; proxy_from = [ \"127.0.1.0/24\", \"::1\" ];\n"
                                          "proxy_timeout = 3.5; agent_listen = \"127.0.0.1:0\";"),
                                      &c, &errors),
                         0);
        ck_assert_int_eq(c->services[0].proxy.mode, PROXY_V2);
        ck_assert_uint_eq(c->services[0].proxy.n_from, 2);
        ck_assert_uint_eq(c->services[0].proxy.timeout_usec, 3500 * USEC_PER_MSEC);
        ck_assert_ptr_nonnull(c->services[0].proxy.agent_listen);
        ck_assert_str_eq(c->services[0].proxy.agent_listen_str, "127.0.0.1:0");
        inet_pton(AF_INET, "127.0.1.9", &sin.sin_addr);
        ck_assert(cidr_match_any(c->services[0].proxy.from, 2, (struct sockaddr *) &sin, sizeof sin));
        inet_pton(AF_INET, "127.0.2.9", &sin.sin_addr);
        ck_assert(!cidr_match_any(c->services[0].proxy.from, 2, (struct sockaddr *) &sin, sizeof sin));
        config_free(TAKE_PTR(c));

        /* One string for one range; "v1" and "any". */
        ck_assert_int_eq(td_conf_load(SVC("proxy_protocol = \"v1\"; proxy_from = \"10.0.0.0/8\";"), &c, &errors), 0);
        ck_assert_int_eq(c->services[0].proxy.mode, PROXY_V1);
        ck_assert_uint_eq(c->services[0].proxy.n_from, 1);
        config_free(TAKE_PTR(c));
        ck_assert_int_eq(td_conf_load(SVC("proxy_protocol = \"any\"; proxy_from = [];"), &c, &errors), 0);
        ck_assert_int_eq(c->services[0].proxy.mode, PROXY_ANY);
        ck_assert_uint_eq(c->services[0].proxy.n_from, 0);
}
END_TEST

START_TEST(test_errors) {
        td_conf_assert_error(SVC("proxy_protocol = \"v3\";"), 2, "services.[0].proxy_protocol",
                             "must be one of \"off\", \"v1\", \"v2\", \"any\"");
        td_conf_assert_error(SVC("proxy_protocol = true;"), 2, "services.[0].proxy_protocol", "must be one of");
        td_conf_assert_error(SVC("proxy_protocol = \"v2\"; proxy_timeout = 2.9;"), 2, "services.[0].proxy_timeout",
                             "must be between 3 and 3600 seconds");
        td_conf_assert_error(SVC("proxy_protocol = \"v2\"; proxy_timeout = \"5\";"), 2, "services.[0].proxy_timeout",
                             "must be a number of seconds");
        td_conf_assert_error(SVC("proxy_protocol = \"v2\";\nproxy_from = [ \"10.0.0.0/8\",\n \"10.1.0.0/8\" ];"), 4,
                             "services.[0].proxy_from.[1]",
                             "invalid address range \"10.1.0.0/8\": the address has bits set");
        td_conf_assert_error(SVC("proxy_protocol = \"v2\"; proxy_from = [ \"example.com\" ];"), 2,
                             "services.[0].proxy_from.[0]", "not an IPv4 or IPv6 address");
        td_conf_assert_error(SVC("proxy_protocol = \"v2\"; proxy_from = ( 10 );"), 2, "services.[0].proxy_from.[0]",
                             "must be a string");
        td_conf_assert_error(SVC("proxy_protocol = \"v2\"; proxy_from = 10;"), 2, "services.[0].proxy_from",
                             "must be an array of CIDR strings");
        /* Without a header to expect they would limit nothing. */
        td_conf_assert_error(SVC("proxy_from = [ \"10.0.0.0/8\" ];"), 2, "services.[0].proxy_from",
                             "has no effect with proxy_protocol = \"off\"");
        td_conf_assert_error(SVC("proxy_protocol = \"off\";\nproxy_timeout = 5;"), 3, "services.[0].proxy_timeout",
                             "has no effect with proxy_protocol = \"off\"");
        td_conf_assert_error(SVC("agent_listen = \"unix:/run/agent.sock\";"), 2, "services.[0].agent_listen",
                             "the agent check is TCP");
        td_conf_assert_error(SVC("agent_listen = \"127.0.0.1\";"), 2, "services.[0].agent_listen", "invalid address");
        td_conf_assert_error(SVC("agent_listen = 7007;"), 2, "services.[0].agent_listen", "must be a string");
        td_conf_assert_error("services = ( { name = \"e\"; listen = [\"127.0.0.1:7007\"]; workers = 1; handler = \"echo\";\n"
                             "  agent_listen = \"127.0.0.1:7007\"; } );\n", 2, "services.[0].agent_listen",
                             "127.0.0.1:7007 is also a listen address of service \"e\"");
        td_conf_assert_error("services = ( { name = \"a\"; listen = [\"127.0.0.1:0\"]; workers = 1; handler = \"echo\";\n"
                             "  agent_listen = \"127.0.0.1:7008\"; },\n"
                             "  { name = \"b\"; listen = [\"127.0.0.1:0\"]; workers = 1; handler = \"echo\";\n"
                             "  agent_listen = \"127.0.0.1:7008\"; } );\n", 4, "services.[1].agent_listen",
                             "duplicate agent_listen address 127.0.0.1:7008 (also in service \"a\")");
        td_conf_assert_error(SVC("proxy_protocols = \"v2\";"), 2, "services.[0].proxy_protocols", "unknown setting");
}
END_TEST

int main(void) {
        Suite *s = suite_create("config-proxy");
        TCase *tc = tcase_create("config-proxy");

        tcase_add_checked_fixture(tc, td_conf_setup, td_conf_teardown);
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_settings);
        tcase_add_test(tc, test_errors);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
