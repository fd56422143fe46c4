/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf-parser.h"
#include "http_mime.h"

typedef enum HttpDotfiles {
        HTTP_DOTFILES_DENY,      /* 403 */
        HTTP_DOTFILES_HIDE,      /* 404, as if they did not exist */
        HTTP_DOTFILES_ALLOW,
        _HTTP_DOTFILES_MAX,
} HttpDotfiles;

/* Settings of the "http" group of a service with handler = "http". The
 * mime table is read here, in the master, so that a broken file is a
 * config error at -t and reload time, and workers share the table
 * copy-on-write. */
typedef struct HttpConfig {
        char *root;                       /* absolute, resolved against the config dir */
        char **index;                     /* NULL-terminated plain file names, maybe empty */
        bool autoindex;
        uint64_t keepalive_timeout_usec;  /* 0: no keep-alive */
        uint64_t keepalive_requests;      /* requests per connection */
        uint64_t header_timeout_usec;     /* the whole request head must arrive within it */
        uint64_t send_timeout_usec;       /* longest wait for the client to take more data */
        size_t max_header_size;
        size_t max_target_size;
        bool access_log;
        bool server_tokens;
        HttpDotfiles dotfiles;
        bool follow_symlinks;             /* only to targets below root */
        bool etag;
        char *mime_types;                 /* path, or NULL when the default was absent */
        HttpMimeTable *mime;              /* NULL: built-in table only */
        char *default_type;
        char *charset;                    /* NULL: none appended */
        char *cache_control;              /* NULL: no Cache-Control field */
        bool precompressed;               /* serve FILE.br / FILE.gz when accepted */
        char *extra_headers;              /* "Name: value\r\n"..., NULL: none */
        size_t extra_headers_len;
        size_t open_file_cache;           /* entries per worker, 0: off */
        uint64_t open_file_cache_valid_usec; /* an entry is looked up again once this old */
} HttpConfig;

/* Parses the service's "http" group (http may be NULL when it is absent;
 * service is the service group, for errors about a missing group). Records
 * every error in p. Returns 0 with *ret set, or -EINVAL. */
int http_config_parse(ConfigParser *p, const config_setting_t *service, const config_setting_t *http,
                      HttpConfig **ret);
HttpConfig *http_config_free(HttpConfig *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpConfig *, http_config_free)

const char *http_dotfiles_to_string(HttpDotfiles d);
