/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The environment a program starts with: the master's own, without what
 * belongs to the master's service manager or to preforkd's protocols
 * (exec_env_is_private()), then the service's environment entries, then
 * the variables preforkd sets (LISTEN_*, NOTIFY_SOCKET, PREFORKD_*, ...),
 * each replacing an earlier one of the same name. */

/* Whether the variable of entry ("NAME=value" or "NAME") is one a program
 * must never inherit from the master: NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*
 * (the master's service manager speaks to the master, not to it), the
 * ones preforkd sets itself (PREFORKD_*, EINHORN_*, SERVER_STARTER_PORT,
 * the ucspi-tcp connection variables), and JOURNAL_STREAM unless
 * keep_journal_stream (a program whose output preforkd reads is not
 * connected to the journal stream the master's is). */
bool exec_env_is_private(const char *entry, bool keep_journal_stream);

/* Builds it: base (may be NULL) filtered, then every list in layers (n of
 * them, each NULL-terminated "NAME=value" entries; a NULL list is
 * skipped) applied in order. The result and its strings are newly
 * allocated (strv_free()). */
int exec_env_build(char *const *base, bool keep_journal_stream, char *const *const *layers, size_t n, char ***ret);
