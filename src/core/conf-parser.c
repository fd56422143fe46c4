/* SPDX-License-Identifier: MIT */
/* Typed getters for libconfig settings that record every error as
 * "FILE:LINE: setting.path: what is wrong" instead of stopping at the first,
 * so that -t and a refused reload list all problems at once. Shared by the
 * core's keys (config.c) and every handler's own group (through the handler
 * table). A getter stores its result only on success: on failure the
 * caller's variable keeps the default it was initialised with. */
#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "conf-parser.h"

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

void config_add_error(ConfigParser *p, char *msg) {
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

bool config_is_int_type(int type) {
        return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;
}

const char *config_type_name(int type) {
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
config_setting_t *config_lookup_member(ConfigParser *p, const config_setting_t *g, const char *key, bool required) {
        config_setting_t *s = config_setting_get_member(g, key);

        if (!s && required)
                config_error(p, g, key, "missing required setting");
        return s;
}

int config_get_string(ConfigParser *p, const config_setting_t *g, const char *key, bool required,
                      const char *def, char **ret) {
        config_setting_t *s = config_lookup_member(p, g, key, required);
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
                config_error(p, s, NULL, "must be a string, not %s", config_type_name(config_setting_type(s)));
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
        config_setting_t *s = config_lookup_member(p, g, key, required);
        int64_t v;

        if (!s) {
                if (required)
                        return -EINVAL;
                *ret = def;
                return 0;
        }
        if (!config_is_int_type(config_setting_type(s))) {
                config_error(p, s, NULL, "must be an integer, not %s", config_type_name(config_setting_type(s)));
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
        config_setting_t *s = config_lookup_member(p, g, key, false);

        if (!s) {
                *ret = def;
                return 0;
        }
        if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
                config_error(p, s, NULL, "must be true or false, not %s", config_type_name(config_setting_type(s)));
                return -EINVAL;
        }
        *ret = config_setting_get_bool(s);
        return 1;
}

int config_get_duration(ConfigParser *p, const config_setting_t *g, const char *key, double min_sec,
                        double max_sec, double def_sec, uint64_t *ret_usec) {
        config_setting_t *s = config_lookup_member(p, g, key, false);
        double v;

        if (!s) {
                *ret_usec = (uint64_t) llround(def_sec * 1e6);
                return 0;
        }
        if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
                v = config_setting_get_float(s);
        else if (config_is_int_type(config_setting_type(s)))
                v = (double) config_setting_get_int64(s);
        else {
                config_error(p, s, NULL, "must be a number of seconds, not %s",
                             config_type_name(config_setting_type(s)));
                return -EINVAL;
        }
        if (!isfinite(v) || v < min_sec || v > max_sec) {
                config_error(p, s, NULL, "must be between %g and %g seconds", min_sec, max_sec);
                return -EINVAL;
        }
        *ret_usec = (uint64_t) llround(v * 1e6);
        return 1;
}

int config_parse_size(const char *s, uint64_t *ret) {
        static const char suffixes[] = "KMGT";
        uint64_t v = 0, mult = 1;
        const char *p = s, *x;

        assert(s);
        assert(ret);

        if (!(*p >= '0' && *p <= '9'))
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (*p) {
                x = strchr(suffixes, toupper((unsigned char) *p));
                if (!x || p[1])
                        return -EINVAL;
                mult = UINT64_C(1) << (10 * (x - suffixes + 1));
        }
        if (v > UINT64_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

int config_get_size(ConfigParser *p, const config_setting_t *g, const char *key, uint64_t min, uint64_t max,
                    uint64_t def, uint64_t *ret) {
        config_setting_t *s = config_lookup_member(p, g, key, false);
        uint64_t v;

        if (!s) {
                *ret = def;
                return 0;
        }
        if (config_is_int_type(config_setting_type(s))) {
                int64_t i = config_setting_get_int64(s);
                if (i < 0) {
                        config_error(p, s, NULL, "must not be negative");
                        return -EINVAL;
                }
                v = (uint64_t) i;
        } else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
                const char *str = config_setting_get_string(s);
                int r = config_parse_size(str, &v);
                if (r < 0) {
                        config_error(p, s, NULL, "\"%s\" is not a size: digits with an optional K, M, G or T%s", str,
                                     r == -ERANGE ? " (too large)" : "");
                        return -EINVAL;
                }
        } else {
                config_error(p, s, NULL, "must be a size such as \"64M\", not %s",
                             config_type_name(config_setting_type(s)));
                return -EINVAL;
        }
        if (v < min || v > max) {
                config_error(p, s, NULL, "must be between %" PRIu64 " and %" PRIu64 " bytes", min, max);
                return -EINVAL;
        }
        *ret = v;
        return 1;
}

int config_get_enum(ConfigParser *p, const config_setting_t *g, const char *key, const char *const *choices,
                    int def, int *ret) {
        config_setting_t *s = config_lookup_member(p, g, key, def < 0);
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
