/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "config-proxy.h"
#include "macros.h"

static const char *const proxy_mode_names[] = { "off", "v1", "v2", "any", NULL };

/* proxy_from: one string or an array/list of them, each its own error. */
static int parse_proxy_from(ConfigParser *p, const config_setting_t *l, ProxyConfig *s) {
        int n, r = 0;

        if (config_setting_type(l) == CONFIG_TYPE_STRING)
                n = 1;
        else if (IN_SET(config_setting_type(l), CONFIG_TYPE_ARRAY, CONFIG_TYPE_LIST))
                n = config_setting_length(l);
        else {
                config_error(p, l, NULL, "must be an array of CIDR strings, not %s",
                             config_type_name(config_setting_type(l)));
                return -EINVAL;
        }
        if (n == 0)
                /* The default: anyone may send the header. */
                return 0;
        s->from = calloc((size_t) n, sizeof(Cidr));
        if (!s->from)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_type(l) == CONFIG_TYPE_STRING
                                                    ? l
                                                    : config_setting_get_elem(l, (unsigned) i);
                const char *v = config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
                const char *why;

                if (!v) {
                        config_error(p, e, NULL, "must be a string, not %s", config_type_name(config_setting_type(e)));
                        r = -EINVAL;
                } else if (cidr_parse(v, &s->from[s->n_from], &why) < 0) {
                        config_error(p, e, NULL, "invalid address range \"%s\": %s", v, why);
                        r = -EINVAL;
                } else
                        s->n_from++;
        }
        return r;
}

static int parse_agent_listen(ConfigParser *p, const config_setting_t *a, ProxyConfig *s) {
        const char *v = config_setting_type(a) == CONFIG_TYPE_STRING ? config_setting_get_string(a) : NULL;
        ListenAddress addr;
        const char *why;

        if (!v) {
                config_error(p, a, NULL, "must be a string, not %s", config_type_name(config_setting_type(a)));
                return -EINVAL;
        }
        if (listen_parse(v, &addr, &why) < 0) {
                config_error(p, a, NULL, "invalid address \"%s\": %s", v, why);
                return -EINVAL;
        }
        /* HAProxy's agent check connects over TCP (agent-addr, agent-port). */
        if (!IN_SET(addr.type, LISTEN_INET, LISTEN_ANY)) {
                config_error(p, a, NULL, "\"%s\": the agent check is TCP: give HOST:PORT, [IPv6]:PORT or *:PORT", v);
                return -EINVAL;
        }
        s->agent_listen = malloc(sizeof addr);
        s->agent_listen_str = strdup(v);
        if (!s->agent_listen || !s->agent_listen_str)
                return -ENOMEM;
        *s->agent_listen = addr;
        return 0;
}

int config_proxy_parse(ConfigParser *p, const config_setting_t *svc, ProxyConfig *s) {
        const config_setting_t *from = config_setting_get_member(svc, "proxy_from"),
                               *timeout = config_setting_get_member(svc, "proxy_timeout"),
                               *agent = config_setting_get_member(svc, "agent_listen");
        int mode = PROXY_OFF, r = 0, k;

        if (config_get_enum(p, svc, "proxy_protocol", proxy_mode_names, PROXY_OFF, &mode) < 0)
                r = -EINVAL;
        s->mode = (ProxyMode) mode;
        /* The spec asks for at least 3 s, to cover a TCP retransmission. */
        if (config_get_duration(p, svc, "proxy_timeout", 3, 3600, 5, &s->timeout_usec) < 0)
                r = -EINVAL;
        if (from) {
                k = parse_proxy_from(p, from, s);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
        }
        /* Without a header to expect, these limit nothing: an operator
         * who set them believes otherwise. */
        if (s->mode == PROXY_OFF) {
                const config_setting_t *useless[] = { from, timeout };

                for (size_t i = 0; i < ELEMENTSOF(useless); i++)
                        if (useless[i]) {
                                config_error(p, useless[i], NULL, "has no effect with proxy_protocol = \"off\"");
                                r = -EINVAL;
                        }
        }
        if (agent) {
                k = parse_agent_listen(p, agent, s);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
        }
        return r;
}

void config_proxy_done(ProxyConfig *c) {
        free(c->from);
        free(c->agent_listen);
        free(c->agent_listen_str);
        *c = (ProxyConfig) { .mode = PROXY_OFF };
}
