/* SPDX-License-Identifier: MIT */
#pragma once

#include <libconfig.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf-parser.h"
#include "config-proxy.h"
#include "handler.h"
#include "listen.h"
#include "macros.h"

/* The most workers one service may have (the workers setting, scale). */
#define WORKERS_MAX 4096

typedef struct RespawnConfig {
        uint64_t min_uptime_usec;
        uint64_t backoff_initial_usec;
        uint64_t backoff_max_usec;
        /* The crash budget: this many deaths before serving per interval
         * are replaced at once; past it, backoff (crash-budget.h). */
        unsigned burst;
        uint64_t interval_usec;
} RespawnConfig;

typedef enum ReloadStrategy {
        RELOAD_STRATEGY_ALL,     /* every new worker at once; the old ones retire when all are ready */
        RELOAD_STRATEGY_ROLLING, /* in batches, each gated on readiness, rolled back on failure */
        _RELOAD_STRATEGY_MAX,
} ReloadStrategy;

/* How a reload to this configuration replaces the service's workers
 * (reload-rolling.h). */
typedef struct ReloadConfig {
        ReloadStrategy strategy;
        unsigned batch;          /* workers per batch, or 0 when batch_percent says */
        unsigned batch_percent;  /* 1-100: that share of workers, rounded up */
        uint64_t ready_timeout_usec;
} ReloadConfig;

struct ServiceConfig {
        char *name;
        ListenAddress *listen;
        char **listen_str;       /* as written, n_listen of them */
        unsigned *listen_line;   /* where each was written, for later errors */
        size_t n_listen;
        int backlog;
        unsigned workers;
        const HandlerVTable *handler;
        uint64_t max_requests;   /* 0: never recycle */
        uint64_t max_requests_jitter; /* each worker adds random(0..this) to max_requests */
        uint64_t max_memory;     /* bytes of private memory; 0: no limit */
        uint64_t request_timeout_usec; /* 0: off */
        ReloadConfig reload;
        uint64_t idle_timeout_usec;
        bool defer_accept;       /* TCP_DEFER_ACCEPT on its TCP listeners */
        RespawnConfig respawn;
        bool park;               /* idle and slow connections go to the front stage */
        uint64_t max_parked;     /* how many the front stage holds at most */
        uint64_t park_delay_usec; /* a connection quiet this long in its worker is parked */
        uint64_t park_slice_usec; /* a hot keep-alive keeps its worker this long while others wait */
        void *handler_config;    /* the handler's own group, parsed by it */
        ProxyConfig proxy;       /* behind a load balancer: PROXY header, agent check */
        WorkerPolicy policy;     /* from the handler (worker_policy()), else the defaults */
};

typedef struct Config {
        char *path;              /* as given on the command line */
        char *user, *group;
        uid_t uid;               /* valid iff user */
        gid_t gid;               /* valid iff user or group */
        /* The groups initgroups() would give user (gid among them), looked
         * up at parse time: a worker only calls setgroups() with them. */
        gid_t *supplementary_gids;
        size_t n_supplementary_gids;
        int log_level;
        uint64_t shutdown_timeout_usec;
        char *control_socket;    /* NULL: unset (the default path); "": no control socket */
        char *metrics_listen;    /* as written; NULL: no metrics endpoint */
        ListenAddress metrics_address;
        ServiceConfig *services;
        size_t n_services;
        char *snapshot;          /* the parsed tree as libconfig text (config_load_snapshot()) */
} Config;

/* Parses and validates the file. On success *ret is the config and 0 is
 * returned. On failure -EINVAL is returned and *ret_errors (if non-NULL)
 * holds every problem found (NULL-terminated); nothing is logged. Other
 * negative errnos mean the file could not be read at all (and *ret_errors
 * holds one message too). */
int config_load(const char *path, Config **ret, char ***ret_errors);
/* Like config_load(), from text, a Config's snapshot, instead of the
 * file; path is the file's name, for errors and relative paths. */
int config_load_snapshot(const char *path, const char *text, Config **ret, char ***ret_errors);
Config *config_free(Config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free)

/* One-line summary: "2 services, 3 listeners, 6 workers". */
int config_summary(const Config *c, char *buf, size_t size);

const ServiceConfig *config_find_service(const Config *c, const char *name);

/* config-supervise.c: the keys of a service that steer its supervision
 * beyond the respawn policy: max_requests_jitter, max_memory,
 * request_timeout and the reload group. Runs after the service's other
 * keys are parsed (it checks them against max_requests). Records every
 * error in p; returns 0 or -EINVAL. */
int config_parse_supervision(ConfigParser *p, const config_setting_t *svc, ServiceConfig *s);
/* The number of workers in one batch of a rolling reload of s: batch, or
 * batch_percent of its workers rounded up; at least 1, at most workers. */
unsigned reload_batch_size(const ServiceConfig *s);
