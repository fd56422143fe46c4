/* SPDX-License-Identifier: MIT */
/* A service's load balancer keys: proxy_protocol, proxy_from,
 * proxy_timeout and agent_listen (src/core/config-proxy.c). */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "config.h"
#include "macros.h"

static char dir[] = "/tmp/preforkd-config-proxy-XXXXXX";
static char path[256];

static void setup(void) {
        strcpy(dir, "/tmp/preforkd-config-proxy-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/test.conf", dir);
}

static void teardown(void) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

static int load(const char *text, Config **ret, char ***ret_errors) {
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
        return config_load(path, ret, ret_errors);
}

static void assert_error(const char *text, unsigned line, const char *setting, const char *what) {
        Config *c = NULL;
        char **errors = NULL;

        ck_assert_int_eq(load(text, &c, &errors), -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_msg(td_errors_have(errors, path, line, setting, what), "no error '%s:%u: %s...%s'", path, line,
                      setting, what);
        strv_free(errors);
}

#define SVC(extra)                                                                                           \
        "services = ( { name = \"e\"; listen = [\"127.0.0.1:0\"]; workers = 2; handler = \"echo\";\n" extra \
        " } );\n"

START_TEST(test_defaults) {
        _cleanup_(config_freep) Config *c = NULL;
        char **errors = NULL;

        ck_assert_int_eq(load(SVC(""), &c, &errors), 0);
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

        ck_assert_int_eq(load(SVC("proxy_protocol = \"v2\"; proxy_from = [ \"127.0.1.0/24\", \"::1\" ];\n"
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
        ck_assert_int_eq(load(SVC("proxy_protocol = \"v1\"; proxy_from = \"10.0.0.0/8\";"), &c, &errors), 0);
        ck_assert_int_eq(c->services[0].proxy.mode, PROXY_V1);
        ck_assert_uint_eq(c->services[0].proxy.n_from, 1);
        config_free(TAKE_PTR(c));
        ck_assert_int_eq(load(SVC("proxy_protocol = \"any\"; proxy_from = [];"), &c, &errors), 0);
        ck_assert_int_eq(c->services[0].proxy.mode, PROXY_ANY);
        ck_assert_uint_eq(c->services[0].proxy.n_from, 0);
}
END_TEST

START_TEST(test_errors) {
        assert_error(SVC("proxy_protocol = \"v3\";"), 2, "services.[0].proxy_protocol",
                     "must be one of \"off\", \"v1\", \"v2\", \"any\"");
        assert_error(SVC("proxy_protocol = true;"), 2, "services.[0].proxy_protocol", "must be one of");
        assert_error(SVC("proxy_protocol = \"v2\"; proxy_timeout = 2.9;"), 2, "services.[0].proxy_timeout",
                     "must be between 3 and 3600 seconds");
        assert_error(SVC("proxy_protocol = \"v2\"; proxy_timeout = \"5\";"), 2, "services.[0].proxy_timeout",
                     "must be a number of seconds");
        assert_error(SVC("proxy_protocol = \"v2\";\nproxy_from = [ \"10.0.0.0/8\",\n \"10.1.0.0/8\" ];"), 4,
                     "services.[0].proxy_from.[1]", "invalid address range \"10.1.0.0/8\": the address has bits set");
        assert_error(SVC("proxy_protocol = \"v2\"; proxy_from = [ \"example.com\" ];"), 2, "services.[0].proxy_from.[0]",
                     "not an IPv4 or IPv6 address");
        assert_error(SVC("proxy_protocol = \"v2\"; proxy_from = ( 10 );"), 2, "services.[0].proxy_from.[0]",
                     "must be a string");
        assert_error(SVC("proxy_protocol = \"v2\"; proxy_from = 10;"), 2, "services.[0].proxy_from",
                     "must be an array of CIDR strings");
        /* Without a header to expect they would limit nothing. */
        assert_error(SVC("proxy_from = [ \"10.0.0.0/8\" ];"), 2, "services.[0].proxy_from",
                     "has no effect with proxy_protocol = \"off\"");
        assert_error(SVC("proxy_protocol = \"off\";\nproxy_timeout = 5;"), 3, "services.[0].proxy_timeout",
                     "has no effect with proxy_protocol = \"off\"");
        assert_error(SVC("agent_listen = \"unix:/run/agent.sock\";"), 2, "services.[0].agent_listen",
                     "the agent check is TCP");
        assert_error(SVC("agent_listen = \"127.0.0.1\";"), 2, "services.[0].agent_listen", "invalid address");
        assert_error(SVC("agent_listen = 7007;"), 2, "services.[0].agent_listen", "must be a string");
        assert_error("services = ( { name = \"e\"; listen = [\"127.0.0.1:7007\"]; workers = 1; handler = \"echo\";\n"
                     "  agent_listen = \"127.0.0.1:7007\"; } );\n",
                     2, "services.[0].agent_listen", "127.0.0.1:7007 is also a listen address of service \"e\"");
        assert_error("services = ( { name = \"a\"; listen = [\"127.0.0.1:0\"]; workers = 1; handler = \"echo\";\n"
                     "  agent_listen = \"127.0.0.1:7008\"; },\n"
                     "  { name = \"b\"; listen = [\"127.0.0.1:0\"]; workers = 1; handler = \"echo\";\n"
                     "  agent_listen = \"127.0.0.1:7008\"; } );\n",
                     4, "services.[1].agent_listen", "duplicate agent_listen address 127.0.0.1:7008 (also in service \"a\")");
        assert_error(SVC("proxy_protocols = \"v2\";"), 2, "services.[0].proxy_protocols", "unknown setting");
}
END_TEST

int main(void) {
        Suite *s = suite_create("config-proxy");
        TCase *tc = tcase_create("config-proxy");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_settings);
        tcase_add_test(tc, test_errors);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
