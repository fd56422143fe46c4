/* SPDX-License-Identifier: MIT */
#pragma once

/* What the upgrade tests share: putting a binary at DIR/preforkd the way a
 * package upgrade does, and the binary a process runs. The test builds of
 * tests/upgrade themselves come from td_binary_variant() (tests/lib). */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

/* Puts a copy of src at DIR/preforkd the way a package manager does: a new
 * file renamed over the old one, so that the running binary's inode lives
 * on (as "DIR/preforkd (deleted)") while the path names the new one. */
static inline void install_binary(TestDaemon *d, const char *src) {
        _cleanup_free_ char *tmp = td_subst(d, "@DIR@/preforkd.new"), *dst = td_subst(d, "@DIR@/preforkd");
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        struct stat st;

        TD_ASSERT(d, tmp && dst);
        in = open(src, O_RDONLY | O_CLOEXEC);
        TD_ASSERT_MSG(d, in >= 0, "open %s: %s", src, strerror(errno));
        TD_ASSERT(d, fstat(in, &st) == 0);
        out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        TD_ASSERT_MSG(d, out >= 0, "create %s: %s", tmp, strerror(errno));
        for (off_t done = 0; done < st.st_size;) {
                ssize_t n = sendfile(out, in, &done, (size_t) (st.st_size - done));
                TD_ASSERT_MSG(d, n > 0, "copy %s: %s", src, strerror(errno));
        }
        TD_ASSERT(d, close(TAKE_FD(out)) == 0);
        TD_ASSERT_MSG(d, rename(tmp, dst) == 0, "rename %s: %s", tmp, strerror(errno));
}

static inline void install_script(TestDaemon *d, const char *text) {
        _cleanup_free_ char *tmp = td_subst(d, "@DIR@/preforkd.new"), *dst = td_subst(d, "@DIR@/preforkd");

        TD_OK(d, td_write_file(d, "preforkd.new", text));
        TD_ASSERT(d, chmod(tmp, 0755) == 0);
        TD_ASSERT(d, rename(tmp, dst) == 0);
}

/* The binary a process runs, as /proc shows it (free()). */
static inline char *exe_of(pid_t pid) {
        char path[64], buf[4096];
        ssize_t n;

        snprintf(path, sizeof path, "/proc/%d/exe", (int) pid);
        n = readlink(path, buf, sizeof buf - 1);
        if (n < 0)
                return NULL;
        buf[n] = 0;
        return strdup(buf);
}

static inline bool ends_with(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

