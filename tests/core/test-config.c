/* SPDX-License-Identifier: MIT */
#include <check.h>

#include "testlib.h"
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "http_config.h"
#include "macros.h"

#define SVC(extra) "services = ( { name = \"e\"; listen = [\"127.0.0.1:0\"]; workers = 2; handler = \"echo\";" extra " } );\n"

START_TEST(test_valid_and_defaults) {
        _cleanup_(config_freep) Config *c = NULL;
        char **errors = NULL;
        char summary[128];

        ck_assert_int_eq(td_conf_load(SVC(""), &c, &errors), 0);
        ck_assert_ptr_null(errors);
        ck_assert_int_eq(c->n_services, 1);
        ck_assert_str_eq(c->services[0].name, "e");
        ck_assert_int_eq(c->services[0].workers, 2);
        ck_assert_int_eq(c->services[0].backlog, 511);
        ck_assert_str_eq(c->services[0].handler->name, "echo");
        ck_assert_uint_eq(c->services[0].max_requests, 0);
        ck_assert_uint_eq(c->services[0].idle_timeout_usec, 60 * USEC_PER_SEC);
        ck_assert_uint_eq(c->services[0].respawn.min_uptime_usec, USEC_PER_SEC);
        ck_assert_uint_eq(c->services[0].respawn.backoff_initial_usec, 100 * USEC_PER_MSEC);
        ck_assert_uint_eq(c->services[0].respawn.backoff_max_usec, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c->shutdown_timeout_usec, 10 * USEC_PER_SEC);
        ck_assert_int_eq(c->log_level, 6);
        ck_assert_ptr_null(c->user);
        ck_assert_int_eq(config_summary(c, summary, sizeof summary), 0);
        ck_assert_str_eq(summary, "1 service, 1 listener, 2 workers");
}
END_TEST

START_TEST(test_full_settings) {
        _cleanup_(config_freep) Config *c = NULL;

        ck_assert_int_eq(td_conf_load("log_level = \"debug\";\nshutdown_timeout = 2.5;\nuser = \"root\";\ngroup = \"root\";\n"
                                      "services = ( { name = \"a-b_1\"; listen = [\"127.0.0.1:0\", \"unix:rel.sock\"];"
                                      " backlog = 16; workers = 3; handler = \"echo\"; max_requests = 100; idle_timeout = 5;"
                                      " defer_accept = true;"
                                      " respawn = { min_uptime = 0.5; backoff_initial = 1; backoff_max = 2.0; }; } );\n",
                                      &c, NULL),
                         0);
        ck_assert_int_eq(c->log_level, 7);
        ck_assert_uint_eq(c->shutdown_timeout_usec, 2500000);
        ck_assert_uint_eq(c->uid, 0);
        ck_assert_uint_eq(c->gid, 0);
        const ServiceConfig *s = config_find_service(c, "a-b_1");
        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq(s->backlog, 16);
        ck_assert_uint_eq(s->max_requests, 100);
        ck_assert_uint_eq(s->idle_timeout_usec, 5 * USEC_PER_SEC);
        ck_assert(s->defer_accept);
        ck_assert_uint_eq(s->respawn.min_uptime_usec, 500000);
        ck_assert_uint_eq(s->respawn.backoff_initial_usec, 1000000);
        ck_assert_uint_eq(s->respawn.backoff_max_usec, 2000000);
        ck_assert_int_eq(s->n_listen, 2);
        /* Relative paths resolve against the config file's directory. */
        char expect[300], got[300];
        snprintf(expect, sizeof expect, "unix:%s/rel.sock", td_conf_dir());
        ck_assert_int_eq(listen_format(&s->listen[1], got, sizeof got), 0);
        ck_assert_str_eq(got, expect);
        ck_assert_ptr_null(config_find_service(c, "nope"));
}
END_TEST

static int cmp_gid(const void *a, const void *b) {
        gid_t x = *(const gid_t *) a, y = *(const gid_t *) b;

        return x < y ? -1 : x > y;
}

/* The groups initgroups(user, gid) would set, found the long way: gid and
 * every group that lists user as a member (getgrent(), not getgrouplist(),
 * which config.c uses). Sorted, without duplicates; returns their number. */
static size_t groups_of(const char *user, gid_t gid, gid_t *ret, size_t max) {
        const struct group *g;
        size_t n = 0;

        ret[n++] = gid;
        setgrent();
        while ((g = getgrent()))
                for (char **m = g->gr_mem; m && *m; m++)
                        if (strcmp(*m, user) == 0) {
                                ck_assert_uint_lt(n, max);
                                ret[n++] = g->gr_gid;
                                break;
                        }
        endgrent();
        qsort(ret, n, sizeof(gid_t), cmp_gid);
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (k == 0 || ret[k - 1] != ret[i])
                        ret[k++] = ret[i];
        return k;
}

/* The supplementary groups are looked up at parse time (a worker must not
 * call into NSS) and are exactly what initgroups() would set. */
static void assert_groups_like_initgroups(const char *text, const char *user) {
        _cleanup_(config_freep) Config *c = NULL;
        gid_t got[256], want[256];
        size_t n;

        ck_assert_int_eq(td_conf_load(text, &c, NULL), 0);
        ck_assert_uint_ge(c->n_supplementary_gids, 1);
        ck_assert_uint_le(c->n_supplementary_gids, ELEMENTSOF(got));
        memcpy(got, c->supplementary_gids, c->n_supplementary_gids * sizeof(gid_t));
        qsort(got, c->n_supplementary_gids, sizeof(gid_t), cmp_gid);
        n = groups_of(user, c->gid, want, ELEMENTSOF(want));
        ck_assert_uint_eq(c->n_supplementary_gids, n);
        ck_assert_mem_eq(got, want, n * sizeof(gid_t));
}

START_TEST(test_supplementary_groups) {
        _cleanup_(config_freep) Config *c = NULL;

        assert_groups_like_initgroups("user = \"root\";\n" SVC(""), "root");
        assert_groups_like_initgroups("user = \"root\";\ngroup = \"nogroup\";\n" SVC(""), "root");
        /* Without user, nothing to look up: workers drop all groups. */
        ck_assert_int_eq(td_conf_load("group = \"nogroup\";\n" SVC(""), &c, NULL), 0);
        ck_assert_ptr_null(c->supplementary_gids);
        ck_assert_uint_eq(c->n_supplementary_gids, 0);
}
END_TEST

START_TEST(test_syntax_error) {
        td_conf_assert_error("services = ( { name = \"e\" ", 1, "", "syntax error");
        td_conf_assert_error("log_level = \"info\";\nservices = ( { name = \"e\"; }\n;;\n", 3, "", "syntax error");
}
END_TEST

START_TEST(test_missing_file) {
        Config *c = NULL;
        char **errors = NULL;

        ck_assert_int_eq(config_load("/nonexistent/preforkd.conf", &c, &errors), -ENOENT);
        ck_assert_ptr_nonnull(errors);
        ck_assert_ptr_nonnull(strstr(errors[0], "/nonexistent/preforkd.conf"));
        ck_assert_ptr_nonnull(strstr(errors[0], "No such file"));
        strv_free(errors);
}
END_TEST

START_TEST(test_unknown_keys) {
        td_conf_assert_error("wokers = 3;\n" SVC(""), 1, "wokers", "unknown setting");
        td_conf_assert_error("\n" SVC(" wrkers = 2;"), 2, "services.[0].wrkers", "unknown setting");
        td_conf_assert_error(SVC(" respawn = { min_uptim = 1; };"), 1, "services.[0].respawn.min_uptim",
                             "unknown setting");
}
END_TEST

/* The supervision keys (issue 11): their defaults, their forms (a size
 * with a suffix, a batch as a share), and every error where it is. */
START_TEST(test_supervision_keys) {
        _cleanup_(config_freep) Config *c = NULL, *d = NULL;
        const ServiceConfig *s;
        uint64_t v;

        ck_assert_int_eq(td_conf_load(SVC(""), &c, NULL), 0);
        s = &c->services[0];
        ck_assert_uint_eq(s->max_requests_jitter, 0);
        ck_assert_uint_eq(s->max_memory, 0);
        ck_assert_uint_eq(s->request_timeout_usec, 0);
        ck_assert_uint_eq(s->respawn.burst, 10);
        ck_assert_uint_eq(s->respawn.interval_usec, 10 * USEC_PER_SEC);
        ck_assert_int_eq(s->reload.strategy, RELOAD_STRATEGY_ALL);
        ck_assert_uint_eq(s->reload.ready_timeout_usec, 30 * USEC_PER_SEC);
        /* "25%" of 2, rounded up */
        ck_assert_uint_eq(reload_batch_size(s), 1);

        ck_assert_int_eq(td_conf_load(SVC(" max_requests = 1000; max_requests_jitter = 50; max_memory = \"64M\";"
                                          " request_timeout = 2.5; respawn = { burst = 0; interval = 0.5; };"
                                          " reload = { strategy = \"rolling\"; batch = \"60%\"; ready_timeout = 3; };"),
                                      &d, NULL),
                         0);
        s = &d->services[0];
        ck_assert_uint_eq(s->max_requests_jitter, 50);
        ck_assert_uint_eq(s->max_memory, UINT64_C(64) << 20);
        ck_assert_uint_eq(s->request_timeout_usec, 2500000);
        ck_assert_uint_eq(s->respawn.burst, 0);
        ck_assert_uint_eq(s->respawn.interval_usec, 500000);
        ck_assert_int_eq(s->reload.strategy, RELOAD_STRATEGY_ROLLING);
        ck_assert_uint_eq(s->reload.batch_percent, 60);
        ck_assert_uint_eq(s->reload.ready_timeout_usec, 3 * USEC_PER_SEC);
        ck_assert_uint_eq(reload_batch_size(s), 2);
        d->services[0].reload.batch = 7;
        ck_assert_uint_eq(reload_batch_size(s), 2);
        d->services[0].reload.batch = 1;
        ck_assert_uint_eq(reload_batch_size(s), 1);

        ck_assert_int_eq(config_parse_size("0", &v), 0);
        ck_assert_uint_eq(v, 0);
        ck_assert_int_eq(config_parse_size("512k", &v), 0);
        ck_assert_uint_eq(v, 512 * 1024);
        ck_assert_int_eq(config_parse_size("2G", &v), 0);
        ck_assert_uint_eq(v, UINT64_C(2) << 30);
        ck_assert_int_eq(config_parse_size("16383T", &v), 0);
        ck_assert_int_eq(config_parse_size("16777216T", &v), -ERANGE);
        ck_assert_int_eq(config_parse_size("99999999999999999999", &v), -ERANGE);
        ck_assert_int_eq(config_parse_size("64MB", &v), -EINVAL);
        ck_assert_int_eq(config_parse_size("M", &v), -EINVAL);
        ck_assert_int_eq(config_parse_size("-1", &v), -EINVAL);
        ck_assert_int_eq(config_parse_size("1.5G", &v), -EINVAL);
        ck_assert_int_eq(config_parse_size("", &v), -EINVAL);

        td_conf_assert_error(SVC(" max_memory = \"64 M\";"), 1, "services.[0].max_memory", "is not a size");
        td_conf_assert_error(SVC(" max_memory = \"1K\";"), 1, "services.[0].max_memory", "must be between 1048576");
        td_conf_assert_error(SVC(" max_memory = 1.5;"), 1, "services.[0].max_memory", "must be a size");
        td_conf_assert_error(SVC(" max_memory = -1;"), 1, "services.[0].max_memory", "must not be negative");
        td_conf_assert_error(SVC(" max_requests_jitter = 5;"), 1, "services.[0].max_requests_jitter",
                             "needs max_requests");
        td_conf_assert_error(SVC(" max_requests_jitter = -5;"), 1, "services.[0].max_requests_jitter",
                             "must be between");
        td_conf_assert_error(SVC(" request_timeout = -1;"), 1, "services.[0].request_timeout", "must be between");
        td_conf_assert_error(SVC(" respawn = { burst = 1001; };"), 1, "services.[0].respawn.burst",
                             "must be between 0 and 1000");
        td_conf_assert_error(SVC(" respawn = { interval = 0; };"), 1, "services.[0].respawn.interval",
                             "must be between");
        td_conf_assert_error(SVC(" reload = 1;"), 1, "services.[0].reload", "must be a group");
        td_conf_assert_error(SVC(" reload = { strategy = \"some\"; };"), 1, "services.[0].reload.strategy",
                             "must be one of \"all\", \"rolling\"");
        td_conf_assert_error(SVC(" reload = { batch = 0; };"), 1, "services.[0].reload.batch",
                             "must be between 1 and 4096");
        td_conf_assert_error(SVC(" reload = { batch = \"0%\"; };"), 1, "services.[0].reload.batch", "neither a number");
        td_conf_assert_error(SVC(" reload = { batch = \"101%\"; };"), 1, "services.[0].reload.batch",
                             "neither a number");
        td_conf_assert_error(SVC(" reload = { batch = \"25\"; };"), 1, "services.[0].reload.batch", "neither a number");
        td_conf_assert_error(SVC(" reload = { ready_timeout = 0; };"), 1, "services.[0].reload.ready_timeout",
                             "must be between");
        td_conf_assert_error(SVC(" reload = { bach = 2; };"), 1, "services.[0].reload.bach", "unknown setting");
}
END_TEST

/* The park group: its keys, ranges and type, each error where it is. */
START_TEST(test_park_keys) {
        Config *c = NULL;
        char **errors = NULL;

        td_conf_assert_error(SVC(" park = { enable = true; };"), 1, "services.[0].park.enable", "unknown setting");
        td_conf_assert_error(SVC(" park = { max_parked = 0; };"), 1, "services.[0].park.max_parked",
                             "between 1 and 1000000");
        td_conf_assert_error(SVC(" park = { delay = 11; };"), 1, "services.[0].park.delay", "between 0 and 10 seconds");
        td_conf_assert_error(SVC(" park = { slice = 0; };"), 1, "services.[0].park.slice", "between");
        td_conf_assert_error(SVC(" park = { enabled = 1; };"), 1, "services.[0].park.enabled", "true or false");
        td_conf_assert_error(SVC(" park = 3;"), 1, "services.[0].park", "must be a group");

        ck_assert_int_eq(td_conf_load(SVC(" park = { enabled = false; max_parked = 7; delay = 0.5; slice = 0.005; };"), &c, &errors), 0);
        ck_assert(!c->services[0].park);
        ck_assert_uint_eq(c->services[0].max_parked, 7);
        ck_assert_uint_eq(c->services[0].park_delay_usec, 500000);
        ck_assert_uint_eq(c->services[0].park_slice_usec, 5000);
        c = config_free(c);
        /* On by default for echo, with the documented defaults. */
        ck_assert_int_eq(td_conf_load(SVC(""), &c, &errors), 0);
        ck_assert(c->services[0].park);
        ck_assert_uint_eq(c->services[0].max_parked, 10000);
        ck_assert_uint_eq(c->services[0].park_delay_usec, 5000);
        ck_assert_uint_eq(c->services[0].park_slice_usec, 500);
        /* Echo's defer_accept is off unless asked for. */
        ck_assert(!c->services[0].defer_accept);
        config_free(c);
}
END_TEST

START_TEST(test_wrong_types) {
        td_conf_assert_error(SVC(" backlog = \"16\";"), 1, "services.[0].backlog", "must be an integer, not a string");
        td_conf_assert_error(SVC(" idle_timeout = \"5\";"), 1, "services.[0].idle_timeout",
                             "must be a number of seconds");
        td_conf_assert_error(SVC(" defer_accept = 1;"), 1, "services.[0].defer_accept", "must be true or false");
        td_conf_assert_error("log_level = 3;\n" SVC(""), 1, "log_level", "must be one of");
        td_conf_assert_error("services = { name = \"x\"; };\n", 1, "services", "must be a list");
        td_conf_assert_error("services = ( 3 );\n", 1, "services.[0]", "must be a group");
        td_conf_assert_error(SVC(" respawn = 3;"), 1, "services.[0].respawn", "must be a group");
        td_conf_assert_error("services = ( { name = \"e\"; listen = [\"127.0.0.1:0\"]; workers = 2.5; handler = \"echo\"; } );\n",
                             1, "services.[0].workers", "must be an integer");
}
END_TEST

START_TEST(test_out_of_range) {
        td_conf_assert_error("services = ( { name = \"e\"; listen = [\"127.0.0.1:0\"]; workers = 0; handler = \"echo\"; } );\n",
                             1, "services.[0].workers", "must be between 1 and 4096");
        td_conf_assert_error("services = ( { name = \"e\"; listen = [\"127.0.0.1:0\"]; workers = 5000; handler = \"echo\"; } );\n",
                             1, "services.[0].workers", "must be between 1 and 4096");
        td_conf_assert_error(SVC(" backlog = 0;"), 1, "services.[0].backlog", "between");
        td_conf_assert_error(SVC(" max_requests = -1;"), 1, "services.[0].max_requests", "between");
        td_conf_assert_error(SVC(" idle_timeout = 0;"), 1, "services.[0].idle_timeout", "between");
        td_conf_assert_error("shutdown_timeout = -1;\n" SVC(""), 1, "shutdown_timeout", "between");
        td_conf_assert_error(SVC(" respawn = { backoff_initial = 5; backoff_max = 1; };"), 1,
                             "services.[0].respawn.backoff_max", "must not be smaller than backoff_initial");
}
END_TEST

START_TEST(test_missing_required) {
        td_conf_assert_error("log_level = \"info\";\n", 0, "services", "missing required setting");
        td_conf_assert_error("services = ( {\n listen = [\"127.0.0.1:0\"]; workers = 1; handler = \"echo\"; } );\n", 1,
                             "services.[0].name", "missing required setting");
        td_conf_assert_error("services = ( { name = \"e\"; workers = 1; handler = \"echo\"; } );\n", 1,
                             "services.[0].listen", "missing required setting");
        td_conf_assert_error("services = ( { name = \"e\"; listen = [\"127.0.0.1:0\"]; handler = \"echo\"; } );\n", 1,
                             "services.[0].workers", "missing required setting");
        td_conf_assert_error("services = ( { name = \"e\"; listen = [\"127.0.0.1:0\"]; workers = 1; } );\n", 1,
                             "services.[0].handler", "missing required setting");
        td_conf_assert_error("services = ( );\n", 1, "services", "at least one service");
}
END_TEST

START_TEST(test_bad_values) {
        td_conf_assert_error("services = ( { name = \"Web\"; listen = [\"127.0.0.1:0\"]; workers = 1; handler = \"echo\"; } );\n",
                             1, "services.[0].name", "not a valid name");
        td_conf_assert_error("services = ( { name = \"e\"; listen = [\"127.0.0.1:0\"]; workers = 1; handler = \"ftp\"; } );\n",
                             1, "services.[0].handler", "must be one of \"echo\", \"exec\", \"http\"");
        td_conf_assert_error("services = ( { name = \"e\"; listen = []; workers = 1; handler = \"echo\"; } );\n", 1,
                             "services.[0].listen", "at least one address");
        td_conf_assert_error(SVC(" http = { root = \"/\"; };"), 1, "services.[0].http",
                             "only valid with handler = \"http\"");
        td_conf_assert_error("services = ( { name = \"w\"; listen = [\"127.0.0.1:0\"]; workers = 1; handler = \"http\";\n"
                             " idle_timeout = 5; http = { root = \"/\"; }; } );\n", 2, "services.[0].idle_timeout",
                             "not used by handler = \"http\"");
        td_conf_assert_error("user = \"no-such-user-preforkd\";\n" SVC(""), 1, "user",
                             "unknown user \"no-such-user-preforkd\"");
        td_conf_assert_error("group = \"no-such-group-preforkd\";\n" SVC(""), 1, "group", "unknown group");
        td_conf_assert_error("log_level = \"verbose\";\n" SVC(""), 1, "log_level", "must be one of \"emerg\"");
}
END_TEST

START_TEST(test_bad_addresses) {
        td_conf_assert_error("services = ( { name = \"e\";\n listen = [\"127.0.0.1:0\",\n \"127.0.0.1:99999\"]; workers = 1; "
                             "handler = \"echo\"; } );\n", 3, "services.[0].listen.[1]",
                             "invalid address \"127.0.0.1:99999\": port must be");
        td_conf_assert_error("services = ( { name = \"e\"; listen = [\"::1:80\"]; workers = 1; handler = \"echo\"; } );\n",
                             1, "services.[0].listen.[0]", "brackets");
        td_conf_assert_error("services = ( { name = \"e\"; listen = [ 80 ]; workers = 1; handler = \"echo\"; } );\n", 1,
                             "services.[0].listen.[0]", "must be a string");
}
END_TEST

START_TEST(test_duplicates) {
        td_conf_assert_error("services = (\n { name = \"a\"; listen = [\"127.0.0.1:7007\"]; workers = 1; handler = \"echo\"; },\n"
                             " { name = \"a\"; listen = [\"127.0.0.1:7008\"]; workers = 1; handler = \"echo\"; } );\n",
                             3, "services.[1].name", "duplicate service name \"a\"");
        td_conf_assert_error("services = (\n { name = \"a\"; listen = [\"127.0.0.1:7007\"]; workers = 1; handler = \"echo\"; },\n"
                             " { name = \"b\"; listen = [\"127.0.0.1:7007\"]; workers = 1; handler = \"echo\"; } );\n",
                             3, "services.[1].listen.[0]",
                             "duplicate listen address 127.0.0.1:7007 (also in service \"a\")");
        /* A host name and the address it resolves to are the same
         * listener (localhost is 127.0.0.1 or ::1, as /etc/hosts says). */
        ListenAddress la;
        const char *why = NULL;
        char local[128], conf[512];
        ck_assert_int_eq(listen_parse("localhost:7007", &la, &why), 0);
        ck_assert_int_eq(listen_format(&la, local, sizeof local), 0);
        snprintf(conf, sizeof conf,
                 "services = ( { name = \"a\"; listen = [\"localhost:7007\", \"%s\"]; workers = 1; "
                 "handler = \"echo\"; } );\n", local);
        td_conf_assert_error(conf, 1, "services.[0].listen.[1]", "duplicate listen address");
        /* Port 0 never clashes: each is a new port. */
        Config *c = NULL;
        ck_assert_int_eq(td_conf_load("services = ( { name = \"a\"; listen = [\"127.0.0.1:0\", \"127.0.0.1:0\"]; workers = 1; "
                                      "handler = \"echo\"; } );\n",
                                      &c, NULL),
                         0);
        config_free(c);
}
END_TEST

START_TEST(test_every_error_is_reported) {
        Config *c = NULL;
        char **errors = NULL;
        size_t n = 0;

        ck_assert_int_eq(td_conf_load("bogus = 1;\nservices = ( { name = \"e\"; listen = [\"x\"]; workers = 0; handler = \"?\"; "
                                      "idle_timeout = -1; } );\n",
                                      &c, &errors),
                         -EINVAL);
        for (char **e = errors; *e; e++)
                n++;
        ck_assert_uint_eq(n, 5);
        strv_free(errors);
}
END_TEST

int main(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("config");

        tcase_add_checked_fixture(tc, td_conf_setup, td_conf_teardown);
        tcase_add_test(tc, test_valid_and_defaults);
        tcase_add_test(tc, test_full_settings);
        tcase_add_test(tc, test_supplementary_groups);
        tcase_add_test(tc, test_syntax_error);
        tcase_add_test(tc, test_missing_file);
        tcase_add_test(tc, test_unknown_keys);
        tcase_add_test(tc, test_park_keys);
        tcase_add_test(tc, test_supervision_keys);
        tcase_add_test(tc, test_wrong_types);
        tcase_add_test(tc, test_out_of_range);
        tcase_add_test(tc, test_missing_required);
        tcase_add_test(tc, test_bad_values);
        tcase_add_test(tc, test_bad_addresses);
        tcase_add_test(tc, test_duplicates);
        tcase_add_test(tc, test_every_error_is_reported);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
