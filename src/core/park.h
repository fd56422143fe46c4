/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "macros.h"

/* Parking: a connection that waits for its client (an idle keep-alive, a
 * request head still trickling in, an echo client that sends nothing) is
 * handed by its worker to the service's front stage, which waits for it
 * with epoll among thousands of others and hands it back, with what it
 * read meanwhile, to whichever worker is free once there is work.
 *
 * The channel is one SOCK_SEQPACKET socket pair per service, made by the
 * master and kept across reloads and front-stage restarts: the front stage
 * holds one end, every worker of the service the other. A message is a
 * ParkState, the bytes read so far, and the connection's fd (SCM_RIGHTS,
 * a control buffer for exactly one fd). Messages keep their boundaries, and
 * any one worker that reads takes a handed-back connection whole. */

#define PARK_MAGIC UINT32_C(0x70666b70)   /* "pfkp" */
/* Raised whenever ParkState or the kinds change (2: PARK_PROXY and the
 * client from a PROXY header), so that a front stage and workers of
 * different binaries (during an in-place upgrade) refuse each other's
 * messages instead of misreading them. */
#define PARK_VERSION 2
/* The most bytes that travel with a connection; a head that has more
 * stays with its worker. Well below the socket's send buffer. */
#define PARK_BYTES_MAX (64U * 1024U)

typedef enum ParkKind {
        PARK_IDLE,            /* between requests: nothing read yet */
        PARK_HEAD,            /* a request head has begun to arrive */
        PARK_SENDING,         /* the rest of a response is a file, for a client that reads slowly */
        /* Fresh from accept(), its PROXY header (proxy_mode) not complete:
         * the n_bytes of it read so far travel, and the front stage takes
         * the rest before deadline_usec, not a byte more. It hands the
         * connection back as an IDLE one with nothing gathered and the
         * header's client as its peer. */
        PARK_PROXY,
        _PARK_KIND_MAX,
} ParkKind;

/* What travels with a parked connection besides its bytes. Fixed size;
 * all times are CLOCK_MONOTONIC microseconds, which the master, its
 * workers and the front stage share. */
typedef struct ParkState {
        uint32_t magic;
        uint32_t version;
        uint32_t kind;                /* ParkKind */
        uint32_t gather_max;          /* read up to this many bytes; 0: hand back when readable, unread */
        uint64_t deadline_usec;       /* close it (kind HEAD: with the handler's timeout answer) then */
        uint64_t head_timeout_usec;   /* once bytes arrive on an IDLE one: the new deadline is now + this */
        uint64_t requests;            /* answered so far on this connection */
        uint64_t conn_start_usec;     /* when it was accepted */
        /* SENDING: the file (the message's second fd) from file_offset,
         * file_remaining bytes, each stall at most send_timeout_usec; then
         * IDLE for keepalive_usec when keep_alive, else closed. */
        uint64_t file_offset;
        uint64_t file_remaining;
        uint64_t send_timeout_usec;
        uint64_t keepalive_usec;
        uint32_t keep_alive;
        uint32_t proxy_mode;          /* PROXY: the ProxyMode the header is read with */
        uint32_t n_bytes;             /* bytes that follow this header in the message */
        uint32_t peer_len;
        struct sockaddr_storage peer;
} ParkState;

/* Creates the pair: ret_fds[0] for the front stage, ret_fds[1] for the
 * workers; both close-on-exec. They are blocking sockets (every call says
 * MSG_DONTWAIT where it must not wait), and a send on the workers' end
 * waits at most PARK_SEND_TIMEOUT_USEC. */
int park_socketpair(int ret_fds[2]);

/* How long a worker's park waits for room in the channel. The queue of a
 * unix socket pair holds only net.unix.max_dgram_qlen messages (10 by
 * default, 512 under systemd), and poll() says a socket pair is writable
 * even when its peer's queue is full, so the only way to wait for room is
 * a send with a timeout. */
#define PARK_SEND_TIMEOUT_USEC (100 * USEC_PER_MSEC)

/* Sends fd (and for SENDING file_fd) with st and n bytes; with wait, waits
 * up to the socket's send timeout for room. 0, -EAGAIN when the channel is
 * full (the caller keeps the connection), or a negative errno. */
int park_send(int channel, int fd, int file_fd, const ParkState *st, const void *bytes, size_t n, bool wait);

/* park_send() of a connection handed back towards the workers (wait is
 * false), counted in *queued before it is sent and uncounted if the send
 * fails. A worker looks at the count before it looks at the channel, so
 * that it spends no system call on an empty channel per connection it
 * accepts; see acceptor_next() in worker.c for why a count that is off
 * costs only an order, never a connection. */
int park_hand_back(int channel, _Atomic int64_t *queued, int fd, const ParkState *st, const void *bytes, size_t n);

/* Receives one connection without blocking: 1 with *ret_fd and, for
 * SENDING, *ret_file_fd (else -EBADF; both close-on-exec), *ret_state and
 * the bytes in buf (st->n_bytes of them, buf_size must be PARK_BYTES_MAX);
 * 0 when none is queued; -ECONNRESET when nobody holds the other end any
 * more; another negative errno. A message with other than the
 * expected number of fds, or malformed, has its fds closed and is
 * skipped: the control buffer has room for two, and no more. */
int park_receive(int channel, int *ret_fd, int *ret_file_fd, ParkState *ret_state, void *buf, size_t buf_size);
