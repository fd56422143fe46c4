/* SPDX-License-Identifier: MIT */
#pragma once

/* The daemon's processes, sockets and connections as /proc shows them:
 * workers, the process group, who holds a listener or a connection. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct TestDaemon TestDaemon;

/* Live (non-zombie) child processes of pid, found by scanning /proc, sorted
 * ascending. Returns their number (>= 0); *ret (may be NULL) is a malloc'ed
 * array (NULL when there are none). */
int td_children(pid_t pid, pid_t **ret);
/* td_children() of the master that are workers (front stages left out). */
int td_workers(TestDaemon *d, pid_t **ret);
/* The master's children that are front stages (comm "preforkd-front"). */
int td_front_stages(TestDaemon *d, pid_t **ret);
/* Waits until the master has exactly n front stages; stores them like
 * td_front_stages() and returns n. A front stage reports no readiness, so
 * READY=1 may come before it has named itself (until then it looks like a
 * worker); this looks at /proc again and again until it has. */
int td_wait_front_stages(TestDaemon *d, size_t n, uint64_t timeout, pid_t **ret);
/* Waits until the master has exactly n live children; stores them like
 * td_workers() if ret is not NULL. A fork is no event the test can wait
 * for, so this looks at /proc again and again: prefer a log line or a
 * notify message where the daemon tells what you wait for. */
int td_wait_workers(TestDaemon *d, size_t n, uint64_t timeout, pid_t **ret);
/* Like td_wait_workers(), for replacements: first waits until each of the
 * n_gone pids in gone[] has exited, then until the master has exactly n
 * live children, none of them in gone[]. */
int td_wait_workers_without(TestDaemon *d, size_t n, const pid_t *gone, size_t n_gone, uint64_t timeout,
                            pid_t **ret);
/* True while pid exists and is not a zombie. */
bool td_pid_alive(pid_t pid);
/* The live (not zombie) processes of process group pgrp, ascending, in
 * *ret (malloc'ed, NULL when there are none); returns their number. */
int td_pgrp_pids(pid_t pgrp, pid_t **ret);
/* How many entries /proc/PID/SUB has ("fd": open fds, "task": threads),
 * or a negative errno when it cannot be read. */
int td_proc_entries(pid_t pid, const char *sub);
/* Waits until pid is gone or a zombie (through a pidfd: no polling). */
int td_wait_pid_gone(pid_t pid, uint64_t timeout);

/* The value of the "key:" line of /proc/PID/status ("Uid", "Groups", ...)
 * without the leading blanks (free()), or NULL. */
char *td_proc_status(pid_t pid, const char *key);

/* Number of live processes in the daemon's process group (the master and
 * every process it forked that did not leave the group). Still works after
 * the master was reaped: "no worker left behind". */
int td_group_count(TestDaemon *d);
/* Waits until td_group_count() is 0: every process of the group exited. */
int td_wait_group_gone(TestDaemon *d, uint64_t timeout);

/* The pid of the daemon process holding the server side of the connected
 * TCP socket client_fd (found through /proc/net/tcp{,6} and /proc/PID/fd of
 * the master's children). -ENOENT if no worker holds it (yet). */
int td_conn_owner(TestDaemon *d, int client_fd, pid_t *ret);
/* Like td_conn_owner(), front stages included: the pid of the worker or
 * front stage holding the server side of client_fd. */
int td_conn_holder(TestDaemon *d, int client_fd, pid_t *ret);
/* Waits until the daemon has read everything the test sent on the
 * connected TCP socket client_fd: nothing unacknowledged on the test's
 * side, nothing unread in the receive queue of the daemon's side. For "the
 * worker has this request in its buffer" and "these pieces reached the
 * worker one read at a time". */
int td_wait_conn_read(int client_fd, uint64_t timeout);

/* The value of the "key:" line of /proc/PID/status ("Uid", "Groups", ...)
 * without the leading blanks (free()), or NULL. */
char *td_proc_status(pid_t pid, const char *key);

/* Number of live processes in the daemon's process group that hold an fd
 * of a listening TCP socket (IPv4 or IPv6, any address) on port. 0 once the
 * daemon has really closed a listener everywhere; unlike a connect() probe,
 * not fooled by another program that binds the same port afterwards. */
int td_tcp_listener_holders(TestDaemon *d, uint16_t port);
/* Waits until td_tcp_listener_holders() is 0. */
int td_wait_tcp_listener_closed(TestDaemon *d, uint16_t port, uint64_t timeout);
