/* SPDX-License-Identifier: MIT */
#pragma once

#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "conf-parser.h"
#include "listen.h"
#include "proxy.h"

/* A service behind a load balancer: the PROXY header its connections
 * begin with, and the agent check it answers. */
typedef struct ProxyConfig {
        ProxyMode mode;               /* proxy_protocol */
        Cidr *from;                   /* proxy_from: who may send the header; none: anyone */
        size_t n_from;
        uint64_t timeout_usec;        /* proxy_timeout: to receive the whole header */
        ListenAddress *agent_listen;  /* HAProxy's agent check; NULL: none */
        char *agent_listen_str;       /* as written */
} ProxyConfig;

/* Parses proxy_protocol, proxy_from, proxy_timeout and agent_listen of the
 * service group svc into *ret (freed with config_proxy_done() whatever
 * the result). Records every error in p; returns 0, -EINVAL or -ENOMEM. */
int config_proxy_parse(ConfigParser *p, const config_setting_t *svc, ProxyConfig *ret);
void config_proxy_done(ProxyConfig *c);
