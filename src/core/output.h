/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

/* The master's end of the pipes that carry a worker's stdout and stderr
 * (WORKER_OUTPUT_JOURNAL): every line becomes one log record of its own
 * (log_forward()), under the program's identifier, with the slot's
 * PREFORKD_SERVICE / _SLOT / _WORKER_PID / _GENERATION fields.
 *
 * A program must not be able to stall the master by writing: a reader
 * takes at most OUTPUT_READ_BUDGET bytes per event loop iteration and its
 * event source has a lower priority than child exits, signals, readiness
 * and timers, so those are always handled first; and when journald's
 * queue is full, the reader stops reading and retries after a pause
 * instead of sending the line to stderr, so the pipe fills and the
 * program blocks in write(), the way journald's own stream connections
 * push back. A line longer than OUTPUT_LINE_MAX is split. */

#define OUTPUT_LINE_MAX 4096
#define OUTPUT_READ_BUDGET (64 * 1024)

typedef struct OutputReader OutputReader;

/* Every reader of the master; readers free themselves at end of file. */
typedef struct OutputSet {
        sd_event *event;
        OutputReader *readers;
} OutputSet;

/* Whose output a pipe carries. */
typedef struct OutputSource {
        const char *service;
        unsigned slot;
        unsigned generation;
        pid_t pid;
        const char *identifier;  /* SYSLOG_IDENTIFIER */
        bool is_stderr;          /* keeps the last lines for the exit record */
} OutputSource;

/* Starts reading fd (taken, made non-blocking) for src. On failure fd is
 * closed. */
int output_reader_add(OutputSet *set, int fd, const OutputSource *src);

/* The process pid has exited: reads what its pipes hold now (it wrote all
 * of it before it died; a child it left may still write later) and puts
 * the last lines of its stderr, joined by " | ", in buf (empty when
 * there were none). */
void output_set_flush_pid(OutputSet *set, pid_t pid, char *buf, size_t size);

/* Calls f for every reader that still reads: its pipe and whose it is. A
 * binary upgrade (upgrade.h) hands them to the next process image, which
 * goes on reading them with output_reader_add(); the start of a line not
 * yet complete in a reader's buffer is lost then. Stops at f's first
 * negative return and returns it. */
typedef int (*output_reader_fn)(int fd, const OutputSource *src, void *userdata);
int output_set_foreach(const OutputSet *set, output_reader_fn f, void *userdata);

/* Frees every reader (at exit); what they hold unsent is dropped. */
void output_set_done(OutputSet *set);
