/* SPDX-License-Identifier: MIT */
#pragma once

/* Test harness for integration tests: runs the real preforkd binary
 * (PREFORKD_BINARY, set by meson) in a temporary directory, with a
 * NOTIFY_SOCKET the test owns and its stdout+stderr captured. This header
 * only gathers the pieces in tests/lib/, one concern each, every one using
 * only those listed before it:
 *
 *   util.h    the clock, TD_SEC(), the binary under test, TdLine
 *   logs.h    the captured stdout+stderr, its search, "Listening on" ports
 *   notify.h  the NOTIFY_SOCKET messages
 *   proc.h    /proc and pidfds: workers, process group, listener holders,
 *             conn owner, what the daemon has read of a connection
 *   daemon.h  TestDaemon: temp dir, config, start (with passed sockets or
 *             as another user), signal, exit, teardown, and the
 *             TD_OK()/TD_ASSERT*() assertions
 *   net.h     client sockets, echo checks, a port held busy
 *   load.h    background load threads
 *   run.h     td_run() for CLI tests, suite helpers
 *   config-test.h  config_load() of a text in a temp dir, its errors
 *
 * Conventions: functions return 0 (or a positive count/fd) on success and a
 * negative errno on failure; -ETIMEDOUT when a bounded wait ran out. All
 * timeouts are in microseconds (use TD_SEC()); they only bound a hang:
 * every wait is for the event itself (a log line, a notify message, a
 * process's exit through its pidfd, an EOF), and no test asserts on how
 * long something took. td_sleep() only paces a deliberately slow client;
 * td_poll_pause() spaces the looks of the few waits for what only /proc
 * shows (a fork, the sockets a process holds, what it has read). A background thread drains the
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

#include "lib/config-test.h"
#include "lib/daemon.h"
#include "lib/load.h"
#include "lib/logs.h"
#include "lib/net.h"
#include "lib/notify.h"
#include "lib/proc.h"
#include "lib/run.h"
#include "lib/util.h"
