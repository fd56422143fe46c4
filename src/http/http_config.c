/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_config.h"
#include "http_parse.h"

#define DEFAULT_MIME_TYPES "/etc/mime.types"

static const char *const http_keys[] = {
        "root",          "index",          "autoindex",       "keepalive_timeout", "keepalive_requests",
        "header_timeout", "send_timeout",  "max_header_size", "max_target_size",   "access_log",
        "server_tokens", "dotfiles",       "follow_symlinks", "etag",              "mime_types",
        "default_type",  "charset",        "cache_control",   "precompressed",     "headers",
        "open_file_cache", "open_file_cache_valid",
        NULL,
};

static const char *const dotfiles_names[] = {
        [HTTP_DOTFILES_DENY] = "deny",
        [HTTP_DOTFILES_HIDE] = "hide",
        [HTTP_DOTFILES_ALLOW] = "allow",
        NULL,
};

const char *http_dotfiles_to_string(HttpDotfiles d) {
        return d >= 0 && d < _HTTP_DOTFILES_MAX ? dotfiles_names[d] : NULL;
}

HttpConfig *http_config_free(HttpConfig *c) {
        if (!c)
                return NULL;
        free(c->root);
        strv_free(c->index);
        free(c->mime_types);
        http_mime_free(c->mime);
        free(c->default_type);
        free(c->charset);
        free(c->cache_control);
        free(c->extra_headers);
        free(c);
        return NULL;
}

static bool string_is_token(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!http_is_tchar((unsigned char) *s))
                        return false;
        return true;
}

/* A value that goes into a response field as is: printable ASCII only, so
 * that it can never split or end the response head. */
static bool string_is_field_value(const char *s) {
        for (; *s; s++)
                if (*s < 0x20 || *s > 0x7e)
                        return false;
        return true;
}

static bool index_name_valid(const char *s) {
        return *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int parse_root(ConfigParser *p, const config_setting_t *http, HttpConfig *c) {
        _cleanup_free_ char *root = NULL;
        struct stat st;

        if (config_get_string(p, http, "root", true, NULL, &root) < 0)
                return -EINVAL;

        const config_setting_t *s = config_setting_get_member(http, "root");
        c->root = config_resolve_path(p, root);
        if (!c->root)
                return -ENOMEM;
        if (stat(c->root, &st) < 0) {
                config_error(p, s, NULL, "%s: %s", c->root, strerror(errno));
                return -EINVAL;
        }
        if (!S_ISDIR(st.st_mode)) {
                config_error(p, s, NULL, "%s: not a directory", c->root);
                return -EINVAL;
        }
        if (access(c->root, R_OK | X_OK) < 0) {
                config_error(p, s, NULL, "%s: cannot read directory: %s", c->root, strerror(errno));
                return -EINVAL;
        }
        return 0;
}

/* index is a file name or a list of them, tried in order. */
static int parse_index(ConfigParser *p, const config_setting_t *http, HttpConfig *c) {
        const config_setting_t *s = config_setting_get_member(http, "index");
        int type = s ? config_setting_type(s) : CONFIG_TYPE_NONE;
        int n = type == CONFIG_TYPE_STRING ? 1 : type == CONFIG_TYPE_NONE ? 1 : config_setting_length(s);

        if (s && type != CONFIG_TYPE_STRING && type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) {
                config_error(p, s, NULL, "must be a file name or a list of file names");
                return -EINVAL;
        }

        c->index = calloc((size_t) n + 1, sizeof(char *));
        if (!c->index)
                return -ENOMEM;

        for (int i = 0; i < n; i++) {
                const config_setting_t *e = type == CONFIG_TYPE_STRING || !s ? s : config_setting_get_elem(s, (unsigned) i);
                const char *v = !e ? "index.html"
                                   : config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;

                if (!v || !index_name_valid(v)) {
                        config_error(p, e, NULL, "must be a plain file name (no '/', not \".\" or \"..\")");
                        return -EINVAL;
                }
                c->index[i] = strdup(v);
                if (!c->index[i])
                        return -ENOMEM;
        }
        return 0;
}

static int parse_mime_types(ConfigParser *p, const config_setting_t *http, HttpConfig *c) {
        unsigned line = 0;
        int r;

        r = config_get_string(p, http, "mime_types", false, NULL, &c->mime_types);
        if (r < 0)
                return r;
        bool explicit = r > 0;
        if (explicit) {
                char *resolved = config_resolve_path(p, c->mime_types);
                if (!resolved)
                        return -ENOMEM;
                free(c->mime_types);
                c->mime_types = resolved;
        } else {
                c->mime_types = strdup(DEFAULT_MIME_TYPES);
                if (!c->mime_types)
                        return -ENOMEM;
        }

        r = http_mime_load(c->mime_types, &c->mime, &line);
        if (r >= 0)
                return 0;
        if (!explicit) {
                /* No system table (a container, a minimal install): the
                 * built-in one covers the common web types. */
                free(c->mime_types);
                c->mime_types = NULL;
                return 0;
        }
        const config_setting_t *s = config_setting_get_member(http, "mime_types");
        if (r == -EINVAL && line > 0)
                config_error(p, s, NULL, "%s:%u: not a mime.types line (\"type/subtype ext...\")", c->mime_types,
                             line);
        else if (r == -EBADFD)
                config_error(p, s, NULL, "%s: not a regular file", c->mime_types);
        else
                config_error(p, s, NULL, "%s: %s", c->mime_types, strerror(-r));
        return -EINVAL;
}

/* Optional strings that end up in response fields. */
static int parse_field_string(ConfigParser *p, const config_setting_t *http, const char *key, const char *def,
                              bool token, char **ret) {
        int r = config_get_string(p, http, key, false, def, ret);
        if (r <= 0)
                return r;

        bool ok = token ? string_is_token(*ret) : string_is_field_value(*ret);
        if (!ok) {
                config_error(p, config_setting_get_member(http, key), NULL,
                             token ? "must be a token (letters, digits and !#$%%&'*+-.^_`|~)"
                                   : "must be printable ASCII");
                return -EINVAL;
        }
        return 0;
}

static int parse_default_type(ConfigParser *p, const config_setting_t *http, HttpConfig *c) {
        int r = config_get_string(p, http, "default_type", false, "application/octet-stream", &c->default_type);
        if (r <= 0)
                return r;

        const char *slash = strchr(c->default_type, '/');
        bool ok = slash && slash != c->default_type && slash[1] && string_is_field_value(c->default_type);
        for (const char *s = c->default_type; ok && *s && *s != ';'; s++)
                ok = *s == '/' || http_is_tchar((unsigned char) *s);
        if (!ok) {
                config_error(p, config_setting_get_member(http, "default_type"), NULL,
                             "must be a media type such as \"application/octet-stream\"");
                return -EINVAL;
        }
        return 0;
}

/* Fields the handler writes itself: setting them from the config would
 * duplicate or contradict them, or break the framing. */
static const char *const managed_fields[] = {
        "accept-ranges", "allow",         "cache-control", "connection", "content-encoding",
        "content-length", "content-range", "content-type", "date",       "etag",
        "last-modified", "location",      "server",        "transfer-encoding", "vary",
        NULL,
};

/* headers: a list of "Name: value" strings added to file responses, joined
 * into one block of field lines that is copied into each head as is. */
static int parse_headers(ConfigParser *p, const config_setting_t *http, HttpConfig *c) {
        const config_setting_t *s = config_setting_get_member(http, "headers");
        int r = 0;

        if (!s)
                return 0;
        if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST) {
                config_error(p, s, NULL, "must be a list of \"Name: value\" strings");
                return -EINVAL;
        }

        FILE *f = open_memstream(&c->extra_headers, &c->extra_headers_len);
        if (!f)
                return -ENOMEM;
        for (int i = 0; i < config_setting_length(s); i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                const char *v = config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
                const char *colon = v ? strchr(v, ':') : NULL;
                size_t n = colon ? (size_t) (colon - v) : 0;
                bool ok = n > 0;

                for (size_t k = 0; ok && k < n; k++)
                        ok = http_is_tchar((unsigned char) v[k]);
                const char *value = colon ? colon + 1 : "";
                while (*value == ' ' || *value == '\t')
                        value++;
                if (!ok || !*value || !string_is_field_value(value)) {
                        config_error(p, e, NULL, "must be \"Name: value\" (a token, a colon, printable ASCII)");
                        r = -EINVAL;
                        continue;
                }
                for (const char *const *m = managed_fields; *m; m++)
                        if (strlen(*m) == n && strncasecmp(v, *m, n) == 0) {
                                config_error(p, e, NULL, "%.*s is set by the handler itself", (int) n, v);
                                r = -EINVAL;
                        }
                fprintf(f, "%.*s: %s\r\n", (int) n, v, value);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        if (c->extra_headers_len == 0) {
                free(c->extra_headers);
                c->extra_headers = NULL;
        }
        return r;
}

/* RFC 9112 §3 recommends accepting request lines of at least 8000 octets. */
#define DEFAULT_TARGET_SIZE 8192

/* max_header_size and max_target_size, which must leave room for the rest
 * of a request line within the head. The default head (16 KiB) holds the
 * default target with room for the fields; without max_target_size, a
 * smaller head (such as the 8192 of earlier defaults) lowers the target
 * limit with it rather than turning into a config error. */
static int parse_sizes(ConfigParser *p, const config_setting_t *http, HttpConfig *c) {
        int64_t head, target;

        int a = config_get_int(p, http, "max_header_size", false, 1024, 1048576, 16384, &head);
        if (a < 0)
                return -EINVAL;
        int b = config_get_int(p, http, "max_target_size", false, 64, 1048576,
                               MIN((int64_t) DEFAULT_TARGET_SIZE, head - 32), &target);
        if (b < 0)
                return -EINVAL;
        if (target + 32 > head) {
                const config_setting_t *s = config_setting_get_member(http, "max_target_size");
                config_error(p, s, NULL, "must be at least 32 bytes less than max_header_size (%" PRIi64 ")",
                             head);
                return -EINVAL;
        }
        c->max_header_size = (size_t) head;
        c->max_target_size = (size_t) target;
        return 0;
}

int http_config_parse(ConfigParser *p, const config_setting_t *service, const config_setting_t *http,
                      HttpConfig **ret) {
        _cleanup_(http_config_freep) HttpConfig *c = NULL;
        int64_t v;
        int d = 0, r = 0;

        if (!http) {
                config_error(p, service, "http", "missing required group (at least root = \"...\")");
                return -EINVAL;
        }

        c = calloc(1, sizeof(HttpConfig));
        if (!c)
                return -ENOMEM;

        config_check_keys(p, http, http_keys);

        if (parse_root(p, http, c) < 0)
                r = -EINVAL;
        if (parse_index(p, http, c) < 0)
                r = -EINVAL;
        if (config_get_bool(p, http, "autoindex", false, &c->autoindex) < 0)
                r = -EINVAL;
        if (config_get_duration(p, http, "keepalive_timeout", 0, 3600, 5, &c->keepalive_timeout_usec) < 0)
                r = -EINVAL;
        if (config_get_int(p, http, "keepalive_requests", false, 1, 1000000000, 1000, &v) < 0)
                r = -EINVAL;
        else
                c->keepalive_requests = (uint64_t) v;
        if (config_get_duration(p, http, "header_timeout", 0.001, 3600, 10, &c->header_timeout_usec) < 0)
                r = -EINVAL;
        if (config_get_duration(p, http, "send_timeout", 0.001, 3600, 30, &c->send_timeout_usec) < 0)
                r = -EINVAL;
        if (parse_sizes(p, http, c) < 0)
                r = -EINVAL;
        if (config_get_bool(p, http, "access_log", true, &c->access_log) < 0)
                r = -EINVAL;
        if (config_get_bool(p, http, "server_tokens", true, &c->server_tokens) < 0)
                r = -EINVAL;
        if (config_get_enum(p, http, "dotfiles", dotfiles_names, HTTP_DOTFILES_DENY, &d) < 0)
                r = -EINVAL;
        c->dotfiles = (HttpDotfiles) d;
        if (config_get_bool(p, http, "follow_symlinks", true, &c->follow_symlinks) < 0)
                r = -EINVAL;
        if (config_get_bool(p, http, "etag", true, &c->etag) < 0)
                r = -EINVAL;
        if (parse_mime_types(p, http, c) < 0)
                r = -EINVAL;
        if (parse_default_type(p, http, c) < 0)
                r = -EINVAL;
        if (parse_field_string(p, http, "charset", NULL, true, &c->charset) < 0)
                r = -EINVAL;
        if (parse_field_string(p, http, "cache_control", NULL, false, &c->cache_control) < 0)
                r = -EINVAL;
        if (config_get_bool(p, http, "precompressed", false, &c->precompressed) < 0)
                r = -EINVAL;
        if (parse_headers(p, http, c) < 0)
                r = -EINVAL;
        if (config_get_int(p, http, "open_file_cache", false, 0, 1000000, 4096, &v) < 0)
                r = -EINVAL;
        else
                c->open_file_cache = (size_t) v;
        if (config_get_duration(p, http, "open_file_cache_valid", 0, 3600, 1, &c->open_file_cache_valid_usec) < 0)
                r = -EINVAL;

        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}
