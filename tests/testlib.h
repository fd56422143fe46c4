/* SPDX-License-Identifier: MIT */
#pragma once

/* Test harness for integration tests: runs the real preforkd binary
 * (PREFORKD_BINARY, set by meson) in a temporary directory, with a
 * NOTIFY_SOCKET the test owns and its stdout+stderr captured.
 *
 * Conventions: functions return 0 (or a positive count/fd) on success and a
 * negative errno on failure; -ETIMEDOUT when a bounded wait ran out. All
 * timeouts are in microseconds (use TD_SEC()). A background thread drains the
 * daemon's output pipe and the notify socket into buffers, so the daemon
 * never blocks on logging while the test does something else.
 *
 * Teardown: td_free() kills (SIGKILL, whole process group and every worker
 * found) and reaps the daemon and removes the temp dir; the same runs from an
 * atexit() handler. A failed check assertion in fork mode _exit()s the test
 * process and a check timeout SIGKILLs it, and neither runs atexit(): for
 * those, the daemon runs with PR_SET_PDEATHSIG=SIGKILL in a process group of
 * its own, and a small janitor process forked by td_new() notices the test
 * process is gone, SIGKILLs that process group and removes the temp dir. So
 * nothing is left behind however a test ends. Set TD_VERBOSE=1 in the
 * environment to have the captured log and notify messages printed to stderr
 * at teardown; failing TD_OK()/TD_ASSERT*() print them anyway.
 *
 * Typical use:
 *
 *     _cleanup_(td_freep) TestDaemon *d = NULL;
 *     uint16_t port;
 *     TD_OK(d, td_new(&d));
 *     TD_OK(d, td_write_config(d,
 *             "services = ( { name = \"echo\"; listen = [ \"127.0.0.1:0\" ];\n"
 *             "               workers = 2; handler = \"echo\"; } );\n"));
 *     TD_OK(d, td_start(d, NULL));
 *     TD_OK(d, td_wait_ready(d, TD_SEC(10)));
 *     TD_OK(d, td_find_port(d, "echo", 0, &port));
 *     ...
 *     TD_OK(d, td_kill(d, SIGTERM));
 *     TD_OK(d, td_wait_exit(d, TD_SEC(10), &code));
 */

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "lib/load.h"
#include "lib/logs.h"
#include "lib/net.h"
#include "lib/notify.h"
#include "lib/proc.h"
#include "lib/util.h"
#include "macros.h"

typedef struct TestDaemon TestDaemon;

/* ---- lifecycle ---- */

/* Creates the temp dir (under $TMPDIR or /tmp) and binds the notify socket
 * in it. Nothing is started yet. */
int td_new(TestDaemon **ret);
/* Kills and reaps the daemon (if running), stops the reader thread, closes
 * everything and removes the temp dir recursively. NULL is fine. */
TestDaemon *td_free(TestDaemon *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(TestDaemon *, td_free)

/* The temp dir, and the config path td_write_config() writes to
 * (DIR/preforkd.conf). */
const char *td_dir(const TestDaemon *d);
const char *td_config_path(const TestDaemon *d);
/* The daemon (master) pid, or 0 when not started / already reaped. */
pid_t td_pid(const TestDaemon *d);

/* Returns a newly allocated copy of s with every "@DIR@" replaced by the
 * temp dir path, or NULL on OOM. */
char *td_subst(const TestDaemon *d, const char *s);

/* Writes text to DIR/preforkd.conf, with "@DIR@" replaced (td_subst()).
 * Rewriting it later and sending SIGHUP is how tests reload. */
int td_write_config(TestDaemon *d, const char *text);
/* Writes DIR/name (name relative to the temp dir, "@DIR@" replaced in
 * contents), creating it with mode 0644. */
int td_write_file(TestDaemon *d, const char *name, const char *contents);

typedef struct TdStartOptions {
        /* Extra environment entries "KEY=VALUE", NULL-terminated. In values,
         * "@PID@" becomes the daemon's own pid (for WATCHDOG_PID=) and
         * "@DIR@" the temp dir. */
        const char *const *env;
        /* Arguments instead of the default "-c DIR/preforkd.conf",
         * NULL-terminated, "@DIR@" replaced. */
        const char *const *args;
        /* Do not set NOTIFY_SOCKET. */
        bool no_notify;
} TdStartOptions;

/* Starts PREFORKD_BINARY (default args "-c DIR/preforkd.conf") with
 * NOTIFY_SOCKET=DIR/notify, PREFORKD_LOG_TARGET=stderr, and JOURNAL_STREAM,
 * LISTEN_*, WATCHDOG_* and NOTIFY_SOCKET removed from the inherited
 * environment before opts->env is applied. cwd is the temp dir. The daemon
 * runs in its own process group. opts may be NULL. */
int td_start(TestDaemon *d, const TdStartOptions *opts);

/* Sends sig to the master. */
int td_kill(TestDaemon *d, int sig);

/* Waits for the master to exit and reaps it. *ret_code (may be NULL) is the
 * exit status, or 128+signal if it was killed by a signal. Returns
 * -ETIMEDOUT if it is still running after timeout. Calling it again after
 * the daemon was reaped returns the same code. */
int td_wait_exit(TestDaemon *d, uint64_t timeout, int *ret_code);

/* Waits until the daemon's stdout/stderr pipe is closed by every process
 * holding it (the master and all its workers are gone) and everything they
 * wrote, log and notify messages alike, has been captured. Use it after
 * td_wait_exit() before asserting on what was logged. */
int td_wait_output_closed(TestDaemon *d, uint64_t timeout);

/* True while the master has not been reaped (checks without blocking). */
bool td_running(TestDaemon *d);

/* Prints the captured log and the notify lines to stderr. */
void td_dump(TestDaemon *d);

/* ---- listeners and workers ---- */

/* ---- running the binary to completion (CLI tests) ---- */

/* Runs PREFORKD_BINARY with argv (NULL-terminated, not including argv[0];
 * "@DIR@" replaced when d is not NULL, in which case cwd is the temp dir),
 * PREFORKD_LOG_TARGET=stderr and no NOTIFY_SOCKET. Captures stdout and
 * stderr together into *ret_output (NUL-terminated, may be NULL) and, if
 * ret_stdout is not NULL, stdout alone there. *ret_code is the exit status
 * or 128+signal. Kills it and returns -ETIMEDOUT after timeout. */
int td_run(TestDaemon *d, const char *const *argv, uint64_t timeout, int *ret_code, char **ret_output,
           char **ret_stdout);

/* ---- assertions ----
 * TD_OK(d, expr): expr must return >= 0; otherwise prints the daemon's log
 * (d may be NULL) and fails the test with the expression and the error. */
void td_fail_dump(TestDaemon *d);
#define TD_OK(d, expr)                                                                          \
        __extension__ ({                                                                        \
                __typeof__(expr) _td_r_ = (expr);                                               \
                if (_td_r_ < 0) {                                                               \
                        td_fail_dump(d);                                                        \
                        ck_abort_msg("%s failed: %s", #expr, strerror((int) -_td_r_));          \
                }                                                                               \
                _td_r_;                                                                         \
        })
/* TD_ASSERT(d, cond) / TD_ASSERT_MSG(d, cond, fmt, ...): like ck_assert() /
 * ck_assert_msg(), dumping d's log first. */
#define TD_ASSERT(d, cond)                                                                      \
        do {                                                                                    \
                if (!(cond)) {                                                                  \
                        td_fail_dump(d);                                                        \
                        ck_abort_msg("Assertion '%s' failed", #cond);                           \
                }                                                                               \
        } while (0)
#define TD_ASSERT_MSG(d, cond, ...)                                                             \
        do {                                                                                    \
                if (!(cond)) {                                                                  \
                        td_fail_dump(d);                                                        \
                        ck_abort_msg(__VA_ARGS__);                                              \
                }                                                                               \
        } while (0)

/* Adds test tf to suite s in a test case of its own, named like the test,
 * so that CK_RUN_CASE=test_name runs just that one. */
/* True if errors (config_load()'s list) holds one that starts with
 * "PATH:LINE: SETTING: " (no ": " for an empty setting) and contains what.
 * When none does, every error is printed to stderr for the test log. */
bool td_errors_have(char **errors, const char *path, unsigned line, const char *setting, const char *what);

#define TD_ADD_TEST(s, tf)                                                                      \
        do {                                                                                    \
                TCase *_td_tc_ = tcase_create(#tf);                                             \
                tcase_add_test(_td_tc_, tf);                                                    \
                suite_add_tcase((s), _td_tc_);                                                  \
        } while (0)

/* Runs suite s (CK_FORK unless CK_FORK=no in the environment) and returns
 * the process exit code: for main(). */
int td_run_suite(Suite *s);
