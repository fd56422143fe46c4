/* SPDX-License-Identifier: MIT */
#pragma once

#include <libconfig.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "conf-parser.h"

typedef struct ServiceConfig ServiceConfig;

/* What the core knows of a connection handler, in the spirit of systemd's
 * UnitVTable: the core never includes a handler's header. Every handler
 * defines one const HandlerVTable; src/handlers/handler-table.c lists them.
 * Adding a handler means one new file (or folder), one line in that table
 * and one line in meson.build. */
typedef struct HandlerVTable {
        const char *name;                /* the value of a service's "handler" key */

        /* The name of the handler's own config group in a service ("http"),
         * or NULL when it has none. The group belongs to this handler: the
         * core refuses it on services with another handler. */
        const char *config_group;
        /* Whether the service-level idle_timeout means anything to this
         * handler; when false, setting it is an error naming what to use
         * instead (idle_timeout_hint). */
        bool uses_idle_timeout;
        const char *idle_timeout_hint;

        /* Parses the handler's group (group may be NULL when absent;
         * service is the service's group, for errors about a missing one).
         * Records every error in p; returns 0 with *ret set (may be NULL),
         * or a negative errno. May be NULL when config_group is NULL. */
        int (*config_parse)(ConfigParser *p, const config_setting_t *service, const config_setting_t *group,
                            void **ret);
        void (*config_free)(void *config);

        /* Runs once in every new worker after privileges are dropped and
         * before the first accept(). Returns 0 or a negative errno; on error
         * it has logged why and the worker exits with EX_CONFIG (78). May be
         * NULL. */
        int (*init)(const ServiceConfig *svc);
        /* Serves one accepted, non-blocking connection to its end. The
         * worker owns fd and closes it when serve() returns. Returns 0 or a
         * negative errno (already logged, at most at LOG_INFO for client
         * faults). */
        int (*serve)(const ServiceConfig *svc, int fd, const struct sockaddr *peer, socklen_t peer_len);
} HandlerVTable;

/* NULL-terminated; defined by src/handlers/handler-table.c. */
extern const HandlerVTable *const handler_table[];

/* The handler called name, or NULL. */
const HandlerVTable *handler_find(const char *name);
