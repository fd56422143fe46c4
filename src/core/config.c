/* SPDX-License-Identifier: MIT */
#include <grp.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "http_config.h"
#include "log.h"

#define WORKERS_MAX 4096

static const char *const handler_names[_HANDLER_TYPE_MAX + 1] = {
        [HANDLER_ECHO] = "echo",
        [HANDLER_HTTP] = "http",
        [_HANDLER_TYPE_MAX] = NULL,
};

const char *handler_type_to_string(HandlerType t) {
        if ((unsigned) t >= _HANDLER_TYPE_MAX)
                return NULL;
        return handler_names[t];
}

static const char *const log_level_names[] = {
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", NULL,
};

static const char *const top_keys[] = {
        "user", "group", "log_level", "shutdown_timeout", "services", NULL,
};

static const char *const service_keys[] = {
        "name", "listen", "backlog", "workers", "handler", "max_requests",
        "idle_timeout", "defer_accept", "respawn", "http", NULL,
};

static const char *const respawn_keys[] = {
        "min_uptime", "backoff_initial", "backoff_max", NULL,
};

char *config_setting_path(const config_setting_t *s) {
        const config_setting_t *parent;
        char *prefix = NULL, *r = NULL;
        const char *name;

        if (!s)
                return strdup("");
        parent = config_setting_parent(s);
        if (!parent) /* the root group has no name */
                return strdup("");

        prefix = config_setting_path(parent);
        if (!prefix)
                return NULL;

        name = config_setting_name(s);
        if (name) {
                if (asprintf(&r, "%s%s%s", prefix, *prefix ? "." : "", name) < 0)
                        r = NULL;
        } else if (asprintf(&r, "%s%s[%d]", prefix, *prefix ? "." : "", config_setting_index(s)) < 0)
                r = NULL;
        free(prefix);
        return r;
}

static void config_add_error(ConfigParser *p, char *msg) {
        char **n;

        if (!msg)
                return;
        n = realloc(p->errors, (p->n_errors + 2) * sizeof(char *));
        if (!n) {
                free(msg);
                return;
        }
        p->errors = n;
        p->errors[p->n_errors++] = msg;
        p->errors[p->n_errors] = NULL;
}

void config_error(ConfigParser *p, const config_setting_t *s, const char *key, const char *fmt, ...) {
        _cleanup_free_ char *path = NULL, *what = NULL;
        const char *file = NULL;
        char *msg = NULL;
        unsigned line = 0;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        if (!what)
                return;

        path = config_setting_path(s);
        if (s) {
                line = (unsigned) config_setting_source_line(s);
                file = config_setting_source_file(s);
        }
        if (!file)
                file = p->file;

        if (asprintf(&msg, "%s:%u: %s%s%s: %s", file, line, path ? path : "",
                     key ? (path && *path ? "." : "") : "", key ? key : "", what) < 0)
                msg = NULL;
        config_add_error(p, msg);
}

void config_check_keys(ConfigParser *p, const config_setting_t *group, const char *const *allowed) {
        int n = config_setting_length(group);

        for (int i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(group, (unsigned) i);
                const char *name = config_setting_name(s);
                bool ok = false;

                for (const char *const *a = allowed; *a; a++)
                        if (name && strcmp(name, *a) == 0) {
                                ok = true;
                                break;
                        }
                if (!ok)
                        config_error(p, s, NULL, "unknown setting");
        }
}

static bool is_int_type(int type) {
        return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;
}

static const char *type_name(int type) {
        switch (type) {
        case CONFIG_TYPE_GROUP:
                return "a group";
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                return "an integer";
        case CONFIG_TYPE_FLOAT:
                return "a number";
        case CONFIG_TYPE_STRING:
                return "a string";
        case CONFIG_TYPE_BOOL:
                return "a boolean";
        case CONFIG_TYPE_ARRAY:
                return "an array";
        case CONFIG_TYPE_LIST:
                return "a list";
        default:
                return "a setting";
        }
}

/* Looks key up in g; if absent, records "missing" when required. Returns
 * the setting, or NULL when absent. */
static config_setting_t *lookup(ConfigParser *p, const config_setting_t *g, const char *key, bool required) {
        config_setting_t *s = config_setting_get_member(g, key);

        if (!s && required)
                config_error(p, g, key, "missing required setting");
        return s;
}

int config_get_string(ConfigParser *p, const config_setting_t *g, const char *key, bool required,
                      const char *def, char **ret) {
        config_setting_t *s = lookup(p, g, key, required);
        const char *v;
        char *copy;

        if (!s) {
                if (required)
                        return -EINVAL;
                copy = def ? strdup(def) : NULL;
                if (def && !copy)
                        return -ENOMEM;
                *ret = copy;
                return 0;
        }
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
                config_error(p, s, NULL, "must be a string, not %s", type_name(config_setting_type(s)));
                return -EINVAL;
        }
        v = config_setting_get_string(s);
        if (!v || !*v) {
                config_error(p, s, NULL, "must not be empty");
                return -EINVAL;
        }
        copy = strdup(v);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 1;
}

int config_get_int(ConfigParser *p, const config_setting_t *g, const char *key, bool required, int64_t min,
                   int64_t max, int64_t def, int64_t *ret) {
        config_setting_t *s = lookup(p, g, key, required);
        int64_t v;

        if (!s) {
                if (required)
                        return -EINVAL;
                *ret = def;
                return 0;
        }
        if (!is_int_type(config_setting_type(s))) {
                config_error(p, s, NULL, "must be an integer, not %s", type_name(config_setting_type(s)));
                return -EINVAL;
        }
        v = config_setting_get_int64(s);
        if (v < min || v > max) {
                config_error(p, s, NULL, "must be between %" PRIi64 " and %" PRIi64, min, max);
                return -EINVAL;
        }
        *ret = v;
        return 1;
}

int config_get_bool(ConfigParser *p, const config_setting_t *g, const char *key, bool def, bool *ret) {
        config_setting_t *s = lookup(p, g, key, false);

        if (!s) {
                *ret = def;
                return 0;
        }
        if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
                config_error(p, s, NULL, "must be true or false, not %s", type_name(config_setting_type(s)));
                return -EINVAL;
        }
        *ret = config_setting_get_bool(s);
        return 1;
}

int config_get_duration(ConfigParser *p, const config_setting_t *g, const char *key, double min_sec,
                        double max_sec, double def_sec, uint64_t *ret_usec) {
        config_setting_t *s = lookup(p, g, key, false);
        double v;

        if (!s) {
                *ret_usec = (uint64_t) llround(def_sec * 1e6);
                return 0;
        }
        if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
                v = config_setting_get_float(s);
        else if (is_int_type(config_setting_type(s)))
                v = (double) config_setting_get_int64(s);
        else {
                config_error(p, s, NULL, "must be a number of seconds, not %s",
                             type_name(config_setting_type(s)));
                return -EINVAL;
        }
        if (!isfinite(v) || v < min_sec || v > max_sec) {
                config_error(p, s, NULL, "must be between %g and %g seconds", min_sec, max_sec);
                return -EINVAL;
        }
        *ret_usec = (uint64_t) llround(v * 1e6);
        return 1;
}

int config_get_enum(ConfigParser *p, const config_setting_t *g, const char *key, const char *const *choices,
                    int def, int *ret) {
        config_setting_t *s = lookup(p, g, key, def < 0);
        char list[256] = "";
        const char *v;

        if (!s) {
                if (def < 0)
                        return -EINVAL;
                *ret = def;
                return 0;
        }
        v = config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
        for (int i = 0; v && choices[i]; i++)
                if (strcmp(v, choices[i]) == 0) {
                        *ret = i;
                        return 1;
                }
        for (int i = 0; choices[i]; i++) {
                size_t l = strlen(list);
                (void) snprintf(list + l, sizeof list - l, "%s\"%s\"", i ? ", " : "", choices[i]);
        }
        config_error(p, s, NULL, "must be one of %s", list);
        return -EINVAL;
}

char *config_resolve_path(const ConfigParser *p, const char *path) {
        char *r;

        if (path[0] == '/')
                return strdup(path);
        if (asprintf(&r, "%s/%s", p->dir, path) < 0)
                return NULL;
        return r;
}

static void service_config_done(ServiceConfig *s) {
        free(s->name);
        free(s->listen);
        for (size_t i = 0; s->listen_str && i < s->n_listen; i++)
                free(s->listen_str[i]);
        free(s->listen_str);
        free(s->listen_line);
        http_config_free(s->http);
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
        config_setting_t *l = lookup(p, svc, "listen", true);
        int n, r = 0;

        if (!l)
                return -EINVAL;
        if (config_setting_type(l) == CONFIG_TYPE_STRING)
                n = 1;
        else if (IN_SET(config_setting_type(l), CONFIG_TYPE_ARRAY, CONFIG_TYPE_LIST))
                n = config_setting_length(l);
        else {
                config_error(p, l, NULL, "must be an array of strings, not %s", type_name(config_setting_type(l)));
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
                        config_error(p, e, NULL, "must be a string, not %s", type_name(config_setting_type(e)));
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
        int r = 0;

        if (g && config_setting_type(g) != CONFIG_TYPE_GROUP) {
                config_error(p, g, NULL, "must be a group, not %s", type_name(config_setting_type(g)));
                return -EINVAL;
        }
        if (!g) {
                *ret = (RespawnConfig) {
                        .min_uptime_usec = 1 * USEC_PER_SEC,
                        .backoff_initial_usec = 100 * USEC_PER_MSEC,
                        .backoff_max_usec = 30 * USEC_PER_SEC,
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
        if (r == 0 && rc.backoff_max_usec < rc.backoff_initial_usec) {
                const config_setting_t *bm = config_setting_get_member(g, "backoff_max");
                config_error(p, bm ? bm : g, bm ? NULL : "backoff_max", "must not be smaller than backoff_initial");
                r = -EINVAL;
        }
        *ret = rc;
        return r;
}

static int parse_service(ConfigParser *p, const config_setting_t *svc, ServiceConfig *s) {
        int64_t v;
        int h = -1, r = 0;

        if (config_setting_type(svc) != CONFIG_TYPE_GROUP) {
                config_error(p, svc, NULL, "must be a group { ... }, not %s", type_name(config_setting_type(svc)));
                return -EINVAL;
        }
        config_check_keys(p, svc, service_keys);

        if (config_get_string(p, svc, "name", true, NULL, &s->name) < 0)
                r = -EINVAL;
        else if (!name_is_valid(s->name)) {
                config_error(p, config_setting_get_member(svc, "name"), NULL,
                             "\"%s\" is not a valid name (1-64 characters of a-z, 0-9, _ and -)", s->name);
                r = -EINVAL;
        }
        if (parse_listen(p, svc, s) < 0)
                r = -EINVAL;
        if (config_get_int(p, svc, "backlog", false, 1, 65535, 511, &v) < 0)
                r = -EINVAL;
        s->backlog = (int) v;
        if (config_get_int(p, svc, "workers", true, 1, WORKERS_MAX, 1, &v) < 0)
                r = -EINVAL;
        s->workers = (unsigned) v;
        if (config_get_enum(p, svc, "handler", handler_names, -1, &h) < 0)
                r = -EINVAL;
        s->handler = h < 0 ? _HANDLER_TYPE_MAX : (HandlerType) h;
        if (config_get_int(p, svc, "max_requests", false, 0, INT64_MAX, 0, &v) < 0)
                r = -EINVAL;
        s->max_requests = (uint64_t) v;
        if (config_get_duration(p, svc, "idle_timeout", 0.001, 86400, 60, &s->idle_timeout_usec) < 0)
                r = -EINVAL;
        if (config_get_bool(p, svc, "defer_accept", false, &s->defer_accept) < 0)
                r = -EINVAL;
        if (parse_respawn(p, svc, &s->respawn) < 0)
                r = -EINVAL;

        const config_setting_t *http = config_setting_get_member(svc, "http");
        switch (s->handler) {
        case HANDLER_HTTP:
                /* Silently ignoring it would let an operator believe it
                 * limits something; the http group has its own timeouts. */
                if (config_setting_get_member(svc, "idle_timeout")) {
                        config_error(p, config_setting_get_member(svc, "idle_timeout"), NULL,
                                     "not used by handler = \"http\": set http.header_timeout, "
                                     "http.keepalive_timeout and http.send_timeout instead");
                        r = -EINVAL;
                }
                if (http && config_setting_type(http) != CONFIG_TYPE_GROUP) {
                        config_error(p, http, NULL, "must be a group, not %s", type_name(config_setting_type(http)));
                        r = -EINVAL;
                } else if (config_parse_http(p, svc, http, &s->http) < 0)
                        r = -EINVAL;
                break;
        case HANDLER_ECHO:
                if (http) {
                        config_error(p, http, NULL, "only valid with handler = \"http\"");
                        r = -EINVAL;
                }
                break;
        case _HANDLER_TYPE_MAX: /* already reported */
                break;
        }
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

        list = lookup(p, root, "services", true);
        if (!list)
                return -EINVAL;
        if (!IN_SET(config_setting_type(list), CONFIG_TYPE_LIST, CONFIG_TYPE_ARRAY) &&
            config_setting_type(list) != CONFIG_TYPE_GROUP) {
                config_error(p, list, NULL, "must be a list ( { ... }, ... ), not %s",
                             type_name(config_setting_type(list)));
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
                c->services[i].handler = _HANDLER_TYPE_MAX;
                c->n_services++;
                if (parse_service(p, config_setting_get_elem(list, (unsigned) i), &c->services[i]) < 0)
                        r = -EINVAL;
        }
        check_unique(p, list, c);
        return p->n_errors > 0 ? -EINVAL : r;
}

int config_load(const char *path, Config **ret, char ***ret_errors) {
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

        f = fopen(path, "re");
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
                if (asprintf(&msg, "%s:%d: %s", config_error_file(&cfg) ? config_error_file(&cfg) : path, config_error_line(&cfg),
                             config_error_text(&cfg)) >= 0)
                        config_add_error(&p, msg);
                r = -EINVAL;
                goto finish;
        }
        (void) fclose(f);

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
