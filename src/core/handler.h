/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/socket.h>

#include "config.h"

/* A connection handler run by workers. The worker owns the connection fd:
 * serve() must not close it; the worker closes it when serve() returns. */
typedef struct Handler {
        const char *name;
        /* Runs once in every new worker after privileges are dropped and
         * before the first accept(). Returns 0 or a negative errno; on error
         * it has logged why and the worker exits with EX_CONFIG (78). May be
         * NULL. */
        int (*init)(const ServiceConfig *svc);
        /* Serves one accepted connection to its end. Returns 0 or a negative
         * errno (already logged, at most at LOG_INFO for client faults). */
        int (*serve)(const ServiceConfig *svc, int fd, const struct sockaddr *peer, socklen_t peer_len);
} Handler;

const Handler *handler_get(HandlerType type);

extern const Handler handler_echo;
extern const Handler handler_http;
