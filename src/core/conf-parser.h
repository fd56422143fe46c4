/* SPDX-License-Identifier: MIT */
#pragma once

#include <libconfig.h>
#include <stdbool.h>
#include <stdint.h>

#include "macros.h"

/* Error collector for one parse. Every message reads
 * "FILE:LINE: setting.path: what is wrong". */
typedef struct ConfigParser {
        const char *file;
        char *dir;               /* directory of file, for relative paths */
        char **errors;
        size_t n_errors;
} ConfigParser;

/* Records an error at setting s ("FILE:LINE: path: msg"). key, if not NULL,
 * is appended to the path (for missing keys, reported at their group). */
void config_error(ConfigParser *p, const config_setting_t *s, const char *key, const char *fmt, ...)
        _printf_(4, 5);
/* Records an already formatted message (taking ownership; NULL is ignored). */
void config_add_error(ConfigParser *p, char *msg);

/* "services.[0].workers" */
char *config_setting_path(const config_setting_t *s);

/* Every member of group whose name is not in allowed (NULL-terminated) is an
 * "unknown setting" error. */
void config_check_keys(ConfigParser *p, const config_setting_t *group, const char *const *allowed);

bool config_is_int_type(int type);
/* "an integer", "a group", ... for error messages. */
const char *config_type_name(int type);
/* Looks key up in g; if absent, records "missing" when required. */
config_setting_t *config_lookup_member(ConfigParser *p, const config_setting_t *g, const char *key, bool required);

/* Each getter returns 1 if the key was set and valid (and stores it), 0 if
 * it was absent (and stores the default, or records an error when
 * required), and a negative errno after recording an error, leaving *ret
 * untouched. */
int config_get_string(ConfigParser *p, const config_setting_t *g, const char *key, bool required,
                      const char *def, char **ret);
int config_get_int(ConfigParser *p, const config_setting_t *g, const char *key, bool required,
                   int64_t min, int64_t max, int64_t def, int64_t *ret);
int config_get_bool(ConfigParser *p, const config_setting_t *g, const char *key, bool def, bool *ret);
/* Seconds as int or float, stored as microseconds. */
int config_get_duration(ConfigParser *p, const config_setting_t *g, const char *key, double min_sec,
                        double max_sec, double def_sec, uint64_t *ret_usec);
/* A size in bytes: an integer, or a string of digits with an optional
 * binary suffix K, M, G or T (case-insensitive; "64M" is 64 MiB), between
 * min and max bytes. Absent: def is stored and 0 returned. */
int config_get_size(ConfigParser *p, const config_setting_t *g, const char *key, uint64_t min, uint64_t max,
                    uint64_t def, uint64_t *ret);
/* The string form of config_get_size(): 0 and the bytes in *ret, or
 * -EINVAL (malformed) or -ERANGE (above UINT64_MAX). */
int config_parse_size(const char *s, uint64_t *ret);
/* A string that must be one of choices (NULL-terminated); stores the index.
 * def < 0 makes the key required. */
int config_get_enum(ConfigParser *p, const config_setting_t *g, const char *key, const char *const *choices,
                    int def, int *ret);

/* Absolute path as is; relative path joined to the config file's directory. */
char *config_resolve_path(const ConfigParser *p, const char *path);
