/* SPDX-License-Identifier: MIT */
#pragma once

/* The state of a TestDaemon, shared by the files of tests/lib that fill or
 * read a part of it: daemon.c owns its lifecycle and the reader thread,
 * logs.c and notify.c what the thread captures, proc.c reads the pid. Not
 * for tests. */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util-internal.h"

typedef struct TestDaemon TestDaemon;

/* A complete line of the captured log: where it is in d->log (without its
 * newline) and when it arrived. */
typedef struct LineInfo {
        size_t start, len;
        uint64_t usec;
} LineInfo;

struct TestDaemon {
        char *dir;
        char *config_path;
        char *notify_path;
        int notify_fd;

        pid_t pid;
        int pidfd;              /* the master's, opened right after fork(): its exit is what td_wait_exit() waits for */
        bool started, reaped;
        int exit_code;

        int out_fd;
        int wake_pipe[2];
        int janitor_fd;         /* write end; the janitor cleans up when it closes */
        pid_t janitor_pid;
        pthread_t thread;
        bool thread_started;

        pthread_mutex_t lock;
        pthread_cond_t cond;

        /* all below under lock */
        char *log;
        size_t log_len, log_alloc;
        LineInfo *lines;
        size_t n_lines, lines_alloc;
        size_t line_begin; /* offset where the current incomplete line starts */
        bool out_eof;      /* every writer closed the output pipe, and all of it was read */

        TdLine *notify;
        size_t n_notify, notify_alloc;
        size_t n_datagrams;
        /* The fd store, as a service manager keeps it (FDSTORE=1). */
        int *store_fds;
        char **store_names;
        size_t n_store, store_alloc;

        size_t log_cursor;
        size_t notify_cursor;
};

/* Waits until what the reader thread captures has what find() looks for.
 * find() runs with d->lock held, first at once and then whenever something
 * arrived (or a moment passed), and returns -EAGAIN while it finds nothing;
 * any other value ends the wait and is returned. -ESRCH when nothing more
 * will come (every writer closed the output, or nothing was started),
 * -ETIMEDOUT after timeout. */
static inline int tdi_capture_wait_for(TestDaemon *d, uint64_t timeout, int (*find)(TestDaemon *d, void *userdata),
                                       void *userdata) {
        uint64_t deadline = tdi_deadline(timeout);
        int r;

        pthread_mutex_lock(&d->lock);
        for (;;) {
                r = find(d, userdata);
                if (r != -EAGAIN)
                        break;
                if (d->out_eof || !d->thread_started) {
                        r = -ESRCH;
                        break;
                }
                if (!tdi_cond_wait_until(&d->cond, &d->lock, deadline)) {
                        r = -ETIMEDOUT;
                        break;
                }
        }
        pthread_mutex_unlock(&d->lock);
        return r;
}

/* logs.c: the capture side of the daemon's stdout+stderr pipe, run by the
 * reader thread. tdi_log_drain() reads what the (non-blocking) pipe holds
 * right now into the log, using buf of size bytes; it returns false once the
 * pipe reached EOF. tdi_log_close() then completes the last line and marks
 * the output closed, which wakes up every wait. */
bool tdi_log_drain(TestDaemon *d, char *buf, size_t size);
void tdi_log_close(TestDaemon *d);
void tdi_log_free(TestDaemon *d);

/* notify.c: tdi_notify_open() binds DIR/notify (d->notify_path) in td_new().
 * The reader thread takes the queued datagrams in two steps:
 * tdi_notify_receive() reads every one that is there into a batch, which
 * nobody sees yet, and tdi_notify_publish() appends the batch to the notify
 * lines (and frees it). In between it drains the log: the daemon logs
 * before it notifies, so every line written before a received datagram is
 * in the pipe by then, and a notify message never becomes visible before
 * the log lines that preceded it. */
#define TDI_NOTIFY_FDS_MAX 8
typedef struct NotifyDatagram {
        char *data;
        size_t len;
        pid_t pid;
        uint64_t usec;
        int fds[TDI_NOTIFY_FDS_MAX];  /* passed with it (SCM_RIGHTS) */
        size_t n_fds;
} NotifyDatagram;
typedef struct NotifyBatch {
        NotifyDatagram *dg;
        size_t n, alloc;
} NotifyBatch;
int tdi_notify_open(TestDaemon *d);
void tdi_notify_receive(TestDaemon *d, NotifyBatch *b);
void tdi_notify_publish(TestDaemon *d, NotifyBatch *b);
void tdi_notify_free(TestDaemon *d);
