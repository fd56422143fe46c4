/* SPDX-License-Identifier: MIT */
#include <string.h>
#include "config_http.h"
int config_parse_http(ConfigParser *p, const config_setting_t *service, const config_setting_t *http, HttpConfig **ret) {
        *ret = calloc(1, sizeof(HttpConfig));
        return *ret ? 0 : -ENOMEM;
}
HttpConfig *http_config_free(HttpConfig *c) {
        free(c);
        return NULL;
}
