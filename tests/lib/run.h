/* SPDX-License-Identifier: MIT */
#pragma once

/* Running the binary to completion (CLI tests), and what every suite's
 * main() and config test needs. */

#include <check.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct TestDaemon TestDaemon;

/* Runs PREFORKD_BINARY with argv (NULL-terminated, not including argv[0];
 * "@DIR@" replaced when d is not NULL, in which case cwd is the temp dir),
 * PREFORKD_LOG_TARGET=stderr and no NOTIFY_SOCKET. Captures stdout and
 * stderr together into *ret_output (NUL-terminated, may be NULL) and, if
 * ret_stdout is not NULL, stdout alone there. *ret_code is the exit status
 * or 128+signal. Kills it and returns -ETIMEDOUT after timeout. */
int td_run(TestDaemon *d, const char *const *argv, uint64_t timeout, int *ret_code, char **ret_output,
           char **ret_stdout);

/* ---- suites ---- */

/* The exit code meson counts as a skipped test. A test executable whose
 * tests cannot run on this machine at all (no root, no IPv6, ...) returns
 * it from main() instead of passing tests that checked nothing; tests with
 * such a prerequisite live in an executable of their own. */
#define TD_EXIT_SKIP 77

/* Sets the loopback interface of the current network namespace up. */
int td_loopback_up(void);
/* Moves the test process into a new network namespace, where only it and
 * its children live, with its loopback interface up: a fixed port there
 * cannot be taken by a parallel test. Call it from main() before the suite
 * runs. Needs CAP_SYS_ADMIN: -EPERM otherwise. */
int td_unshare_network(void);

/* True if errors (config_load()'s list) holds one that starts with
 * "PATH:LINE: SETTING: " (no ": " for an empty setting) and contains what.
 * When none does, every error is printed to stderr for the test log. */
bool td_errors_have(char **errors, const char *path, unsigned line, const char *setting, const char *what);

/* Adds test tf to suite s in a test case of its own, named like the test,
 * so that CK_RUN_CASE=test_name runs just that one. */
#define TD_ADD_TEST(s, tf)                                                                      \
        do {                                                                                    \
                TCase *_td_tc_ = tcase_create(#tf);                                             \
                tcase_add_test(_td_tc_, tf);                                                    \
                suite_add_tcase((s), _td_tc_);                                                  \
        } while (0)

/* Runs suite s (CK_FORK unless CK_FORK=no in the environment) and returns
 * the process exit code: for main(). */
int td_run_suite(Suite *s);
