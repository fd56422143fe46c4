/* SPDX-License-Identifier: MIT */
#pragma once

/* Seeing whether a file was opened, with inotify: IN_OPEN is reported for
 * every open but an O_PATH one, and queued before open() returns, so after
 * whatever may have opened the file (a response received, a call returned)
 * the event is there to be read and no waiting is needed. */

#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

/* A non-blocking inotify fd. */
static inline int open_watch_new(void) {
        int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        return fd;
}

static inline void open_watch_add(int watch_fd, const char *path) {
        ck_assert_msg(inotify_add_watch(watch_fd, path, IN_OPEN) >= 0, "inotify_add_watch %s: %s", path,
                      strerror(errno));
}

/* Reads what is queued and counts the opens. */
static inline unsigned open_watch_count(int watch_fd) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        unsigned opens = 0;
        ssize_t n;

        while ((n = read(watch_fd, buf, sizeof(buf))) > 0)
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *e = (const struct inotify_event *) p;
                        if (e->mask & IN_OPEN)
                                opens++;
                        p += sizeof(*e) + e->len;
                }
        ck_assert_msg(n < 0 && errno == EAGAIN, "inotify read: %zd %s", n, strerror(errno));
        return opens;
}
