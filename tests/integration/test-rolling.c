/* SPDX-License-Identifier: MIT */
/* Rolling reloads with the real daemon under load: batch by batch with no
 * failed connection, and a reload whose second batch cannot start (the
 * test-only "testing" handler of preforkd-testing fails its init in the
 * slots it is told to) rolled back, reported as such, again with no failed
 * connection. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static const char *const rolled_back[] = { "reload #1 rolled back", NULL };

static char *pool_config(const char *handler, const char *extra) {
        char *s;

        if (asprintf(&s,
                     "log_level = \"debug\";\n" CTL_TOP "\n"
                     "services = ( { name = \"t\"; listen = [ \"127.0.0.1:0\" ]; workers = 4; handler = \"%s\";\n"
                     "  park = { enabled = false; }; %s } );\n",
                     handler, extra) < 0)
                return NULL;
        return s;
}

/* Starts load on port and waits until it runs. */
static TdLoad *start_load(TestDaemon *d, uint16_t port) {
        TdLoad *load = NULL;

        TD_OK(d, td_load_start_tcp("127.0.0.1", port, 256, 200000, TD_SEC(60), &load));
        TD_OK(d, td_load_wait_ok(load, 50, TD_TIMEOUT));
        return load;
}

/* Lets the load go on a while longer, stops it: not one failure. */
static void expect_no_failure(TestDaemon *d, TdLoad *load) {
        TdLoadStats st;

        td_load_peek(load, &st);
        TD_OK(d, td_load_wait_ok(load, st.ok + 200, TD_TIMEOUT));
        td_load_stop(load, &st);
        TD_ASSERT_MSG(d, st.failed == 0, "%lu of %lu connections failed (%lu refused, %lu reset), first at %s: %s",
                      st.failed, st.ok + st.failed, st.refused, st.reset, st.first_error_what,
                      strerror(-st.first_error));
}

START_TEST(test_rolling_reload_under_load) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = pool_config("echo", ""),
                            *conf2 = pool_config("echo", "reload = { strategy = \"rolling\"; batch = 1; };");
        TdLine *lines = NULL;
        size_t n = 0;
        TdLoad *load;
        uint16_t port;

        TD_ASSERT(d, conf && conf2);
        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "t", 0, &port));
        load = start_load(d, port);

        TD_OK(d, td_write_config(d, conf2));
        hup_expect_applied(d, 2);
        TD_OK(d, td_log_lines(d, "t: rolling reload to generation 2: starting slots", &lines, &n));
        TD_ASSERT_MSG(d, n == 4, "%zu batches for 4 workers of batch = 1", n);
        for (size_t i = 0; i < n; i++) {
                char want[128];

                snprintf(want, sizeof want, "starting slots %zu to %zu of 4", i, i);
                TD_ASSERT_MSG(d, strstr(lines[i].text, want), "batch %zu: %s", i, lines[i].text);
        }
        td_lines_free(lines, n);
        expect_no_failure(d, load);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Batches of two; the second one's workers fail their init: the reload is
 * rolled back (STATUS=, the log), slots 0 and 1 get workers of the old
 * configuration again, and the new workers there leave only then. */
START_TEST(test_rolling_rollback_under_load) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = pool_config("testing", ""),
                            *conf2 = pool_config("testing", "reload = { strategy = \"rolling\"; batch = 2; };\n"
                                                            "  testing = { fail_init_from_slot = 2; };");
        TdLoad *load;
        uint16_t port;

        TD_ASSERT(d, conf && conf2);
        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "t", 0, &port));
        load = start_load(d, port);

        TD_OK(d, td_write_config(d, conf2));
        hup_and_wait(d);
        TD_OK(d, td_wait_status(d, rolled_back, TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "t: rolling reload to generation 2: starting slots 2 to 3 of 4", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "Reload rolled back: a new worker of service t (slot ", TD_TIMEOUT, NULL));
        TD_ASSERT_MSG(d, !td_log_contains(d, "Reloaded: generation 2"), "the failed reload was applied");
        /* The two new workers that had taken over slots 0 and 1 leave once
         * the old configuration's workers there are ready. */
        TD_OK(d, td_wait_log(d, "of generation 2 exited with status 0", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "of generation 2 exited with status 0", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_status(d, (const char *const[]) { "t 4/4 up", "reload #1 rolled back", NULL }, TD_TIMEOUT,
                                NULL));
        expect_no_failure(d, load);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* `preforkctl reload`, the unit's ExecReload=, fails a rolled-back reload
 * (so does `systemctl reload`) and says why; status counts it. */
START_TEST(test_rolled_back_reload_fails_preforkctl) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = pool_config("testing", ""),
                            *conf2 = pool_config("testing", "reload = { strategy = \"rolling\"; batch = 2; };\n"
                                                            "  testing = { fail_init_from_slot = 2; };");
        CtlRun r;

        TD_ASSERT(d, conf && conf2);
        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_write_config(d, conf2));
        CTL(d, &r, "reload");
        CTL_EXPECT(d, &r, 1);
        TD_ASSERT_MSG(d, strstr(r.err, "a new worker of service t (slot "), "stderr: %s", r.err);
        ctl_run_done(&r);
        CTL(d, &r, "--json", "status");
        CTL_EXPECT(d, &r, 0);
        TD_ASSERT_MSG(d, strstr(r.out, "\"reloads\":{\"applied\":0,\"refused\":0,\"rolled_back\":1}"), "JSON: %s",
                      r.out);
        ctl_run_done(&r);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("rolling");

        TD_ADD_TEST(s, test_rolling_reload_under_load);
        TD_ADD_TEST(s, test_rolling_rollback_under_load);
        TD_ADD_TEST(s, test_rolled_back_reload_fails_preforkctl);
        return td_run_suite(s);
}
