/* SPDX-License-Identifier: MIT */
#pragma once

#include <libconfig.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf-parser.h"
#include "park.h"

typedef struct ServiceConfig ServiceConfig;
typedef struct WorkerSpawn WorkerSpawn;

/* How a worker tells the master that it serves. */
typedef enum WorkerReady {
        WORKER_READY_ACCEPT_LOOP,  /* our own worker loop reports over the readiness socket */
        WORKER_READY_NOTIFY,       /* READY=1 on the NOTIFY_SOCKET the master hands it */
        WORKER_READY_LISTENING,    /* the master sees it waiting on a listener (listening-probe.h) */
        WORKER_READY_IMMEDIATE,    /* reported by the worker right before it executes a program */
        _WORKER_READY_MAX,
} WorkerReady;

/* Where a worker's standard output and error go. */
typedef enum WorkerOutput {
        WORKER_OUTPUT_INHERIT,     /* the master's own */
        WORKER_OUTPUT_JOURNAL,     /* a pipe the master reads: one log record per line */
        WORKER_OUTPUT_NULL,        /* /dev/null */
        _WORKER_OUTPUT_MAX,
} WorkerOutput;

/* What the core must know to supervise a handler's workers when they are
 * not (only) its own accept loop but programs of their own: how they
 * report readiness and liveness, how they are stopped, where their output
 * goes. A handler without a worker_policy() hook gets the defaults
 * (WORKER_POLICY_INIT): our accept loop, SIGTERM, inherited output. */
typedef struct WorkerPolicy {
        WorkerReady ready;
        uint64_t ready_timeout_usec;  /* a worker not ready by then is killed as a failed start; 0: no limit */
        uint64_t watchdog_usec;       /* a ready worker silent (no WATCHDOG=1) this long is killed; 0: off */
        int stop_signal;              /* what a graceful stop sends instead of SIGTERM */
        /* The worker leads a process group of its own (setpgid), whose
         * members are SIGKILLed with it and after it exits. */
        bool own_process_group;
        /* The stop signal goes to the whole group, not only the worker. */
        bool stop_signal_to_group;
        WorkerOutput output[2];       /* [0] stdout, [1] stderr */
        char identifier[64];          /* SYSLOG_IDENTIFIER of the records of its output */
} WorkerPolicy;

#define WORKER_POLICY_INIT                                                                      \
        {                                                                                       \
                .ready = WORKER_READY_ACCEPT_LOOP,                                              \
                .stop_signal = SIGTERM,                                                         \
                .output = { WORKER_OUTPUT_INHERIT, WORKER_OUTPUT_INHERIT },                     \
        }

/* A connection as a handler gets it: fresh from accept(), or handed back
 * by the front stage with its state and the bytes it read meanwhile. */
typedef struct Conn {
        int fd;                       /* non-blocking; the worker closes it after serve() */
        const struct sockaddr *peer;  /* NULL when unknown */
        socklen_t peer_len;
        const ParkState *parked;      /* NULL: fresh from accept() */
        const char *bytes;            /* parked->n_bytes read by the front stage */
} Conn;

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
        /* The service's defer_accept default: true for a protocol whose
         * client always speaks first and whose server has nothing to do
         * for a connection before its first bytes (http, as Apache's
         * AcceptFilter does by default on Linux). */
        bool defer_accept_default;

        /* Parses the handler's group (group may be NULL when absent;
         * service is the service's group, for errors about a missing one).
         * Records every error in p; returns 0 with *ret set (may be NULL),
         * or a negative errno. May be NULL when config_group is NULL. */
        int (*config_parse)(ConfigParser *p, const config_setting_t *service, const config_setting_t *group,
                            void **ret);
        void (*config_free)(void *config);
        /* Fills in *policy (preset to WORKER_POLICY_INIT) from the
         * handler's parsed group. May be NULL. */
        void (*worker_policy)(const void *config, WorkerPolicy *policy);

        /* When set, a new worker runs this first, once worker_prepare()
         * has dropped privileges: a handler whose workers are programs of
         * their own executes its program here and never returns; when it
         * returns, the worker goes on to its accept loop. */
        void (*worker_main)(const WorkerSpawn *sp);

        /* Runs once in every new worker after privileges are dropped and
         * before the first accept(). Returns 0 or a negative errno; on error
         * it has logged why and the worker exits with EX_CONFIG (78). May be
         * NULL. */
        int (*init)(const ServiceConfig *svc);
        /* Serves one connection until it ends or is parked (see
         * worker_park()). The worker owns c->fd and closes its copy when
         * serve() returns. Returns 0 or a negative errno (already logged,
         * at most at LOG_INFO for client faults). */
        int (*serve)(const ServiceConfig *svc, const Conn *c);

        /* Parking (see park.h); NULL for a handler that never parks. Both
         * run in the front stage. park_ready: given the n > 0 bytes
         * gathered so far of a parked connection (at most max), whether it
         * has work for a worker now (1: a complete request head, or as
         * much as may be gathered) or waits for more (0). The first
         * scanned bytes were judged before (with fewer bytes): a search
         * may resume there, so that a head trickling in byte by byte
         * costs linear time, as in the worker. */
        int (*park_ready)(const char *buf, size_t n, size_t scanned, size_t max);
        /* park.delay's default, in seconds, chosen by measurement for the
         * handler's traffic (bench/README.md, "park.delay"). */
        double park_delay_default;
        /* A parked connection's deadline passed while a request was
         * arriving: the last answer to send before closing (HTTP 408),
         * written into buf; returns its length, 0 for none. */
        size_t (*park_timeout_answer)(char *buf, size_t size);
        /* Whether a graceful stop may close a parked connection that waits
         * between two requests (http's idle keep-alive); otherwise (echo,
         * which has no request boundary) it is handed back and served to
         * its end like any connection in progress. */
        bool park_idle_closes_on_stop;
} HandlerVTable;

/* NULL-terminated; defined by src/handlers/handler-table.c. */
extern const HandlerVTable *const handler_table[];

/* The handler called name, or NULL. */
const HandlerVTable *handler_find(const char *name);
