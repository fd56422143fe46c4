/* SPDX-License-Identifier: MIT */
#pragma once

#include <libconfig.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "listen.h"
#include "macros.h"

typedef enum HandlerType {
        HANDLER_ECHO,
        HANDLER_HTTP,
        _HANDLER_TYPE_MAX,
} HandlerType;

const char *handler_type_to_string(HandlerType t);

typedef struct RespawnConfig {
        uint64_t min_uptime_usec;
        uint64_t backoff_initial_usec;
        uint64_t backoff_max_usec;
} RespawnConfig;

typedef struct HttpConfig HttpConfig; /* config_http.h */

typedef struct ServiceConfig {
        char *name;
        ListenAddress *listen;
        char **listen_str;       /* as written, n_listen of them */
        unsigned *listen_line;   /* where each was written, for later errors */
        size_t n_listen;
        int backlog;
        unsigned workers;
        HandlerType handler;
        uint64_t max_requests;   /* 0: never recycle */
        uint64_t idle_timeout_usec;
        bool defer_accept;       /* TCP_DEFER_ACCEPT on its TCP listeners */
        RespawnConfig respawn;
        HttpConfig *http;        /* set iff handler == HANDLER_HTTP */
} ServiceConfig;

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
        ServiceConfig *services;
        size_t n_services;
} Config;

/* Error collector for one parse. Every message reads
 * "FILE:LINE: setting.path: what is wrong". */
typedef struct ConfigParser {
        const char *file;
        char *dir;               /* directory of file, for relative paths */
        char **errors;
        size_t n_errors;
} ConfigParser;

/* Parses and validates the file. On success *ret is the config and 0 is
 * returned. On failure -EINVAL is returned and *ret_errors (if non-NULL)
 * holds every problem found (NULL-terminated); nothing is logged. Other
 * negative errnos mean the file could not be read at all (and *ret_errors
 * holds one message too). */
int config_load(const char *path, Config **ret, char ***ret_errors);
Config *config_free(Config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free)

/* One-line summary: "2 services, 3 listeners, 6 workers". */
int config_summary(const Config *c, char *buf, size_t size);

const ServiceConfig *config_find_service(const Config *c, const char *name);

/* ---- helpers for group parsers (config.c, config_http.c) ---- */

/* Records an error at setting s ("FILE:LINE: path: msg"). key, if not NULL,
 * is appended to the path (for missing keys, reported at their group). */
void config_error(ConfigParser *p, const config_setting_t *s, const char *key, const char *fmt, ...)
        _printf_(4, 5);

/* "services.[0].workers" */
char *config_setting_path(const config_setting_t *s);

/* Every member of group whose name is not in allowed (NULL-terminated) is an
 * "unknown setting" error. */
void config_check_keys(ConfigParser *p, const config_setting_t *group, const char *const *allowed);

/* Each getter returns 1 if the key was set and valid (and stores it), 0 if
 * it was absent (and stores the default, or records an error when
 * required), and -EINVAL after recording an error. */
int config_get_string(ConfigParser *p, const config_setting_t *g, const char *key, bool required,
                      const char *def, char **ret);
int config_get_int(ConfigParser *p, const config_setting_t *g, const char *key, bool required,
                   int64_t min, int64_t max, int64_t def, int64_t *ret);
int config_get_bool(ConfigParser *p, const config_setting_t *g, const char *key, bool def, bool *ret);
/* Seconds as int or float, stored as microseconds. */
int config_get_duration(ConfigParser *p, const config_setting_t *g, const char *key, double min_sec,
                        double max_sec, double def_sec, uint64_t *ret_usec);
/* A string that must be one of choices (NULL-terminated); stores the index. */
int config_get_enum(ConfigParser *p, const config_setting_t *g, const char *key, const char *const *choices,
                    int def, int *ret);

/* Absolute path as is; relative path joined to the config file's directory. */
char *config_resolve_path(const ConfigParser *p, const char *path);
