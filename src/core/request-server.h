/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "macros.h"

/* A server of one request and one answer per connection on the master's
 * event loop: the control socket and the metrics endpoint. Everything is
 * non-blocking and bounded, so that no client, however slow or hostile,
 * holds up the master: a request has a size limit and a deadline, an
 * answer a deadline to be read by, and there is a limit on connections
 * (one over it gets the busy answer and is closed at once).
 *
 * The request is read until the owner's request_end() finds its end; the
 * owner then answers at once or later (a reload answers when it is over).
 * A connection waiting for its answer is watched for its client hanging
 * up, which ends it (abandoned() tells the owner). After the answer is
 * written the connection is closed. */
typedef struct RequestServer RequestServer;
typedef struct RequestConn RequestConn;

typedef struct RequestServerOps {
        /* The length of the request when buf (n bytes read so far) holds a
         * whole one, else 0. */
        size_t (*request_end)(const char *buf, size_t n);
        /* A whole request of n bytes (the end that request_end() found
         * included). Answer with request_conn_reply() now or later. */
        void (*handle)(RequestConn *c, const char *request, size_t n, void *userdata);
        /* The request could not be read: too long, cut short by the
         * client, or not complete by the deadline (why says which).
         * Answer with request_conn_reply() now, or the connection closes. */
        void (*bad_request)(RequestConn *c, const char *why, void *userdata);
        /* A connection that handle() kept ended before its answer (its
         * client left). The owner drops every reference to c. May be NULL
         * when handle() always answers at once. */
        void (*abandoned)(RequestConn *c, void *userdata);
} RequestServerOps;

typedef struct RequestServerLimits {
        size_t max_request;            /* bytes */
        unsigned max_connections;
        uint64_t request_timeout_usec; /* from accept to the whole request */
        uint64_t answer_timeout_usec;  /* from the answer to its last byte written */
        const char *busy_answer;       /* sent (best effort) to a connection over the limit */
} RequestServerLimits;

/* Serves the listening socket fd (taken, also on failure; made
 * non-blocking here). */
int request_server_new(sd_event *e, int fd, const RequestServerOps *ops, const RequestServerLimits *limits,
                       void *userdata, RequestServer **ret);
/* Closes the listener and every connection (abandoned() is not called).
 * Accepts NULL. */
RequestServer *request_server_free(RequestServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(RequestServer *, request_server_free)

unsigned request_server_connections(const RequestServer *s);

/* Sends the answer (n bytes, malloc()ed, taken) and closes the
 * connection once it is written. A NULL answer (the owner's allocation
 * failed) just closes it. Call it once per connection; c may be freed
 * before it returns. */
void request_conn_reply(RequestConn *c, char *answer, size_t n);
/* Takes the connection's socket out of the server: c is freed, and the
 * caller owns the returned fd (blocking again), to answer it later,
 * maybe from another process image (a binary upgrade keeps it across its
 * exec). No deadline or limit of the server applies to it any more. */
int request_conn_detach(RequestConn *c);
/* The client's credentials (unix sockets: SO_PEERCRED at accept), or
 * -ENODATA. */
int request_conn_peer(const RequestConn *c, struct ucred *ret);
