/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The receiving side of sd_notify(3) for the programs a handler executes:
 * the master binds one datagram socket with SO_PASSCRED and hands its
 * address to every such program as NOTIFY_SOCKET. The kernel stamps every
 * message with its sender's pid, which the master maps to a slot, so a
 * program can speak only for itself, as under systemd's own
 * /run/systemd/notify (one socket for every unit, NotifyAccess=all scoped
 * to the unit): here a message counts for the slot whose program is the
 * sender or leads the sender's process group. */

/* What one message says; the fields the master acts on. Unknown
 * assignments (MAINPID=, ERRNO=, EXTEND_TIMEOUT_USEC=, ...) are ignored. */
typedef struct NotifyMessage {
        bool ready;              /* READY=1 */
        bool stopping;           /* STOPPING=1 */
        bool watchdog;           /* WATCHDOG=1 */
        bool watchdog_trigger;   /* WATCHDOG=trigger */
        const char *status;      /* STATUS=: points into the message; NULL when absent */
        size_t status_len;
} NotifyMessage;

/* Parses one datagram of n bytes (newline-separated VAR=VALUE lines; the
 * last line need not end in a newline). A NUL byte anywhere, or a line
 * without "=", makes the whole message invalid: -EBADMSG, as systemd
 * refuses it. The last STATUS= wins. */
int notify_message_parse(const char *buf, size_t n, NotifyMessage *ret);

/* Binds a new socket to an address in the abstract namespace that the
 * kernel picks (autobind: unique, nothing on the file system to clean
 * up), non-blocking, close-on-exec, with SO_PASSCRED. *ret_address is
 * "@NAME" for NOTIFY_SOCKET. */
int notify_listen_open(int *ret_fd, char *ret_address, size_t size);

/* The largest datagram read; longer ones are dropped (systemd's limit is
 * the same order: a page or so of STATUS= text is plenty). */
#define NOTIFY_MESSAGE_MAX 4096

/* Reads the next datagram: 1 with the text (NUL-terminated, at most
 * NOTIFY_MESSAGE_MAX bytes) in buf, its length in *ret_len and the sender
 * in *ret_pid; 0 when none is queued; or a negative errno. Datagrams
 * without credentials, truncated ones and any that carry file descriptors
 * (closed at once) are skipped. */
int notify_listen_receive(int fd, char *buf, size_t size, size_t *ret_len, pid_t *ret_pid);
