/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "macros.h"
#include "scoreboard.h"

/* A service's state that outlives its generations, keyed by the service's
 * name: the counters STATUS= reports, and the scoreboard its workers of
 * every generation write to. A generation's pool holds a reference; the
 * service goes away when a reload removed it and its last worker exited. */
typedef struct Service {
        char *name;
        unsigned n_refs;
        Scoreboard *scoreboard;
        uint64_t restarts;            /* unplanned worker exits */
        uint64_t connections_done;    /* served by workers that have exited */
} Service;

int service_new(const char *name, Service **ret);
Service *service_ref(Service *s);
/* Drops a reference; frees the service with the last one. Returns NULL. */
Service *service_unref(Service *s);
