/* SPDX-License-Identifier: MIT */
/* A binary upgrade with an exec service: the programs' notification
 * socket and their output pipes cross the exec (a program's NOTIFY_SOCKET
 * names the very socket, and its stdout and stderr go on being logged),
 * through a rolled-back upgrade and a good one, under load. */
#include <signal.h>

#include "exec-test.h"
#include "integration/upgrade-test.h"

/* The address after "Workers notify on " in line (free()). */
static char *notify_address(const char *line) {
        const char *p = strstr(line, "Workers notify on ");
        size_t n;

        if (!p)
                return NULL;
        p += strlen("Workers notify on ");
        n = strcspn(p, " \n");
        return strndup(p, n);
}

START_TEST(test_exec_programs_across_upgrades) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *group = NULL, *conf = NULL, *line = NULL, *address = NULL, *taken = NULL;
        const char *const rolled_back[] = { "upgrade #1 refused: a new worker of service app", NULL };
        const char *const done[] = { "upgrade #2 done", NULL };
        TdStartOptions opts = { .binary = "@DIR@/preforkd" };
        long before[2], after[2];
        uint16_t port;
        HttpLoad *load;

        /* The watchdog: a program whose pings went nowhere would be killed. */
        ck_assert_int_ge(asprintf(&group, "command = [ \"%s\" ]; ready = \"notify\"; watchdog_timeout = 2.0;",
                                  notify_server_path()), 0);
        conf = exec_config(2, group, NULL);
        ck_assert_ptr_nonnull(conf);
        TD_OK(NULL, td_new(&d));
        install_binary(d, td_binary());
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, &opts));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "app", 0, &port));
        TD_OK(d, td_wait_log(d, "Workers notify on ", TD_TIMEOUT, &line));
        address = notify_address(line);
        TD_ASSERT(d, address);
        expect_all_slots(d, port, 2, 1000, before);

        load = http_load_start(port, 100000, TD_SEC(120));
        http_load_wait_ok(load, 20);

        /* C's programs never get ready: back to the first binary, whose
         * programs went on serving, pinging and writing all along. */
        install_binary(d, td_binary_variant("c"));
        TD_OK(d, td_kill(d, SIGUSR2));
        TD_OK(d, td_wait_status(d, rolled_back, TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "rolled back to", TD_TIMEOUT, NULL));
        expect_all_slots(d, port, 2, 1000, after);
        TD_ASSERT_MSG(d, after[0] == before[0] && after[1] == before[1], "the programs were replaced");

        /* B: the old programs retire; their last words on stderr come
         * through the pipes that crossed two execs. */
        install_binary(d, td_binary_variant("b"));
        TD_OK(d, td_kill(d, SIGUSR2));
        TD_OK(d, td_wait_status(d, done, TD_TIMEOUT, NULL));
        /* A program's output is read before its exit is handled, and the
         * generation is finished once both have exited. */
        TD_OK(d, td_wait_log(d, "Generation 1 has finished", TD_TIMEOUT, NULL));
        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *who = NULL, *exited = NULL;
                TdLine *lines = NULL;
                size_t n = 0;
                bool said = false;

                ck_assert_int_ge(asprintf(&exited, "worker %ld of generation 1 exited with status 0", before[i]), 0);
                TD_ASSERT_MSG(d, td_log_contains(d, exited), "no \"%s\"", exited);
                ck_assert_int_ge(asprintf(&who, "notify-server[%ld]", before[i]), 0);
                TD_OK(d, td_log_lines(d, "notify-server: stopping", &lines, &n));
                for (size_t k = 0; k < n; k++)
                        said = said || strstr(lines[k].text, who);
                td_lines_free(lines, n);
                TD_ASSERT_MSG(d, said, "the stderr of program %ld was not logged after the upgrades", before[i]);
        }
        http_load_wait_ok(load, atomic_load(&load->ok) + 20);
        http_load_stop(load);
        TD_ASSERT_MSG(d, atomic_load(&load->refused) == 0 && atomic_load(&load->failed) == 0,
                      "%lu refused, %lu failed (first: %s)", atomic_load(&load->refused), atomic_load(&load->failed),
                      strerror(-atomic_load(&load->first_error)));
        free(load);

        /* Every image took the same socket over instead of making one. */
        ck_assert_int_ge(asprintf(&taken, "Workers notify on %s (taken over)", address), 0);
        TD_ASSERT_MSG(d, td_log_count(d, taken) == 3, "%zu of 3 images took %s over", td_log_count(d, taken), address);
        TD_ASSERT_MSG(d, td_log_count(d, "Workers notify on ") == 4, "a new notification socket was made");
        expect_all_slots(d, port, 2, 1000, after);
        TD_ASSERT(d, after[0] != before[0] && after[1] != before[1]);
        TD_ASSERT_MSG(d, !td_log_contains(d, "killed: watchdog"), "a program's watchdog ran out");
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

static Suite *exec_upgrade_suite(void) {
        Suite *s = suite_create("exec-upgrade");

        TD_ADD_TEST(s, test_exec_programs_across_upgrades);
        return s;
}

int main(void) {
        return td_run_suite(exec_upgrade_suite());
}
