/* SPDX-License-Identifier: MIT */
#pragma once

#include <libconfig.h>

#include "conf-parser.h"
#include "config.h"

/* A service's load balancer keys: proxy_protocol, proxy_from,
 * proxy_timeout and agent_listen. Records every error in p; returns 0 or
 * -EINVAL (-ENOMEM). */
int config_proxy_parse(ConfigParser *p, const config_setting_t *svc, ServiceConfig *s);
/* Frees what config_proxy_parse() allocated in s. */
void config_proxy_done(ServiceConfig *s);
/* Across services: an agent_listen address is one service's, and no
 * service's listen address. */
void config_proxy_check_unique(ConfigParser *p, const config_setting_t *list, const Config *c);
