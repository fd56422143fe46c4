/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* ready = "listening": whether a program has begun to serve on one of its
 * listening sockets. The listeners are shared with every other worker of
 * the service (and of the generation before), so their accept queue says
 * nothing about this one program; what does is the program's own state,
 * which /proc shows without its help:
 *
 *  - a thread of it blocked in accept() or accept4() on one of the
 *    sockets (/proc/PID/task/TID/syscall: the call and its first
 *    argument, the fd, which /proc/PID/fd resolves to the socket inode);
 *  - or one of the sockets in an epoll set of it (/proc/PID/fdinfo of an
 *    eventpoll fd lists every watched file's inode, "ino:"), which is how
 *    event loops wait for connections: libuv (Node), asyncio (uvicorn),
 *    Go's runtime, nginx-style C servers.
 *
 * Every process of the program's process group counts (a pre-forking
 * program's own workers accept, not its master). A program that waits in
 * poll() or select() is not seen: it should use ready = "notify" (or
 * "immediate"). Reading another process's syscall and fdinfo needs the
 * ptrace read access a parent of the same user, or root, has. */

/* 1 when a process of process group pgid waits on one of the n socket
 * inodes, 0 when none does (yet), or a negative errno. */
int listening_probe(pid_t pgid, const ino_t *inodes, size_t n);
