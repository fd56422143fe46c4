/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Closes every fd of this process except those in keep (n of them, in any
 * order, negative entries ignored). For a freshly forked child: it holds
 * copies of all of its parent's fds, and only an explicit keep-list makes
 * sure none leaks, whatever the parent opens in the future. */
int close_all_fds_except(const int *keep, size_t n);

/* Raises RLIMIT_NOFILE's soft limit to the hard limit. */
int rlimit_nofile_raise(void);

/* Reads the whole file behind fd from offset 0 (pread: the file offset is
 * neither used nor moved), at most max bytes: -EFBIG beyond. *ret is
 * NUL-terminated, *ret_size without the NUL. */
int fd_read_all(int fd, size_t max, char **ret, size_t *ret_size);

/* A new memfd called name holding the size bytes of data, its offset at
 * 0; close-on-exec unless cloexec is false. */
int memfd_new_with_data(const char *name, const void *data, size_t size, bool cloexec, int *ret_fd);

/* Sets or clears FD_CLOEXEC on fd. */
int fd_set_cloexec(int fd, bool cloexec);
