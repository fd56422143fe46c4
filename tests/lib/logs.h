/* SPDX-License-Identifier: MIT */
#pragma once

/* The daemon's captured stdout + stderr (interleaved as written), searched
 * and waited on line by line, and the "Listening on" lines that tell which
 * port a listener on port 0 got. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct TestDaemon TestDaemon;

/* The log has a cursor: td_wait_log() searches from it and moves it past the
 * match; td_log_mark() moves it to the current end. */

/* Waits until substring appears in the log at or after the cursor; moves the
 * cursor past the end of the line holding the match (so the next wait finds
 * a later line). If ret_line is not NULL, stores a copy of that whole line.
 * Returns -ESRCH if the daemon exited (and all its output was read) without
 * writing it. */
int td_wait_log(TestDaemon *d, const char *substring, uint64_t timeout, char **ret_line);
/* A barrier in the master's event loop: sends it SIGUSR1, which it logs as
 * ignored, and waits for that line. The master handles one event at a
 * time, so by then it has finished whatever it was doing when the signal
 * came: after a "Reload failed" line, say, anything that reload would still
 * have done is done. For "nothing follows X": wait for X, the barrier, then
 * look (what a worker does on its own later is not covered). Leaves the
 * log cursor alone. */
int td_barrier(TestDaemon *d, uint64_t timeout);
/* Moves the log cursor to the end of what was captured so far. */
void td_log_mark(TestDaemon *d);
/* A copy of the whole captured log (NUL-terminated; free()). */
char *td_log(TestDaemon *d);
/* True if substring occurs anywhere in the log captured so far. */
bool td_log_contains(TestDaemon *d, const char *substring);
/* Number of complete log lines containing substring. */
size_t td_log_count(TestDaemon *d, const char *substring);
/* Copies of the complete log lines containing substring, in order, with
 * arrival times. *ret is an array of *ret_n TdLine; free with
 * td_lines_free(). */
int td_log_lines(TestDaemon *d, const char *substring, TdLine **ret, size_t *ret_n);

/* Parses "Listening on ADDR (service NAME)" lines and returns the port of
 * the nth (0-based, in log order) one for service. If addr is not NULL, the
 * address part is copied there (e.g. "127.0.0.1:41235"). -ENOENT if there
 * is no such line (yet). A listener that a reload keeps is not logged
 * again, so one that a reload adds comes after all earlier lines of its
 * service. */
int td_find_listen(TestDaemon *d, const char *service, unsigned nth, char *addr, size_t addr_size,
                   uint16_t *ret_port);
int td_find_port(TestDaemon *d, const char *service, unsigned nth, uint16_t *ret_port);
/* Like td_find_port(), but waits for the line; -ESRCH if the daemon's
 * output ended without it. */
int td_wait_port(TestDaemon *d, const char *service, unsigned nth, uint64_t timeout, uint16_t *ret_port);
