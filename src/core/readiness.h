/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/types.h>

/* Workers tell the master that they reached their accept loop over one
 * SOCK_SEQPACKET socket pair: the master's end has SO_PASSCRED, so every
 * report carries the sender's pid as the kernel knows it, and a worker
 * cannot mark another one ready. Workers send without blocking: a full
 * queue must never hold a worker in write() (with SIGTERM blocked). */

typedef struct ReadinessReport {
        pid_t pid;               /* from the kernel, not from the message */
        unsigned generation;
        unsigned slot;
} ReadinessReport;

/* Creates the pair; both ends close-on-exec, the master's non-blocking. */
int readiness_open(int *ret_master_fd, int *ret_worker_fd);
/* Master: the next report; 1 with *ret set, 0 when none is queued, or a
 * negative errno. Malformed or credential-less messages are skipped. */
int readiness_receive(int fd, ReadinessReport *ret);
/* Worker: sends its report; a full queue is waited on for about a second
 * at most, never indefinitely. */
int readiness_send(int fd, unsigned generation, unsigned slot);
