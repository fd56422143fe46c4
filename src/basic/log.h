/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <syslog.h>

#include "macros.h"

/* Structured context for one log record. In journal mode every set member
 * becomes a PREFORKD_* field; on stderr they are only in the message text,
 * which callers write so that it reads well on its own. */
typedef struct LogFields {
        const char *service;     /* PREFORKD_SERVICE=, NULL: unset */
        int slot;                /* PREFORKD_SLOT=, < 0: unset */
        pid_t worker_pid;        /* PREFORKD_WORKER_PID=, 0: unset */
        unsigned generation;     /* PREFORKD_GENERATION=, 0: unset */
        int exit_status;         /* PREFORKD_EXIT_STATUS=, < 0: unset */
        int exit_signal;         /* PREFORKD_EXIT_SIGNAL= (name), 0: unset */
        int64_t uptime_usec;     /* PREFORKD_UPTIME_USEC=, < 0: unset */
        const char *const *extra; /* NULL-terminated "KEY=value" list, or NULL */
} LogFields;

#define LOG_FIELDS_INIT { .slot = -1, .exit_status = -1, .uptime_usec = -1 }

typedef enum LogTarget {
        LOG_TARGET_STDERR,
        LOG_TARGET_JOURNAL,
        _LOG_TARGET_MAX,
} LogTarget;

/* Chooses the journal when stderr is connected to it (JOURNAL_STREAM names
 * stderr's device and inode) and plain stderr lines otherwise. The
 * environment variable PREFORKD_LOG_TARGET=journal|stderr overrides it.
 *
 * Journal records are sent with journald's native protocol to
 * /run/systemd/journal/socket, or to the socket that the environment
 * variable PREFORKD_JOURNAL_SOCKET names (an absolute path, or @NAME in the
 * abstract namespace): the tests bind one of their own, and a daemon can log
 * to a journald listening elsewhere. Empty counts as unset; a value that is
 * neither is reported on stderr and logging stays on stderr. */
void log_setup(void);
LogTarget log_get_target(void);
void log_set_target(LogTarget t);

/* The journal socket, or -EBADF while none is open: it is opened by the
 * first journal record, not by log_setup(). A forked worker that closes
 * every inherited fd but a keep-list puts this one on it (and may go on
 * using it: it is an unconnected datagram socket, shared harmlessly). */
int log_journal_fd(void);
/* For a child that closed its inherited fds, the journal socket among them
 * unless it was kept: forgets the fd without closing it (its number may
 * already name something else), so that the next journal record opens a
 * socket of its own. Never sends anything through the old number. */
void log_forget_fds(void);

void log_set_max_level(int level);
int log_get_max_level(void);
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* Logs one record and returns -abs(error), or 0 when error is 0. Records
 * above the max level are dropped before anything is formatted. Write the
 * error into the message with "%s" and STRERROR(error): glibc's "%m" is not
 * ISO C and this code builds with -Wpedantic. */
int log_internal(int level, int error, const LogFields *f, const char *fmt, ...) _printf_(4, 5);

/* Sends a record whose message is already formatted, with extra fields
 * ("KEY=value", n of them): for the HTTP access log. */
void log_record(int level, const char *message, const char *const *fields, size_t n_fields);

/* Sends one line of another program's output (len bytes, no newline) as a
 * record of its own: under that program's identifier and pid (SYSLOG_PID=),
 * with f's fields, at level, whatever the max level (which is the
 * daemon's own verbosity). In journal mode nothing falls back to stderr:
 * -EAGAIN means that journald's queue is full, and the caller keeps the line
 * and slows the program down rather than crowd out the daemon's own
 * records; on any other failure the line goes to stderr, as the daemon's
 * own records do. On stderr the line is written like the daemon's own,
 * under the program's name and pid. Returns 0 or -EAGAIN. */
int log_forward(int level, const char *identifier, pid_t pid, const LogFields *f, const char *line, size_t len);

#define STRERROR(e) strerror(abs(e))

#define log_full_errno(level, error, ...) log_internal((level), (error), NULL, __VA_ARGS__)
#define log_full(level, ...) log_internal((level), 0, NULL, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)

/* Only for startup and worker children, never the running master: logs at
 * LOG_CRIT and exits with the given sysexits code. */
_noreturn_ void fatal(int exit_code, const char *fmt, ...) _printf_(2, 3);
