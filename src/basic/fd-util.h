/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* Closes every fd of this process except those in keep (n of them, in any
 * order, negative entries ignored). For a freshly forked child: it holds
 * copies of all of its parent's fds, and only an explicit keep-list makes
 * sure none leaks, whatever the parent opens in the future. */
int close_all_fds_except(const int *keep, size_t n);

/* Raises RLIMIT_NOFILE's soft limit to the hard limit. */
int rlimit_nofile_raise(void);
