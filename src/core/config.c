/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <grp.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "config.h"
#include "crash-budget.h"
#include "log.h"

static const char *const log_level_names[] = {
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", NULL,
};

static const char *const top_keys[] = {
        "user", "group", "log_level", "shutdown_timeout", "control_socket", "metrics_listen", "services", NULL,
};

static const char *const service_keys[] = {
        "name", "listen", "backlog", "workers", "handler", "max_requests",
        "idle_timeout", "defer_accept", "respawn", "park",
        "proxy_protocol", "proxy_from", "proxy_timeout", "agent_listen",
        "max_requests_jitter", "max_memory", "request_timeout", "reload", NULL,
};

static const char *const respawn_keys[] = {
        "min_uptime", "backoff_initial", "backoff_max", "burst", "interval", NULL,
};


static void service_config_done(ServiceConfig *s) {
        free(s->name);
        free(s->listen);
        for (size_t i = 0; s->listen_str && i < s->n_listen; i++)
                free(s->listen_str[i]);
        free(s->listen_str);
        free(s->listen_line);
        config_proxy_done(&s->proxy);
        if (s->handler && s->handler->config_free)
                s->handler->config_free(s->handler_config);
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_services; i++)
                service_config_done(&c->services[i]);
        free(c->services);
        free(c->path);
        free(c->user);
        free(c->group);
        free(c->supplementary_gids);
        free(c->snapshot);
        free(c->control_socket);
        free(c->metrics_listen);
        free(c);
        return NULL;
}

const ServiceConfig *config_find_service(const Config *c, const char *name) {
        for (size_t i = 0; i < c->n_services; i++)
                if (strcmp(c->services[i].name, name) == 0)
                        return &c->services[i];
        return NULL;
}

int config_summary(const Config *c, char *buf, size_t size) {
        size_t listeners = 0, workers = 0;

        for (size_t i = 0; i < c->n_services; i++) {
                listeners += c->services[i].n_listen;
                workers += c->services[i].workers;
        }
        if (snprintf(buf, size, "%zu service%s, %zu listener%s, %zu worker%s", c->n_services,
                     c->n_services == 1 ? "" : "s", listeners, listeners == 1 ? "" : "s", workers,
                     workers == 1 ? "" : "s") >= (int) size)
                return -ENOBUFS;
        return 0;
}

static bool name_is_valid(const char *n) {
        if (!*n || strlen(n) > 64)
                return false;
        return strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(n);
}

/* Parses the listen setting of one service: one string or an array/list of
 * strings. Every address is parsed on its own so that each bad one gets its
 * own error with its own line. */
static int parse_listen(ConfigParser *p, const config_setting_t *svc, ServiceConfig *s) {
        config_setting_t *l = config_lookup_member(p, svc, "listen", true);
        int n, r = 0;

        if (!l)
                return -EINVAL;
        if (config_setting_type(l) == CONFIG_TYPE_STRING)
                n = 1;
        else if (IN_SET(config_setting_type(l), CONFIG_TYPE_ARRAY, CONFIG_TYPE_LIST))
                n = config_setting_length(l);
        else {
                config_error(p, l, NULL, "must be an array of strings, not %s", config_type_name(config_setting_type(l)));
                return -EINVAL;
        }
        if (n == 0) {
                config_error(p, l, NULL, "must name at least one address");
                return -EINVAL;
        }

        s->listen = calloc((size_t) n, sizeof(ListenAddress));
        s->listen_str = calloc((size_t) n, sizeof(char *));
        s->listen_line = calloc((size_t) n, sizeof(unsigned));
        if (!s->listen || !s->listen_str || !s->listen_line)
                return -ENOMEM;

        for (int i = 0; i < n; i++) {
                config_setting_t *e = config_setting_type(l) == CONFIG_TYPE_STRING ? l
                                                                                    : config_setting_get_elem(l, (unsigned) i);
                const char *v = config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
                const char *why;

                if (!v) {
                        config_error(p, e, NULL, "must be a string, not %s", config_type_name(config_setting_type(e)));
                        r = -EINVAL;
                        continue;
                }
                /* A relative unix socket path is relative to the config
                 * file's directory, like every other path in it. */
                _cleanup_free_ char *resolved = NULL;
                if (strncmp(v, "unix:", 5) == 0 && v[5] && v[5] != '/') {
                        _cleanup_free_ char *abs = config_resolve_path(p, v + 5);
                        if (!abs || asprintf(&resolved, "unix:%s", abs) < 0)
                                return -ENOMEM;
                        v = resolved;
                }
                if (listen_parse(v, &s->listen[s->n_listen], &why) < 0) {
                        config_error(p, e, NULL, "invalid address \"%s\": %s", v, why);
                        r = -EINVAL;
                        continue;
                }
                s->listen_line[s->n_listen] = (unsigned) config_setting_source_line(e);
                s->listen_str[s->n_listen] = strdup(v);
                if (!s->listen_str[s->n_listen])
                        return -ENOMEM;
                s->n_listen++;
        }
        return r;
}

static int parse_respawn(ConfigParser *p, const config_setting_t *svc, RespawnConfig *ret) {
        const config_setting_t *g = config_setting_get_member(svc, "respawn");
        RespawnConfig rc = { 0 };
        int64_t burst = 10;
        int r = 0;

        if (g && config_setting_type(g) != CONFIG_TYPE_GROUP) {
                config_error(p, g, NULL, "must be a group, not %s", config_type_name(config_setting_type(g)));
                return -EINVAL;
        }
        if (!g) {
                *ret = (RespawnConfig) {
                        .min_uptime_usec = 1 * USEC_PER_SEC,
                        .backoff_initial_usec = 100 * USEC_PER_MSEC,
                        .backoff_max_usec = 30 * USEC_PER_SEC,
                        .burst = 10,
                        .interval_usec = 10 * USEC_PER_SEC,
                };
                return 0;
        }
        config_check_keys(p, g, respawn_keys);
        if (config_get_duration(p, g, "min_uptime", 0, 3600, 1.0, &rc.min_uptime_usec) < 0)
                r = -EINVAL;
        if (config_get_duration(p, g, "backoff_initial", 0.001, 3600, 0.1, &rc.backoff_initial_usec) < 0)
                r = -EINVAL;
        if (config_get_duration(p, g, "backoff_max", 0.001, 86400, 30, &rc.backoff_max_usec) < 0)
                r = -EINVAL;
        if (config_get_int(p, g, "burst", false, 0, CRASH_BUDGET_BURST_MAX, 10, &burst) < 0)
                r = -EINVAL;
        rc.burst = (unsigned) burst;
        if (config_get_duration(p, g, "interval", 0.001, 86400, 10, &rc.interval_usec) < 0)
                r = -EINVAL;
        if (r == 0 && rc.backoff_max_usec < rc.backoff_initial_usec) {
                const config_setting_t *bm = config_setting_get_member(g, "backoff_max");
                config_error(p, bm ? bm : g, bm ? NULL : "backoff_max", "must not be smaller than backoff_initial");
                r = -EINVAL;
        }
        *ret = rc;
        return r;
}

/* The service's handler, and the config groups of handlers: a group is
 * parsed by the handler it belongs to, and refused on any other. */
static int parse_handler(ConfigParser *p, const config_setting_t *svc, ServiceConfig *s) {
        const config_setting_t *h = config_lookup_member(p, svc, "handler", true);
        char names[256] = "";
        int r = 0;

        if (h) {
                const char *v = config_setting_type(h) == CONFIG_TYPE_STRING ? config_setting_get_string(h) : NULL;
                s->handler = handler_find(v);
                if (!s->handler) {
                        for (const HandlerVTable *const *t = handler_table; *t; t++) {
                                size_t l = strlen(names);
                                (void) snprintf(names + l, sizeof names - l, "%s\"%s\"", l ? ", " : "", (*t)->name);
                        }
                        config_error(p, h, NULL, "must be one of %s", names);
                        r = -EINVAL;
                }
        } else
                r = -EINVAL;

        for (const HandlerVTable *const *t = handler_table; *t; t++) {
                const config_setting_t *g;

                if (!(*t)->config_group)
                        continue;
                g = config_setting_get_member(svc, (*t)->config_group);
                if (s->handler == *t) {
                        if (g && config_setting_type(g) != CONFIG_TYPE_GROUP) {
                                config_error(p, g, NULL, "must be a group, not %s",
                                             config_type_name(config_setting_type(g)));
                                r = -EINVAL;
                        } else if ((*t)->config_parse(p, svc, g, &s->handler_config) < 0)
                                r = -EINVAL;
                        else if ((*t)->worker_policy)
                                (*t)->worker_policy(s->handler_config, &s->policy);
                } else if (g) {
                        config_error(p, g, NULL, "only valid with handler = \"%s\"", (*t)->name);
                        r = -EINVAL;
                }
        }

        /* Silently ignoring it would let an operator believe it limits
         * something the handler times by its own settings. */
        const config_setting_t *idle = config_setting_get_member(svc, "idle_timeout");
        if (s->handler && !s->handler->uses_idle_timeout && idle) {
                config_error(p, idle, NULL, "not used by handler = \"%s\"%s%s", s->handler->name,
                             s->handler->idle_timeout_hint ? ": " : "",
                             s->handler->idle_timeout_hint ? s->handler->idle_timeout_hint : "");
                r = -EINVAL;
        }
        return r;
}

/* Keys that a service group may hold: the core's, and the config group of
 * every handler (which parse_handler() then checks against the handler). */
static void check_service_keys(ConfigParser *p, const config_setting_t *svc) {
        const char *allowed[ELEMENTSOF(service_keys) + 16];
        size_t n = 0;

        for (const char *const *k = service_keys; *k; k++)
                allowed[n++] = *k;
        for (const HandlerVTable *const *t = handler_table; *t && n < ELEMENTSOF(allowed) - 1; t++)
                if ((*t)->config_group)
                        allowed[n++] = (*t)->config_group;
        allowed[n] = NULL;
        config_check_keys(p, svc, allowed);
}

static const char *const park_keys[] = {
        "enabled", "max_parked", "delay", "slice", NULL,
};

/* The park group: on by default for handlers that can park. Parsed after
 * the handler, whose table entry says whether it can. */
static int parse_park(ConfigParser *p, const config_setting_t *svc, ServiceConfig *s) {
        const config_setting_t *g = config_setting_get_member(svc, "park");
        bool can = s->handler && s->handler->park_ready;
        int64_t max = 10000;
        int r = 0;

        s->park = can;
        s->max_parked = (uint64_t) max;
        /* The handler's default (its table entry), else 2 ms. */
        double delay = can && s->handler->park_delay_default > 0 ? s->handler->park_delay_default : 0.002;
        s->park_delay_usec = (uint64_t) (delay * USEC_PER_SEC + 0.5);
        /* 0.5 ms, measured (bench/README.md, "Defaults chosen by A/B
         * runs"): against 1 ms, wrk's p99 at 8, 64 and 1024 keep-alive
         * clients of two workers halves, at 1.09-1.17x the rate and the
         * same CPU per request or less; 5 ms had made it 17, 167 and
         * 987 ms. Still long against one hand-off (a few tens of
         * requests); 0.25 ms halves p99 again but costs 6-13% more CPU
         * per request. */
        const double slice = 0.0005;
        s->park_slice_usec = (uint64_t) (slice * USEC_PER_SEC + 0.5);
        if (!g)
                return 0;
        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
                config_error(p, g, NULL, "must be a group, not %s", config_type_name(config_setting_type(g)));
                return -EINVAL;
        }
        config_check_keys(p, g, park_keys);
        if (config_get_bool(p, g, "enabled", can, &s->park) < 0)
                r = -EINVAL;
        else if (s->park && !can && s->handler) {
                config_error(p, config_setting_get_member(g, "enabled"), NULL,
                             "handler = \"%s\" cannot park connections", s->handler->name);
                r = -EINVAL;
        }
        if (config_get_int(p, g, "max_parked", false, 1, 1000000, 10000, &max) < 0)
                r = -EINVAL;
        s->max_parked = (uint64_t) max;
        if (config_get_duration(p, g, "delay", 0, 10, delay, &s->park_delay_usec) < 0)
                r = -EINVAL;
        if (config_get_duration(p, g, "slice", 0.0001, 10, slice, &s->park_slice_usec) < 0)
                r = -EINVAL;
        return r;
}

static int parse_service(ConfigParser *p, const config_setting_t *svc, ServiceConfig *s) {
        int64_t backlog = 511, workers = 1, max_requests = 0;
        int r = 0;

        s->policy = (WorkerPolicy) WORKER_POLICY_INIT;
        if (config_setting_type(svc) != CONFIG_TYPE_GROUP) {
                config_error(p, svc, NULL, "must be a group { ... }, not %s", config_type_name(config_setting_type(svc)));
                return -EINVAL;
        }
        check_service_keys(p, svc);

        if (config_get_string(p, svc, "name", true, NULL, &s->name) < 0)
                r = -EINVAL;
        else if (!name_is_valid(s->name)) {
                config_error(p, config_setting_get_member(svc, "name"), NULL,
                             "\"%s\" is not a valid name (1-64 characters of a-z, 0-9, _ and -)", s->name);
                r = -EINVAL;
        }
        if (parse_listen(p, svc, s) < 0)
                r = -EINVAL;
        if (config_get_int(p, svc, "backlog", false, 1, 65535, 511, &backlog) < 0)
                r = -EINVAL;
        s->backlog = (int) backlog;
        if (config_get_int(p, svc, "workers", true, 1, WORKERS_MAX, 1, &workers) < 0)
                r = -EINVAL;
        s->workers = (unsigned) workers;
        if (config_get_int(p, svc, "max_requests", false, 0, INT64_MAX, 0, &max_requests) < 0)
                r = -EINVAL;
        s->max_requests = (uint64_t) max_requests;
        if (config_get_duration(p, svc, "idle_timeout", 0.001, 86400, 60, &s->idle_timeout_usec) < 0)
                r = -EINVAL;
        if (parse_respawn(p, svc, &s->respawn) < 0)
                r = -EINVAL;
        if (parse_handler(p, svc, s) < 0)
                r = -EINVAL;
        /* After the handler, whose table entry gives the default. */
        if (config_get_bool(p, svc, "defer_accept", s->handler && s->handler->defer_accept_default,
                            &s->defer_accept) < 0)
                r = -EINVAL;
        if (parse_park(p, svc, s) < 0)
                r = -EINVAL;
        if (config_proxy_parse(p, svc, &s->proxy) < 0)
                r = -EINVAL;
        if (config_parse_supervision(p, svc, s) < 0)
                r = -EINVAL;
        return r;
}

/* Cross-service checks: names and listen addresses must be unique over the
 * whole file, because listeners are shared by address across reloads. */
static void check_unique(ConfigParser *p, const config_setting_t *list, Config *c) {
        for (size_t i = 0; i < c->n_services; i++) {
                const ServiceConfig *a = &c->services[i];
                const config_setting_t *sa = config_setting_get_elem(list, (unsigned) i);

                for (size_t j = 0; j < i; j++)
                        if (a->name && c->services[j].name && strcmp(a->name, c->services[j].name) == 0)
                                config_error(p, config_setting_get_member(sa, "name"), NULL,
                                             "duplicate service name \"%s\" (also services.[%zu])", a->name, j);

                for (size_t k = 0; k < a->n_listen; k++) {
                        char ka[256], kb[256];

                        /* Port 0 asks the kernel for a fresh port each time:
                         * two of them never clash. */
                        if (listen_format(&a->listen[k], ka, sizeof ka) < 0 || listen_is_port_zero(&a->listen[k]))
                                continue;
                        for (size_t j = 0; j <= i; j++) {
                                const ServiceConfig *b = &c->services[j];
                                size_t lim = j == i ? k : b->n_listen;

                                for (size_t m = 0; m < lim; m++) {
                                        if (listen_format(&b->listen[m], kb, sizeof kb) < 0 || strcmp(ka, kb) != 0)
                                                continue;
                                        const config_setting_t *l = config_setting_get_member(sa, "listen");
                                        config_error(p,
                                                     config_setting_type(l) == CONFIG_TYPE_STRING
                                                             ? l
                                                             : config_setting_get_elem(l, (unsigned) k),
                                                     NULL, "duplicate listen address %s (also in service \"%s\")", ka,
                                                     b->name ? b->name : "?");
                                }
                        }
                }
        }
}

/* An agent_listen address is one service's, and no service's listen
 * address. */
static void check_unique_agents(ConfigParser *p, const config_setting_t *list, const Config *c) {
        for (size_t i = 0; i < c->n_services; i++) {
                const ListenAddress *a = c->services[i].proxy.agent_listen;
                const config_setting_t *at;
                char ka[256], kb[256];

                if (!a || listen_is_port_zero(a) || listen_format(a, ka, sizeof ka) < 0)
                        continue;
                at = config_setting_get_member(config_setting_get_elem(list, (unsigned) i), "agent_listen");
                for (size_t j = 0; j < c->n_services; j++) {
                        const ServiceConfig *b = &c->services[j];

                        if (j < i && b->proxy.agent_listen &&
                            listen_format(b->proxy.agent_listen, kb, sizeof kb) >= 0 && strcmp(ka, kb) == 0)
                                config_error(p, at, NULL, "duplicate agent_listen address %s (also in service \"%s\")",
                                             ka, b->name ? b->name : "?");
                        for (size_t m = 0; m < b->n_listen; m++)
                                if (listen_format(&b->listen[m], kb, sizeof kb) >= 0 && strcmp(ka, kb) == 0)
                                        config_error(p, at, NULL, "%s is also a listen address of service \"%s\"", ka,
                                                     b->name ? b->name : "?");
                }
        }
}

/* The lookups below use the reentrant NSS calls: the master runs
 * config_load() in a thread (config-loader.c). Each returns 1 and the
 * result when found, 0 when there is no such entry, or a negative errno. */
static int lookup_user(const char *name, uid_t *ret_uid, gid_t *ret_gid) {
        for (size_t size = 1024;; size *= 2) {
                _cleanup_free_ char *buf = malloc(size);
                struct passwd pw, *found = NULL;
                int e;

                if (!buf)
                        return -ENOMEM;
                e = getpwnam_r(name, &pw, buf, size, &found);
                if (e == ERANGE && size < 1024 * 1024)
                        continue;
                if (e != 0)
                        return -e;
                if (!found)
                        return 0;
                *ret_uid = pw.pw_uid;
                *ret_gid = pw.pw_gid;
                return 1;
        }
}

static int lookup_group(const char *name, gid_t *ret_gid) {
        for (size_t size = 1024;; size *= 2) {
                _cleanup_free_ char *buf = malloc(size);
                struct group gr, *found = NULL;
                int e;

                if (!buf)
                        return -ENOMEM;
                e = getgrnam_r(name, &gr, buf, size, &found);
                if (e == ERANGE && size < 1024 * 1024)
                        continue;
                if (e != 0)
                        return -e;
                if (!found)
                        return 0;
                *ret_gid = gr.gr_gid;
                return 1;
        }
}

/* The groups initgroups(user, gid) would set. A worker is forked by a
 * master that may have a thread inside NSS, so it must not call into NSS
 * itself: it gets this list for setgroups() instead. */
static int lookup_supplementary_groups(const char *user, gid_t gid, gid_t **ret, size_t *ret_n) {
        int n = 32;

        for (;;) {
                _cleanup_free_ gid_t *l = calloc((size_t) n, sizeof(gid_t));
                int k = n;

                if (!l)
                        return -ENOMEM;
                if (getgrouplist(user, gid, l, &k) >= 0) {
                        *ret = TAKE_PTR(l);
                        *ret_n = (size_t) k;
                        return 0;
                }
                /* Too small: k is now the number needed. */
                n = MAX(k, n * 2);
                if (n > 65536) /* NGROUPS_MAX */
                        return -E2BIG;
        }
}

static int parse_user(ConfigParser *p, const config_setting_t *root, Config *c) {
        int r = 0, k;

        if (config_get_string(p, root, "user", false, NULL, &c->user) < 0)
                r = -EINVAL;
        if (config_get_string(p, root, "group", false, NULL, &c->group) < 0)
                r = -EINVAL;

        if (c->user) {
                k = lookup_user(c->user, &c->uid, &c->gid);
                if (k <= 0) {
                        config_error(p, config_setting_get_member(root, "user"), NULL, "unknown user \"%s\"%s%s",
                                     c->user, k < 0 ? ": " : "", k < 0 ? strerror(-k) : "");
                        r = -EINVAL;
                }
        }
        if (c->group) {
                k = lookup_group(c->group, &c->gid);
                if (k <= 0) {
                        config_error(p, config_setting_get_member(root, "group"), NULL, "unknown group \"%s\"%s%s",
                                     c->group, k < 0 ? ": " : "", k < 0 ? strerror(-k) : "");
                        r = -EINVAL;
                }
        }
        if (c->user && r == 0) {
                k = lookup_supplementary_groups(c->user, c->gid, &c->supplementary_gids, &c->n_supplementary_gids);
                if (k < 0) {
                        config_error(p, config_setting_get_member(root, "user"), NULL,
                                     "cannot look up the groups of user \"%s\": %s", c->user, strerror(-k));
                        r = -EINVAL;
                }
        }
        return r;
}

/* control_socket and metrics_listen: where the master can be asked about
 * its state (control.h, metrics-http.h). */
static int parse_observability(ConfigParser *p, const config_setting_t *root, Config *c) {
        const char *why;
        int r = 0;

        const config_setting_t *cs = config_setting_get_member(root, "control_socket");

        /* "" turns the control socket off, which no other string key
         * allows. */
        if (cs && config_setting_type(cs) == CONFIG_TYPE_STRING && config_setting_get_string(cs) &&
            !config_setting_get_string(cs)[0]) {
                c->control_socket = strdup("");
                if (!c->control_socket)
                        return -ENOMEM;
        } else if (config_get_string(p, root, "control_socket", false, NULL, &c->control_socket) < 0)
                r = -EINVAL;
        else if (c->control_socket) {
                _cleanup_free_ char *abs = config_resolve_path(p, c->control_socket);

                if (!abs)
                        return -ENOMEM;
                if (strlen(abs) >= sizeof(((struct sockaddr_un *) NULL)->sun_path)) {
                        config_error(p, config_setting_get_member(root, "control_socket"), NULL,
                                     "path too long for a unix socket: %s", abs);
                        r = -EINVAL;
                }
                free(c->control_socket);
                c->control_socket = TAKE_PTR(abs);
        }
        if (config_get_string(p, root, "metrics_listen", false, NULL, &c->metrics_listen) < 0)
                r = -EINVAL;
        else if (c->metrics_listen) {
                _cleanup_free_ char *resolved = NULL;
                const char *v = c->metrics_listen;

                if (strncmp(v, "unix:", 5) == 0 && v[5] && v[5] != '/') {
                        _cleanup_free_ char *abs = config_resolve_path(p, v + 5);
                        if (!abs || asprintf(&resolved, "unix:%s", abs) < 0)
                                return -ENOMEM;
                        v = resolved;
                }
                if (listen_parse(v, &c->metrics_address, &why) < 0 ||
                    (c->metrics_address.type == LISTEN_SYSTEMD && (why = "\"systemd:\" is for services"))) {
                        config_error(p, config_setting_get_member(root, "metrics_listen"), NULL,
                                     "invalid address \"%s\": %s", v, why);
                        r = -EINVAL;
                }
        }
        return r;
}

static int config_parse(ConfigParser *p, config_t *cfg, Config *c) {
        const config_setting_t *root = config_root_setting(cfg), *list;
        int lvl = LOG_INFO, r = 0;

        config_check_keys(p, root, top_keys);
        if (parse_user(p, root, c) < 0)
                r = -EINVAL;
        if (config_get_enum(p, root, "log_level", log_level_names, LOG_INFO, &lvl) < 0)
                r = -EINVAL;
        c->log_level = lvl;
        if (config_get_duration(p, root, "shutdown_timeout", 0, 86400, 10, &c->shutdown_timeout_usec) < 0)
                r = -EINVAL;
        if (parse_observability(p, root, c) < 0)
                r = -EINVAL;

        list = config_lookup_member(p, root, "services", true);
        if (!list)
                return -EINVAL;
        if (!IN_SET(config_setting_type(list), CONFIG_TYPE_LIST, CONFIG_TYPE_ARRAY) &&
            config_setting_type(list) != CONFIG_TYPE_GROUP) {
                config_error(p, list, NULL, "must be a list ( { ... }, ... ), not %s",
                             config_type_name(config_setting_type(list)));
                return -EINVAL;
        }
        if (config_setting_type(list) == CONFIG_TYPE_GROUP) {
                config_error(p, list, NULL, "must be a list of groups in parentheses: services = ( { ... } );");
                return -EINVAL;
        }
        int n = config_setting_length(list);
        if (n == 0) {
                config_error(p, list, NULL, "must define at least one service");
                return -EINVAL;
        }
        c->services = calloc((size_t) n, sizeof(ServiceConfig));
        if (!c->services)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                c->n_services++;
                if (parse_service(p, config_setting_get_elem(list, (unsigned) i), &c->services[i]) < 0)
                        r = -EINVAL;
        }
        check_unique(p, list, c);
        check_unique_agents(p, list, c);
        return p->n_errors > 0 ? -EINVAL : r;
}

/* The whole parsed tree as libconfig text, every @include expanded: what
 * an upgrade hands to the next binary (state.h), so that it can rebuild
 * exactly the configuration that the running workers were started with,
 * whatever the file on disk says by then. */
static int config_snapshot(const config_t *cfg, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        config_write(cfg, f);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

/* Parses the file at path, or with text the snapshot of it that
 * config_snapshot() made, resolving relative paths against the file's
 * directory either way. */
static int config_load_internal(const char *path, const char *text, Config **ret, char ***ret_errors) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *dircopy = NULL;
        ConfigParser p = { .file = path };
        config_t cfg;
        FILE *f;
        int r;

        config_init(&cfg);
        dircopy = strdup(path);
        c = calloc(1, sizeof(Config));
        if (!dircopy || !c || !(c->path = strdup(path))) {
                r = -ENOMEM;
                goto finish;
        }
        /* Relative paths must keep meaning the same file after a reload,
         * whatever the working directory is then: anchor them now. */
        const char *d = dirname(dircopy);
        p.dir = realpath(d, NULL);
        if (!p.dir)
                p.dir = strdup(d);
        if (!p.dir) {
                r = -ENOMEM;
                goto finish;
        }
        config_set_include_dir(&cfg, p.dir);

        f = text ? fmemopen((char *) text, strlen(text), "r") : fopen(path, "re");
        if (!f) {
                r = negative_errno();
                char *msg;
                if (asprintf(&msg, "%s: cannot read configuration: %s", path, strerror(-r)) >= 0)
                        config_add_error(&p, msg);
                goto finish;
        }
        if (!config_read(&cfg, f)) {
                char *msg;
                (void) fclose(f);
                if (asprintf(&msg, "%s%s:%d: %s", config_error_file(&cfg) ? config_error_file(&cfg) : path,
                             text && !config_error_file(&cfg) ? " (snapshot)" : "", config_error_line(&cfg),
                             config_error_text(&cfg)) >= 0)
                        config_add_error(&p, msg);
                r = -EINVAL;
                goto finish;
        }
        (void) fclose(f);

        r = config_snapshot(&cfg, &c->snapshot);
        if (r >= 0)
                r = config_parse(&p, &cfg, c);
        if (r >= 0)
                *ret = TAKE_PTR(c);
finish:
        config_destroy(&cfg);
        free(p.dir);
        if (r < 0 && p.n_errors == 0 && r == -ENOMEM) {
                char *msg = strdup("out of memory");
                config_add_error(&p, msg);
        }
        if (ret_errors && r < 0)
                *ret_errors = TAKE_PTR(p.errors);
        strv_free(p.errors);
        return r < 0 ? r : 0;
}

int config_load(const char *path, Config **ret, char ***ret_errors) {
        return config_load_internal(path, NULL, ret, ret_errors);
}

int config_load_snapshot(const char *path, const char *text, Config **ret, char ***ret_errors) {
        assert(text);
        return config_load_internal(path, text, ret, ret_errors);
}
