/* SPDX-License-Identifier: MIT */
#pragma once

/* The sd_notify() messages the daemon sends to the NOTIFY_SOCKET that the
 * test binds (DIR/notify), read by the same thread as the daemon's output. */

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct TestDaemon TestDaemon;

/* Every datagram is split into lines; every line is kept in arrival order. A
 * cursor remembers where the last successful td_wait_notify() matched, so
 * successive waits find successive messages. */

/* Waits until a notify line starting with prefix ("READY=1", "STATUS=",
 * "RELOADING=1", ...) arrives after the cursor; moves the cursor past it and
 * returns its index (>= 0). If ret_line is not NULL, stores a copy of the
 * line there (free() it). Returns -ESRCH if the daemon exited before. */
int td_wait_notify(TestDaemon *d, const char *prefix, uint64_t timeout, char **ret_line);
/* Like td_wait_notify(d, "STATUS=", ...), for the first STATUS= line that
 * contains every string of needles (NULL-terminated; NULL or empty: any). */
int td_wait_status(TestDaemon *d, const char *const *needles, uint64_t timeout, char **ret_line);
/* td_wait_notify(d, "READY=1", ...) */
int td_wait_ready(TestDaemon *d, uint64_t timeout);
/* Number of notify lines received so far. */
size_t td_notify_count(TestDaemon *d);
/* Copies of all notify lines received so far (NULL-terminated strv; free with
 * strv_free()) and, if ret_usec is not NULL, their arrival times (free()). */
int td_notify_lines(TestDaemon *d, char ***ret, uint64_t **ret_usec);
/* All notify lines so far with sender pid and datagram index (free with
 * td_lines_free()). */
int td_notify_all(TestDaemon *d, TdLine **ret, size_t *ret_n);
/* The whole datagram (lines joined with '\n') that notify line `index` came
 * in, e.g. "RELOADING=1\nMONOTONIC_USEC=123". */
int td_notify_datagram(TestDaemon *d, size_t index, char **ret);
/* Index of the notify cursor (the next line a wait would look at). */
size_t td_notify_cursor(TestDaemon *d);
void td_notify_set_cursor(TestDaemon *d, size_t pos);

/* The daemon's fd store as a service manager keeps it: every fd sent with
 * FDSTORE=1 under its FDNAME=, less those named by FDSTOREREMOVE=1. Copies
 * of the fds in *ret_fds and their names in *ret_names (NULL-terminated;
 * strv_free()); returns their number. A test that restarts the daemon
 * passes them back as systemd would (TdStartOptions.listen_fds). */
int td_fdstore(TestDaemon *d, int **ret_fds, char ***ret_names);
