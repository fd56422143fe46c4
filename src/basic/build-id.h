/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* The GNU build id of the running executable (its NT_GNU_BUILD_ID note),
 * in lower-case hex: what tells two builds of one version apart. When the
 * executable has none, "ino:INODE:mtime:SEC.NSEC" of /proc/self/exe
 * stands in. Returns 0, or -ENOBUFS when size is too small, or the error
 * of stat(). */
int build_id_self(char *buf, size_t size);
