/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "time-util.h"

static const char *const reload_keys[] = {
        "strategy", "batch", "ready_timeout", NULL,
};

static const char *const reload_strategy_names[_RELOAD_STRATEGY_MAX + 1] = {
        [RELOAD_STRATEGY_ALL] = "all",
        [RELOAD_STRATEGY_ROLLING] = "rolling",
        [_RELOAD_STRATEGY_MAX] = NULL,
};

/* The smallest max_memory: below it, a fresh worker would be over the
 * limit before it served anything. */
#define MAX_MEMORY_MIN (UINT64_C(1) << 20)
#define MAX_MEMORY_MAX (UINT64_C(1) << 50)
#define BATCH_MAX 4096

/* reload.batch: a number of workers, or "N%" of the pool. */
static int parse_batch(ConfigParser *p, const config_setting_t *g, ReloadConfig *rc) {
        const config_setting_t *b = config_setting_get_member(g, "batch");
        int64_t n;

        if (!b)
                return 0;
        if (config_setting_type(b) == CONFIG_TYPE_STRING) {
                const char *v = config_setting_get_string(b);
                char *end = NULL;
                long pct;

                pct = strtol(v, &end, 10);
                if (end == v || !(v[0] >= '0' && v[0] <= '9') || strcmp(end, "%") != 0 || pct < 1 || pct > 100) {
                        config_error(p, b, NULL, "\"%s\" is neither a number of workers nor a share from \"1%%\" to \"100%%\"", v);
                        return -EINVAL;
                }
                rc->batch = 0;
                rc->batch_percent = (unsigned) pct;
                return 0;
        }
        if (config_get_int(p, g, "batch", false, 1, BATCH_MAX, 1, &n) < 0)
                return -EINVAL;
        rc->batch = (unsigned) n;
        rc->batch_percent = 0;
        return 0;
}

static int parse_reload(ConfigParser *p, const config_setting_t *svc, ReloadConfig *rc) {
        const config_setting_t *g = config_setting_get_member(svc, "reload");
        int strategy = RELOAD_STRATEGY_ALL, r = 0;

        *rc = (ReloadConfig) {
                .strategy = RELOAD_STRATEGY_ALL,
                .batch_percent = 25,
                .ready_timeout_usec = 30 * USEC_PER_SEC,
        };
        if (!g)
                return 0;
        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
                config_error(p, g, NULL, "must be a group, not %s", config_type_name(config_setting_type(g)));
                return -EINVAL;
        }
        config_check_keys(p, g, reload_keys);
        if (config_get_enum(p, g, "strategy", reload_strategy_names, RELOAD_STRATEGY_ALL, &strategy) < 0)
                r = -EINVAL;
        rc->strategy = (ReloadStrategy) strategy;
        if (parse_batch(p, g, rc) < 0)
                r = -EINVAL;
        if (config_get_duration(p, g, "ready_timeout", 0.001, 3600, 30, &rc->ready_timeout_usec) < 0)
                r = -EINVAL;
        return r;
}

int config_parse_supervision(ConfigParser *p, const config_setting_t *svc, ServiceConfig *s) {
        int64_t jitter = 0;
        int r = 0;

        if (config_get_int(p, svc, "max_requests_jitter", false, 0, INT64_MAX, 0, &jitter) < 0)
                r = -EINVAL;
        else if (jitter > 0 && s->max_requests == 0) {
                /* Said rather than ignored: the operator meant to recycle. */
                config_error(p, config_setting_get_member(svc, "max_requests_jitter"), NULL,
                             "needs max_requests: without it workers are never recycled");
                r = -EINVAL;
        }
        s->max_requests_jitter = (uint64_t) jitter;
        if (config_get_size(p, svc, "max_memory", MAX_MEMORY_MIN, MAX_MEMORY_MAX, 0, &s->max_memory) < 0)
                r = -EINVAL;
        if (config_get_duration(p, svc, "request_timeout", 0, 86400, 0, &s->request_timeout_usec) < 0)
                r = -EINVAL;
        if (parse_reload(p, svc, &s->reload) < 0)
                r = -EINVAL;
        return r;
}

unsigned reload_batch_size(const ServiceConfig *s) {
        unsigned n = s->reload.batch;

        if (n == 0)
                n = (unsigned) (((uint64_t) s->workers * s->reload.batch_percent + 99) / 100);
        return MAX(1U, MIN(n, s->workers));
}
