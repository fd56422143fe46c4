/* SPDX-License-Identifier: MIT */
#pragma once

/* A preforkd run by a test: its temp dir and config files, starting it,
 * signalling it, waiting for it to exit, and the teardown that leaves
 * nothing behind (see testlib.h). The captured output is in logs.h and
 * notify.h, its processes in proc.h. */

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <stddef.h>
#include <sys/types.h>

#include "macros.h"

typedef struct TestDaemon TestDaemon;

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
        /* The binary to run instead of PREFORKD_BINARY ("@DIR@"
         * replaced): the upgrade tests run a copy in the temp dir that
         * they replace by another build. */
        const char *binary;
        /* Do not set NOTIFY_SOCKET. */
        bool no_notify;
        /* Sockets handed over the way systemd's socket activation does: as
         * fds 3, 4, ... of the daemon, with LISTEN_FDS=n_listen_fds,
         * LISTEN_PID= the daemon's pid and, unless listen_names is NULL,
         * LISTEN_FDNAMES= its n_listen_fds names joined by ':'. The test's
         * own copies stay open. A test that needs a fixed port gets one
         * without a race this way: it binds port 0 itself, keeps the socket
         * and configures the address the kernel gave it, which the daemon
         * matches to the passed socket. */
        const int *listen_fds;
        size_t n_listen_fds;             /* at most TD_MAX_PASSED_FDS */
        const char *const *listen_names;
        /* Run the daemon as uid/gid (without supplementary groups) instead
         * of as the test, which needs root. The temp dir is then made
         * world-readable and the notify socket world-writable, so that the
         * daemon can read its config and notify. */
        bool set_user;
        uid_t uid;
        gid_t gid;
} TdStartOptions;

#define TD_MAX_PASSED_FDS 16

/* One of the test builds of tests/upgrade, for TdStartOptions.binary or to
 * install over a running one: "b" ($PREFORKD_TEST_BINARY_B, the build with
 * the faults of PREFORKD_TEST_FAULT) or "c" ($PREFORKD_TEST_BINARY_C). Fails
 * the test when meson did not set it. */
const char *td_binary_variant(const char *which);

/* Starts PREFORKD_BINARY (default args "-c DIR/preforkd.conf") with
 * NOTIFY_SOCKET=DIR/notify, PREFORKD_LOG_TARGET=stderr, and JOURNAL_STREAM,
 * LISTEN_*, WATCHDOG_*, NOTIFY_SOCKET and PREFORKD_JOURNAL_SOCKET removed
 * from the inherited environment before opts->env is applied. cwd is the temp dir. The daemon
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

/* ---- assertions ---- */

/* TD_OK(d, expr): expr must return >= 0; otherwise prints the daemon's log
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
