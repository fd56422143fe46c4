/* SPDX-License-Identifier: MIT */
#pragma once

#include "config.h"

/* Settings of the "http" group of a service with handler = "http". */
struct HttpConfig {
        char *root;              /* absolute, resolved against the config dir */
        char *index;
};

/* Parses the service's "http" group (http may be NULL when it is absent;
 * service is the service group, for errors about a missing group). Records
 * every error in p. Returns 0 with *ret set, or -EINVAL. */
int config_parse_http(ConfigParser *p, const config_setting_t *service, const config_setting_t *http,
                      HttpConfig **ret);
HttpConfig *http_config_free(HttpConfig *c);
